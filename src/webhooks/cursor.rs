//! A subscription's cursor on disk: written at every acknowledgement without waiting for
//! the disk, synced in groups.
//!
//! Why not a named checkpoint: `put_checkpoint` writes a temporary file, fsyncs it,
//! renames it and fsyncs the directory — milliseconds each time, which held delivery to
//! ~160 events/s when every acknowledgement paid it. A cursor is 8 bytes, so it is
//! written in place: one positioned write of a checksummed 32-byte slot, alternating between two
//! slots. **Once [`CursorFile::write`] returns, the kernel holds the new cursor: it
//! survives the process being killed (SIGKILL, OOM, panic) but not a power loss or a
//! kernel crash. Once [`CursorFile::sync`] returns, every cursor written before it is
//! on stable storage.** The delivery's keeper syncs every [`super::delivery::SYNC_EVERY`]
//! when something was written, so a power loss takes back at most that long of
//! acknowledgements: those events are sent again with the same `webhook-id`, which
//! receivers deduplicate on. A slot torn by a power loss fails its checksum and the other
//! slot, the previous cursor, is read.
//!
//! Layout of `checkpoints/server.webhook.{id}.cursor` (64 bytes): two slots of 32 bytes,
//! each `seq` (u64 LE, the write count), `cursor` (u64 LE), 12 zero bytes, and the
//! CRC-32 (LE) of the first 28 bytes. The valid slot with the higher `seq` is the cursor.
//! An engine without a data directory (in memory) keeps the cursor in memory only.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use uuid::Uuid;

use super::book::PROGRESS_PREFIX;
use crate::store::{private_file, StoreError};

const SLOT: usize = 32;
const CHECKED: usize = 28;

/// The file name of subscription `id`'s cursor, inside `checkpoints/`.
pub fn file_name(id: Uuid) -> String {
    format!("{PROGRESS_PREFIX}{id}.cursor")
}

/// One subscription's cursor file (or its in-memory stand-in).
#[derive(Debug)]
pub struct CursorFile {
    path: Option<PathBuf>,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: Option<File>,
    /// Writes so far (the next slot is `seq % 2`).
    seq: u64,
    /// Written since the last sync.
    dirty: bool,
}

impl CursorFile {
    /// Opens (creating) the cursor of subscription `id` in `data`'s `checkpoints/`, or an
    /// in-memory one when `data` is `None`; returns it with the cursor it holds, if any
    /// slot is valid.
    ///
    /// # Errors
    /// `storage` when the file cannot be opened or read.
    pub fn open(data: Option<&Path>, id: Uuid) -> Result<(Self, Option<u64>), StoreError> {
        let Some(data) = data else {
            return Ok((Self::in_memory(), None));
        };
        let dir = data.join("checkpoints");
        private_file::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let path = dir.join(file_name(id));
        // Private like every checkpoint (`store::private_file`).
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(private_file::FILE_MODE)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let newest = newest_slot(&bytes);
        let cursor = Self {
            path: Some(path),
            inner: Mutex::new(Inner {
                file: Some(file),
                seq: newest.map_or(0, |(seq, _)| seq),
                dirty: false,
            }),
        };
        Ok((cursor, newest.map(|(_, position)| position)))
    }

