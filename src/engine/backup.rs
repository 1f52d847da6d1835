//! Online backup: a consistent copy of an open data directory, written as a fresh data
//! directory while commands keep flowing (`offboard backup DIR`, `POST /v1/admin/backup`).
//!
//! **One log position.** Under the state's read lock the writer is at a point of rest
//! (`shared_state.rs`): every group it decided is durable, the keys of users purged up
//! to that position are destroyed (the syncer does it before the writer lets go), and no
//! key for a later group exists yet (keys are made while deciding, under the write
//! lock). What [`Engine::backup_point`] takes there — the position P and its hash, a copy
//! of the projections, the user keys, the records beside the log (tokens, consumer
//! positions) — all describe that one moment; consumer acks never pass the durable
//! position, so none names one past P. The token book changes under its own lock, which
//! the server holds around the capture (lock order: tokens, then the state, as the token
//! API takes them), so the book and its count are read whole.
//!
//! **A fresh directory, not sled's live files.** The log up to P never changes again, so
//! it is copied after the lock is released, event by event into a new sled database with
//! the command-id index of those commands; sled's own files change under a running
//! process and are only consistent with its in-memory state. The copy is then opened as
//! an engine (every durable claim and key checked), its chain verified, and every file
//! and directory fsynced before the answer.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use offboard_projections::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoints, CHECKPOINT_NAME};
use super::{Engine, ReadError};
use crate::anchor::{self, HeadRecord, HEAD_RECORD_NAME};
use crate::clock::SystemClock;
use crate::integrity::VerifyError;
use crate::privacy::vault::VaultSnapshot;
use crate::privacy::KeyVault;
use crate::store::{
    ChainHead, CommandRecord, CommitBatch, DirLock, LogStore, SledLog, StoreError, StoredEvent,
};

/// Events (or command records) per storage commit while copying.
const COPY_BATCH: usize = 20_000;

/// Why a backup failed. Nothing is ever written to the live data directory; a backup
/// that fails leaves whatever it wrote in DIR (start again in a new directory).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// DIR already holds something: a backup writes a fresh data directory only.
    #[error("{dir} is not empty: a backup is written into a new or empty directory only (choose another one)")]
    NotEmpty { dir: PathBuf },
    /// DIR cannot be a backup's directory (inside the data directory itself, a file).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The copy did not verify: the log it was copied from is damaged (see `verify`).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// `migrate`'s database already holds a log (or part of an earlier copy).
    #[error("{store} already holds an offboard log (up to position {position}) or part of an earlier copy: migrate writes into an empty database only (drop and create it again, or choose another)")]
    StoreNotEmpty { store: String, position: u64 },
}

impl BackupError {
    /// Stable error code: `directory_not_empty`, `store_not_empty`, `invalid_input`, or the storage,
    /// read or verify error's own.
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::NotEmpty { .. } => "directory_not_empty",
            BackupError::StoreNotEmpty { .. } => "store_not_empty",
            BackupError::Invalid(_) => "invalid_input",
            BackupError::Storage(e) => e.code(),
            BackupError::Read(e) => e.code(),
            BackupError::Verify(e) => e.code(),
        }
    }
}

/// What a backup wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupReport {
    /// The backup's data directory.
    pub dir: String,
    /// The last log position copied (0 for an empty log): the copy holds `1..=position`.
    pub position: u64,
    /// The copy's chain head, `POS:HASH` (HASH: the event's SHA-256, 64 hex digits).
    pub head: String,
    /// Command-id index entries copied (retries of those commands answer as duplicates).
    pub commands: u64,
    /// Personal-data keys copied.
    pub keys: u64,
    /// Every file of the copy, relative to `dir`, with its size in bytes.
    pub files: Vec<BackupFile>,
}

/// One file of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupFile {
    /// Relative to the backup's directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
}

