//! A subscription's cursor on disk: written at every acknowledgement without waiting for
//! the disk, synced in groups.
//!
//! A cursor is a [`SlotFile`] (two checksummed slots written in place: see
//! `store::slot_file`, which says why not a named checkpoint): **once
//! [`CursorFile::write`] returns, the kernel holds the new cursor: it survives the process
//! being killed (SIGKILL, OOM, panic) but not a power loss or a kernel crash. Once
//! [`CursorFile::sync`] returns, every cursor written before it is on stable storage.**
//! The delivery's keeper syncs every [`super::delivery::SYNC_EVERY`] when something was
//! written, so a power loss takes back at most that long of acknowledgements: those
//! events are sent again with the same `webhook-id`, which receivers deduplicate on.
//!
//! Layout of `checkpoints/server.webhook.{id}.cursor` (64 bytes): two slots of 32 bytes,
//! each `seq` (u64 LE, the write count), `cursor` (u64 LE), 12 zero bytes, and the
//! CRC-32 (LE) of the first 28 bytes. An engine without a data directory (in memory)
//! keeps the cursor in memory only.

use std::path::Path;

use uuid::Uuid;

use super::book::PROGRESS_PREFIX;
use crate::store::slot_file::{self, SlotFile};
use crate::store::StoreError;

const SLOT: usize = 32;

/// The file name of subscription `id`'s cursor, inside `checkpoints/`.
pub fn file_name(id: Uuid) -> String {
    format!("{PROGRESS_PREFIX}{id}.cursor")
}

/// One subscription's cursor file (or its in-memory stand-in).
#[derive(Debug)]
pub struct CursorFile(SlotFile);

impl CursorFile {
    /// Opens (creating) the cursor of subscription `id` in `data`'s `checkpoints/`, or an
    /// in-memory one when `data` is `None`; returns it with the cursor it holds, if any
    /// slot is valid.
    ///
    /// # Errors
    /// `storage` when the file cannot be opened or read.
    pub fn open(data: Option<&Path>, id: Uuid) -> Result<(Self, Option<u64>), StoreError> {
        let path = data.map(|d| d.join("checkpoints").join(file_name(id)));
        let (file, stored) = SlotFile::open(path, SLOT)?;
        Ok((Self(file), stored.as_deref().and_then(position)))
    }

    /// Writes `cursor` over the older slot. **Durability: when it returns `Ok`, the
    /// kernel holds it (a killed process keeps it); it is on stable storage after the
    /// next [`CursorFile::sync`].**
    ///
    /// # Errors
    /// `storage` when the write fails (the previous cursor is still in the other slot).
    pub fn write(&self, cursor: u64) -> Result<(), StoreError> {
        self.0.write(&cursor.to_le_bytes())
    }

    /// Makes every cursor written so far durable (`fdatasync`), if one was written since
    /// the last sync. **Durability: when it returns `Ok`, the last written cursor is on
    /// stable storage.**
    ///
    /// # Errors
    /// `storage` when the sync fails.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.0.sync()
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

    /// Deletes the file (an in-memory cursor has nothing to delete). **Durability: when
    /// it returns `Ok`, the removal is on stable storage.**
    ///
    /// # Errors
    /// `storage` when the file or its directory cannot be changed.
    pub fn remove(&self) -> Result<(), StoreError> {
        self.0.remove()
    }
}

/// The position a cursor file's bytes hold (its newest valid slot), if any.
pub fn newest_position(bytes: &[u8]) -> Option<u64> {
    slot_file::newest(bytes, SLOT).as_deref().and_then(position)
}

fn position(payload: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(payload.get(..8)?.try_into().ok()?))
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
        let private = crate::store::private_file::FILE_MODE;
        assert_eq!(meta.permissions().mode() & 0o777, private);

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
