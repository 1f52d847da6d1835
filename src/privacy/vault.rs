//! The key vault: one 256-bit key per user, plus the current checkpoint key, kept on a
//! [`KeyShelf`] — files in the data directory ([`FileShelf`]), or in memory for tests.
//! The vault holds every key in memory and owns the rules; the shelf only stores.
//!
//! A stored key that is there but unusable (not 32 bytes, all zeros, unreadable, not
//! unwrapping) is kept as *damaged*, never read as "no key": a missing key looks exactly
//! like a purge, so only the engine, which knows who was purged, may decide it is
//! legitimate (`key_check`). The withheld list names the users whose keys an
//! `import-log` knowingly went without, whose profiles read as erased by choice.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::RwLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use offboard_events::UserId;

use super::file_shelf::FileShelf;
pub use super::key::Key;
use super::remnants::KeyRemnants;
use super::shelf::{KeyShelf, MemoryShelf, Shelved};
use crate::store::{who, SideFileError, StoreError};

#[derive(Debug, Default)]
struct Keys {
    users: HashMap<UserId, Key>,
    /// Stored keys found unusable when the vault opened, with what is wrong with each.
    damaged: HashMap<UserId, String>,
    /// Users whose keys an import knowingly went without.
    withheld: BTreeSet<UserId>,
    /// Keys created for the group being committed, not yet durable.
    unsynced: Vec<(UserId, Key)>,
    checkpoint: Option<Key>,
    /// A checkpoint key written for a save that may not have finished
    /// (`checkpoint.key.next`): the checkpoint file may already be under it.
    checkpoint_next: Option<Key>,
    /// On a follower (`following`): users whose key was looked for on the shelf and not
    /// found. A key is stored before the first event sealed with it is committed, so a
    /// user absent then was purged, for good.
    absent: std::collections::HashSet<UserId>,
    /// A follower's vault: a key not in memory is looked up on the shelf (the leader
    /// created it after this vault loaded).
    following: bool,
}

/// A user's stored key, as [`KeyVault::key_on_disk`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnDisk {
    Fine,
    Missing,
    Damaged(String),
}

/// The user keys of a vault at one moment ([`KeyVault::snapshot`]), for a backup.
#[derive(Clone, Debug, Default)]
pub struct VaultSnapshot {
    /// Every usable user key, by user.
    pub users: Vec<(UserId, Key)>,
    /// Users whose keys an import knowingly went without.
    pub withheld: BTreeSet<UserId>,
}

/// Where keys are kept.
#[derive(Debug)]
pub struct KeyVault {
    shelf: Box<dyn KeyShelf>,
    keys: RwLock<Keys>,
}

impl KeyVault {
    /// A vault that forgets everything with the process (tests, in-memory logs).
    pub fn in_memory() -> Self {
        Self::on_shelf(Box::new(MemoryShelf::default())).expect("an empty shelf loads")
    }

