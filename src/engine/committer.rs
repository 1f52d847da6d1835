//! The second stage of the writer's pipeline: it writes the groups the writer decided
//! to the log, makes them durable with one flush for all groups that are waiting, and
//! only then answers their commands — in log order, so an idempotent retry is never
//! answered before the command it repeats is durable.
//!
//! While it writes and flushes, the writer already decides the next group. A group is
//! decided against a state that includes the groups before it, so when one fails to be
//! written, every later group of the same generation fails too; the writer then
//! reloads the state from the log and starts a new generation.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

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

pub(crate) struct Committer {
    pub store: Arc<dyn LogStore>,
    pub vault: Arc<KeyVault>,
    pub stats: Arc<WriterStats>,
    pub committed: watch::Sender<u64>,
    pub groups: Receiver<Group>,
    pub outcomes: Sender<Outcome>,
}

impl Committer {
    /// Runs until the writer hangs up.
    pub fn run(self) {
        let mut failed_generation = None;
        while let Ok(first) = self.groups.recv() {
            // Every group already waiting shares this round's one flush.
            let mut round = Vec::new();
            for group in std::iter::once(first).chain(self.groups.try_iter()) {
                let written = if failed_generation == Some(group.generation) {
                    Err("an earlier group of the pipeline failed".to_owned())
                } else {
                    self.write(&group.batch).map_err(|e| {
                        failed_generation = Some(group.generation);
                        e.to_string()
                    })
                };
                round.push((group, written));
            }
            let needs_sync = round
                .iter()
                .any(|(g, written)| written.is_ok() && !g.batch.commands.is_empty());
            let synced = if needs_sync {
                let synced = self.store.sync().map_err(|e| e.to_string());
                if synced.is_ok() {
                    self.stats.flushes.fetch_add(1, Ordering::Relaxed);
                }
                synced
            } else {
                Ok(())
            };
            // Outcomes go back in log order: the writer matches them to its groups.
            for (group, written) in round {
                match (written, &synced) {
                    (Ok(()), Ok(())) => self.answer(group),
                    (Ok(()), Err(e)) => {
                        failed_generation = Some(group.generation);
                        let message = format!("written but not made durable: {e}");
                        self.refuse(group, &message, Outcome::NotDurable);
                    }
                    (Err(message), _) => self.refuse(group, &message, Outcome::NotWritten),
                }
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
