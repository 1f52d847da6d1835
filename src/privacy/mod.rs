//! Privacy that survives an immutable log (R13, ARCHITECTURE "Integrity and privacy").
//!
//! Personal data (email, names, job title) only ever travels in an event's `profile`.
//! Before an event is hashed and stored, its profile is sealed with the user's own key
//! ([`seal`]); the key lives in its own file, outside sled ([`vault`]). Purging a user
//! deletes that file: from then on every event about the user reads with its personal
//! fields as `erased`, while the stored bytes — and so the hash chain — are untouched.
//!
//! Keys live in files rather than a sled tree because sled is log-structured: a removed
//! value stays in old segments until they are cleaned, so a deleted key could linger on
//! disk. A deleted file does not. Projection checkpoints, which hold plaintext views,
//! are encrypted too, under a key replaced at every checkpoint, so a checkpoint written
//! before a purge is unreadable once the next one is saved.

pub mod erasure;
pub mod file_shelf;
pub mod kek;
pub mod kek_rotation;
pub mod key;
pub mod key_check;
pub mod key_settings;
pub mod pg_shelf;
pub mod remnants;
pub mod seal;
pub mod shelf;
pub mod vault;

pub use key::Key;
pub use shelf::{KeyShelf, MemoryShelf};
pub use vault::KeyVault;
