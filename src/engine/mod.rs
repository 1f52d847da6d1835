//! The engine: the one entry point that owns a log. It recovers the chain head and the
//! projections on open, runs the single writer, and serves reads.

mod append;
mod backup;
mod checkpoint;
mod checkpointer;
pub mod claims;
mod committer;
mod contact;
mod damage_scan;
mod flusher;
mod health;
mod history;
mod known_commands;
pub mod metrics;
mod migrate;
mod named;
mod node;
mod node_open;
mod patience;
mod pipeline;
mod replay;
mod rest;
mod role;
mod scheduler;
mod shared_state;
mod writer;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use offboard_events::canonical::{sha256_hex, write_canonical};
use offboard_events::{Envelope, OrgId, StreamId, UserId, UserStatus};
use offboard_projections::State;
use serde_json::json;
use tokio::sync::{oneshot, watch};

pub use append::{AppendError, AppendRequest, Appended, CommandMeta, ExpectedVersion};
pub use backup::{BackupError, BackupFile, BackupPoint, BackupReport, BackupTarget};
use checkpoint::Checkpoints;
pub use checkpoint::{Recovery, CHECKPOINT_EVERY};
pub use contact::{StoreContact, FOLLOWER_CONTACT, LEADER_CONTACT};
pub use damage_scan::scan_for_damage;
pub use health::Refusal;
pub use migrate::MigrateReport;
pub use replay::{decode, for_each_envelope, replay_range, ReadError};
pub use rest::Rests;
pub use role::{Role, CATCHING_UP_LAG};
pub use scheduler::{run_command_id, ScheduledRun, Scheduler, DEFAULT_TICK};
pub use writer::WriterStats;

use crate::anchor::{self, HeadRecord};
use crate::clock::{Clock, SystemClock};
use crate::domain::{self, Command, Context};
use crate::integrity::{self, VerifyError, VerifyReport};
use crate::privacy::key_settings::KeySettings;
use crate::privacy::remnants::KeyRemnants;
use crate::privacy::{erasure, key_check, KeyVault};
use crate::store::{
    CheckpointDir, DirLock, Location, LogStore, MemoryLog, PostgresLog, SledLog, StoreError,
};
use health::Health;
use metrics::EngineMetrics;
use pipeline::Parts;
use shared_state::SharedState;
use writer::{Decision, Job, Work};

/// How many commands may wait for the writer before callers are slowed down.
const QUEUE_DEPTH: usize = 8192;

/// Tuning knobs of an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Most commands one group commit takes (1 = one flush per command).
    pub max_group: usize,
    /// Decide the next group while the previous one is flushed.
    pub pipelined: bool,
    /// Longest a write or flush of the log may take: past it, its outcome is unknown and
    /// the engine refuses writes (see `patience.rs`). A healthy flush takes milliseconds.
    pub storage_patience: Duration,
    /// Bytes a second the slowest healthy disk still writes: a write, flush or sync of N
    /// bytes may take N / this longer than [`Options::storage_patience`] (0: no more).
    pub slowest_disk: u64,
}

/// [`Options::storage_patience`] by default: far above any healthy flush, and short
/// enough that SIGTERM on a stuck disk still finishes within ten seconds (while the
/// group in hand is of a few MB: see [`SLOWEST_DISK`]).
pub const STORAGE_PATIENCE: Duration = Duration::from_secs(5);

/// [`Options::slowest_disk`] by default, 10 MB/s: a busy spinning disk or a throttled
/// cloud volume. An import of 100,000 users (~60 MB of events, 100,000 key files of a
/// 4 KiB block each on sled) then gets ~45 s more; one command of a few events ~0.
pub const SLOWEST_DISK: u64 = 10_000_000;

impl Options {
    /// No group commit at all: each command is decided, written, flushed and answered
    /// before the next one is looked at (the benchmark's baseline).
    pub fn one_flush_per_command() -> Self {
        Self {
            max_group: 1,
            pipelined: false,
            ..Self::default()
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_group: writer::MAX_GROUP,
            pipelined: true,
            storage_patience: STORAGE_PATIENCE,
            slowest_disk: SLOWEST_DISK,
        }
    }
}

/// How an engine opens: checked, as always, or for `offboard repair`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opening {
    Checked,
    ForRepair,
}

/// A snapshot of the writer's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub flushes: u64,
    pub commands: u64,
    pub events: u64,
}

/// An open log with its writer and projections.
#[derive(Debug)]
pub struct Engine {
    /// The store, the projections, the key vault and the writer's slot, shared with the
    /// writer's pipeline and, on PostgreSQL, the node's follower loop.
    parts: Parts,
    committed: watch::Receiver<u64>,
    recovery: Recovery,
    /// On PostgreSQL: the loop that follows the log and takes over when the leader goes
    /// (taken out when the node resigns or the engine shuts down).
    node: std::sync::Mutex<Option<node::Node>>,
    /// The data directory's lock when the engine opened one; released on drop, after
    /// the writer has stopped (fields drop after `Drop::drop`).
    lock: Option<DirLock>,
    /// The data directory, when the engine opened one.
    dir: Option<PathBuf>,
    /// This node's part: always the leader on sled; on PostgreSQL, see [`Role`].
    role: Arc<watch::Sender<Role>>,
    /// On PostgreSQL: when the database last answered this node (`/readyz`).
    contact: Option<Arc<StoreContact>>,
}

