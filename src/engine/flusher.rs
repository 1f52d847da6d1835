//! The third stage of the writer's pipeline, between the committer and the syncer: it
//! hands every group already written to the operating system with one
//! [`LogStore::flush`] (sled's write-out) and passes them on. Making them durable is the
//! syncer's [`LogStore::sync_flushed`] (the device flush, `fdatasync`), so while the
//! disk makes group N stable, group N+1 is already being written out: a round costs the
//! longer of the two instead of their sum (measured in docs/performance.md).
//!
//! A failed or overrunning flush leaves what reached the disk unknown: from then on every
//! round is passed on with that failure and the engine refuses writes, as after a failed
//! sync.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::committer::Written;
use super::health::{Health, Refusal};
use super::patience::Patient;
use crate::store::LogStore;

/// Groups flushed together, with the flush's outcome and how long it took.
pub(crate) struct Flushed {
    pub round: Vec<Written>,
    /// Whether any group of the round wrote commands (an empty round flushes nothing).
    pub wrote: bool,
    /// `Err` says why what the round wrote is not known to have reached the disk.
    pub flushed: Result<(), String>,
    pub took: Duration,
    /// About how many bytes the round's written groups hold
    /// ([`crate::store::CommitBatch::bytes`]): the syncer's patience grows with it.
    pub bytes: u64,
}

impl Flushed {
    /// Whether the round wrote anything the syncer must make durable.
    pub fn needs_sync(&self) -> bool {
        self.flushed.is_ok() && self.wrote
    }

    /// Commands of the round that will be answered `Ok` once it is durable.
    pub fn commands(&self) -> usize {
        self.round
            .iter()
            .filter(|(_, written)| written.is_ok())
            .map(|(g, _)| g.replies.iter().filter(|(_, r)| r.is_ok()).count())
            .sum()
    }
}

/// About how many bytes the groups of `round` that were written hold.
fn written_bytes(round: &[Written]) -> u64 {
    round
        .iter()
        .filter(|(_, written)| written.is_ok())
        .map(|(g, _)| g.batch.bytes())
        .sum()
}

pub(crate) struct Flusher {
    pub store: Arc<dyn LogStore>,
    pub written: Receiver<Written>,
    pub flushed: SyncSender<Flushed>,
    pub health: Arc<Health>,
    pub patient: Patient,
}

impl Flusher {
    /// Runs until the committer hangs up.
    pub fn run(mut self) {
        let mut broken: Option<String> = None;
        while let Ok(first) = self.written.recv() {
            // Every group already written shares this round's one flush.
            let round: Vec<Written> = std::iter::once(first)
                .chain(self.written.try_iter())
                .collect();
            let wrote = round
                .iter()
                .any(|(g, written)| written.is_ok() && !g.batch.commands.is_empty());
            let bytes = written_bytes(&round);
            let started = Instant::now();
            let flushed = match &broken {
                Some(why) => Err(why.clone()),
                None if wrote => self.flush(bytes).inspect_err(|why| {
                    broken = Some(why.clone());
                    self.health.refuse(Refusal::storage(why.clone()));
                }),
                None => Ok(()),
            };
            let took = started.elapsed();
            if self
                .flushed
                .send(Flushed {
                    round,
                    wrote,
                    flushed,
                    took,
                    bytes,
                })
                .is_err()
            {
                return;
            }
        }
    }

    /// One write-out for the round, within the patience (none when the store's writes
    /// are durable already).
    fn flush(&mut self, bytes: u64) -> Result<(), String> {
        if self.store.durable_when_written() {
            return Ok(());
        }
        let store = self.store.as_ref();
        match self
            .patient
            .run("flushing the log", bytes, || store.flush())
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("a flush of the log failed: {e}")),
            Err(why) => Err(why),
        }
    }
}
