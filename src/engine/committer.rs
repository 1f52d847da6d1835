//! The second and fourth stages of the writer's pipeline. The committer writes each group
//! the writer decided to the log (one atomic batch); the flusher (`flusher.rs`) writes
//! out every written group with one flush; the syncer makes every flushed round durable
//! with one device sync for all of them that are waiting, and only then answers their
//! commands — in log order, so an idempotent retry is never answered before the command
//! it repeats is durable.
//!
//! So while group N is synced, group N+1 is flushed, N+2 written and N+3 decided: the
//! disk's latency overlaps with the CPU work of the groups behind it. A group is decided
//! against a state that includes the groups before it, so when one fails to be written,
//! every later group of the same generation fails too; the writer then reloads the state
//! from the log and starts a new generation. After a failed flush, the syncer refuses
//! everything: only a restart knows what reached the disk (and a second `fsync` after a
//! failed one may report success for pages the kernel already dropped).
//!
//! Both stages call the store through a [`Patient`]: a write or flush that does not
//! return within the engine's storage patience counts as failed with an unknown outcome,
//! and a stage stuck in one for good is left behind (`patience.rs`), so the writer (and
//! every reader waiting on its lock) is never held for good.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use offboard_events::UserId;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{oneshot, watch};

use super::append::{AppendError, Appended};
use super::flusher::Flushed;
use super::health::{Health, Refusal};
use super::metrics::EngineMetrics;
use super::patience::Patient;
use super::writer::WriterStats;
use crate::privacy::KeyVault;
use crate::store::{CommitBatch, LogStore, StoreError};

pub(crate) type Reply = oneshot::Sender<Result<Appended, AppendError>>;

/// One decided group on its way to the log.
pub(crate) struct Group {
    /// Groups of a failed generation are refused, not written.
    pub generation: u64,
    pub batch: CommitBatch,
    /// Every command of the group with its answer, sent once the group is durable.
    pub replies: Vec<(Reply, Result<Appended, AppendError>)>,
    /// Users this group purges: their keys are destroyed once it is durable and before
    /// anyone is answered, so a purge that returned has made their data unreadable (R13).
    pub purged: Vec<UserId>,
}

/// What became of one group, reported back to the writer in log order.
#[derive(Debug)]
pub(crate) enum Outcome {
    Durable,
    /// Not written (nothing of it is in the log): the writer reloads its state.
    NotWritten,
    /// May be in the log or not (a flush failed or a call overran): unknown until a
    /// restart, so the engine refuses writes from now on.
    NotDurable,
}

/// Why a group was not written, as far as the committer knows.
#[derive(Clone, Debug)]
pub(crate) enum WriteFailure {
    /// Nothing of it reached the log.
    NotWritten(String),
    /// The write did not return in time: it may still land.
    Unknown(String),
}

/// A group with the result of writing it.
pub(crate) type Written = (Group, Result<(), WriteFailure>);

pub(crate) struct Committer {
    pub store: Arc<dyn LogStore>,
    pub vault: Arc<KeyVault>,
    pub groups: Receiver<Group>,
    pub written: SyncSender<Written>,
    pub patient: Patient,
}

/// Most groups one store write takes (`Committer::run`): bounds one transaction's size.
const MERGE_MAX: usize = 16;

impl Committer {
    /// Runs until the writer hangs up.
    ///
    /// Every group already waiting when the store is free goes into ONE write. On sled
    /// that is one batch (the flush, not the write, is the costly step, and the flusher
    /// merges those); on PostgreSQL the write IS the commit, and without merging, the
    /// groups the writer decided meanwhile — often a command or two each, the ones that
    /// arrived first — each cost a commit of their own.
    pub fn run(mut self) {
        let mut failed_generation = None;
        while let Ok(first) = self.groups.recv() {
            let mut run = vec![first];
            while run.len() < MERGE_MAX {
                match self.groups.try_recv() {
                    Ok(next) if next.generation == run[0].generation => run.push(next),
                    Ok(other) => {
                        // A new generation starts after a failure: written on its own.
                        if !self.settle(&mut run, &mut failed_generation) {
                            return;
                        }
                        run.push(other);
                    }
                    Err(_) => break,
                }
            }
            if !self.settle(&mut run, &mut failed_generation) {
                return;
            }
        }
    }

    /// Writes the groups of `run` (one generation) together, or refuses them if their
    /// generation failed, and passes each on with the result; `false` once the flusher
    /// has hung up.
    fn settle(&mut self, run: &mut Vec<Group>, failed_generation: &mut Option<u64>) -> bool {
        let Some(generation) = run.first().map(|g| g.generation) else {
            return true;
        };
        let written = if *failed_generation == Some(generation) {
            Err(WriteFailure::NotWritten(
                "an earlier group of the pipeline failed".to_owned(),
            ))
        } else {
            self.write_all(run).inspect_err(|_| {
                *failed_generation = Some(generation);
            })
        };
        run.drain(..)
            .all(|group| self.written.send((group, written.clone())).is_ok())
    }

