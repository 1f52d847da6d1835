//! The append-only log: what is stored, and the [`LogStore`] trait with a durable sled
//! implementation ([`SledLog`], the embedded default), one on PostgreSQL
//! ([`PostgresLog`], chosen by a [`Location`]) and an in-memory one for fast tests
//! ([`MemoryLog`]).
//!
//! The store is deliberately dumb: it never decides anything. The single writer
//! (`engine::writer`) assigns positions, stream versions and hashes, and hands the store
//! one [`CommitBatch`] per group commit, which the store writes atomically and durably.

mod block;
mod checkpoint_dir;
mod dir_lock;
#[cfg(target_os = "linux")]
mod dir_watch;
mod head_note;
mod keys;
mod location;
mod memory_log;
pub mod postgres;
pub mod private_file;
mod side_file;
mod sled_files;
mod sled_log;
pub mod slot_file;

use std::path::PathBuf;

use offboard_events::{CommandId, CorrelationId};
use serde::{Deserialize, Serialize};

pub use checkpoint_dir::CheckpointDir;
pub use dir_lock::DirLock;
pub use head_note::HEAD_NOTE_FILE;
pub use keys::position_key;
pub use location::{is_postgres_url, redacted, Location};
pub use memory_log::MemoryLog;
pub use postgres::{PgPool, PostgresLog};
pub use side_file::{key_file, who, SideFileError, TOKENS_FILE};
pub use sled_files::discard_damaged_snapshots;
pub use sled_log::SledLog;

/// The `tracing` directive every default log filter ends with: sled's own log lines
/// (`log` records, bridged by `tracing-subscriber`) are hidden. Every fault sled reports
/// reaches offboard as an error that it names in its own terms (e.g. "discarded sled's
/// snapshot … sled replays its log instead", or `integrity_broken` naming the missing
/// positions), so sled's raw line before it ("unexpected corruption encountered in
/// storage snapshot file. stable lsn 160 should be >= …") only said the same thing
/// first, in words an operator cannot act on. `RUST_LOG=warn,sled=warn` shows them.
pub const QUIET_SLED: &str = "sled=off";

/// Where the log ends: the last position written and its hash (the chain head).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// 0 for an empty log.
    pub last_position: u64,
    /// [`offboard_events::canonical::GENESIS_HASH`] for an empty log.
    pub last_hash: String,
}

impl ChainHead {
    pub fn empty() -> Self {
        Self {
            last_position: 0,
            last_hash: offboard_events::canonical::GENESIS_HASH.to_owned(),
        }
    }
}

/// What the command-id index remembers of an accepted command, so a retry with the same
/// id gets the same answer and appends nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Hex SHA-256 of the command's canonical payload: the same id with another payload
    /// is a `conflict`, not a retry.
    pub fingerprint: String,
    pub correlation_id: CorrelationId,
    /// The positions the command appended, `first..=last`; `None` when it appended nothing.
    pub positions: Option<(u64, u64)>,
}

/// One event ready to be stored: its position and its canonical JSON bytes (hash
/// already set). Streams are indexed by the projections (`offboard_projections::Streams`),
/// not by the store.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub position: u64,
    pub bytes: Vec<u8>,
}

/// Everything one group commit writes, atomically.
#[derive(Clone, Debug, Default)]
pub struct CommitBatch {
    pub events: Vec<StoredEvent>,
    pub commands: Vec<(CommandId, CommandRecord)>,
    /// The chain head after this batch; `None` when the batch holds no events.
    pub head: Option<ChainHead>,
}

impl CommitBatch {
    /// About how many bytes writing the batch moves: its events' stored bytes and 256 a
    /// command record (an id, a fingerprint, a correlation id, positions, and keys).
    pub fn bytes(&self) -> u64 {
        let events: usize = self.events.iter().map(|e| e.bytes.len()).sum();
        (events + 256 * self.commands.len()) as u64
    }
}

