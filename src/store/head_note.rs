//! The head note: where the log stood after its last acknowledged round, kept beside
//! sled in `DATA/chain-head.note` so that a log which later loses its tail says so.
//!
//! sled's recovery drops a damaged tail without a word, and the chain head sled stores
//! (`h`) goes with it. The head record (`checkpoints/chain-head`) is only written with a
//! projection checkpoint (every 50,000 events and at a clean close), so a crash followed
//! by damage to the newest frame lost the acknowledged commands since the last
//! checkpoint unnoticed. The syncer writes this note after every round it made durable and
//! before anyone hears of it (`engine::committer`), so a log shorter than the note lost
//! acknowledged events, and opening refuses (`engine::claims`).
//!
//! It is a [`SlotFile`] written without waiting for the disk: **once
//! [`HeadNote::write`] returns, the note survives a killed process; it is on stable
//! storage after [`HeadNote::sync`] (every `SledLog::sync`, and when the log is
//! closed).** It is only ever written after the events it names are on stable storage, so
//! a power loss can take it back to an earlier round (it then claims less) but never
//! leave it claiming more than the log holds.
//!
//! A note cannot simply be absent once a directory has kept one: the log records (key
//! `n`, in the batch after the first note known durable — made so once per directory, or
//! at open when an earlier process left one) the position from which it has kept a note,
//! and from then on a missing or unreadable note is damage (`engine::claims`), so deleting
//! it with the checkpoint and the head record no longer lets a shortened log pass.
//!
//! Layout: slots of 64 bytes; the payload is the position (u64 LE) and the SHA-256 of the
//! event there (32 bytes). Outside `checkpoints/`, so copies (`backup`) and exports never
//! carry it to a log it does not describe.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::slot_file::{self, SlotFile};
use super::{ChainHead, StoreError};

/// The note's file name in the data directory.
pub const HEAD_NOTE_FILE: &str = "chain-head.note";

const SLOT: usize = 64;

/// The head note of one data directory. The file is opened for writing on the first
/// write only: a command that only reads (`verify`, `repair` without `--accept-loss`)
/// never creates it, and reads it even where it cannot be written.
#[derive(Debug)]
pub(crate) struct HeadNote {
    path: PathBuf,
    file: Mutex<Option<SlotFile>>,
}

impl HeadNote {
    /// The note of the data directory `data` (nothing is opened yet).
    pub(crate) fn of(data: &Path) -> Self {
        Self {
            path: data.join(HEAD_NOTE_FILE),
            file: Mutex::new(None),
        }
    }

    /// Runs `f` on the note's file, opening (creating) it first if need be.
    fn with_file<T>(
        &self,
        f: impl FnOnce(&SlotFile) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if file.is_none() {
            if self.path.is_dir() {
                return Err(StoreError::Io(format!(
                    "{} is a directory, where offboard keeps its head note: move it out of the data directory, then run `offboard repair --accept-loss`",
                    self.path.display()
                )));
            }
            *file = Some(SlotFile::open(Some(self.path.clone()), SLOT)?.0);
        }
        f(file.as_ref().expect("opened above"))
    }

    /// The head the note holds now, if it holds one (a file whose slots are both torn
    /// or zero holds none: the first write was cut short).
    ///
    /// An unreadable file (a directory in its place, no permission) holds none, with a
    /// `tracing` warning naming why.
    pub(crate) fn read(&self) -> Result<Option<ChainHead>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                // Unreadable is as good as missing: the claims name it so (`engine::claims`).
                tracing::warn!(
                    "offboard: the head note {} is unreadable: {e}",
                    self.path.display()
                );
                return Ok(None);
            }
        };
        Ok(slot_file::newest(&bytes, SLOT).and_then(|payload| decode(&payload)))
    }

    /// Notes that the log reached `head`, durably. **Durability: when it returns `Ok`, the
    /// kernel holds the note; on stable storage after the next [`HeadNote::sync`].** A
    /// head whose hash is not 64 hex digits is not noted.
    ///
    /// # Errors
    /// `storage` when the write fails (the previous note stands).
    pub(crate) fn write(&self, head: &ChainHead) -> Result<(), StoreError> {
        let Ok(hash) = <[u8; 32]>::try_from(hex::decode(&head.last_hash).unwrap_or_default())
        else {
            return Ok(());
        };
        let mut payload = [0u8; 40];
        payload[..8].copy_from_slice(&head.last_position.to_le_bytes());
        payload[8..].copy_from_slice(&hash);
        self.with_file(|file| file.write(&payload))
    }

    /// Makes the note durable whether or not this process wrote it (a killed process may
    /// have left its last note in the page cache). **Durability: when it returns `Ok`, the note is on stable
    /// storage.**
    ///
    /// # Errors
    /// `storage` when the sync fails.
    pub(crate) fn sync_now(&self) -> Result<(), StoreError> {
        // A read-only handle syncs as well (fdatasync needs no write access).
        std::fs::File::open(&self.path)
            .and_then(|file| file.sync_data())
            .map_err(|e| StoreError::Io(format!("{}: {e}", self.path.display())))
    }

    /// Makes the last note durable. **Durability: when it returns `Ok`, the last note
    /// written is on stable storage.**
    ///
    /// # Errors
    /// `storage` when the sync fails.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        match self.file.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(file) => file.sync(),
            None => Ok(()),
        }
    }
}

fn decode(payload: &[u8]) -> Option<ChainHead> {
    let position = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let hash = payload.get(8..40)?;
    Some(ChainHead {
        last_position: position,
        last_hash: hex::encode(hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_reads_back_the_last_head_written_and_a_fresh_one_holds_none() {
        let data = tempfile::tempdir().unwrap();
        let note = HeadNote::of(data.path());
        assert_eq!(note.read().unwrap(), None);
        for position in [3, 9] {
            note.write(&ChainHead {
                last_position: position,
                last_hash: format!("{position:064x}"),
            })
            .unwrap();
        }
        note.sync().unwrap();
        let reopened = HeadNote::of(data.path());
        let head = reopened.read().unwrap().unwrap();
        assert_eq!(head.last_position, 9);
        assert_eq!(head.last_hash, format!("{:064x}", 9));
    }
}
