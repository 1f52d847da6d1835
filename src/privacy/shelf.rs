//! Where a [`KeyVault`](super::KeyVault) keeps its keys: the seam between the vault's
//! rules (which key a user has, damaged is not missing, keys durable before the events
//! they seal) and the storage underneath — files beside sled ([`FileShelf`]), a table
//! in PostgreSQL, or nothing outside the process ([`MemoryShelf`]).
//!
//! A shelf never decides that an absent key is legitimate: it reports what it holds,
//! usable or not, and the vault and the engine judge.
//!
//! [`FileShelf`]: super::file_shelf::FileShelf

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use offboard_events::UserId;

use super::key::Key;
use super::remnants::KeyRemnants;
use crate::store::{key_file, StoreError};

/// A user's key as a shelf holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shelved {
    /// A usable key.
    Key(Key),
    /// Something is stored for the user but is not a usable key: what is wrong with it.
    Damaged(String),
}

/// Everything a shelf holds, as the vault loads it when it opens.
#[derive(Clone, Debug, Default)]
pub struct ShelfContents {
    /// Every user with something stored, usable or damaged.
    pub users: HashMap<UserId, Shelved>,
    /// Users whose keys an import knowingly went without.
    pub withheld: BTreeSet<UserId>,
    /// The key the current checkpoint is encrypted with.
    pub checkpoint: Option<Key>,
    /// A checkpoint key written for a save that may not have finished.
    pub checkpoint_next: Option<Key>,
}

/// Storage for user keys, the checkpoint keys and the withheld list. Implementations are
/// called by one vault, from any thread.
pub trait KeyShelf: Send + Sync + std::fmt::Debug {
    /// Everything stored now; unusable entries are [`Shelved::Damaged`], never skipped.
    fn load(&self) -> Result<ShelfContents, StoreError>;

    /// The user's key as stored now (`None`: nothing stored), to compare with the key in
    /// use: what a restart would find.
    fn stored_user_key(&self, user: UserId) -> Result<Option<Shelved>, StoreError>;

    /// [`KeyShelf::stored_user_key`] for each of `users`, in their order. The default asks
    /// for each; a shelf across a network answers in one round trip.
    fn stored_user_keys(&self, users: &[UserId]) -> Result<Vec<Option<Shelved>>, StoreError> {
        users.iter().map(|u| self.stored_user_key(*u)).collect()
    }

    /// Stores a new user key. **Durability: none is promised — only a later
    /// [`KeyShelf::sync`] naming the key makes it durable.**
    fn put_user_key(&self, user: UserId, key: Key) -> Result<(), StoreError>;

    /// Makes `keys` (each given to [`KeyShelf::put_user_key`] before) durable, all at
    /// once. **Durability: when it returns `Ok`, every one of them survives a crash.**
    fn sync(&self, keys: &[(UserId, Key)]) -> Result<(), StoreError>;

    /// Destroys the user's key, usable or damaged; nothing stored is not an error.
    /// **Durability: when it returns `Ok`, the key is gone from this shelf for good**
    /// (what copies outside it keep is [`KeyShelf::remnants`]).
    fn destroy_user_key(&self, user: UserId) -> Result<(), StoreError>;

    /// Removes the keys of `users`, which sealed nothing that is in the log (keys of a
    /// write that never committed, or of events a damaged log lost: the file shelf
    /// moves them aside to `keys/unused/` rather than deleting them), so they need no
    /// overwriting first. Nothing stored is
    /// not an error. **Durability: when it returns `Ok`, every removal is durable.** The
    /// default destroys each ([`KeyShelf::destroy_user_key`]).
    fn remove_unused_user_keys(&self, users: &[UserId]) -> Result<(), StoreError> {
        users.iter().try_for_each(|u| self.destroy_user_key(*u))
    }

    /// Replaces the withheld list by `users`. **Durability: the whole list is durable
    /// when it returns `Ok`.**
    fn write_withheld(&self, users: &BTreeSet<UserId>) -> Result<(), StoreError>;

    /// Stores `key` as the next checkpoint key, the current one untouched.
    /// **Durability: `key` is durable when it returns `Ok`.**
    fn put_next_checkpoint_key(&self, key: Key) -> Result<(), StoreError>;

    /// Makes the next checkpoint key (`key`) the current one; the previous current key
    /// is gone. **Durability: the switch is durable when it returns `Ok`.**
    fn install_checkpoint_key(&self, key: Key) -> Result<(), StoreError>;

    /// Where the user's key is kept, as error messages name it (e.g.
    /// `keys/users/<id>.key`).
    fn place(&self, user: UserId) -> String;

    /// What may still hold a key after [`KeyShelf::destroy_user_key`] returned at `at`,
    /// for the purge answer.
    fn remnants(&self, at: DateTime<Utc>) -> KeyRemnants;

    /// How a key kept in a named record of the store (the webhook secrets' sealing key)
    /// is stored: as it is beside sled and in memory (the record is a file of the data
    /// directory, like the key files); wrapped by the KEK on PostgreSQL, where the record
    /// is a row beside the data it protects.
    fn wrap_record_key(&self, _name: &str, key: &Key) -> Vec<u8> {
        key.bytes().to_vec()
    }

    /// The key [`KeyShelf::wrap_record_key`] stored, or what is wrong with `stored`.
    fn unwrap_record_key(&self, _name: &str, stored: &[u8]) -> Result<Key, String> {
        raw_key(stored)
    }
}

/// A key stored as its 32 bytes.
pub(crate) fn raw_key(stored: &[u8]) -> Result<Key, String> {
    <[u8; 32]>::try_from(stored)
        .map(Key::from_bytes)
        .map_err(|_| format!("{} bytes, not a 32-byte key", stored.len()))
}

/// A shelf that forgets everything with the process (tests, in-memory logs).
#[derive(Debug, Default)]
pub struct MemoryShelf {
    held: Mutex<ShelfContents>,
}

impl MemoryShelf {
    fn held(&self) -> std::sync::MutexGuard<'_, ShelfContents> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KeyShelf for MemoryShelf {
    fn load(&self) -> Result<ShelfContents, StoreError> {
        Ok(self.held().clone())
    }

    fn stored_user_key(&self, user: UserId) -> Result<Option<Shelved>, StoreError> {
        Ok(self.held().users.get(&user).cloned())
    }

    fn put_user_key(&self, user: UserId, key: Key) -> Result<(), StoreError> {
        self.held().users.insert(user, Shelved::Key(key));
        Ok(())
    }

    fn sync(&self, _keys: &[(UserId, Key)]) -> Result<(), StoreError> {
        Ok(())
    }

    fn destroy_user_key(&self, user: UserId) -> Result<(), StoreError> {
        self.held().users.remove(&user);
        Ok(())
    }

    fn write_withheld(&self, users: &BTreeSet<UserId>) -> Result<(), StoreError> {
        self.held().withheld.clone_from(users);
        Ok(())
    }

    fn put_next_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
        self.held().checkpoint_next = Some(key);
        Ok(())
    }

    fn install_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
        let mut held = self.held();
        held.checkpoint = Some(key);
        held.checkpoint_next = None;
        Ok(())
    }

    fn place(&self, user: UserId) -> String {
        // Named as on disk, so messages read the same whichever vault a test uses.
        key_file(user)
    }

    fn remnants(&self, at: DateTime<Utc>) -> KeyRemnants {
        KeyRemnants {
            store: "memory".to_owned(),
            statement: "The key was only ever in this process's memory, and is gone from it."
                .to_owned(),
            backup_retention: None,
            may_exist_until: Some(at),
        }
    }
}