/// Everything of a data directory that is not the log, captured at one log position by
/// [`Engine::backup_point`].
#[derive(Debug)]
pub struct BackupPoint {
    head: HeadRecord,
    state: State,
    keys: VaultSnapshot,
    /// Named records beside the log (tokens, consumer positions), except the projection
    /// checkpoint and the head record, which the copy gets fresh.
    records: Vec<(String, Vec<u8>)>,
}

impl BackupPoint {
    /// The log position the backup stands at, with its hash.
    pub fn head(&self) -> &HeadRecord {
        &self.head
    }

    /// How many personal-data keys were captured.
    pub fn key_count(&self) -> u64 {
        self.keys.users.len() as u64
    }

    /// How many records beside the log were captured (tokens, consumers, webhooks).
    pub fn record_count(&self) -> u64 {
        self.records.len() as u64
    }
}

/// A backup's directory, claimed: new or empty, and locked until the backup is done.
#[derive(Debug)]
pub struct BackupTarget {
    dir: PathBuf,
    lock: DirLock,
    /// Whether [`BackupTarget::claim`] created `dir` (so a failed backup removes it too).
    created: bool,
}

impl Engine {
    /// Writes a consistent copy of this engine's data directory into `dir` (new or empty):
    /// [`BackupTarget::claim`], [`Engine::backup_point`], [`BackupTarget::fill`]. Commands
    /// keep flowing; only the capture holds the writer back (a copy of the projections,
    /// ~15 ms for a million events). **Durability: when it returns `Ok`, every file of
    /// the copy and every directory entry naming them, up to `dir`'s own entry in its
    /// parent, are on stable storage, and the copy has verified.**
    pub fn backup(&self, dir: &Path) -> Result<BackupReport, BackupError> {
        let target = BackupTarget::claim(dir, self.data_dir())?;
        let point = self.backup_point()?;
        target.fill(self, point)
    }

    /// Captures, under the state's read lock, everything a backup needs besides the log
    /// (see the module doc). A caller whose side records change under another lock (the
    /// server's token book) holds that lock around this call.
    pub fn backup_point(&self) -> Result<BackupPoint, BackupError> {
        let state = self.state();
        let position = state.position();
        let hash = anchor::hash_at(self.store().as_ref(), position)?.ok_or_else(|| {
            StoreError::Corrupt(format!("position {position} is durable but not stored"))
        })?;
        let keys = self.vault().snapshot();
        let mut records = Vec::new();
        for name in self.store().checkpoint_names("")? {
            if name == CHECKPOINT_NAME || name == HEAD_RECORD_NAME {
                continue;
            }
            if let Some(bytes) = self.store().checkpoint(&name)? {
                records.push((name, bytes));
            }
        }
        Ok(BackupPoint {
            head: HeadRecord { position, hash },
            state: state.clone(),
            keys,
            records,
        })
    }
}

