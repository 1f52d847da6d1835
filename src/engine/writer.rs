//! The single writer and its group commit.
//!
//! One OS thread owns the chain head and (through a write lock) the projected state,
//! stream versions included. It takes every command waiting in its queue, decides each
//! against the state as updated by the ones before it, and hands the group's events to
//! the committer (`committer.rs`), which writes them in ONE storage batch; the flusher
//! (`flusher.rs`) then writes out every group written with one flush, and the syncer
//! makes every flushed round durable with one device sync and only then answers the
//! commands. While group N is synced, group N+1 is flushed, N+2 written and N+3 decided
//! (the pipeline): the disk no longer stalls deciding or writing. With groups in flight the writer wakes for
//! whichever comes first, a new command or the oldest group's outcome.
//!
//! Readers never see an event that is not yet durable: the writer keeps the state's
//! write lock while any group it decided is in flight, and when a reader waits it stops
//! deciding until the groups in flight are durable, then lets the reader in
//! (`shared_state.rs`). Checkpoints are also taken only at such a point of rest, when the
//! state is exactly what is durable: the writer copies the state there and the
//! checkpointer (`checkpointer.rs`) saves the copy meanwhile. A purged user's key is
//! destroyed by the syncer, before the purge is answered, and the checkpoint replaced at
//! the next point of rest by the writer itself.
//!
//! When a group's outcome is unknown (its flush failed or overran), the writer stops
//! accepting writes (`health.rs`) but keeps running: it puts the state back to what is
//! durable (so reads answer only what is known), answers a retry of an acknowledged
//! command with its first result, a retry of a command whose outcome is unknown with
//! `outcome_unknown` again, and every new command with the refusal.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, RwLockWriteGuard};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use offboard_events::{CommandId, Envelope, Event, EventId, StreamId, UserId};
use offboard_projections::State;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{mpsc, oneshot};

use super::append::{AppendError, Appended, CommandMeta, ExpectedVersion};
use super::checkpoint::{self, Checkpoints, CHECKPOINT_EVERY};
use super::checkpointer::Checkpointer;
use super::committer::{Group, Outcome};
use super::health::{Health, Refusal};
use super::known_commands::KnownCommands;
use super::patience::Stall;
use super::replay::{replay_all, replay_range};
use super::shared_state::SharedState;
use crate::clock::Clock;
use crate::privacy::{seal, KeyVault};
use crate::store::{ChainHead, CommandRecord, CommitBatch, LogStore, StoredEvent};

/// Most commands decided and committed in one group by default: bounds the latency a
/// group adds and the size of one storage transaction.
pub const MAX_GROUP: usize = 2048;

/// Groups decided but not yet durable: one being synced while the next is flushed, the
/// one after it written and the next decided.
pub(crate) const MAX_IN_FLIGHT: usize = 4;

/// Turns the state into the events of one command, or refuses.
pub(crate) type Decision =
    Box<dyn FnOnce(&State, DateTime<Utc>) -> Result<Vec<Event>, AppendError> + Send>;

/// Finds a command's users in the state it is about to be decided on, setting what it
/// resolves into the metadata (`On-Behalf-Of`); returns the command's fingerprint and
/// its decision, or the first user not found. With [`Retry::Yes`] (its command id is
/// already stored or in flight) deleted users are found too: the first attempt may have
/// deleted the very user it names by email, and its retry must still fingerprint as
/// the same command to get the first answer.
pub(crate) type Naming = Box<
    dyn FnOnce(&State, &mut CommandMeta, Retry) -> Result<(String, Decision), AppendError> + Send,
>;

/// Whether a job's command id is already stored or in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    Yes,
    No,
}

/// What the writer decides for one job.
pub(crate) enum Work {
    /// Users named by id only: `fingerprint` (hex SHA-256 of the command's canonical
    /// payload, for idempotency) was taken before the job was queued.
    Decided {
        fingerprint: String,
        decide: Decision,
    },
    /// Users named by id or email, found by the writer itself: resolving them in the
    /// caller would take the state's read lock, which the writer holds through each
    /// group commit (`shared_state.rs`).
    Named(Naming),
}

impl Work {
    /// The fingerprint and the decision, the users found in `state` first if named.
    fn prepare(
        self,
        state: &State,
        meta: &mut CommandMeta,
        retry: Retry,
    ) -> Result<(String, Decision), AppendError> {
        match self {
            Self::Decided {
                fingerprint,
                decide,
            } => Ok((fingerprint, decide)),
            Self::Named(naming) => naming(state, meta, retry),
        }
    }
}

