//! Keys in files beside sled: `keys/users/<user id>.key` (32 raw bytes each),
//! `keys/checkpoint.key`, `keys/checkpoint.key.next`, `keys/withheld` (a JSON list of
//! user ids) and `keys/unused/` (keys of users no event names, moved aside) inside the
//! data directory, every one private to its owner (0600, folders
//! 0700).
//!
//! Files rather than a sled tree because sled is log-structured: a removed value stays
//! in old segments until they are cleaned. A key file is zeroed, fsynced and unlinked.
//! A file that is there but unusable (not 32 bytes, all zeros, unreadable) is reported
//! as damaged, never as absent.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use offboard_events::UserId;

use super::key::Key;
use super::remnants::KeyRemnants;
use super::shelf::{KeyShelf, ShelfContents, Shelved};
use crate::store::{key_file, private_file, StoreError};

/// The file listing users whose keys were knowingly not imported.
const WITHHELD: &str = "withheld";
/// Where the keys of users no event names are moved (see `remove_unused_user_keys`).
const UNUSED: &str = "unused";
/// The key the current checkpoint is encrypted with.
const CHECKPOINT_KEY: &str = "checkpoint.key";
/// Where a checkpoint key waits until the checkpoint encrypted with it is durable.
const NEXT_CHECKPOINT_KEY: &str = "checkpoint.key.next";

/// The key files of one data directory (`dir` is its `keys/` folder).
#[derive(Debug)]
pub struct FileShelf {
    dir: PathBuf,
}

fn io(context: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", context.display()))
}

impl FileShelf {
    /// The shelf in `dir`, created (0700) if needed; files written by older releases
    /// with the umask's mode are made private.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let users_dir = dir.join("users");
        private_file::create_dir_all(&users_dir).map_err(|e| io(&users_dir, e))?;
        tighten(&dir);
        tighten(&users_dir);
        Ok(Self { dir })
    }

    fn user_path(&self, user: UserId) -> PathBuf {
        self.dir.join("users").join(format!("{user}.key"))
    }
}

impl KeyShelf for FileShelf {
    fn load(&self) -> Result<ShelfContents, StoreError> {
        let users_dir = self.dir.join("users");
        let mut contents = ShelfContents::default();
        for entry in fs::read_dir(&users_dir).map_err(|e| io(&users_dir, e))? {
            let path = entry.map_err(|e| io(&users_dir, e))?.path();
            let Some(user) = path
                .file_stem()
                .filter(|_| path.extension().is_some_and(|x| x == "key"))
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<UserId>().ok())
            else {
                continue; // not a key file
            };
            tighten(&path);
            contents.users.insert(user, read_user_key(&path));
        }
        contents.withheld = read_withheld(&self.dir.join(WITHHELD))?;
        let checkpoint = self.dir.join(CHECKPOINT_KEY);
        if checkpoint.exists() {
            tighten(&checkpoint);
        }
        contents.checkpoint = read_key(&checkpoint)?;
        contents.checkpoint_next = read_key(&self.dir.join(NEXT_CHECKPOINT_KEY))?;
        Ok(contents)
    }

    fn stored_user_key(&self, user: UserId) -> Result<Option<Shelved>, StoreError> {
        let path = self.user_path(user);
        Ok(path.exists().then(|| read_user_key(&path)))
    }

    fn put_user_key(&self, user: UserId, key: Key) -> Result<(), StoreError> {
        let path = self.user_path(user);
        private_file::write(&path, key.bytes()).map_err(|e| io(&path, e))
    }

    /// Each key file, then the `users/` folder once; from [`SYNCFS_FROM`] keys on (an
    /// import), one `syncfs` of the filesystem instead. **Durability: when it returns
    /// `Ok`, each file and the directory entry naming it are on stable storage (file and
    /// directory fsync, or the filesystem's sync).**
    fn sync(&self, keys: &[(UserId, Key)]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let users = self.dir.join("users");
        if keys.len() >= SYNCFS_FROM {
            return sync_filesystem(&users);
        }
        for (user, _) in keys {
            let path = self.user_path(*user);
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| io(&path, e))?;
        }
        sync_dir(&users)
    }

    /// The file is overwritten before it is removed, so its blocks do not keep the key
    /// either. **Durability: when it returns `Ok`, the zeroed file and its removal are on
    /// stable storage.**
    fn destroy_user_key(&self, user: UserId) -> Result<(), StoreError> {
        let path = self.user_path(user);
        if !path.exists() {
            return Ok(());
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        file.write_all(&[0u8; 32])
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&path, e))?;
        drop(file);
        fs::remove_file(&path).map_err(|e| io(&path, e))?;
        sync_dir(path.parent().expect("a key file has a folder"))
    }

    /// Each file moved aside to `keys/unused/<user id>.<unix nanos>.key`, never deleted:
    /// no event the log holds names these users, which is what a write that never
    /// committed leaves, but also what a log that lost its tail to damage leaves, and then
    /// the key is the only way back into the events of a good copy of the log (a tester
    /// saw an open after such damage destroy one). Then `unused/` and `users/` are synced
    /// once each: 100,000 keys of an import that did not commit cost two directory syncs,
    /// not a sync each.
    fn remove_unused_user_keys(&self, users: &[UserId]) -> Result<(), StoreError> {
        if users.is_empty() {
            return Ok(());
        }
        let aside = self.dir.join(UNUSED);
        private_file::create_dir_all(&aside).map_err(|e| io(&aside, e))?;
        let stamp = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        for user in users {
            let path = self.user_path(*user);
            let to = aside.join(format!("{}.{stamp}.key", user.0));
            match fs::rename(&path, &to) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path, e)),
                _ => {}
            }
        }
        sync_dir(&aside)?;
        sync_dir(&self.dir.join("users"))
    }

    fn write_withheld(&self, users: &BTreeSet<UserId>) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(users).expect("ids serialize");
        let (tmp, path) = (self.dir.join("withheld.tmp"), self.dir.join(WITHHELD));
        let mut file = private_file::create(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        sync_dir(&self.dir)
    }

    fn put_next_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
        write_durably(&self.dir, NEXT_CHECKPOINT_KEY, key.bytes())
    }

    fn install_checkpoint_key(&self, _key: Key) -> Result<(), StoreError> {
        let next = self.dir.join(NEXT_CHECKPOINT_KEY);
        let path = self.dir.join(CHECKPOINT_KEY);
        fs::rename(&next, &path).map_err(|e| io(&path, e))?;
        sync_dir(&self.dir)
    }

    fn place(&self, user: UserId) -> String {
        key_file(user)
    }

    fn remnants(&self, at: DateTime<Utc>) -> KeyRemnants {
        KeyRemnants::after(
            "files",
            "The key file was overwritten with zeros, fsynced and unlinked.",
            "Filesystem snapshots and backups of the data directory taken before the purge \
             keep it",
            None,
            at,
        )
    }
}

