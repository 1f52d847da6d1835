//! The single writer and its group commit.
//!
//! One OS thread owns the chain head, the stream versions and (through a write lock) the
//! projected state. It takes every command waiting in its queue, decides each against
//! the state as updated by the ones before it, writes all resulting events in ONE
//! storage transaction, flushes ONCE, and only then answers the commands. Readers take
//! the read lock, so they never see an event that is not yet durable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use offboard_events::{CommandId, Envelope, Event, EventId, StreamId, UserId};
use offboard_projections::State;
use tokio::sync::{mpsc, oneshot, watch};

use super::append::{AppendError, Appended, CommandMeta, ExpectedVersion};
use super::checkpoint::{self, CHECKPOINT_EVERY};
use super::replay::replay_all;
use crate::clock::Clock;
use crate::privacy::{seal, KeyVault};
use crate::store::{ChainHead, CommandRecord, CommitBatch, LogStore, StoredEvent};

/// Most commands decided and committed in one group by default: bounds the latency a
/// group adds and the size of one storage transaction.
pub const MAX_GROUP: usize = 2048;

/// Turns the state into the events of one command, or refuses.
pub(crate) type Decision =
    Box<dyn FnOnce(&State, DateTime<Utc>) -> Result<Vec<Event>, AppendError> + Send>;

/// One command waiting for the writer.
pub(crate) struct Job {
    pub meta: CommandMeta,
    pub expected: Vec<(StreamId, ExpectedVersion)>,
    /// Hex SHA-256 of the command's canonical payload (idempotency).
    pub fingerprint: String,
    pub decide: Decision,
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
}

pub(crate) struct Writer {
    pub store: Arc<dyn LogStore>,
    pub state: Arc<RwLock<State>>,
    pub clock: Arc<dyn Clock>,
    pub head: ChainHead,
    pub last_time: DateTime<Utc>,
    pub stream_versions: HashMap<StreamId, u64>,
    pub stats: Arc<WriterStats>,
    pub committed: watch::Sender<u64>,
    pub rx: mpsc::Receiver<Job>,
    /// Position of the last checkpoint saved (or loaded).
    pub last_checkpoint: u64,
    pub vault: Arc<KeyVault>,
    /// Users purged by the group being committed: their keys go once it is durable.
    pub purged: Vec<UserId>,
    /// Most commands per group (1 turns group commit off: one flush per command).
    pub max_group: usize,
}

