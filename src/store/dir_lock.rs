//! The data directory's own lock: one engine at a time owns everything in it — sled,
//! the key vault and the checkpoint files — not only sled's part.
//!
//! Taken first when an engine opens, so the key vault and the projections checkpoint can
//! be read on another thread while sled is still recovering (`Engine::open`). sled keeps
//! its own lock too; this one covers the files beside it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use super::StoreError;

/// How long to wait for a directory whose previous owner in this process is still letting
/// go of it (a dropped engine's threads finish their last writes first).
pub const LOCK_PATIENCE: Duration = Duration::from_secs(3);

/// An exclusive hold on a data directory, released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock on `dir` (created if needed), waiting up to [`LOCK_PATIENCE`];
    /// a directory still held after that is [`StoreError::Locked`].
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_PATIENCE => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StoreError::Locked {
                        dir: dir.to_path_buf(),
                    })
                }
                Err(TryLockError::Error(e)) => {
                    return Err(StoreError::Io(format!("{}: {e}", path.display())))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_directory_is_locked_until_its_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        let started = Instant::now();
        assert!(matches!(
            DirLock::acquire(dir.path()),
            Err(StoreError::Locked { .. })
        ));
        assert!(
            started.elapsed() >= LOCK_PATIENCE,
            "gave up without waiting"
        );
        drop(held);
        DirLock::acquire(dir.path()).unwrap();
    }
}
