//! A small record rewritten in place, many times a second, that a crash can never tear:
//! two checksummed slots written alternately with one positioned write (`pwrite`) each.
//!
//! Why not a named checkpoint (`CheckpointDir::put`): that writes a temporary file,
//! fsyncs it, renames it and fsyncs the directory — milliseconds each time. A record
//! written at every delivery (a webhook cursor) or every acknowledged round (the head
//! note) cannot pay that. **Once [`SlotFile::write`] returns, the kernel holds the new
//! record: it survives the process being killed (SIGKILL, OOM, panic) but not a power
//! loss or a kernel crash. Once [`SlotFile::sync`] returns, every record written before
//! it is on stable storage.** A slot torn by a power loss fails its checksum and the
//! other slot, the previous record, is read.
//!
//! Layout (two slots of `slot` bytes each): `seq` (u64 LE, the write count, from 1),
//! the payload padded with zeros to `slot - 12` bytes, and the CRC-32 (LE) of everything
//! before it. The valid slot with the higher `seq` holds the record.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::{private_file, StoreError};

/// `seq` before the payload, the CRC-32 after it.
const OVERHEAD: usize = 12;

/// One two-slot file (or its in-memory stand-in, which keeps nothing).
#[derive(Debug)]
pub struct SlotFile {
    path: Option<PathBuf>,
    /// Bytes per slot.
    slot: usize,
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

impl SlotFile {
    /// Opens (creating, private) the file at `path` with slots of `slot` bytes, or an
    /// in-memory stand-in when `path` is `None`; returns it with the payload of its newest
    /// valid slot (`slot - 12` bytes, zero-padded), if any.
    ///
    /// # Errors
    /// `storage` when the file cannot be opened or read.
    pub fn open(path: Option<PathBuf>, slot: usize) -> Result<(Self, Option<Vec<u8>>), StoreError> {
        assert!(slot > OVERHEAD, "a slot holds its seq, a payload and a CRC");
        let Some(path) = path else {
            return Ok((Self::with(None, None, slot, 0), None));
        };
        if let Some(dir) = path.parent() {
            private_file::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(private_file::FILE_MODE)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let newest = newest_slot(&bytes, slot);
        let seq = newest.as_ref().map_or(0, |(seq, _)| *seq);
        let stored = newest.map(|(_, payload)| payload);
        Ok((Self::with(Some(path), Some(file), slot, seq), stored))
    }

    fn with(path: Option<PathBuf>, file: Option<File>, slot: usize, seq: u64) -> Self {
        Self {
            path,
            slot,
            inner: Mutex::new(Inner {
                file,
                seq,
                dirty: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Writes `payload` (at most `slot - 12` bytes) over the older slot. **Durability:
    /// when it returns `Ok`, the kernel holds it (a killed process keeps it); it is on
    /// stable storage after the next [`SlotFile::sync`].** One `pwrite` into the page
    /// cache: cheap enough for a hot path.
    ///
    /// # Errors
    /// `storage` when the write fails (the previous record is still in the other slot).
    pub fn write(&self, payload: &[u8]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let seq = inner.seq + 1;
        if let Some(file) = inner.file.as_mut() {
            let bytes = encode(self.slot, seq, payload);
            file.write_all_at(&bytes, (seq % 2) * self.slot as u64)
                .map_err(|e| io(self.path(), e))?;
        }
        inner.seq = seq;
        inner.dirty = true;
        Ok(())
    }

    /// Makes every record written so far durable (`fdatasync`), if one was written since
    /// the last sync. **Durability: when it returns `Ok`, the last written record is on
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
            io(self.path(), e)
        })
    }

    /// Deletes the file (an in-memory one has nothing to delete). A write through a
    /// handle still open afterwards lands in the unlinked file, never a new one.
    /// **Durability: when it returns `Ok`, the removal is on stable storage.**
    ///
    /// # Errors
    /// `storage` when the file or its directory cannot be changed.
    pub fn remove(&self) -> Result<(), StoreError> {
        match &self.path {
            Some(path) => remove_file(path),
            None => Ok(()),
        }
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

/// The payload of the newest valid slot in a file's `bytes` (slots of `slot` bytes).
pub fn newest(bytes: &[u8], slot: usize) -> Option<Vec<u8>> {
    newest_slot(bytes, slot).map(|(_, payload)| payload)
}

fn newest_slot(bytes: &[u8], slot: usize) -> Option<(u64, Vec<u8>)> {
    bytes
        .chunks(slot)
        .take(2)
        .filter_map(|one| decode(one, slot))
        .max_by_key(|(seq, _)| *seq)
}

fn encode(slot: usize, seq: u64, payload: &[u8]) -> Vec<u8> {
    let checked = slot - 4;
    assert!(payload.len() <= slot - OVERHEAD, "a payload fits its slot");
    let mut bytes = vec![0u8; slot];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    bytes[8..8 + payload.len()].copy_from_slice(payload);
    let crc = crc32fast::hash(&bytes[..checked]);
    bytes[checked..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// `(seq, payload)` of a valid slot; `None` for a torn, zeroed or missing one.
fn decode(bytes: &[u8], slot: usize) -> Option<(u64, Vec<u8>)> {
    if bytes.len() != slot {
        return None;
    }
    let checked = slot - 4;
    let crc = u32::from_le_bytes(bytes[checked..].try_into().ok()?);
    let seq = u64::from_le_bytes(bytes[..8].try_into().ok()?);
    (seq > 0 && crc32fast::hash(&bytes[..checked]) == crc)
        .then(|| (seq, bytes[8..checked].to_vec()))
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_whole_slot_wins_and_a_torn_one_falls_back_to_the_previous_record() {
        // Given a record written three times
        let data = tempfile::tempdir().unwrap();
        let path = data.path().join("sub").join("record");
        let (file, stored) = SlotFile::open(Some(path.clone()), 32).unwrap();
        assert_eq!(stored, None);
        for value in [7u8, 8, 9] {
            file.write(&[value]).unwrap();
        }
        file.sync().unwrap();
        drop(file);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 64);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, private_file::FILE_MODE);

        // Then reopening reads the last one, padded, and writing goes on from there
        let (file, stored) = SlotFile::open(Some(path.clone()), 32).unwrap();
        assert_eq!(stored.as_deref().map(|p| (p.len(), p[0])), Some((20, 9)));
        file.write(&[10]).unwrap();
        drop(file);
        let (_, stored) = SlotFile::open(Some(path.clone()), 32).unwrap();
        assert_eq!(stored.unwrap()[0], 10);

        // When the newest slot is torn (as a power loss mid-write may leave it): the
        // fourth write went to slot 4 % 2, the first
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();

        // Then the previous record is read
        assert_eq!(newest(&std::fs::read(&path).unwrap(), 32).unwrap()[0], 9);

        // And removing it leaves nothing behind
        let (file, _) = SlotFile::open(Some(path.clone()), 32).unwrap();
        file.remove().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn an_in_memory_stand_in_keeps_nothing_and_never_fails() {
        let (file, stored) = SlotFile::open(None, 64).unwrap();
        assert_eq!(stored, None);
        file.write(&[1; 52]).unwrap();
        file.sync().unwrap();
        file.remove().unwrap();
    }
}