impl Writer {
    /// Runs until every sender is gone.
    pub fn run(mut self) {
        while let Some(first) = self.rx.blocking_recv() {
            let mut jobs = Vec::with_capacity(64);
            jobs.push(first);
            while jobs.len() < self.max_group {
                match self.rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.commit_group(jobs);
            if self.head.last_position >= self.last_checkpoint + CHECKPOINT_EVERY {
                self.save_checkpoint();
            }
        }
        if self.head.last_position > self.last_checkpoint {
            self.save_checkpoint();
        }
    }

    /// R13, once the purge is durable: destroy the purged users' keys, then replace the
    /// checkpoint (whose plaintext views still name them) by one under a new key. If the
    /// process dies in between, opening the engine finishes the job.
    fn forget_purged(&mut self) {
        for user in std::mem::take(&mut self.purged) {
            if let Err(e) = self.vault.destroy_user_key(user) {
                eprintln!("offboard: key of purged user {user} not destroyed yet (retried at next start): {e}");
            }
        }
        self.save_checkpoint();
    }

    /// A failed checkpoint costs only start-up time, so it is reported, not fatal.
    fn save_checkpoint(&mut self) {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        match checkpoint::save(self.store.as_ref(), &self.vault, &state) {
            Ok(()) => self.last_checkpoint = state.position(),
            Err(e) => eprintln!("offboard: checkpoint not saved: {e}"),
        }
    }

    fn commit_group(&mut self, jobs: Vec<Job>) {
        let state_lock = Arc::clone(&self.state);
        let mut state = state_lock.write().unwrap_or_else(|p| p.into_inner());
        let start_head = self.head.clone();
        let mut batch = CommitBatch::default();
        let mut pending: HashMap<CommandId, CommandRecord> = HashMap::new();
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            let Job {
                meta,
                expected,
                fingerprint,
                decide,
                reply,
            } = job;
            let result = self.process(
                &mut state,
                &mut batch,
                &mut pending,
                meta,
                &expected,
                fingerprint,
                decide,
            );
            replies.push((reply, result));
        }

        if !batch.commands.is_empty() {
            if !batch.events.is_empty() {
                batch.head = Some(self.head.clone());
            }
            // Keys sealing this group's events become durable before the events do.
            let committed = self.vault.sync().and_then(|()| self.store.commit(&batch));
            if let Err(error) = committed {
                // Nothing of the batch is stored: forget what this group did in memory.
                self.head = start_head;
                self.stream_versions.clear();
                self.purged.clear();
                let mut fresh = State::default();
                let reloaded = replay_all(self.store.as_ref(), &self.vault, &mut fresh);
                *state = fresh;
                drop(state);
                let message = error.to_string();
                for (reply, result) in replies {
                    let answer = match result {
                        Ok(_) => Err(AppendError::Storage(crate::store::StoreError::Io(
                            message.clone(),
                        ))),
                        rejected => rejected,
                    };
                    let _ = reply.send(answer);
                }
                if let Err(e) = reloaded {
                    // The store cannot even be read back: refuse everything from now on.
                    eprintln!("offboard: writer stopping, the log cannot be re-read after a failed commit: {e}");
                    self.rx.close();
                }
                return;
            }
            self.stats.flushes.fetch_add(1, Ordering::Relaxed);
            self.stats
                .events
                .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        }
        drop(state);
        if !self.purged.is_empty() {
            self.forget_purged();
        }
        let answered = replies.iter().filter(|(_, r)| r.is_ok()).count() as u64;
        self.stats.commands.fetch_add(answered, Ordering::Relaxed);
        self.committed.send_replace(self.head.last_position);
        for (reply, result) in replies {
            // A caller that stopped waiting still had its command committed.
            let _ = reply.send(result);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn process(
        &mut self,
        state: &mut State,
        batch: &mut CommitBatch,
        pending: &mut HashMap<CommandId, CommandRecord>,
        meta: CommandMeta,
        expected: &[(StreamId, ExpectedVersion)],
        fingerprint: String,
        decide: Decision,
    ) -> Result<Appended, AppendError> {
        let correlation_id = meta.correlation();
        let earlier = match pending.get(&meta.command_id) {
            Some(record) => Some(record.clone()),
            None => self.store.command(meta.command_id)?,
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
            let actual = self.version_of(stream)?;
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

        // Look every stream up before changing anything, so a storage error here cannot
        // leave the state half-applied.
        let streams: Vec<StreamId> = events.iter().map(|e| e.stream(meta.org_id)).collect();
        for stream in &streams {
            self.version_of(stream)?;
        }

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
                .unwrap_or_else(|| self.stream_versions[stream_id])
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
            let bytes = envelope.seal_hash_with(|value| seal::seal(value, &self.vault))?;
            head = ChainHead {
                last_position: envelope.position,
                last_hash: envelope.hash.clone(),
            };
            built.push((envelope, bytes));
        }

        self.last_time = occurred_at;
        self.head = head;
        for (envelope, bytes) in built {
            state.apply(&envelope);
            if let Event::UserPurged(purged) = &envelope.event {
                self.purged.push(purged.user_id);
            }
            self.stream_versions
                .insert(envelope.stream_id.clone(), envelope.stream_version);
            batch.events.push(StoredEvent {
                position: envelope.position,
                stream_id: envelope.stream_id,
                stream_version: envelope.stream_version,
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
        pending.insert(meta.command_id, record.clone());
        batch.commands.push((meta.command_id, record));
        Ok(Appended {
            command_id: meta.command_id,
            correlation_id,
            positions,
            duplicate: false,
        })
    }

    fn version_of(&mut self, stream: &StreamId) -> Result<u64, AppendError> {
        if let Some(v) = self.stream_versions.get(stream) {
            return Ok(*v);
        }
        let v = self.store.stream_version(stream)?;
        self.stream_versions.insert(stream.clone(), v);
        Ok(v)
    }
}
