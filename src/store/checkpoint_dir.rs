//! Named checkpoints as files in `DATA/checkpoints/`: the projections checkpoint (tens of
//! megabytes for a million events), the API tokens and the consumers' positions.
//!
//! Why files and not a sled tree: sled keeps a value that large as a blob and reading it
//! back took 0.75 s for a 91 MB checkpoint (a plain read is a few hundredths of that),
//! and a file can be read before sled has finished opening, so start-up loads the
//! checkpoint while sled recovers (`Engine::open`).
//!
//! Each write goes to `NAME.tmp`, is fsynced, renamed over `NAME`, and the directory is
//! fsynced: a reader sees the old file or the new one, never a torn one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{private_file, StoreError};

/// The directory of named checkpoints inside a data directory.
#[derive(Clone, Debug)]
pub struct CheckpointDir {
    dir: PathBuf,
}

impl CheckpointDir {
    /// The checkpoints of the data directory `data` (created on the first write).
    pub fn of(data: &Path) -> Self {
        Self {
            dir: data.join("checkpoints"),
        }
    }

    /// Stores `bytes` under `name`. **Durability: when this returns `Ok`, the new
    /// contents and the directory entry naming them are on stable storage; when it
    /// returns `Err`, the file under `name` is the previous one, whole, and no `NAME.tmp`
    /// is left behind** (a checkpoint's temporary file is as large as the checkpoint).
    pub fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(name)?;
        private_file::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let tmp = self.dir.join(format!("{name}.tmp"));
        let written = private_file::create(&tmp)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
            .map_err(|e| io(&tmp, e))
            .and_then(|()| fs::rename(&tmp, &path).map_err(|e| io(&path, e)));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&self.dir, e))
    }

    /// The bytes stored under `name`, if any.
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(name)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// The names stored that start with `prefix`, sorted; a half-written `NAME.tmp`
    /// is not a name.
    pub fn names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io(&self.dir, e))?;
            if let Some(name) = entry.file_name().to_str() {
                if name.starts_with(prefix) && self.path(name).is_ok() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Names become file names, so only a safe alphabet is accepted (callers build names
    /// from fixed prefixes and validated parts; this is the store's own guard).
    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        let safe = !name.is_empty()
            && !name.starts_with('.')
            && !name.ends_with(".tmp")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if safe {
            Ok(self.dir.join(name))
        } else {
            Err(StoreError::Io(format!(
                "{name:?} is not a valid checkpoint name"
            )))
        }
    }
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_replaces_the_whole_file_and_names_stay_inside_the_directory() {
        let data = tempfile::tempdir().unwrap();
        let dir = CheckpointDir::of(data.path());
        assert_eq!(dir.get("projections").unwrap(), None);
        dir.put("projections", b"first, longer").unwrap();
        dir.put("projections", b"second").unwrap();
        assert_eq!(
            dir.get("projections").unwrap().as_deref(),
            Some(&b"second"[..])
        );
        assert!(!data.path().join("checkpoints/projections.tmp").exists());
        dir.put("server.consumer.a", b"1").unwrap();
        assert_eq!(
            dir.names("server.consumer.").unwrap(),
            vec!["server.consumer.a".to_owned()]
        );
        for bad in ["", "../keys", "a/b", ".hidden", "x.tmp"] {
            assert!(dir.put(bad, b"x").is_err(), "{bad:?} accepted");
        }
    }
}