/// Makes a key file or folder written by an older release (with the umask's mode)
/// private. A failure (a read-only copy being verified) is logged, not fatal: the keys
/// can still be read.
fn tighten(path: &Path) {
    if let Err(e) = private_file::restrict(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not make the key private (0600)");
    }
}

/// Writes `bytes` to `dir/name` through a temporary file: fsynced, renamed, the
/// directory fsynced. The temporary file is removed when any step fails.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let written = private_file::create(&tmp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&tmp, &path))
        .map_err(|e| io(&path, e));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    sync_dir(dir)
}

fn read_key(path: &Path) -> Result<Option<Key>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => match <[u8; 32]>::try_from(bytes.as_slice()) {
            Ok(raw) if raw != [0u8; 32] => Ok(Some(Key::from_bytes(raw))),
            // Not a key: the checkpoint it sealed is ignored and rebuilt from the log.
            _ => Ok(None),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, e)),
    }
}

/// A user's key, or what makes the file unusable.
fn read_user_key(path: &Path) -> Shelved {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return Shelved::Damaged(format!("cannot be read: {e}")),
    };
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(raw) if raw == [0u8; 32] => {
            Shelved::Damaged("it holds 32 zero bytes (overwritten as a purge does)".to_owned())
        }
        Ok(raw) => Shelved::Key(Key::from_bytes(raw)),
        Err(_) => Shelved::Damaged(format!("it holds {} bytes, a key is 32", bytes.len())),
    }
}

fn read_withheld(path: &Path) -> Result<BTreeSet<UserId>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::Io(format!("{}: not a list of user ids: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(io(path, e)),
    }
}

/// Keys from which one sync of the whole filesystem replaces a sync per key file: an
/// import of 40,000 users took 4 s in per-file `fsync`s here (~0.1 ms each), past the
/// engine's storage patience, while one `syncfs` costs what is dirty on the filesystem
/// (the key files, a few MB of the log) — more than a few `fsync`s when little is new.
const SYNCFS_FROM: usize = 256;

/// Makes everything written to the filesystem holding `dir` durable: its files' data and
/// metadata, and its directories' entries (`syncfs`, which reports write-back errors
/// since Linux 5.8). Elsewhere than Linux, every file of `dir` and `dir` itself.
fn sync_filesystem(dir: &Path) -> Result<(), StoreError> {
    #[cfg(target_os = "linux")]
    {
        let folder = fs::File::open(dir).map_err(|e| io(dir, e))?;
        rustix::fs::syncfs(&folder).map_err(|e| io(dir, e.into()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| io(&path, e))?;
        }
        sync_dir(dir)
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(dir, e))
}