    /// The batches of `groups` as one store write; each group gets its own events and
    /// commands back afterwards (the later stages count them).
    fn write_all(&mut self, groups: &mut [Group]) -> Result<(), WriteFailure> {
        if let [group] = groups {
            return self.write(&group.batch);
        }
        let mut merged = CommitBatch::default();
        let mut sizes = Vec::with_capacity(groups.len());
        for group in groups.iter_mut() {
            let batch = &mut group.batch;
            sizes.push((batch.events.len(), batch.commands.len()));
            merged.events.append(&mut batch.events);
            merged.commands.append(&mut batch.commands);
            if batch.head.is_some() {
                merged.head = batch.head.clone();
            }
        }
        let written = self.write(&merged);
        let mut events = merged.events.into_iter();
        let mut commands = merged.commands.into_iter();
        for (group, (e, c)) in groups.iter_mut().zip(sizes) {
            group.batch.events.extend(events.by_ref().take(e));
            group.batch.commands.extend(commands.by_ref().take(c));
        }
        written
    }

    /// Writes `batch` within the storage patience.
    fn write(&mut self, batch: &CommitBatch) -> Result<(), WriteFailure> {
        if batch.commands.is_empty() {
            return Ok(());
        }
        let (store, vault) = (self.store.as_ref(), self.vault.as_ref());
        // A key is a file of its own beside sled: a block of the disk each.
        let bytes = batch.bytes() + 4096 * vault.unsynced_keys() as u64;
        let called = self.patient.run("writing a group to the log", bytes, || {
            // Keys sealing this group's events become durable before the events do.
            match vault.sync() {
                Err(e) => Err(WriteFailure::NotWritten(e.to_string())),
                Ok(()) => store
                    .write(batch)
                    .map_err(|e| failed_write(store, batch, e)),
            }
        });
        called.unwrap_or_else(|why| Err(WriteFailure::Unknown(why)))
    }
}

/// A store write that failed promised nothing was written, but sled applies a batch's
/// inserts one by one and may fail halfway (its global error after a full disk): if the
/// batch's first event can be read back (or the store cannot even be asked), part of
/// it may be in the log, and the writer must not rebuild its state from what it sees.
fn failed_write(store: &dyn LogStore, batch: &CommitBatch, error: StoreError) -> WriteFailure {
    let first = batch.events.first().map(|e| e.position);
    match first.map(|position| store.get(position)) {
        None | Some(Ok(None)) => WriteFailure::NotWritten(error.to_string()),
        Some(Ok(Some(_))) | Some(Err(_)) => WriteFailure::Unknown(format!(
            "writing a group to the log failed partway, so what it left is unknown: {error}"
        )),
    }
}

pub(crate) struct Syncer {
    pub store: Arc<dyn LogStore>,
    pub vault: Arc<KeyVault>,
    pub stats: Arc<WriterStats>,
    pub metrics: Arc<EngineMetrics>,
    pub committed: Arc<watch::Sender<u64>>,
    pub flushed: Receiver<Flushed>,
    pub outcomes: UnboundedSender<Outcome>,
    pub health: Arc<Health>,
    pub patient: Patient,
}

impl Syncer {
    /// Runs until the flusher hangs up.
    pub fn run(mut self) {
        let mut broken: Option<String> = None;
        while let Ok(first) = self.flushed.recv() {
            // Every round already flushed shares this one device sync.
            let rounds: Vec<Flushed> = std::iter::once(first)
                .chain(self.flushed.try_iter())
                .collect();
            let needs_sync = rounds.iter().any(Flushed::needs_sync);
            let commands = rounds.iter().map(Flushed::commands).sum();
            let flush_took = rounds.iter().map(|r| r.took).sum();
            let bytes = rounds.iter().map(|r| r.bytes).sum();
            let synced = match &broken {
                Some(why) => Err(why.clone()),
                None if needs_sync => self.sync(commands, bytes, flush_took).inspect_err(|why| {
                    broken = Some(why.clone());
                    self.health.refuse(Refusal::storage(why.clone()));
                }),
                None => Ok(()),
            };
            let synced = match synced {
                Ok(()) if needs_sync => self.note_head(&rounds).inspect_err(|why| {
                    broken = Some(why.clone());
                    self.health.refuse(Refusal::storage(why.clone()));
                }),
                other => other,
            };
            // Outcomes go back in log order: the writer matches them to its groups.
            for Flushed { round, flushed, .. } in rounds {
                let durable = flushed.and(synced.clone());
                for (group, written) in round {
                    match (written, &durable) {
                        (Ok(()), Ok(())) => match self.destroy_purged_keys(&group) {
                            Ok(()) => self.answer(group),
                            Err(why) => {
                                broken = Some(why.clone());
                                self.health.refuse(Refusal::storage(why.clone()));
                                self.unknown(group, &why);
                            }
                        },
                        (Ok(()), Err(why)) => self.unknown(group, why),
                        (Err(WriteFailure::Unknown(why)), _) => {
                            self.health.refuse(Refusal::storage(why.clone()));
                            self.unknown(group, &why);
                        }
                        (Err(WriteFailure::NotWritten(why)), _) => self.not_written(group, &why),
                    }
                }
            }
        }
    }