/// One command waiting for the writer.
pub(crate) struct Job {
    pub meta: CommandMeta,
    pub expected: Vec<(StreamId, ExpectedVersion)>,
    pub work: Work,
    pub reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// Counters that show group commit at work: `commands / flushes` is the group size.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Storage commits, each ending with one flush (fsync).
    pub flushes: AtomicU64,
    /// Commands answered after a successful flush (including idempotent retries).
    pub commands: AtomicU64,
    /// Events appended.
    pub events: AtomicU64,
    /// The last position the writer has handed out: durable, or in a group in flight
    /// (moved back if a failed group is undone). A position past it is not the answer
    /// of any command decided so far (read-your-writes answers such a wait at once).
    pub assigned: AtomicU64,
    /// Time the writer waited for a command with nothing in flight.
    pub rests: super::rest::Rests,
}

pub(crate) struct Writer {
    pub store: Arc<dyn LogStore>,
    pub state: Arc<SharedState>,
    pub clock: Arc<dyn Clock>,
    pub head: ChainHead,
    /// Where the writer publishes its head's position ([`WriterStats::assigned`]).
    pub stats: Arc<WriterStats>,
    pub last_time: DateTime<Utc>,
    pub rx: mpsc::Receiver<Job>,
    /// The last checkpoint saved (or loaded), by the writer or `Engine::checkpoint_now`.
    pub checkpoints: Arc<Checkpoints>,
    /// Saves the writer's periodic checkpoints on its own thread.
    pub checkpointer: Checkpointer,
    /// The position of the last copy handed to the checkpointer (saved or not yet).
    pub checkpoint_asked: u64,
    pub vault: Arc<KeyVault>,
    /// Users purged by the group being decided (handed to the syncer, which destroys
    /// their keys before answering).
    pub purged: Vec<UserId>,
    /// A purge was decided since the last checkpoint: the checkpoint, whose plaintext
    /// views still name the user, is replaced at the next point of rest.
    pub purge_since_checkpoint: bool,
    /// Most commands per group (1 turns group commit off: one flush per command).
    pub max_group: usize,
    /// Decide the next group while the previous one is flushed.
    pub pipelined: bool,
    /// The committer stage, the outcomes of the syncer stage (one per group, in order)
    /// and both stages' threads.
    pub to_committer: Option<SyncSender<Group>>,
    pub outcomes: UnboundedReceiver<Outcome>,
    /// Fires when a stage's storage call overran its patience (`patience.rs`): that
    /// stage's thread may never come back, so its outcomes are not waited for.
    pub stall: Stall,
    /// The stall fired and a group in flight was settled without its outcome: outcomes
    /// still to come belong to groups settled already, and are never read.
    pub stalled: bool,
    pub stages: Vec<JoinHandle<()>>,
    /// Each group in flight, oldest first.
    pub in_flight: VecDeque<InFlight>,
    /// What the commands in flight will have stored, for retries arriving meanwhile.
    pub pending: HashMap<CommandId, CommandRecord>,
    /// The command ids the store may hold: only those are looked up before deciding.
    pub known: Arc<KnownCommands>,
    /// Bumped after a failed group: later groups of the old generation are refused.
    pub generation: u64,
    /// A group was not written: reload the state once nothing is in flight.
    pub reload: bool,
    /// Whether writes are accepted (shared with the engine's readers and the stages).
    pub health: Arc<Health>,
    /// The last position known durable.
    pub durable: u64,
    /// Commands whose group's outcome is unknown: a retry hears `outcome_unknown` again.
    pub unknown: HashSet<CommandId>,
    /// A group's outcome is unknown: put the state back to what is durable once nothing
    /// is in flight.
    pub roll_back: bool,
}

/// One group decided and not yet settled.
pub(crate) struct InFlight {
    pub ids: Vec<CommandId>,
    /// The last position it appends, if it appends any.
    pub last: Option<u64>,
}

type StateGuard<'a> = RwLockWriteGuard<'a, State>;

/// What woke the writer while groups were in flight.
enum Wake {
    Job(Job),
    Outcome(Outcome),
}