/// Storage failures. None of these is the caller's fault; retrying may help for I/O.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {dir} is in use by another offboard process (sled allows one process per directory); stop it, or talk to it with --server")]
    Locked { dir: PathBuf },
    #[error("storage error: {0}")]
    Io(String),
    #[error("the log is damaged: {0}; run `offboard verify`")]
    Corrupt(String),
    /// A key or token file beside the log is missing or damaged (its own code).
    #[error(transparent)]
    SideFile(#[from] SideFileError),
    /// The key-encryption key of wrapped keys is missing, unusable or not the store's.
    #[error(transparent)]
    Kek(#[from] crate::privacy::kek::KekError),
    /// The store's server did not answer, or refused the login. `target` is
    /// `host:port/database`, never with the password.
    #[error("the PostgreSQL server at {target} cannot be reached: {why}")]
    Unreachable { target: String, why: String },
    /// `--store` (or `OFFBOARD_STORE`) is not a URL the driver understands.
    #[error("the store URL is not valid: {why}")]
    BadUrl { why: String },
    /// Another process is the log's writer (it holds the database's writer lock).
    #[error("the log at {target} is in use by another offboard process (one writer per database); stop it, or talk to it with --server")]
    InUse { target: String },
    /// A write met a position already stored: another writer got there first. Nothing
    /// of the write is stored, and nothing was overwritten.
    #[error("a position from {from} on is already taken in the log: another writer appended there; nothing was written")]
    PositionTaken { from: u64 },
    /// A node started with the `--advertise` URL that the node leading now published:
    /// every follower would forward commands to whichever of the two answers there.
    #[error("the node leading the log at {target} advertises {address}, this node's --advertise URL: give each node its own (its address as the other nodes reach it)")]
    AdvertiseTaken { target: String, address: String },
}

impl StoreError {
    /// Stable error code for callers and the CLI/HTTP error shapes.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Locked { .. } => "data_dir_locked",
            StoreError::Io(_) => "storage",
            StoreError::Corrupt(_) => "log_corrupt",
            StoreError::SideFile(e) => e.code(),
            StoreError::Kek(e) => e.code(),
            StoreError::Unreachable { .. } => "store_unreachable",
            StoreError::BadUrl { .. } => "store_url_invalid",
            StoreError::InUse { .. } => "store_in_use",
            StoreError::PositionTaken { .. } => "position_taken",
            StoreError::AdvertiseTaken { .. } => "advertise_taken",
        }
    }
}