impl BackupTarget {
    /// Claims `dir` for a backup of the data directory `live` (if it has one): refuses
    /// an existing non-empty directory (`directory_not_empty`) and one inside `live`
    /// (`invalid_input`), creates it and takes its lock.
    pub fn claim(dir: &Path, live: Option<&Path>) -> Result<Self, BackupError> {
        refuse_filled(dir)?;
        if let Some(live) = live {
            if resolved(dir)?.starts_with(resolved(live)?) {
                return Err(BackupError::Invalid(format!(
                    "{} is inside the data directory {} it would back up: choose a directory outside it",
                    dir.display(),
                    live.display()
                )));
            }
        }
        let created = !dir.exists();
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let lock = DirLock::acquire(dir)?;
        // Another backup may have claimed it between the look and the lock.
        let only_the_lock = fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .all(|entry| entry.is_ok_and(|e| e.file_name() == "lock"));
        if !only_the_lock {
            return Err(BackupError::NotEmpty {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            lock,
            created,
        })
    }

    /// Writes the copy of `engine`'s log up to `point`, and everything `point` captured,
    /// then opens the copy (its claims and keys checked), verifies its chain and fsyncs
    /// every file and directory. **Durability: when it returns `Ok`, every file of the
    /// copy and every directory entry naming them, up to the directory's own entry in its
    /// parent, are on stable storage.** When it returns `Err`, nothing of the copy is
    /// left: the directory is empty again, or gone if [`BackupTarget::claim`] created it,
    /// so a half-written copy is never mistaken for a backup.
    pub fn fill(self, engine: &Engine, point: BackupPoint) -> Result<BackupReport, BackupError> {
        match self.write_copy(engine, point) {
            Ok(report) => Ok(report),
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    /// Removes what a failed [`BackupTarget::fill`] wrote, the lock last. A failure to
    /// remove is logged: the backup's own error is the one the caller must see.
    fn discard(self) {
        let entries = fs::read_dir(&self.dir).into_iter().flatten().flatten();
        for entry in entries.filter(|e| e.file_name() != "lock") {
            let path = entry.path();
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            if let Err(e) = removed {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a failed backup's file");
            }
        }
        drop(self.lock);
        let _ = fs::remove_file(self.dir.join("lock"));
        if self.created {
            let _ = fs::remove_dir(&self.dir);
        }
    }

    fn write_copy(&self, engine: &Engine, point: BackupPoint) -> Result<BackupReport, BackupError> {
        let store = Arc::new(SledLog::open(&self.dir)?);
        let vault = Arc::new(KeyVault::open(self.dir.join("keys"))?);
        let commands = fill_copy(
            engine,
            &point,
            Arc::clone(&store) as Arc<dyn LogStore>,
            vault,
        )?;
        // sled's last handle goes first: its files are final once it is closed.
        drop(store);
        sync_tree(&self.dir)?;
        let report = BackupReport {
            dir: self.dir.display().to_string(),
            position: point.head.position,
            head: point.head.to_string(),
            commands,
            keys: point.keys.users.len() as u64,
            files: list_files(&self.dir)?,
        };
        Ok(report)
    }
}

/// Writes into the empty `store` and `vault` the log of `engine` up to `point` (events
/// byte for byte, the command-id index), the user keys and records `point` captured and
/// a fresh projection checkpoint; then opens the copy as an engine (its claims and keys
/// checked) and verifies that its chain ends at `point`. Returns how many command-id
/// entries were copied. **Durability: what `store` and `vault` promise for their writes
/// (a PostgreSQL store: committed; sled: only once its files are synced).**
pub(crate) fn fill_copy(
    engine: &Engine,
    point: &BackupPoint,
    store: Arc<dyn LogStore>,
    vault: Arc<KeyVault>,
) -> Result<u64, BackupError> {
    copy_events(engine.store().as_ref(), store.as_ref(), &point.head)?;
    let commands = copy_commands(engine.store().as_ref(), store.as_ref(), &point.head)?;
    vault.restore(&point.keys)?;
    for (name, bytes) in &point.records {
        store.put_checkpoint(name, &resealed(name, bytes, engine.vault(), &vault)?)?;
    }
    Checkpoints::new(0).save(store.as_ref(), &vault, &point.state)?;
    let copy = Engine::with_parts(store, vault, Arc::new(SystemClock))?;
    let verified = copy.verify(&mut |_| {});
    copy.shutdown();
    let verified = verified?;
    if verified.events != point.head.position || verified.head_hash != point.head.hash {
        return Err(VerifyError::Broken {
            position: verified.events,
            problem: format!(
                "the copy ends at {}:{}, not at the position captured, {}",
                verified.events, verified.head_hash, point.head
            ),
        }
        .into());
    }
    Ok(commands)
}

/// A record's bytes as the copy must hold them: a record holding a key (the webhook
/// secrets' sealing key) is opened with the source's vault and sealed with the copy's
/// (raw in a data directory, wrapped by the KEK on PostgreSQL); every other record as it is.
fn resealed(
    name: &str,
    bytes: &[u8],
    from: &KeyVault,
    to: &KeyVault,
) -> Result<Vec<u8>, StoreError> {
    if name != crate::webhooks::secret::KEY_RECORD {
        return Ok(bytes.to_vec());
    }
    let (key, _) = from
        .open_record_key(name, bytes)
        .map_err(|why| StoreError::Io(format!("the record {name} cannot be copied: {why}")))?;
    Ok(to.seal_record_key(name, &key))
}

/// `path` made absolute with its links resolved, as far as it exists (a backup's
/// directory usually does not yet): so `data/../data/x` and a link into the data
/// directory are seen for what they are.
fn resolved(path: &Path) -> Result<PathBuf, BackupError> {
    let absolute = std::path::absolute(path).map_err(|e| io(path, e))?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while let Err(e) = existing.canonicalize() {
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(std::path::Component::Normal(name))) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            (Some(_), Some(std::path::Component::ParentDir)) => {
                return Err(BackupError::Invalid(format!(
                    "{}: name the directory without `..` in its part that does not exist yet",
                    path.display()
                )))
            }
            _ => return Err(io(path, e).into()),
        }
    }
    let mut out = existing.canonicalize().map_err(|e| io(existing, e))?;
    out.extend(rest.iter().rev());
    Ok(out)
}

/// An existing directory with anything in it (or a file) is refused.
fn refuse_filled(dir: &Path) -> Result<(), BackupError> {
    match fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(BackupError::NotEmpty {
            dir: dir.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if dir.exists() => Err(BackupError::NotEmpty {
            dir: dir.to_path_buf(),
        }),
        Err(e) => Err(io(dir, e).into()),
    }
}

/// Copies the stored events `1..=head.position` byte for byte (stored form, hashes
/// unchanged), in commits of [`COPY_BATCH`] events, each ending with its chain head.
fn copy_events(
    from: &dyn LogStore,
    to: &dyn LogStore,
    head: &HeadRecord,
) -> Result<(), BackupError> {
    let mut batch = CommitBatch::default();
    let mut failure = None;
    from.scan(1, head.position, &mut |position, bytes| {
        batch.events.push(StoredEvent {
            position,
            bytes: bytes.to_vec(),
        });
        if batch.events.len() < COPY_BATCH {
            return true;
        }
        let committed = commit_events(from, to, &mut batch, position, None);
        failure = committed.err();
        failure.is_none()
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    commit_events(from, to, &mut batch, head.position, Some(&head.hash))
}

/// Commits `batch` (events up to `last`) with its chain head; the hash of `last` is read
/// from `from` unless given.
fn commit_events(
    from: &dyn LogStore,
    to: &dyn LogStore,
    batch: &mut CommitBatch,
    last: u64,
    hash: Option<&str>,
) -> Result<(), BackupError> {
    if batch.events.is_empty() {
        return Ok(());
    }
    let count = batch.events.len() as u64;
    if batch.events[0].position + count - 1 != last {
        return Err(StoreError::Corrupt(format!(
            "the log has a gap before position {last}: the copy would not be whole"
        ))
        .into());
    }
    let last_hash = match hash {
        Some(hash) => hash.to_owned(),
        None => anchor::hash_at(from, last)?
            .ok_or_else(|| StoreError::Corrupt(format!("position {last} is not stored")))?,
    };
    batch.head = Some(ChainHead {
        last_position: last,
        last_hash,
    });
    to.commit(batch)?;
    *batch = CommitBatch::default();
    Ok(())
}

/// Copies the command-id index entries of the commands up to `head`: those whose events
/// lie at or before it, and those that appended nothing (a retry of one answers, as live,
/// that it appended nothing). Returns how many.
fn copy_commands(
    from: &dyn LogStore,
    to: &dyn LogStore,
    head: &HeadRecord,
) -> Result<u64, BackupError> {
    let mut batch = CommitBatch::default();
    let mut copied = 0u64;
    let mut failure = None;
    let within = |record: &CommandRecord| {
        record
            .positions
            .is_none_or(|(_, last)| last <= head.position)
    };
    from.scan_commands(&mut |id, record| {
        if !within(&record) {
            return true;
        }
        batch.commands.push((id, record));
        copied += 1;
        if batch.commands.len() < COPY_BATCH {
            return true;
        }
        failure = to.commit(&batch).err();
        batch = CommitBatch::default();
        failure.is_none()
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    if !batch.commands.is_empty() {
        to.commit(&batch)?;
    }
    Ok(copied)
}

/// fsyncs every file and directory under `dir`, then `dir`'s parent (its own entry).
fn sync_tree(dir: &Path) -> Result<(), StoreError> {
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            sync_path(&path)?;
        }
    }
    sync_path(dir)?;
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_path(parent),
        None => sync_path(Path::new(".")),
    }
}

fn sync_path(path: &Path) -> Result<(), StoreError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(path, e))
}

/// Every file under `dir`, relative and `/`-separated, sorted.
fn list_files(dir: &Path) -> Result<Vec<BackupFile>, StoreError> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in fs::read_dir(&at).map_err(|e| io(&at, e))? {
            let entry = entry.map_err(|e| io(&at, e))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| io(&path, e))?;
            if meta.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(BackupFile {
                path: parts.join("/"),
                bytes: meta.len(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_must_be_empty_and_outside_the_data_directory() {
        let home = tempfile::tempdir().unwrap();
        let live = home.path().join("data");
        fs::create_dir_all(live.join("keys")).unwrap();
        let inside = [live.join("copy"), live.join("keys/../copy"), live.clone()];
        for dir in inside {
            let refused = BackupTarget::claim(&dir, Some(&live)).unwrap_err();
            assert!(
                matches!(
                    refused,
                    BackupError::Invalid(_) | BackupError::NotEmpty { .. }
                ),
                "{dir:?}: {refused}"
            );
        }
        assert!(!live.join("copy").exists(), "nothing created inside");
        let dotted = home.path().join("nowhere/../data/copy");
        assert_eq!(
            BackupTarget::claim(&dotted, Some(&live))
                .unwrap_err()
                .code(),
            "invalid_input"
        );

        let filled = home.path().join("filled");
        fs::create_dir_all(&filled).unwrap();
        fs::write(filled.join("x"), b"x").unwrap();
        let refused = BackupTarget::claim(&filled, Some(&live)).unwrap_err();
        assert_eq!(refused.code(), "directory_not_empty");

        let empty = home.path().join("empty");
        fs::create_dir_all(&empty).unwrap();
        let claimed = BackupTarget::claim(&empty, Some(&live)).unwrap();
        assert_eq!(
            BackupTarget::claim(&empty, Some(&live)).unwrap_err().code(),
            "directory_not_empty",
            "claimed once only"
        );
        drop(claimed);
    }

    #[test]
    fn a_failed_backup_leaves_no_partial_copy() {
        let engine = Engine::in_memory();
        let home = tempfile::tempdir().unwrap();
        let (new, empty) = (home.path().join("new"), home.path().join("empty"));
        fs::create_dir_all(&empty).unwrap();
        for dir in [&new, &empty] {
            // Given a capture that claims five more events than the log holds
            let mut point = engine.backup_point().unwrap();
            point.head.position += 5;
            // When the copy is written and fails its verification
            let target = BackupTarget::claim(dir, None).unwrap();
            let failed = target.fill(&engine, point);
            // Then the error says so and nothing of the copy is left
            assert!(failed.is_err(), "{dir:?}");
            let left: Vec<_> = fs::read_dir(dir)
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "{dir:?} still holds {left:?}");
        }
        assert!(!new.exists(), "a directory the backup created is removed");
        assert!(empty.exists(), "a directory that existed stays, empty");
    }
}