impl Writer {
    /// Runs until every sender is gone.
    pub fn run(mut self) {
        let shared = Arc::clone(&self.state);
        let mut guard: Option<StateGuard<'_>> = None;
        let waiter = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime without drivers always builds");
        loop {
            let jobs = if self.in_flight.is_empty() {
                // Everything decided is durable: readers may look, checkpoints may go.
                guard = None;
                self.at_rest();
                self.stats.rests.begin();
                let first = self.rx.blocking_recv();
                self.stats.rests.end();
                match first {
                    Some(first) => self.take_group(first),
                    None => break,
                }
            } else if !self.pipelined || shared.is_wanted() || self.must_rest() {
                self.settle_oldest(&waiter, &shared, &mut guard);
                continue;
            } else {
                match self.next_job_or_outcome(&waiter) {
                    Wake::Job(first) => self.take_group(first),
                    Wake::Outcome(outcome) => {
                        self.settle(outcome, &shared, &mut guard);
                        continue;
                    }
                }
            };
            let state = guard.get_or_insert_with(|| shared.writer_lock());
            self.decide_group(state, jobs);
            while self.in_flight.len() >= MAX_IN_FLIGHT {
                self.settle_oldest(&waiter, &shared, &mut guard);
            }
        }
        while !self.in_flight.is_empty() {
            self.settle_oldest(&waiter, &shared, &mut guard);
        }
        drop(guard);
        // Hanging up lets the committer, then the syncer, finish: nothing is in flight.
        // After a stall a stage may be stuck in its call for good, and those behind it
        // wait for it: they are left behind, holding nothing but the store.
        self.to_committer = None;
        for stage in self.stages.drain(..) {
            if !self.stalled {
                let _ = stage.join();
            }
        }
        // A copy still being saved finishes first; then what came after it is saved.
        self.checkpointer.finish();
        if self.health.accepting() && self.head.last_position > self.checkpoints.last() {
            self.save_checkpoint();
        }
    }

    /// Up to `max_group` commands: `first` and whatever else is already queued.
    fn take_group(&mut self, first: Job) -> Vec<Job> {
        let mut jobs = Vec::with_capacity(64);
        jobs.push(first);
        while jobs.len() < self.max_group {
            match self.rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        jobs
    }

    /// A checkpoint or a purge waits for a point of rest: stop deciding until then.
    fn must_rest(&self) -> bool {
        self.purge_since_checkpoint || self.checkpoint_due()
    }

    fn checkpoint_due(&self) -> bool {
        let since = self.checkpoints.last().max(self.checkpoint_asked);
        self.head.last_position >= since + CHECKPOINT_EVERY
    }

    /// Work that needs the state to be exactly what is durable, with no lock held.
    fn at_rest(&mut self) {
        if !self.health.accepting() {
            // Storage failed or the log is damaged: no checkpoint of this state.
        } else if self.purge_since_checkpoint {
            self.forget_purged();
        } else if self.checkpoint_due() {
            // A copy, saved by the checkpointer while this thread goes on deciding.
            let copy = self.state.read().clone();
            self.checkpointer.save_later(copy);
            self.checkpoint_asked = self.head.last_position;
        }
    }

    /// While groups are in flight: the next command or the oldest group's outcome,
    /// whichever comes first. Commands that arrive while a group is flushed are decided
    /// during that flush, not after it (waiting on the outcome alone made each group
    /// wait for the previous flush before it could even be decided).
    fn next_job_or_outcome(&mut self, waiter: &tokio::runtime::Runtime) -> Wake {
        if let Ok(job) = self.rx.try_recv() {
            return Wake::Job(job);
        }
        if self.stalled {
            return Wake::Outcome(Outcome::NotDurable);
        }
        let (rx, outcomes, stall) = (&mut self.rx, &mut self.outcomes, &mut self.stall);
        let woken = waiter.block_on(async {
            tokio::select! {
                biased;
                outcome = outcomes.recv() => Some(Wake::Outcome(outcome.unwrap_or(Outcome::NotDurable))),
                job = rx.recv() => job.map(Wake::Job),
                // `Err`: the watchdog is gone, and with it every stage: not a stall.
                Ok(_) = stall.wait_for(Option::is_some) => None,
            }
        });
        // No more commands will come, or the pipeline stalled: only the outcomes are
        // left to wait for.
        woken.unwrap_or_else(|| Wake::Outcome(self.oldest_outcome(waiter)))
    }

    /// Waits for the oldest group in flight and settles it.
    fn settle_oldest<'a>(
        &mut self,
        waiter: &tokio::runtime::Runtime,
        shared: &'a SharedState,
        guard: &mut Option<StateGuard<'a>>,
    ) {
        let outcome = self.oldest_outcome(waiter);
        self.settle(outcome, shared, guard);
    }

