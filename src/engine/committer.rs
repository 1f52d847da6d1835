//! The second and third stages of the writer's pipeline. The committer writes each group
//! the writer decided to the log (one atomic batch); the syncer makes every written group
//! durable with one flush for all of them that are waiting, and only then answers their
//! commands — in log order, so an idempotent retry is never answered before the command
//! it repeats is durable.
//!
//! So while group N is flushed, group N+1 is written and group N+2 decided: the flush's
//! disk latency overlaps with the CPU work of the groups behind it. A group is decided
//! against a state that includes the groups before it, so when one fails to be written,
//! every later group of the same generation fails too; the writer then reloads the state
//! from the log and starts a new generation. After a failed flush, the syncer refuses
//! everything: only a restart knows what reached the disk.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use offboard_events::UserId;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{oneshot, watch};

use super::append::{AppendError, Appended};
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
    /// Written but the flush failed: what is on disk is unknown until a restart.
    NotDurable,
}

/// A group with the result of writing it.
pub(crate) type Written = (Group, Result<(), String>);

pub(crate) struct Committer {
    pub store: Arc<dyn LogStore>,
    pub vault: Arc<KeyVault>,
    pub groups: Receiver<Group>,
    pub written: SyncSender<Written>,
}

impl Committer {
    /// Runs until the writer hangs up.
    pub fn run(self) {
        let mut failed_generation = None;
        while let Ok(group) = self.groups.recv() {
            let written = if failed_generation == Some(group.generation) {
                Err("an earlier group of the pipeline failed".to_owned())
            } else {
                self.write(&group.batch).map_err(|e| {
                    failed_generation = Some(group.generation);
                    e.to_string()
                })
            };
            if self.written.send((group, written)).is_err() {
                return;
            }
        }
    }

    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        if batch.commands.is_empty() {
            return Ok(());
        }
        // Keys sealing this group's events become durable before the events do.
        self.vault.sync()?;
        self.store.write(batch)
    }
}

pub(crate) struct Syncer {
    pub store: Arc<dyn LogStore>,
    pub vault: Arc<KeyVault>,
    pub stats: Arc<WriterStats>,
    pub committed: watch::Sender<u64>,
    pub written: Receiver<Written>,
    pub outcomes: UnboundedSender<Outcome>,
}

impl Syncer {
    /// Runs until the committer hangs up.
    pub fn run(self) {
        let mut broken: Option<String> = None;
        while let Ok(first) = self.written.recv() {
            // Every group already written shares this round's one flush.
            let round: Vec<Written> = std::iter::once(first)
                .chain(self.written.try_iter())
                .collect();
            let needs_sync = round
                .iter()
                .any(|(g, written)| written.is_ok() && !g.batch.commands.is_empty());
            let synced = match &broken {
                Some(why) => Err(why.clone()),
                None if needs_sync => match self.store.sync() {
                    Ok(()) => {
                        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    Err(e) => {
                        let why = format!("written but not made durable: {e}");
                        broken = Some(why.clone());
                        Err(why)
                    }
                },
                None => Ok(()),
            };
            // Outcomes go back in log order: the writer matches them to its groups.
            for (group, written) in round {
                match (written, &synced) {
                    (Ok(()), Ok(())) => self.answer(group),
                    (Ok(()), Err(why)) => self.refuse(group, why, Outcome::NotDurable),
                    (Err(why), _) => self.refuse(group, &why, Outcome::NotWritten),
                }
            }
        }
    }

    fn answer(&self, group: Group) {
        for user in &group.purged {
            // The key leaves memory first, so nothing reads the data even if the file
            // cannot be removed now; opening the engine retries the file.
            if let Err(e) = self.vault.destroy_user_key(*user) {
                eprintln!("offboard: key file of purged user {user} not removed yet (retried at next start): {e}");
            }
        }
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

    fn refuse(&self, group: Group, message: &str, outcome: Outcome) {
        let _ = self.outcomes.send(outcome);
        for (reply, result) in group.replies {
            let answer = match result {
                Ok(_) => Err(AppendError::Storage(StoreError::Io(message.to_owned()))),
                rejected => rejected,
            };
            let _ = reply.send(answer);
        }
    }
}