    /// Opens (or creates) the file vault in `dir`, loading every key; unusable key files
    /// are remembered as damaged ([`KeyVault::damaged_key`]), not skipped.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::on_shelf(Box::new(FileShelf::open(dir)?))
    }

    /// The vault of whatever `shelf` holds, loaded now; unusable keys are remembered as
    /// damaged, not skipped.
    pub fn on_shelf(shelf: Box<dyn KeyShelf>) -> Result<Self, StoreError> {
        let keys = Self::on_shelf_contents(shelf.load()?);
        Ok(Self {
            shelf,
            keys: RwLock::new(keys),
        })
    }

    /// The keys in memory for what a shelf holds.
    fn on_shelf_contents(contents: super::shelf::ShelfContents) -> Keys {
        let mut keys = Keys {
            withheld: contents.withheld,
            checkpoint: contents.checkpoint,
            checkpoint_next: contents.checkpoint_next,
            ..Keys::default()
        };
        for (user, stored) in contents.users {
            match stored {
                Shelved::Key(key) => keys.users.insert(user, key).map(|_| ()),
                Shelved::Damaged(problem) => keys.damaged.insert(user, problem).map(|_| ()),
            };
        }
        keys
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the user's key is kept, as error messages name it (`keys/users/<id>.key`
    /// for the file vault).
    pub fn place(&self, user: UserId) -> String {
        self.shelf.place(user)
    }

    /// What may still hold a user's key after a purge destroyed it at `at`.
    pub fn remnants(&self, at: DateTime<Utc>) -> KeyRemnants {
        self.shelf.remnants(at)
    }

    /// The user's key, if the user was not purged. On a follower's vault a key not in
    /// memory is looked up on the shelf once (see [`KeyVault::follow`]).
    pub fn user_key(&self, user: UserId) -> Option<Key> {
        let keys = self.read();
        if let Some(key) = keys.users.get(&user) {
            return Some(*key);
        }
        if !keys.following || keys.absent.contains(&user) || keys.damaged.contains_key(&user) {
            return None;
        }
        drop(keys);
        self.fetch(user)
    }

    /// A follower's lookup of a key the leader stored after this vault loaded. A failed
    /// read is not remembered: the next decode asks again.
    fn fetch(&self, user: UserId) -> Option<Key> {
        let stored = match self.shelf.stored_user_key(user) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!("offboard: the key of user {user} could not be read: {e}");
                return None;
            }
        };
        let mut keys = self.write();
        match stored {
            Some(Shelved::Key(key)) => {
                keys.users.insert(user, key);
                Some(key)
            }
            Some(Shelved::Damaged(problem)) => {
                keys.damaged.insert(user, problem);
                None
            }
            None => {
                keys.absent.insert(user);
                None
            }
        }
    }

    /// Makes this a follower's vault (`true`): keys the leader stores later are looked up
    /// on the shelf when first needed. `false` (the leader's vault) after
    /// [`KeyVault::reload`].
    pub fn follow(&self, following: bool) {
        self.write().following = following;
    }

    /// Forgets the user's key in memory only (a follower applying a purge: the leader
    /// destroys the stored key; nothing here may read the data any more).
    pub fn forget_user_key(&self, user: UserId) {
        let mut keys = self.write();
        keys.users.remove(&user);
        keys.absent.insert(user);
    }

    /// Loads every key from the shelf again, replacing what memory holds (a follower
    /// about to lead: it must know every stored key before it may create one).
    pub fn reload(&self) -> Result<(), StoreError> {
        let fresh = Self::on_shelf_contents(self.shelf.load()?);
        let mut keys = self.write();
        let following = keys.following;
        *keys = fresh;
        keys.following = following;
        Ok(())
    }

    /// What is wrong with the user's stored key, if it was found unusable.
    pub fn damaged_key(&self, user: UserId) -> Option<String> {
        self.read().damaged.get(&user).cloned()
    }

    /// The user's key as it is stored now, against the key in use: what a restart would
    /// find (a key file deleted or altered under a running server).
    pub fn key_on_disk(&self, user: UserId) -> OnDisk {
        self.keys_on_disk(&[user]).pop().unwrap_or(OnDisk::Missing)
    }

    /// [`KeyVault::key_on_disk`] for each of `users`, in their order, asking the shelf
    /// once (one round trip on PostgreSQL).
    pub fn keys_on_disk(&self, users: &[UserId]) -> Vec<OnDisk> {
        // Taken before the shelf is read: a key synced in between is then on the shelf.
        let unsynced: HashSet<UserId> = self.read().unsynced.iter().map(|(u, _)| *u).collect();
        let stored = match self.shelf.stored_user_keys(users) {
            Ok(stored) => stored,
            Err(e) => {
                let problem = format!("cannot be read: {e}");
                return users
                    .iter()
                    .map(|_| OnDisk::Damaged(problem.clone()))
                    .collect();
            }
        };
        users
            .iter()
            .zip(stored)
            .map(|(user, stored)| match stored {
                // A key of the group being committed is due on the shelf only once synced.
                _ if unsynced.contains(user) => OnDisk::Fine,
                None => OnDisk::Missing,
                Some(Shelved::Key(key)) if Some(key) == self.user_key(*user) => OnDisk::Fine,
                Some(Shelved::Key(_)) => {
                    OnDisk::Damaged("the file differs from the key in use".to_owned())
                }
                Some(Shelved::Damaged(problem)) => OnDisk::Damaged(problem),
            })
            .collect()
    }

    /// Whether an import knowingly went without this user's key (`keys/withheld`).
    pub fn is_withheld(&self, user: UserId) -> bool {
        self.read().withheld.contains(&user)
    }

    /// Records that the keys of `users` were knowingly not imported, so their profiles
    /// read as erased by choice rather than by damage. Durable when it returns.
    pub fn record_withheld(
        &self,
        users: impl IntoIterator<Item = UserId>,
    ) -> Result<(), StoreError> {
        let mut keys = self.write();
        keys.withheld.extend(users);
        self.shelf.write_withheld(&keys.withheld)
    }

    /// The user's key, created if the user has none yet. A new key is stored at once but
    /// made durable only by [`KeyVault::sync`], which the writer calls before committing
    /// the events sealed with it.
    pub fn key_for_sealing(&self, user: UserId) -> Result<Key, StoreError> {
        if let Some(key) = self.user_key(user) {
            return Ok(key);
        }
        // A new key would overwrite the damaged one: whatever it still held is lost.
        if let Some(problem) = self.damaged_key(user) {
            return Err(SideFileError::KeyDamaged {
                user,
                who: who(user, None),
                file: self.place(user),
                problem,
            }
            .into());
        }
        let key = Key::generate();
        self.shelf.put_user_key(user, key)?;
        let mut keys = self.write();
        keys.users.insert(user, key);
        keys.unsynced.push((user, key));
        Ok(key)
    }

    /// Keys created since the last [`KeyVault::sync`]: what the next sync stores.
    pub fn unsynced_keys(&self) -> usize {
        self.read().unsynced.len()
    }

    /// Makes every key created since the last call durable. **Durability: when it
    /// returns `Ok`, each such key survives a crash (file vault: each key file and the
    /// directory entry naming it are on stable storage, file and directory fsync).**
    ///
    /// On `Err` the keys stay due: the next call syncs them again. (A key is in use from
    /// the moment it is created, so a group retried after a failed sync seals with it
    /// again; were it dropped from the due list, that group's events would be committed
    /// under a key that was never stored.)
    pub fn sync(&self) -> Result<(), StoreError> {
        let unsynced = std::mem::take(&mut self.write().unsynced);
        if unsynced.is_empty() {
            return Ok(());
        }
        self.shelf.sync(&unsynced).inspect_err(|_| {
            let mut keys = self.write();
            let later = std::mem::replace(&mut keys.unsynced, unsynced);
            keys.unsynced.extend(later);
        })
    }

    /// R13: destroys the user's key for good, first from memory (nothing reads the data
    /// from then on), then from the shelf (file vault: the file is overwritten before it
    /// is removed, so its blocks do not keep the key either). **Durability: when it
    /// returns `Ok`, the destruction is on stable storage.**
    pub fn destroy_user_key(&self, user: UserId) -> Result<(), StoreError> {
        let mut keys = self.write();
        keys.users.remove(&user);
        keys.damaged.remove(&user);
        drop(keys);
        self.shelf.destroy_user_key(user)
    }

    /// Removes the keys of `users` from memory and from the shelf: keys that sealed
    /// nothing in the log ([`KeyShelf::remove_unused_user_keys`]). **Durability: when it
    /// returns `Ok`, every removal is durable.**
    pub fn remove_unused_keys(&self, users: &[UserId]) -> Result<(), StoreError> {
        let mut keys = self.write();
        for user in users {
            keys.users.remove(user);
            keys.damaged.remove(user);
        }
        drop(keys);
        self.shelf.remove_unused_user_keys(users)
    }

    /// Users that have a stored key, usable or damaged.
    pub fn users_with_keys(&self) -> Vec<UserId> {
        let keys = self.read();
        keys.users
            .keys()
            .chain(keys.damaged.keys())
            .copied()
            .collect()
    }

    /// Every user key, base64-encoded, for `export` (whoever holds them can read the
    /// personal data of every user not yet purged).
    pub fn export_user_keys(&self) -> Vec<(UserId, String)> {
        let mut keys: Vec<(UserId, String)> = self
            .read()
            .users
            .iter()
            .map(|(u, k)| (*u, STANDARD.encode(k.bytes())))
            .collect();
        keys.sort();
        keys
    }

    /// Every usable user key and the users whose keys were withheld, as held now: what
    /// a backup copies (under the state's lock, so it matches one log position).
    pub fn snapshot(&self) -> VaultSnapshot {
        let keys = self.read();
        let mut users: Vec<(UserId, Key)> = keys.users.iter().map(|(u, k)| (*u, *k)).collect();
        users.sort_by_key(|(u, _)| *u);
        VaultSnapshot {
            users,
            withheld: keys.withheld.clone(),
        }
    }

    /// Writes every key of `snapshot` into this vault, then the withheld list. **Durability:
    /// when it returns `Ok`, every key and the withheld list are durable** (file vault:
    /// the files are fsynced once all are written, then the directory once, not one file
    /// at a time).
    pub fn restore(&self, snapshot: &VaultSnapshot) -> Result<(), StoreError> {
        for (user, key) in &snapshot.users {
            self.put(*user, *key)?;
        }
        self.sync()?;
        if snapshot.withheld.is_empty() {
            return Ok(());
        }
        self.record_withheld(snapshot.withheld.iter().copied())
    }

    /// Stores a key exported from another data directory. **Durability: when it returns
    /// `Ok`, the key is durable (file vault: the key file and its directory entry are on
    /// stable storage).**
    pub fn import_user_key(&self, user: UserId, base64: &str) -> Result<(), StoreError> {
        let raw = STANDARD
            .decode(base64)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| {
                StoreError::Io(format!("the key of user {user} is not 32 bytes of base64"))
            })?;
        self.put(user, Key::from_bytes(raw))?;
        self.sync()
    }

    /// Stores `key` as the user's, replacing a damaged one; durable at the next sync.
    fn put(&self, user: UserId, key: Key) -> Result<(), StoreError> {
        self.shelf.put_user_key(user, key)?;
        let mut keys = self.write();
        keys.users.insert(user, key);
        keys.damaged.remove(&user);
        keys.unsynced.push((user, key));
        Ok(())
    }

    /// `key` as the named record `name` of the store should hold it
    /// ([`KeyShelf::wrap_record_key`]: wrapped by the KEK on PostgreSQL).
    pub fn seal_record_key(&self, name: &str, key: &Key) -> Vec<u8> {
        self.shelf.wrap_record_key(name, key)
    }

    /// The key in record `name`'s `stored` bytes, or what is wrong with them; `Ok` with
    /// `true` when it was stored raw where it should be wrapped (store it again sealed).
    pub fn open_record_key(&self, name: &str, stored: &[u8]) -> Result<(Key, bool), String> {
        let key = self.shelf.unwrap_record_key(name, stored)?;
        let resealed = self.shelf.wrap_record_key(name, &key);
        Ok((key, resealed.len() != stored.len()))
    }

    /// The key the current checkpoint is encrypted with.
    pub fn checkpoint_key(&self) -> Option<Key> {
        self.read().checkpoint
    }

    /// A new checkpoint key, durable before it is returned; the previous one is gone.
    pub fn rotate_checkpoint_key(&self) -> Result<Key, StoreError> {
        let key = self.next_checkpoint_key()?;
        self.install_checkpoint_key(key)?;
        Ok(key)
    }

    /// The keys a stored checkpoint may be under: the current one, then the one an
    /// interrupted save wrote its file under before installing it.
    pub fn checkpoint_keys(&self) -> Vec<Key> {
        let keys = self.read();
        keys.checkpoint
            .into_iter()
            .chain(keys.checkpoint_next)
            .collect()
    }

    /// A fresh key for the next checkpoint, durable (file vault: `keys/checkpoint.key.next`)
    /// before it is returned but not yet in use: the current key, and so the current
    /// checkpoint, stay as they are until [`KeyVault::install_checkpoint_key`].
    pub fn next_checkpoint_key(&self) -> Result<Key, StoreError> {
        let key = Key::generate();
        self.shelf.put_next_checkpoint_key(key)?;
        self.write().checkpoint_next = Some(key);
        Ok(key)
    }

    /// Makes `key` (from [`KeyVault::next_checkpoint_key`]) the checkpoint key, once the
    /// checkpoint encrypted with it is durable; durable when it returns. The previous
    /// key is gone, so every earlier checkpoint is unreadable.
    pub fn install_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
        self.shelf.install_checkpoint_key(key)?;
        let mut keys = self.write();
        keys.checkpoint = Some(key);
        keys.checkpoint_next = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// A shelf that stores keys only when synced (as PostgreSQL's does), and whose first
    /// sync fails.
    #[derive(Debug, Default)]
    struct FlakyShelf {
        inner: MemoryShelf,
        failed: std::sync::atomic::AtomicBool,
    }

    impl KeyShelf for FlakyShelf {
        fn load(&self) -> Result<super::super::shelf::ShelfContents, StoreError> {
            self.inner.load()
        }
        fn stored_user_key(&self, user: UserId) -> Result<Option<Shelved>, StoreError> {
            self.inner.stored_user_key(user)
        }
        fn put_user_key(&self, _user: UserId, _key: Key) -> Result<(), StoreError> {
            Ok(())
        }
        fn sync(&self, keys: &[(UserId, Key)]) -> Result<(), StoreError> {
            if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::Io("the database went away".to_owned()));
            }
            for (user, key) in keys {
                self.inner.put_user_key(*user, *key)?;
            }
            self.inner.sync(keys)
        }
        fn destroy_user_key(&self, user: UserId) -> Result<(), StoreError> {
            self.inner.destroy_user_key(user)
        }
        fn write_withheld(&self, users: &BTreeSet<UserId>) -> Result<(), StoreError> {
            self.inner.write_withheld(users)
        }
        fn put_next_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
            self.inner.put_next_checkpoint_key(key)
        }
        fn install_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
            self.inner.install_checkpoint_key(key)
        }
        fn place(&self, user: UserId) -> String {
            self.inner.place(user)
        }
        fn remnants(&self, at: DateTime<Utc>) -> KeyRemnants {
            self.inner.remnants(at)
        }
    }

    #[test]
    fn a_key_whose_sync_failed_is_synced_by_the_next_sync() {
        // Given a new key whose first sync fails
        let vault = KeyVault::on_shelf(Box::new(FlakyShelf::default())).unwrap();
        let user = UserId::new();
        let key = vault.key_for_sealing(user).unwrap();
        assert!(vault.sync().is_err());
        // When the next group syncs (sealing with the same key, still in use)
        assert_eq!(vault.key_for_sealing(user).unwrap(), key);
        vault.sync().unwrap();
        // Then the key is stored: what a restart would find
        assert_eq!(vault.key_on_disk(user), OnDisk::Fine);
    }

    #[test]
    fn keys_survive_reopening_and_destroyed_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (ann, bob) = (UserId::new(), UserId::new());
        let vault = KeyVault::open(dir.path()).unwrap();
        let ann_key = vault.key_for_sealing(ann).unwrap();
        vault.key_for_sealing(bob).unwrap();
        vault.sync().unwrap();
        vault.destroy_user_key(bob).unwrap();
        let reopened = KeyVault::open(dir.path()).unwrap();
        assert_eq!(reopened.user_key(ann), Some(ann_key));
        assert_eq!(reopened.user_key(bob), None);
    }

    #[test]
    fn unusable_key_files_are_remembered_as_damaged_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (cut, zeroed, fine) = (UserId::new(), UserId::new(), UserId::new());
        let vault = KeyVault::open(dir.path()).unwrap();
        for user in [cut, zeroed, fine] {
            vault.key_for_sealing(user).unwrap();
        }
        vault.sync().unwrap();
        let path = |u: UserId| dir.path().join("users").join(format!("{u}.key"));
        fs::write(path(cut), [1u8; 10]).unwrap();
        fs::write(path(zeroed), [0u8; 32]).unwrap();
        let reopened = KeyVault::open(dir.path()).unwrap();
        assert!(reopened.damaged_key(cut).unwrap().contains("10 bytes"));
        assert!(reopened.damaged_key(zeroed).unwrap().contains("zero"));
        assert_eq!(reopened.damaged_key(fine), None);
        // A damaged key is not silently replaced by a new one
        let err = reopened.key_for_sealing(cut).unwrap_err();
        assert_eq!(err.code(), "key_damaged");
        assert_eq!(fs::read(path(cut)).unwrap(), [1u8; 10]);
        // A purge removes a damaged file too
        reopened.destroy_user_key(zeroed).unwrap();
        assert!(!path(zeroed).exists());
        // Withheld users are remembered across opening
        reopened.record_withheld([cut]).unwrap();
        assert!(KeyVault::open(dir.path()).unwrap().is_withheld(cut));
    }
}