    /// The oldest group's outcome, as the syncer reports it; once the pipeline stalled
    /// and none is waiting, not durable (the stuck stage may hold that group for good).
    fn oldest_outcome(&mut self, waiter: &tokio::runtime::Runtime) -> Outcome {
        if !self.stalled {
            let (outcomes, stall) = (&mut self.outcomes, &mut self.stall);
            let outcome = waiter.block_on(async {
                tokio::select! {
                    biased;
                    outcome = outcomes.recv() => Some(outcome.unwrap_or(Outcome::NotDurable)),
                    Ok(_) = stall.wait_for(Option::is_some) => None,
                }
            });
            if let Some(outcome) = outcome.or_else(|| self.outcomes.try_recv().ok()) {
                return outcome;
            }
            self.stalled = true;
        }
        Outcome::NotDurable
    }

    /// Takes the oldest group in flight off the pipeline with its outcome; after a
    /// failure, reloads or stops once the pipeline is empty.
    fn settle<'a>(
        &mut self,
        outcome: Outcome,
        shared: &'a SharedState,
        guard: &mut Option<StateGuard<'a>>,
    ) {
        let settled = self.in_flight.pop_front();
        let (ids, last) = settled.map_or((Vec::new(), None), |g| (g.ids, g.last));
        for id in &ids {
            self.pending.remove(id);
        }
        match outcome {
            Outcome::Durable => self.durable = last.unwrap_or(self.durable),
            Outcome::NotWritten => self.reload = true,
            Outcome::NotDurable => {
                // The syncer has said why already; this covers a stage that vanished.
                self.health.refuse(Refusal::storage(
                    "a group's outcome is unknown; restart offboard to recover from what is on disk",
                ));
                self.unknown.extend(ids);
                self.roll_back = true;
            }
        }
        if !self.in_flight.is_empty() {
            return;
        }
        if std::mem::take(&mut self.roll_back) {
            let state = guard.get_or_insert_with(|| shared.writer_lock());
            self.roll_back_to_durable(state);
        } else if std::mem::take(&mut self.reload) && self.health.accepting() {
            let state = guard.get_or_insert_with(|| shared.writer_lock());
            self.reload_from_log(state);
        }
    }

    /// After a group whose outcome is unknown: the state becomes what is known durable
    /// (the checkpoint, if not past it, plus the log up to the last durable position),
    /// so readers see nothing that may not be on disk.
    fn roll_back_to_durable(&mut self, state: &mut State) {
        let (store, vault) = (self.store.as_ref(), self.vault.as_ref());
        let mut fresh = match checkpoint::load(store, vault) {
            Ok(Some(Ok(loaded))) if loaded.position() <= self.durable => loaded,
            _ => State::default(),
        };
        let from = fresh.position() + 1;
        let replayed = replay_range(store, vault, from, self.durable, &mut |e| fresh.apply(e));
        if let Err(e) = replayed {
            // sled refuses some reads once its own write has failed (its global error):
            // the state as far as it could be replayed is older but holds only durable
            // events, which beats showing commands whose outcome is unknown.
            tracing::warn!(
                "offboard: the state could be put back only to position {} of {} (reads show that older state until a restart): {e}",
                fresh.position(),
                self.durable
            );
        }
        *state = fresh;
    }

    /// After a group was not written: forget what the failed generation did in memory.
    fn reload_from_log(&mut self, state: &mut State) {
        self.generation += 1;
        self.pending.clear();
        let mut fresh = State::default();
        let reloaded = self
            .store
            .head()
            .map_err(|e| e.to_string())
            .and_then(|head| {
                replay_all(self.store.as_ref(), &self.vault, &mut fresh)
                    .map(|_| head)
                    .map_err(|e| e.to_string())
            });
        match reloaded {
            Ok(head) => {
                self.stats
                    .assigned
                    .store(head.last_position, Ordering::Relaxed);
                self.head = head;
                *state = fresh;
            }
            Err(e) => {
                // The store cannot even be read back: refuse every write from now on.
                self.health.refuse(Refusal::storage(format!(
                    "the log cannot be re-read after a failed write: {e}"
                )));
            }
        }
    }

    /// R13, once the purge is durable and the syncer has destroyed the purged users'
    /// keys: replace the checkpoint (whose plaintext views still name them) by one under
    /// a new key. If the process dies first, opening the engine finishes the job.
    fn forget_purged(&mut self) {
        self.purge_since_checkpoint = false;
        self.save_checkpoint();
    }

    /// A failed checkpoint costs only start-up time, so it is reported, not fatal.
    fn save_checkpoint(&mut self) {
        let state = self.state.read();
        if let Err(e) = self
            .checkpoints
            .save(self.store.as_ref(), &self.vault, &state)
        {
            tracing::warn!("offboard: checkpoint not saved: {e}");
        }
    }

    /// Answers, without writing anything, a command arriving while writes are refused:
    /// a retry of an acknowledged command gets its first result.
    fn answer_refused(
        &self,
        state: &State,
        (mut meta, work): (CommandMeta, Work),
        refusal: Refusal,
    ) -> Result<Appended, AppendError> {
        let id = meta.command_id;
        let unknown = || {
            AppendError::OutcomeUnknown(
                "an earlier attempt with this command id was not acknowledged".to_owned(),
            )
        };
        if self.unknown.contains(&id) || self.pending.contains_key(&id) {
            return Err(unknown());
        }
        let Some(record) = self.store.command(id)? else {
            return Err(AppendError::Refused(refusal));
        };
        let (fingerprint, _) = work.prepare(state, &mut meta, Retry::Yes)?;
        match record {
            record if record.fingerprint != fingerprint => {
                Err(AppendError::CommandIdReused { command_id: id })
            }
            record
                if record
                    .positions
                    .is_none_or(|(_, last)| last <= self.durable) =>
            {
                Ok(Appended {
                    command_id: id,
                    correlation_id: record.correlation_id,
                    positions: record.positions,
                    duplicate: true,
                })
            }
            _ => Err(unknown()),
        }
    }

    /// Decides every job against `state` (applying each command's events before the
    /// next is decided) and hands the group to the committer. While writes are refused,
    /// answers each job at once instead.
    fn decide_group(&mut self, state: &mut State, jobs: Vec<Job>) {
        if let Some(refusal) = self.health.refusal() {
            for Job {
                meta, work, reply, ..
            } in jobs
            {
                let _ = reply.send(self.answer_refused(state, (meta, work), refusal.clone()));
            }
            return;
        }
        let stored = self.stored_commands(&jobs);
        let mut batch = CommitBatch::default();
        let mut replies = Vec::with_capacity(jobs.len());
        let mut ids = Vec::with_capacity(jobs.len());
        for job in jobs {
            let Job {
                mut meta,
                expected,
                work,
                reply,
            } = job;
            ids.push(meta.command_id);
            let earlier = stored
                .as_ref()
                .map(|found| found.get(&meta.command_id).cloned());
            let retry = if self.pending.contains_key(&meta.command_id)
                || matches!(earlier, Some(Some(_)))
            {
                Retry::Yes
            } else {
                Retry::No
            };
            let result = work
                .prepare(state, &mut meta, retry)
                .and_then(|(fingerprint, decide)| {
                    self.process(
                        state,
                        &mut batch,
                        (meta, earlier),
                        &expected,
                        fingerprint,
                        decide,
                    )
                });
            replies.push((reply, result));
        }
        let last = (!batch.events.is_empty()).then_some(self.head.last_position);
        if last.is_some() {
            batch.head = Some(self.head.clone());
        }
        let group = Group {
            generation: self.generation,
            batch,
            replies,
            purged: std::mem::take(&mut self.purged),
        };
        match &self.to_committer {
            Some(committer) => {
                if let Err(unsent) = committer.send(group) {
                    // The committer is gone (it panicked): nothing more can be stored.
                    self.health
                        .refuse(Refusal::storage("the log's committer stopped"));
                    for (reply, _) in unsent.0.replies {
                        let _ = reply.send(Err(AppendError::Closed));
                    }
                    self.rx.close();
                    return;
                }
                self.in_flight.push_back(InFlight { ids, last });
            }
            None => {
                for (reply, _) in group.replies {
                    let _ = reply.send(Err(AppendError::Closed));
                }
            }
        }
    }

    /// What the command-id index held, when the group began, for each of `jobs` not
    /// pending that it may hold ([`KnownCommands`]; any other is not there): ONE store
    /// call for the group, none when every id is new (on PostgreSQL a call is a network round
    /// trip, and the writer decides one command at a time). `None` when it failed: each
    /// command then asks on its own.
    fn stored_commands(&self, jobs: &[Job]) -> Option<HashMap<CommandId, CommandRecord>> {
        let ids: Vec<CommandId> = jobs
            .iter()
            .map(|job| job.meta.command_id)
            .filter(|id| !self.pending.contains_key(id) && self.known.may_hold(*id))
            .collect();
        if ids.is_empty() {
            return Some(HashMap::new());
        }
        let found = self.store.commands(&ids).ok()?;
        Some(found.into_iter().collect())
    }

    /// Decides one command; `earlier` is its index record as prefetched for the group
    /// (`Some(None)`: not there; `None`: not prefetched, so asked here).
    #[allow(clippy::too_many_arguments)]
    fn process(
        &mut self,
        state: &mut State,
        batch: &mut CommitBatch,
        (meta, earlier): (CommandMeta, Option<Option<CommandRecord>>),
        expected: &[(StreamId, ExpectedVersion)],
        fingerprint: String,
        decide: Decision,
    ) -> Result<Appended, AppendError> {
        let correlation_id = meta.correlation();
        // Pending first: a command of an earlier group in flight, or earlier in this one.
        let earlier = match (self.pending.get(&meta.command_id), earlier) {
            (Some(record), _) => Some(record.clone()),
            (None, Some(prefetched)) => prefetched,
            (None, None) => self.store.command(meta.command_id)?,
        };
        if let Some(record) = earlier {
            if record.fingerprint != fingerprint {
                return Err(AppendError::CommandIdReused {
                    command_id: meta.command_id,
                });
            }
            return Ok(Appended {
                command_id: meta.command_id,
                correlation_id: record.correlation_id,
                positions: record.positions,
                duplicate: true,
            });
        }
        for (stream, expect) in expected {
            let actual = state.streams().version(stream);
            if !expect.admits(actual) {
                return Err(AppendError::Conflict {
                    stream: stream.clone(),
                    expected: *expect,
                    actual,
                });
            }
        }

        // Stamped before deciding, so time-dependent rules (the restore window) see the
        // same time the events will carry.
        let occurred_at = self.clock.now().max(self.last_time);
        let events = decide(state, occurred_at)?;

        let streams: Vec<StreamId> = events.iter().map(|e| e.stream(meta.org_id)).collect();

        // Build, seal and hash every envelope first: if sealing fails (a key file cannot
        // be written), nothing of the command has touched the head or the state.
        let first = self.head.last_position + 1;
        let mut head = self.head.clone();
        let mut versions: HashMap<&StreamId, u64> = HashMap::new();
        let mut built = Vec::with_capacity(events.len());
        for (event, stream_id) in events.into_iter().zip(&streams) {
            let version = versions
                .get(stream_id)
                .copied()
                .unwrap_or_else(|| state.streams().version(stream_id))
                + 1;
            versions.insert(stream_id, version);
            let mut envelope = Envelope {
                position: head.last_position + 1,
                org_id: meta.org_id,
                stream_id: stream_id.clone(),
                stream_version: version,
                event_id: EventId::new(),
                occurred_at,
                actor: meta.actor.clone(),
                on_behalf_of: meta.on_behalf_of,
                command_id: meta.command_id,
                correlation_id,
                causation_id: meta.causation(),
                prev_hash: head.last_hash.clone(),
                hash: String::new(),
                event,
            };
            let bytes = envelope
                .seal_hash_with(|event_type, data| seal::seal(event_type, data, &self.vault))?;
            head = ChainHead {
                last_position: envelope.position,
                last_hash: envelope.hash.clone(),
            };
            built.push((envelope, bytes));
        }

        self.last_time = occurred_at;
        self.stats
            .assigned
            .store(head.last_position, Ordering::Relaxed);
        self.head = head;
        for (envelope, bytes) in built {
            state.apply(&envelope);
            if let Event::UserPurged(purged) = &envelope.event {
                self.purged.push(purged.user_id);
                self.purge_since_checkpoint = true;
            }
            batch.events.push(StoredEvent {
                position: envelope.position,
                bytes,
            });
        }
        let last = self.head.last_position;
        let positions = (last >= first).then_some((first, last));
        let record = CommandRecord {
            fingerprint,
            correlation_id,
            positions,
        };
        self.known.note(meta.command_id);
        self.pending.insert(meta.command_id, record.clone());
        batch.commands.push((meta.command_id, record));
        Ok(Appended {
            command_id: meta.command_id,
            correlation_id,
            positions,
            duplicate: false,
        })
    }
}