    fn in_memory() -> Self {
        Self {
            path: None,
            inner: Mutex::new(Inner {
                file: None,
                seq: 0,
                dirty: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `cursor` over the older slot. **Durability: when it returns `Ok`, the
    /// kernel holds it (a killed process keeps it); it is on stable storage after the
    /// next [`CursorFile::sync`].** One `write` into the page cache: cheap enough to
    /// call from an async task.
    ///
    /// # Errors
    /// `storage` when the write fails (the previous cursor is still in the other slot).
    pub fn write(&self, cursor: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let seq = inner.seq + 1;
        if let Some(file) = inner.file.as_mut() {
            let slot = encode(seq, cursor);
            // One positioned write (`pwrite`), not a seek then a write: two system calls
            // per delivery were one too many on the delivery's hot path.
            file.write_all_at(&slot, (seq % 2) * SLOT as u64)
                .map_err(|e| io(self.path.as_deref().unwrap_or(Path::new("")), e))?;
        }
        inner.seq = seq;
        inner.dirty = true;
        Ok(())
    }

    /// Makes every cursor written so far durable (`fdatasync`), if one was written since
    /// the last sync. **Durability: when it returns `Ok`, the last written cursor is on
    /// stable storage.**
    ///
    /// # Errors
    /// `storage` when the sync fails.
    pub fn sync(&self) -> Result<(), StoreError> {
        let file = {
            let mut inner = self.lock();
            if !inner.dirty {
                return Ok(());
            }
            inner.dirty = false;
            match &inner.file {
                Some(file) => file.try_clone(),
                None => return Ok(()),
            }
        };
        // Synced outside the lock: a write meanwhile is not held up by the disk. It is
        // marked dirty again by that write, so the next sync covers it.
        let synced = file.and_then(|f| f.sync_data());
        synced.map_err(|e| {
            self.lock().dirty = true;
            io(self.path.as_deref().unwrap_or(Path::new("")), e)
        })
    }

    /// Writes `cursor` and syncs it. **Durability: when it returns `Ok`, `cursor` is on
    /// stable storage.**
    ///
    /// # Errors
    /// `storage` when the write or the sync fails.
    pub fn write_synced(&self, cursor: u64) -> Result<(), StoreError> {
        self.write(cursor)?;
        self.sync()
    }

    /// Deletes the file (an in-memory cursor has nothing to delete). A write through a
    /// handle still open afterwards lands in the unlinked file, never a new one.
    /// **Durability: when it returns `Ok`, the removal is on stable storage.**
    ///
    /// # Errors
    /// `storage` when the file or its directory cannot be changed.
    pub fn remove(&self) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        remove_file(path)
    }
}

/// Removes `path` (absent is fine) and syncs its directory.
pub fn remove_file(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path, e)),
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

fn encode(seq: u64, cursor: u64) -> [u8; SLOT] {
    let mut slot = [0u8; SLOT];
    slot[..8].copy_from_slice(&seq.to_le_bytes());
    slot[8..16].copy_from_slice(&cursor.to_le_bytes());
    let crc = crc32fast::hash(&slot[..CHECKED]);
    slot[CHECKED..].copy_from_slice(&crc.to_le_bytes());
    slot
}

/// `(seq, cursor)` of a valid slot; `None` for a torn, zeroed or missing one.
fn decode(slot: &[u8]) -> Option<(u64, u64)> {
    let slot: &[u8; SLOT] = slot.try_into().ok()?;
    let crc = u32::from_le_bytes(slot[CHECKED..].try_into().ok()?);
    let seq = u64::from_le_bytes(slot[..8].try_into().ok()?);
    (seq > 0 && crc32fast::hash(&slot[..CHECKED]) == crc).then(|| {
        let cursor = u64::from_le_bytes(slot[8..16].try_into().expect("8 bytes"));
        (seq, cursor)
    })
}

/// The valid slot with the highest `seq` among the file's two.
/// The position a cursor file's bytes hold (its newest valid slot), if any.
pub fn newest_position(bytes: &[u8]) -> Option<u64> {
    newest_slot(bytes).map(|(_, position)| position)
}

fn newest_slot(bytes: &[u8]) -> Option<(u64, u64)> {
    bytes
        .chunks(SLOT)
        .take(2)
        .filter_map(decode)
        .max_by_key(|(seq, _)| *seq)
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_whole_slot_wins_and_a_torn_one_falls_back_to_the_previous_cursor() {
        // Given a cursor written three times
        let data = tempfile::tempdir().unwrap();
        let id = Uuid::new_v4();
        let (cursor, stored) = CursorFile::open(Some(data.path()), id).unwrap();
        assert_eq!(stored, None);
        for position in [7, 8, 9] {
            cursor.write(position).unwrap();
        }
        cursor.sync().unwrap();
        drop(cursor);
        let path = data.path().join("checkpoints").join(file_name(id));
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 64);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, private_file::FILE_MODE);

        // Then reopening reads the last one, and writing goes on from there
        let (cursor, stored) = CursorFile::open(Some(data.path()), id).unwrap();
        assert_eq!(stored, Some(9));
        cursor.write(10).unwrap();
        drop(cursor);
        assert_eq!(CursorFile::open(Some(data.path()), id).unwrap().1, Some(10));

        // When the newest slot is torn (as a power loss mid-write may leave it)
        let mut bytes = std::fs::read(&path).unwrap();
        // The fourth write (`seq` 4) went to slot 4 % 2, the first.
        bytes[9] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();

        // Then the previous cursor is read: at most that event is delivered again
        assert_eq!(CursorFile::open(Some(data.path()), id).unwrap().1, Some(9));

        // And removing it leaves nothing behind
        let (cursor, _) = CursorFile::open(Some(data.path()), id).unwrap();
        cursor.remove().unwrap();
        assert!(!path.exists());
    }
}