impl Engine {
    /// Opens the sled log in `dir` (creating it if needed) with its key vault in
    /// `dir/keys` and the system clock; refuses a log shorter than, or different from,
    /// what the records beside it say (see [`Engine::open_with`]).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, ReadError> {
        Self::open_with(dir, Options::default())
    }

    /// [`Engine::open`] with tuning options.
    ///
    /// Refuses with `integrity_broken` ([`ReadError::Integrity`]) when anything durable
    /// beside the log says the log went further than it does, or recorded another hash
    /// for one of its events ([`claims`]).
    pub fn open_with(dir: impl AsRef<Path>, options: Options) -> Result<Self, ReadError> {
        Self::open_as(dir.as_ref(), options, Opening::Checked)
    }

    /// Opens `dir` for `offboard repair` only: without checking the durable claims
    /// against the log and without loading the projection checkpoint (every view is
    /// rebuilt from the log as it is). Nothing else may use it: an engine opened so can
    /// hand out positions the log lost.
    pub fn open_for_repair(dir: impl AsRef<Path>) -> Result<Self, ReadError> {
        Self::open_as(dir.as_ref(), Options::default(), Opening::ForRepair)
    }

    /// Opens the log at `location`: a data directory as [`Engine::open`] does, or a
    /// PostgreSQL database as its single writer (see [`PostgresLog::open`]), with the key
    /// vault in `local/keys`.
    pub fn open_at(location: &Location) -> Result<Self, ReadError> {
        Self::open_at_with(location, Options::default())
    }

    /// [`Engine::open_at`] with tuning options.
    pub fn open_at_with(location: &Location, options: Options) -> Result<Self, ReadError> {
        Self::open_located(location, options, Opening::Checked, &KeySettings::default())
    }

    /// [`Engine::open_at_with`] with how a PostgreSQL store finds its key-encryption key
    /// and states its backup window (`--kek-file`, `--backup-retention`; the environment
    /// fills what is `None`). A data directory ignores them.
    pub fn open_at_keyed(
        location: &Location,
        options: Options,
        keys: &KeySettings,
    ) -> Result<Self, ReadError> {
        Self::open_located(location, options, Opening::Checked, keys)
    }

    /// Opens the log at `location` as one `offboard serve` node: on a data directory as
    /// [`Engine::open_at_keyed`] does (always the leader); on PostgreSQL as the leader
    /// when this node takes the writer lock, else as a follower that tails the log and
    /// takes over when the leader's session ends ([`Role`]). `advertise` is the URL other
    /// nodes forward commands to while this node leads.
    pub fn open_node(
        location: &Location,
        options: Options,
        keys: &KeySettings,
        advertise: Option<&str>,
    ) -> Result<Self, ReadError> {
        match (location, advertise) {
            (Location::Postgres { url, local }, Some(advertise)) => {
                Self::open_postgres_node(url, local, keys, options, advertise)
            }
            _ => Self::open_at_keyed(location, options, keys),
        }
    }

    /// [`Engine::open_for_repair`] at `location`.
    /// `keys`: how a PostgreSQL store finds its KEK (as [`Engine::open_at_keyed`]).
    pub fn open_for_repair_at(location: &Location, keys: &KeySettings) -> Result<Self, ReadError> {
        Self::open_located(location, Options::default(), Opening::ForRepair, keys)
    }

    fn open_located(
        location: &Location,
        options: Options,
        opening: Opening,
        keys: &KeySettings,
    ) -> Result<Self, ReadError> {
        match location {
            Location::Dir(dir) => Self::open_as(dir, options, opening),
            Location::Postgres { url, local } => {
                Self::open_postgres(url, local, keys, options, opening)
            }
        }
    }

    /// Opens the log in the PostgreSQL database at `url` as its single writer (see
    /// [`PostgresLog::open`]), with the key vault in the same database, wrapped by the
    /// KEK `keys` names, else `local/offboard.kek` ([`KeySettings::kek_for`]). None of the
    /// data directory's machinery runs: no directory lock, no sled file checks.
    fn open_postgres(
        url: &str,
        local: &Path,
        keys: &KeySettings,
        options: Options,
        opening: Opening,
    ) -> Result<Self, ReadError> {
        // The writer lock first: the vault is opened only by the writer.
        let log = PostgresLog::open(url)?;
        let vault = keys.pg_vault(log.pool(), local, true)?;
        let store: Arc<dyn LogStore> = Arc::new(log);
        let loaded = checkpoint::load(store.as_ref(), &vault)?;
        Self::start(
            store,
            Arc::new(vault),
            Arc::new(SystemClock),
            options,
            loaded,
            opening,
        )
    }

    fn open_as(dir: &Path, options: Options, opening: Opening) -> Result<Self, ReadError> {
        let lock = DirLock::acquire(dir)?;
        // The checkpoint is a file: read, decrypt and decode it (most of start-up) on
        // another thread while sled recovers. The lock keeps the files still meanwhile.
        let (store, early) = std::thread::scope(|scope| {
            let early = scope.spawn(|| {
                let vault = KeyVault::open(dir.join("keys"))?;
                let loaded = checkpoint::load_from_files(&CheckpointDir::of(dir), &vault)?;
                Ok::<_, StoreError>((vault, loaded))
            });
            let store = SledLog::open(dir);
            let early = early
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (store, early)
        });
        let (vault, loaded) = early?;
        let store = Arc::new(store?);
        // A data directory of an earlier build had its checkpoint inside sled, which
        // `SledLog::open` has just moved out to the file.
        let loaded = match loaded {
            Some(loaded) => Some(loaded),
            None => checkpoint::load(store.as_ref(), &vault)?,
        };
        let mut engine = Self::start(
            store,
            Arc::new(vault),
            Arc::new(SystemClock),
            options,
            loaded,
            opening,
        )?;
        engine.lock = Some(lock);
        engine.dir = Some(dir.to_path_buf());
        Ok(engine)
    }

    /// A fresh engine on an in-memory log (for tests).
    pub fn in_memory() -> Self {
        Self::with_store(Arc::new(MemoryLog::new()), Arc::new(SystemClock))
            .expect("an empty log always opens")
    }

    /// An engine on `store` with an in-memory key vault (for tests).
    pub fn with_store(store: Arc<dyn LogStore>, clock: Arc<dyn Clock>) -> Result<Self, ReadError> {
        Self::with_parts(store, Arc::new(KeyVault::in_memory()), clock)
    }

    /// Recovers the chain head and projections from `store` and starts the writer.
    pub fn with_parts(
        store: Arc<dyn LogStore>,
        vault: Arc<KeyVault>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ReadError> {
        Self::with_options(store, vault, clock, Options::default())
    }

    /// [`Engine::with_parts`] with tuning options.
    pub fn with_options(
        store: Arc<dyn LogStore>,
        vault: Arc<KeyVault>,
        clock: Arc<dyn Clock>,
        options: Options,
    ) -> Result<Self, ReadError> {
        let loaded = checkpoint::load(store.as_ref(), &vault)?;
        Self::start(store, vault, clock, options, loaded, Opening::Checked)
    }

    /// Checks the durable claims (unless repairing), recovers from the checkpoint
    /// `loaded` plus the log's tail and starts the writer.
    fn start(
        store: Arc<dyn LogStore>,
        vault: Arc<KeyVault>,
        clock: Arc<dyn Clock>,
        options: Options,
        loaded: Option<Result<State, String>>,
        opening: Opening,
    ) -> Result<Self, ReadError> {
        let (parts, recovery) = Self::recover(store, vault, clock, options, loaded, opening)?;
        finish_interrupted_purges(&parts.vault, &parts.state.read())?;
        if opening == Opening::Checked {
            // A log opened for repair may be missing events whose users' keys are needed
            // again once the events are restored from a backup.
            remove_unused_keys(&parts.vault, &parts.state.read())?;
        }
        parts.start_writer()?;
        let role = Arc::new(watch::Sender::new(Role::Leader));
        Ok(Self::assemble(parts, recovery, role))
    }

    /// Checks the durable claims (unless repairing) and recovers the projections from
    /// the checkpoint `loaded` plus the log's tail; writes nothing, starts no writer.
    fn recover(
        store: Arc<dyn LogStore>,
        vault: Arc<KeyVault>,
        clock: Arc<dyn Clock>,
        options: Options,
        loaded: Option<Result<State, String>>,
        opening: Opening,
    ) -> Result<(Parts, Recovery), ReadError> {
        let loaded = match opening {
            Opening::Checked => {
                claims::check(store.as_ref(), loaded.as_ref())?;
                loaded
            }
            Opening::ForRepair => None,
        };
        let head = store.head()?;
        let (state, recovery) =
            checkpoint::recover(store.as_ref(), &vault, loaded, head.last_position)?;
        // Every absent or unusable key is damage, never read as a purge.
        let needing = key_check::users_needing_keys(&vault, &state);
        key_check::check_on_open(store.as_ref(), &vault, &needing)?;
        // Repairing, nothing is saved at close unless events were appended: a checkpoint
        // saved by a look at the damage would erase the claims that show it.
        let saved_at = match opening {
            Opening::Checked => recovery.checkpoint_position.unwrap_or(0),
            Opening::ForRepair => head.last_position,
        };
        let parts = Parts {
            store,
            state: Arc::new(SharedState::new(state)),
            clock,
            stats: Arc::new(WriterStats::default()),
            metrics: Arc::new(EngineMetrics::default()),
            vault,
            checkpoints: Arc::new(Checkpoints::new(saved_at)),
            health: Arc::new(Health::default()),
            committed: Arc::new(watch::Sender::new(head.last_position)),
            options,
            writer: Arc::new(RwLock::new(None)),
        };
        Ok((parts, recovery))
    }

    /// The engine around `parts`, reporting `role`.
    fn assemble(parts: Parts, recovery: Recovery, role: Arc<watch::Sender<Role>>) -> Self {
        Self {
            committed: parts.committed.subscribe(),
            parts,
            recovery,
            node: std::sync::Mutex::new(None),
            lock: None,
            dir: None,
            role,
            contact: None,
        }
    }

    /// Appends `request.events` as one command, atomically.
    ///
    /// **Durability: when this returns `Ok`, every event of the command is on stable
    /// storage (sled's flush, then `fdatasync` of its log file) and survives a crash or a
    /// power loss; when it returns `Err`, nothing of the command was written — except
    /// [`AppendError::OutcomeUnknown`], after which it may or may not be in the log.** A
    /// retry with the same command id returns the first result, also while writes are
    /// refused.
    pub async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        if request.events.is_empty() {
            return Err(AppendError::Invalid(
                "an append needs at least one event".to_owned(),
            ));
        }
        let started = Instant::now();
        let fingerprint = fingerprint(&json!({
            "kind": "append",
            "org_id": request.meta.org_id,
            "actor": request.meta.actor,
            "on_behalf_of": request.meta.on_behalf_of,
            "correlation_id": request.meta.correlation_id,
            "causation_id": request.meta.causation_id,
            "expected": request.expected,
            "events": request.events.iter().map(|e| json!([e.event_type(), e])).collect::<Vec<_>>(),
        }));
        let events = request.events;
        let result = self
            .submit(
                request.meta,
                request.expected,
                Work::Decided {
                    fingerprint,
                    decide: Box::new(move |_, _| Ok(events)),
                },
            )
            .await;
        self.parts
            .metrics
            .answered("append", &result, started.elapsed());
        result
    }

    /// Decides `command` against the current state and appends its events atomically.
    ///
    /// **Durability: when this returns `Ok`, every event of the command is on stable
    /// storage; when it returns `Err` (a domain rejection included), nothing was written,
    /// except [`AppendError::OutcomeUnknown`] (it may have been).** The same command id
    /// again returns the first result; with another command it is `conflict`.
    pub async fn execute(
        &self,
        meta: CommandMeta,
        command: Command,
    ) -> Result<Appended, AppendError> {
        self.execute_expecting(meta, Vec::new(), command).await
    }

    /// [`Self::execute`] with optimistic concurrency expectations on streams.
    pub async fn execute_expecting(
        &self,
        meta: CommandMeta,
        expected: Vec<(StreamId, ExpectedVersion)>,
        command: Command,
    ) -> Result<Appended, AppendError> {
        let started = Instant::now();
        let name = domain::CommandKind::from(&command).tag();
        let fingerprint = command_fingerprint(&meta, &expected, &command);
        let base = Context {
            compensating: self.compensating(meta.org_id, &command)?,
            plaintext_profiles: self.plaintext_profiles(meta.org_id, &command)?,
            ..undated_context(&meta)
        };
        let decide = deciding(base, command);
        let work = Work::Decided {
            fingerprint,
            decide,
        };
        let result = self.submit(meta, expected, work).await;
        self.parts
            .metrics
            .answered(name, &result, started.elapsed());
        result
    }

    /// What `command` would append if executed now, decided against the current state
    /// exactly as [`Self::execute`] decides it; **nothing is written** (a preview, e.g.
    /// what a restore would bring back and skip). A rejection is `Err` as it would be.
    pub fn dry_run(
        &self,
        meta: &CommandMeta,
        command: &Command,
    ) -> Result<Vec<offboard_events::Event>, AppendError> {
        let ctx = Context {
            now: self.parts.clock.now(),
            compensating: self.compensating(meta.org_id, command)?,
            plaintext_profiles: self.plaintext_profiles(meta.org_id, command)?,
            ..undated_context(meta)
        };
        domain::decide(&self.state(), &ctx, command).map_err(AppendError::Rejected)
    }

    /// The events of the offboarding a restore or revert compensates: history is
    /// immutable, so it is read here, outside the writer; `decide` checks it against the
    /// current state.
    fn compensating(&self, org: OrgId, command: &Command) -> Result<Vec<Envelope>, AppendError> {
        // Only these two read history; every other command must not wait for the state
        // lock, which the writer holds through each group commit.
        if !named::compensates(command) {
            return Ok(Vec::new());
        }
        let correlation = {
            let state = self.state();
            let Some(org) = state.org(org) else {
                return Ok(Vec::new());
            };
            domain::compensated_correlation(org, command)
                .map(|id| org.audit().positions_for_correlation(id))
        };
        match correlation {
            Some(positions) => self.read_positions(&positions).map_err(|e| match e {
                ReadError::Storage(e) => AppendError::Storage(e),
                other => AppendError::Storage(crate::store::StoreError::Corrupt(other.to_string())),
            }),
            None => Ok(Vec::new()),
        }
    }

    /// For a purge: the users it may purge whose profile is stored in plaintext, which
    /// no purge can erase (`privacy::erasure`). Read outside the writer, like
    /// `compensating`: a plaintext profile is never written now, only found.
    fn plaintext_profiles(
        &self,
        org: OrgId,
        command: &Command,
    ) -> Result<std::collections::BTreeMap<UserId, Vec<u64>>, AppendError> {
        // Only purges take the state's lock: every other command must not wait for it,
        // since the writer holds it through each group commit (a reader waiting on it
        // makes the writer drain its pipeline first).
        if !named::purges(command) {
            return Ok(Default::default());
        }
        let users = match command {
            Command::PurgeUser { user, .. } => erasure::user_positions(&self.state(), &[*user]),
            // Every deleted user, not only those past the window now: the window is
            // checked again, later, by the writer.
            Command::PurgeExpired => {
                let state = self.state();
                let deleted: Vec<UserId> = state.org(org).map_or_else(Vec::new, |o| {
                    o.directory()
                        .users()
                        .filter(|u| u.status == UserStatus::Deleted)
                        .map(|u| u.id)
                        .collect()
                });
                erasure::user_positions(&state, &deleted)
            }
            _ => return Ok(Default::default()),
        };
        Ok(erasure::plaintext_profiles(
            self.parts.store.as_ref(),
            &users,
        )?)
    }

    /// The deleted users of `org` whose profile is stored in plaintext, with those
    /// positions: no purge can erase them, so `purge` refuses them and `purge-expired`
    /// leaves them deleted (`privacy::erasure`).
    pub fn unerasable_profiles(
        &self,
        org: OrgId,
    ) -> Result<std::collections::BTreeMap<UserId, Vec<u64>>, AppendError> {
        self.plaintext_profiles(org, &Command::PurgeExpired)
    }

    /// Hands one command to the writer and waits for its durable answer.
    pub(crate) async fn submit(
        &self,
        meta: CommandMeta,
        expected: Vec<(StreamId, ExpectedVersion)>,
        work: Work,
    ) -> Result<Appended, AppendError> {
        if let Some(leader) = self.not_leading() {
            return Err(AppendError::NotLeader { leader });
        }
        let (reply, answer) = oneshot::channel();
        let (tx, mut stall) = self
            .parts
            .writer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|run| (run.tx.clone(), run.stall.clone()))
            .ok_or(AppendError::Closed)?;
        // A stall from before this command is the writer's to answer (it refuses);
        // one from now on may leave the command's group in a stuck stage for good.
        stall.borrow_and_update();
        tx.send(Job {
            meta,
            expected,
            work,
            reply,
        })
        .await
        .map_err(|_| AppendError::Closed)?;
        tokio::select! {
            biased;
            answer = answer => answer.map_err(|_| AppendError::Closed)?,
            Ok(()) = stall.changed() => {
                let why = stall.borrow().clone().unwrap_or_default();
                Err(AppendError::OutcomeUnknown(why))
            }
        }
    }

    /// The projections as of the last durable group commit.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.parts.state.read()
    }

    /// Why writes are refused (storage failed, or a read met a damaged log); `None`
    /// while they are accepted. Reads answer either way.
    pub fn refusal(&self) -> Option<Refusal> {
        self.parts.health.refusal()
    }

    /// Passes `read` through; a read that met damage (`log_corrupt`, an undecodable
    /// event) also stops the engine accepting writes.
    pub(crate) fn noticed<T>(&self, read: Result<T, ReadError>) -> Result<T, ReadError> {
        if let Err(e) = &read {
            if matches!(
                e,
                ReadError::Storage(StoreError::Corrupt(_)) | ReadError::Decode { .. }
            ) {
                self.parts.health.refuse(Refusal::corrupt(e.to_string()));
            }
        }
        read
    }

    /// The engine's metric handles (`GET /metrics` registers them).
    pub fn metrics(&self) -> &EngineMetrics {
        &self.parts.metrics
    }

    /// The position of the last checkpoint saved or loaded, and the time since.
    pub fn checkpoint(&self) -> (u64, Duration) {
        (self.parts.checkpoints.last(), self.parts.checkpoints.age())
    }

    /// Whether the writer thread is still running (it stops at shutdown, or if it
    /// panicked): commands are answered only while it is.
    pub fn writer_running(&self) -> bool {
        self.parts
            .writer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|run| !run.thread.is_finished())
    }

    /// This node's part now (the leader, a follower with its lag, or catching up).
    pub fn role(&self) -> Role {
        self.role.borrow().clone()
    }

    /// `Some(leader URL if known)` while this node does not lead.
    fn not_leading(&self) -> Option<Option<String>> {
        match &*self.role.borrow() {
            Role::Leader => None,
            other => Some(other.leader().map(str::to_owned)),
        }
    }

    /// Makes this engine report `role` (and refuse commands with `not_leader` unless it is
    /// the leader) without any cluster behind it: for tests of what serves a follower.
    #[doc(hidden)]
    pub fn set_role_for_tests(&self, role: Role) {
        self.role.send_replace(role);
    }

    /// How long ago the database last answered this node — its lock session while it
    /// leads, a read of the log's head while it follows — or `None` on sled (one
    /// process, nothing to lose touch with). See [`LEADER_CONTACT`], [`FOLLOWER_CONTACT`].
    pub fn store_contact_age(&self) -> Option<Duration> {
        self.contact.as_ref().map(|c| c.age())
    }

    /// Wakes whenever this node's part changes (a follower promoted, a leader that
    /// stepped down).
    pub fn roles(&self) -> watch::Receiver<Role> {
        self.role.subscribe()
    }

    /// Waits until `position` is durable and applied to this node's projections, or
    /// `patience` passed; returns whether it was reached (read-your-writes on a
    /// follower: a command's answer names its position, a read waits for it).
    pub async fn wait_for_position(&self, position: u64, patience: Duration) -> bool {
        let mut committed = self.subscribe();
        tokio::time::timeout(patience, committed.wait_for(|p| *p >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The last durable position (0 for an empty log).
    pub fn last_position(&self) -> u64 {
        *self.committed.borrow()
    }

    /// Wakes whenever a group commit makes new positions durable.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }

    /// Reads and decodes `from..=to` (clamped to the durable log) keeping nothing: a
    /// read that meets damage stops writes, as every read does.
    pub fn check_range(&self, from: u64, to: u64) -> Result<(), ReadError> {
        self.visit_range(from, to, &mut |_| {})
    }

    /// Events with `from <= position <= to`, in order; never past the last durable
    /// position (the log may already hold the group being flushed).
    pub fn read_range(&self, from: u64, to: u64) -> Result<Vec<Envelope>, ReadError> {
        let mut out = Vec::new();
        self.visit_range(from, to, &mut |e| out.push(e))?;
        Ok(out)
    }

    /// Every durable envelope of `from..=to` in order; damage met stops writes.
    fn visit_range(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(Envelope),
    ) -> Result<(), ReadError> {
        self.noticed(for_each_envelope(
            self.parts.store.as_ref(),
            &self.parts.vault,
            from.max(1),
            to.min(self.last_position()),
            visit,
        ))
    }

    /// The last `n` events, oldest first.
    pub fn tail(&self, n: u64) -> Result<Vec<Envelope>, ReadError> {
        let last = self.last_position();
        self.read_range(last.saturating_sub(n) + 1, last)
    }

    /// The events of one stream with version `>= from_version`, in version order.
    pub fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<Envelope>, ReadError> {
        // The state holds only durable events, so its index never names a position
        // that is still being flushed.
        let positions = self
            .state()
            .streams()
            .positions(stream, from_version)
            .to_vec();
        positions
            .into_iter()
            .map(|position| self.read_one(position))
            .collect()
    }

    /// The event at `position`.
    pub fn read_one(&self, position: u64) -> Result<Envelope, ReadError> {
        self.noticed(
            self.parts
                .store
                .get(position)
                .map_err(ReadError::from)
                .and_then(|bytes| {
                    let bytes = bytes.ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "position {position} is indexed but not stored"
                        ))
                    })?;
                    decode(&self.parts.vault, position, &bytes)
                }),
        )
    }

    /// The chain head as of the last durable position: `POS:HASH` (0 and the all-zero
    /// hash for an empty log).
    pub fn head(&self) -> Result<HeadRecord, StoreError> {
        let position = self.last_position();
        anchor::hash_at(self.parts.store.as_ref(), position)?.map_or_else(
            || {
                Err(StoreError::Corrupt(format!(
                    "position {position} is durable but not stored"
                )))
            },
            |hash| Ok(HeadRecord { position, hash }),
        )
    }

    /// Every durable claim about how far the log goes (the projection checkpoint as
    /// stored, the head record, consumers' positions), for `offboard repair`.
    pub fn durable_claims(&self) -> Result<Vec<claims::Claim>, StoreError> {
        let stored = checkpoint::load(self.parts.store.as_ref(), &self.parts.vault)?;
        claims::gather(self.parts.store.as_ref(), stored.as_ref())
    }

    /// Walks the hash chain, naming the first bad position, then checks that every user
    /// not purged has a key that opens their sealed personal data (`key_check`). A
    /// storage read that meets damage (`log_corrupt`) also stops the engine accepting
    /// writes.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, VerifyError> {
        let report = integrity::verify(self.parts.store.as_ref(), progress);
        if let Err(VerifyError::Storage(e @ StoreError::Corrupt(_))) = &report {
            self.parts.health.refuse(Refusal::corrupt(e.to_string()));
        }
        let report = report?;
        let needing = key_check::users_needing_keys(&self.parts.vault, &self.state());
        key_check::verify_keys(self.parts.store.as_ref(), &self.parts.vault, &needing)?;
        Ok(report)
    }

    /// The writer's counters so far.
    pub fn stats(&self) -> StatsSnapshot {
        StatsSnapshot {
            flushes: self.parts.stats.flushes.load(Ordering::Relaxed),
            commands: self.parts.stats.commands.load(Ordering::Relaxed),
            events: self.parts.stats.events.load(Ordering::Relaxed),
        }
    }

    /// The last position this node's writer has handed out — durable, or in a group
    /// still in flight — or `None` when it does not write (a follower). A position past
    /// it can be reached only by commands not decided yet.
    pub fn assigned_position(&self) -> Option<u64> {
        self.writer_running()
            .then(|| self.parts.stats.assigned.load(Ordering::Relaxed))
    }

    /// How long this node's writer has waited for a command with nothing in flight since
    /// it started (a wait in progress included), or `None` when it does not write. Two
    /// readings give the share of the time between them commands kept it busy.
    pub fn writer_rested(&self) -> Option<Duration> {
        self.writer_running()
            .then(|| self.parts.stats.rests.rested())
    }

    /// How the projections were recovered when the engine opened.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// Saves a checkpoint of the projections as they stand now, and the head record at
    /// its position; returns the position. **Durability: when it returns `Ok`, the
    /// checkpoint file, the key it is encrypted with and the head record are on stable
    /// storage; when it returns `Err`, the previous checkpoint and key are as they were.**
    ///
    /// Saves a copy (~15 ms to take for a million events), so the writer waits for the
    /// copy, not for the save (most of a second at that size, and longer behind a save
    /// the checkpointer has under way).
    pub fn checkpoint_now(&self) -> Result<u64, crate::store::StoreError> {
        // A follower's state may be behind a purge whose checkpoint replaced every
        // readable copy of the purged profile: only the leader saves.
        if !self.role().is_leader() {
            return Err(StoreError::Io(
                "this node follows the log: only the leader saves checkpoints".to_owned(),
            ));
        }
        let copy = self.state().clone();
        self.parts
            .checkpoints
            .save(self.parts.store.as_ref(), &self.parts.vault, &copy)?;
        Ok(copy.position())
    }

    /// Rebuilds every projection from position 1, swaps it in, and saves a checkpoint.
    /// Commands keep flowing meanwhile; only the final catch-up holds them back.
    pub fn rebuild(&self, progress: &mut dyn FnMut(u64)) -> Result<u64, ReadError> {
        let applied = self.rebuild_projections(progress)?;
        self.checkpoint_now()?;
        Ok(applied)
    }

    /// [`Engine::rebuild`] without saving the checkpoint at the end.
    pub fn rebuild_projections(&self, progress: &mut dyn FnMut(u64)) -> Result<u64, ReadError> {
        let mut fresh = State::default();
        let mut applied = 0u64;
        let target = self.last_position();
        replay::replay_range(
            self.parts.store.as_ref(),
            &self.parts.vault,
            1,
            target,
            &mut |e| {
                fresh.apply(e);
                applied += 1;
                if applied.is_multiple_of(65_536) {
                    progress(applied);
                }
            },
        )?;
        let mut live = self.parts.state.write();
        applied += replay::replay_all(self.parts.store.as_ref(), &self.parts.vault, &mut fresh)?;
        *live = fresh;
        drop(live);
        progress(applied);
        Ok(applied)
    }

    /// The clock the writer stamps events with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.parts.clock
    }

    /// The data directory the engine opened (`None` for one built on a store).
    pub fn data_dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The key vault (for tools and tests).
    pub fn vault(&self) -> &Arc<KeyVault> {
        &self.parts.vault
    }

    /// What may still hold the key of a user purged now (the purge answer's
    /// `key_destruction`): the store's copies and the configured backup window.
    pub fn key_remnants(&self) -> KeyRemnants {
        self.parts.vault.remnants(self.parts.clock.now())
    }

    /// The underlying store (for tools and tests).
    pub fn store(&self) -> &Arc<dyn LogStore> {
        &self.parts.store
    }

    /// Stops accepting commands, lets the writer finish the group in hand, and waits.
    pub fn shutdown(mut self) {
        self.stop_writer();
    }

    /// On a node of several (PostgreSQL): stops following and leading now — a leader's
    /// writer finishes the group in hand and the writer lock is released, so another
    /// node leads within a fraction of a second — while reads go on answering from the
    /// projections; commands are answered `not_leader` from then on. Nothing on a data
    /// directory (its one writer keeps writing until [`Engine::shutdown`]). `serve` calls
    /// it as soon as it is told to stop, before it lets open requests finish: a rolling
    /// restart used to keep the lock until the HTTP drain and the engine's release were
    /// over (~2 s of `leader_unreachable` against ~0.3 s for a SIGKILL).
    /// A node cut off from PostgreSQL waits at most a few seconds for its loop (a call
    /// on a black-holed connection never returns) and then for its writer's storage
    /// patience; its lock then ends with its session.
    /// **Durability: when it returns, this node accepts no more commands and every
    /// command it acknowledged is durable.**
    pub fn resign(&self) {
        let node = self.node.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(node) = node {
            // New commands hear `not_leader` (retry elsewhere) rather than queue here.
            let resigned = Role::Follower {
                leader: None,
                lag: 0,
            };
            self.role.send_replace(resigned.clone());
            // The node first, so it cannot start a writer after this one stopped; the
            // writer lock last, once nothing writes.
            let lock = node.stop();
            self.role.send_replace(resigned);
            self.parts.stop_writer();
            drop(lock);
        }
    }

    fn stop_writer(&mut self) {
        self.resign();
        self.parts.stop_writer();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

/// R13: a purge whose key destruction was interrupted (a crash between the purge's
/// commit and the key's removal) is finished by the next writer, before it writes.
/// **Durability: when it returns `Ok`, every such key's destruction is durable.**
fn finish_interrupted_purges(vault: &KeyVault, state: &State) -> Result<(), StoreError> {
    let purged: Vec<UserId> = vault
        .users_with_keys()
        .into_iter()
        .filter(|u| {
            state.orgs().any(|o| {
                o.directory()
                    .user(*u)
                    .is_some_and(|x| x.status == UserStatus::Purged)
            })
        })
        .collect();
    for user in purged {
        vault.destroy_user_key(user)?;
    }
    Ok(())
}

/// Keys of users no event names, removed by the writer before it writes. A group's keys
/// are made durable before its events are written, so a crash or a failed write between
/// the two leaves keys that sealed nothing in the log — and a crash while they were
/// being written leaves torn files, which made a retry of the same command (whose new
/// users get the same ids) fail with `key_damaged` for good. Only the writer creates
/// keys, and it has not started: no key of a group in flight is taken for one of these.
/// **Durability: when it returns `Ok`, every removal is durable.**
fn remove_unused_keys(vault: &KeyVault, state: &State) -> Result<(), StoreError> {
    let known: HashSet<UserId> = state
        .orgs()
        .flat_map(|o| o.directory().users().map(|u| u.id))
        .collect();
    let unused: Vec<UserId> = vault
        .users_with_keys()
        .into_iter()
        .filter(|u| !known.contains(u))
        .collect();
    if unused.is_empty() {
        return Ok(());
    }
    vault.remove_unused_keys(&unused)?;
    tracing::info!(
        keys = unused.len(),
        "offboard: set aside the keys of users no event names (left by a write that did not commit, or by events a damaged log lost; on a data directory they are in keys/unused/)"
    );
    Ok(())
}

/// The fingerprint of `command` sent with `meta` and `expected`, as the command index
/// keeps it to tell a retry from another command under the same id.
fn command_fingerprint(
    meta: &CommandMeta,
    expected: &[(StreamId, ExpectedVersion)],
    command: &Command,
) -> String {
    fingerprint(&json!({
        "kind": "command",
        "org_id": meta.org_id,
        "actor": meta.actor,
        "on_behalf_of": meta.on_behalf_of,
        "correlation_id": meta.correlation_id,
        "causation_id": meta.causation_id,
        "expected": expected,
        "command": command,
    }))
}

/// The context `meta` gives a decision, its time stamped by the writer later and no
/// history read ahead (see [`Engine::compensating`]).
fn undated_context(meta: &CommandMeta) -> Context {
    Context {
        org_id: meta.org_id,
        actor: meta.actor.clone(),
        on_behalf_of: meta.on_behalf_of,
        command_id: meta.command_id,
        now: DateTime::<Utc>::MIN_UTC,
        compensating: Vec::new(),
        plaintext_profiles: Default::default(),
    }
}

/// The writer's decision for `command`: the domain's, at the time the writer stamps.
fn deciding(base: Context, command: Command) -> Decision {
    Box::new(move |state, now| {
        let ctx = Context { now, ..base };
        domain::decide(state, &ctx, &command).map_err(AppendError::Rejected)
    })
}

/// Hex SHA-256 of a command payload's canonical JSON.
pub(crate) fn fingerprint(payload: &serde_json::Value) -> String {
    let mut bytes = Vec::with_capacity(256);
    write_canonical(payload, &mut bytes);
    sha256_hex(&bytes)
}