    /// One device sync for the rounds' `commands`, within the patience; the metric
    /// counts the rounds' write-out (`flush_took`) too, so it stays "flush to durable".
    fn sync(&mut self, commands: usize, bytes: u64, flush_took: Duration) -> Result<(), String> {
        let store = self.store.as_ref();
        let started = Instant::now();
        let synced = if store.durable_when_written() {
            // Committed when written: nothing to sync.
            Ok(Ok(()))
        } else {
            self.patient
                .run("syncing the log", bytes, || store.sync_flushed())
        };
        match synced {
            Ok(Ok(())) => {
                self.metrics
                    .flushed(started.elapsed() + flush_took, commands);
                self.stats.flushes.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(format!("a sync of the log failed: {e}")),
            Err(why) => Err(why),
        }
    }

    /// Notes the head of the last group the rounds made durable (`store::head_note`),
    /// before anyone hears of it: a log later found shorter than the note lost
    /// acknowledged commands. A failed note costs only that detection, so it is logged,
    /// not answered; a note that overruns the patience (a frozen disk: the `pwrite`
    /// waits as long as the disk does) is a stall like any storage call, and the rounds'
    /// commands hear `outcome_unknown`.
    fn note_head(&mut self, rounds: &[Flushed]) -> Result<(), String> {
        let durable = rounds.iter().filter(|r| r.flushed.is_ok());
        let groups = durable.flat_map(|r| r.round.iter());
        let written = groups.filter(|(_, written)| written.is_ok());
        let mut heads = written.filter_map(|(g, _)| g.batch.head.as_ref());
        let Some(head) = heads.next_back() else {
            return Ok(());
        };
        let store = self.store.as_ref();
        let noted = self
            .patient
            .run("noting the log's head", 0, || store.note_head(head))?;
        if let Err(e) = noted {
            tracing::warn!(
                "offboard: the head note was not written ({e}); a later loss of the log's tail up to position {} may go unnoticed",
                head.last_position
            );
        }
        Ok(())
    }

    /// The group may or may not be in the log: its commands hear exactly that.
    fn unknown(&self, group: Group, why: &str) {
        let _ = self.outcomes.send(Outcome::NotDurable);
        for (reply, result) in group.replies {
            let answer = match result {
                Ok(_) => Err(AppendError::OutcomeUnknown(why.to_owned())),
                rejected => rejected,
            };
            let _ = reply.send(answer);
        }
    }

    /// Destroys the keys of the users a durable group purges, before anyone hears of it
    /// (`Group::purged`), each within the storage patience. A key leaves memory first,
    /// so nothing reads the data even if its file cannot be removed now (opening the
    /// engine retries the file): a failure is logged. `Err` only for a destruction past
    /// the patience (a frozen disk): a stall like any storage call's, and the group's
    /// commands hear `outcome_unknown` — their purge is durable, the key file's fate not
    /// known.
    fn destroy_purged_keys(&mut self, group: &Group) -> Result<(), String> {
        for &user in &group.purged {
            let vault = self.vault.as_ref();
            let destroyed = self.patient.run("destroying a purged user's key", 0, || {
                vault.destroy_user_key(user)
            })?;
            if let Err(e) = destroyed {
                tracing::warn!("offboard: key file of purged user {user} not removed yet (retried at next start): {e}");
            }
        }
        Ok(())
    }

    fn answer(&self, group: Group) {
        self.stats
            .events
            .fetch_add(group.batch.events.len() as u64, Ordering::Relaxed);
        let answered = group.replies.iter().filter(|(_, r)| r.is_ok()).count() as u64;
        self.stats.commands.fetch_add(answered, Ordering::Relaxed);
        if let Some(head) = &group.batch.head {
            self.committed.send_replace(head.last_position);
        }
        let _ = self.outcomes.send(Outcome::Durable);
        for (reply, result) in group.replies {
            // A caller that stopped waiting still had its command committed.
            let _ = reply.send(result);
        }
    }

    /// Nothing of the group reached the log: its commands hear `storage`.
    fn not_written(&self, group: Group, message: &str) {
        let _ = self.outcomes.send(Outcome::NotWritten);
        for (reply, result) in group.replies {
            let answer = match result {
                Ok(_) => Err(AppendError::Storage(StoreError::Io(message.to_owned()))),
                rejected => rejected,
            };
            let _ = reply.send(answer);
        }
    }
}