/// The persistence contract of the log. Implementations must be safe to read from many
/// threads while the single writer commits.
pub trait LogStore: Send + Sync + std::fmt::Debug + 'static {
    /// Writes every event, index entry and the new chain head of `batch` atomically.
    /// **Durability: none — when it returns `Ok`, all of it is visible to reads but may
    /// be lost by a crash until [`LogStore::sync`] returns `Ok`.** When it returns `Err`,
    /// none of it is visible.
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError>;

    /// Makes everything written so far durable, for however many batches. **Durability:
    /// when this returns `Ok`, every batch written before the call is on stable storage
    /// (for [`SledLog`]: sled's flush, then `fdatasync` of its log file) and survives a
    /// crash or a power loss. When it returns `Err`, what reached the disk is unknown:
    /// callers must not call it again and assume success** (after a failed `fsync` the
    /// kernel may have dropped the dirty pages and report the next one clean).
    fn sync(&self) -> Result<(), StoreError>;

    /// The first half of [`LogStore::sync`], for a pipeline that overlaps one group's
    /// device flush with the next group's write-out: hands what was written to the
    /// operating system (for [`SledLog`]: sled's flush, ending in `sync_file_range`).
    /// **Durability: none — only a later [`LogStore::sync_flushed`] makes it durable.**
    /// The default does nothing (its `sync_flushed` is the whole `sync`).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The second half of [`LogStore::sync`]. **Durability: when this returns `Ok`, every
    /// batch for which [`LogStore::flush`] had returned `Ok` before the call is on stable
    /// storage (for [`SledLog`]: `fdatasync` of its log file and of any new file with its
    /// directory); on `Err` the same holds as for `sync`'s.** The default is `sync`.
    fn sync_flushed(&self) -> Result<(), StoreError> {
        self.sync()
    }

    /// Whether [`LogStore::write`] returning `Ok` already made the batch durable (a
    /// PostgreSQL commit), so `flush` and `sync` have nothing to do and the writer's
    /// pipeline skips calling them. `false` by default.
    fn durable_when_written(&self) -> bool {
        false
    }

    /// Notes that the log holds `head` on stable storage — the syncer calls it after each
    /// durable round, before anyone is answered — so that a log which later loses its tail
    /// is found shorter than the note when it opens (`engine::claims`). **Durability: for
    /// [`SledLog`], when it returns `Ok` the note survives a killed process, and it is on
    /// stable storage after the next [`LogStore::sync`] or a close.** Stores that never
    /// drop a tail silently (PostgreSQL, memory) note nothing: the default.
    fn note_head(&self, _head: &ChainHead) -> Result<(), StoreError> {
        Ok(())
    }

    /// The head last noted by [`LogStore::note_head`], if any.
    fn noted_head(&self) -> Result<Option<ChainHead>, StoreError> {
        Ok(None)
    }

    /// The position from which the log has kept a head note (recorded in the log once
    /// the first note was on stable storage), if it has: from then on a missing note
    /// is damage, not a directory written before notes. `None` by default.
    fn note_kept_since(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// [`LogStore::write`] then [`LogStore::sync`]. **Durability: when this returns `Ok`,
    /// the whole batch is on stable storage and survives a crash or a power loss; `Err`
    /// from the sync leaves it unknown whether the batch is stored.**
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.write(batch)?;
        self.sync()
    }

    /// The chain head as recovered from storage.
    fn head(&self) -> Result<ChainHead, StoreError>;

    /// The stored bytes of the event at `position`.
    fn get(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// The stored bytes of each of `positions` that is stored, in position order (one
    /// not stored is left out). The default asks [`LogStore::get`] for each; a store
    /// across a network answers in one round trip (`verify` reads every user's profile
    /// events this way: one call per event took 21 s for 60,000 users on PostgreSQL).
    fn get_many(&self, positions: &[u64]) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut sorted = positions.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut found = Vec::with_capacity(sorted.len());
        for position in sorted {
            if let Some(bytes) = self.get(position)? {
                found.push((position, bytes));
            }
        }
        Ok(found)
    }

    /// Calls `visit` with `(position, bytes)` for every event with `from <= position <= to`,
    /// in order, until `visit` returns `false`.
    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError>;

    /// What the command-id index holds for `id`.
    fn command(&self, id: CommandId) -> Result<Option<CommandRecord>, StoreError>;

    /// What the command-id index holds for each of `ids` that it holds, in no particular
    /// order (the writer asks once per group). The default asks [`LogStore::command`]
    /// for each; a store across a network answers in one round trip.
    fn commands(&self, ids: &[CommandId]) -> Result<Vec<(CommandId, CommandRecord)>, StoreError> {
        let mut found = Vec::new();
        for id in ids {
            if let Some(record) = self.command(*id)? {
                found.push((*id, record));
            }
        }
        Ok(found)
    }

    /// Calls `visit` with every entry of the command-id index, in no particular order,
    /// until `visit` returns `false` (for a backup, which copies the index). A store that
    /// cannot list its index says so (`storage`); the default is such a store.
    fn scan_commands(
        &self,
        visit: &mut dyn FnMut(CommandId, CommandRecord) -> bool,
    ) -> Result<(), StoreError> {
        let _ = visit;
        Err(StoreError::Io(
            "this store cannot list its command-id index".to_owned(),
        ))
    }

    /// Stores a named checkpoint under `name`. **Durability: when it returns `Ok`, the
    /// new bytes are on stable storage; when it returns `Err`, the previous checkpoint is
    /// still there, whole.**
    fn put_checkpoint(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError>;

    /// The checkpoint stored under `name`.
    fn checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes the checkpoint stored under `name`, if any (a removed webhook
    /// subscription's progress). **Durability: when it returns `Ok`, the removal is on
    /// stable storage.** A store that cannot remove one says so (`storage`); the
    /// default is such a store.
    fn remove_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        Err(StoreError::Io(format!(
            "this store cannot remove the checkpoint {name:?}"
        )))
    }

    /// The names of every stored checkpoint starting with `prefix`, sorted (e.g. every
    /// consumer's position, which opening checks against the log's end).
    fn checkpoint_names(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Overwrites the stored bytes at `position` without any check. Exists only so tests
    /// and drills can simulate tampering; the engine never calls it.
    fn tamper(&self, position: u64, bytes: &[u8]) -> Result<(), StoreError>;
}
