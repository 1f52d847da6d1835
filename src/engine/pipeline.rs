//! Starting the writer and its pipeline (committer, flusher, syncer, checkpointer) on
//! the parts of an engine: at open for the leader, and again on a follower that takes
//! over (`node.rs`). The writer starts from the log's head as stored then.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::checkpoint::Checkpoints;
use super::checkpointer::Checkpointer;
use super::committer::{Committer, Syncer};
use super::flusher::Flusher;
use super::health::Health;
use super::known_commands::KnownCommands;
use super::metrics::EngineMetrics;
use super::patience::{Stall, Watchdog};
use super::replay::{decode, ReadError};
use super::shared_state::SharedState;
use super::writer::{self, Job, Writer, WriterStats};
use super::{Options, QUEUE_DEPTH};
use crate::clock::Clock;
use crate::privacy::KeyVault;
use crate::store::{LogStore, StoreError};

/// What the writer's pipeline shares with the engine; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Parts {
    pub store: Arc<dyn LogStore>,
    pub state: Arc<SharedState>,
    pub clock: Arc<dyn Clock>,
    pub stats: Arc<WriterStats>,
    pub metrics: Arc<EngineMetrics>,
    pub vault: Arc<KeyVault>,
    pub checkpoints: Arc<Checkpoints>,
    pub health: Arc<Health>,
    /// The last durable position applied to `state`: moved by the syncer while this node
    /// writes, by the follower's tail while it does not.
    pub committed: Arc<watch::Sender<u64>>,
    pub options: Options,
    /// The running writer, if this node writes.
    pub writer: Arc<WriterSlot>,
}

/// The running writer: where commands go, its pipeline's stall signal (a command
/// waiting for its answer listens to it too: `patience.rs`), and its thread.
#[derive(Debug)]
pub(crate) struct WriterRun {
    pub tx: mpsc::Sender<Job>,
    pub stall: Stall,
    pub thread: JoinHandle<()>,
}

/// The writer, once started; empty on a follower and after shutdown.
pub(crate) type WriterSlot = RwLock<Option<WriterRun>>;

impl Parts {
    /// Starts the writer from the stored head and puts it in the slot.
    ///
    /// Errors: the head's event cannot be read, or a thread cannot start.
    pub fn start_writer(&self) -> Result<(), ReadError> {
        let run = self.spawn_writer()?;
        *self.writer.write().unwrap_or_else(|p| p.into_inner()) = Some(run);
        Ok(())
    }

    /// Takes the writer out of the slot (new commands are answered `closed` or, on a node
    /// that stepped down, `not_leader`), lets it finish the group in hand and waits.
    pub fn stop_writer(&self) {
        let run = self
            .writer
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(run) = run {
            drop(run.tx);
            let _ = run.thread.join();
        }
    }

    fn spawn_writer(&self) -> Result<WriterRun, ReadError> {
        let head = self.store.head()?;
        let last_time = match self.store.get(head.last_position)? {
            Some(bytes) => decode(&self.vault, head.last_position, &bytes)?.occurred_at,
            None => DateTime::<Utc>::MIN_UTC,
        };
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let (to_committer, groups) = std::sync::mpsc::sync_channel(writer::MAX_IN_FLIGHT);
        let (written_tx, written) = std::sync::mpsc::sync_channel(writer::MAX_IN_FLIGHT);
        let (flushed_tx, flushed) = std::sync::mpsc::sync_channel(writer::MAX_IN_FLIGHT);
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let (patience, slowest) = (self.options.storage_patience, self.options.slowest_disk);
        let (watchdog, stall) = Watchdog::new(Arc::clone(&self.health));
        let patient = || watchdog.patient(patience, slowest);
        let committer = Committer {
            store: Arc::clone(&self.store),
            vault: Arc::clone(&self.vault),
            groups,
            written: written_tx,
            patient: patient(),
        };
        let flusher = Flusher {
            store: Arc::clone(&self.store),
            written,
            flushed: flushed_tx,
            health: Arc::clone(&self.health),
            patient: patient(),
        };
        let syncer = Syncer {
            store: Arc::clone(&self.store),
            vault: Arc::clone(&self.vault),
            stats: Arc::clone(&self.stats),
            metrics: Arc::clone(&self.metrics),
            committed: Arc::clone(&self.committed),
            flushed,
            outcomes: outcomes_tx,
            health: Arc::clone(&self.health),
            patient: patient(),
        };
        watchdog.start(patience).map_err(spawn_error)?;
        let checkpointer = Checkpointer::start(
            Arc::clone(&self.store),
            Arc::clone(&self.vault),
            Arc::clone(&self.checkpoints),
        )?;
        let stages = vec![
            spawn("offboard-committer", move || committer.run())?,
            spawn("offboard-flusher", move || flusher.run())?,
            spawn("offboard-syncer", move || syncer.run())?,
        ];
        let durable = head.last_position;
        self.stats.assigned.store(durable, Ordering::Relaxed);
        let writer = Writer {
            store: Arc::clone(&self.store),
            state: Arc::clone(&self.state),
            clock: Arc::clone(&self.clock),
            head,
            stats: Arc::clone(&self.stats),
            last_time,
            rx,
            checkpoints: Arc::clone(&self.checkpoints),
            checkpointer,
            checkpoint_asked: 0,
            vault: Arc::clone(&self.vault),
            purged: Vec::new(),
            purge_since_checkpoint: false,
            max_group: self.options.max_group.max(1),
            pipelined: self.options.pipelined,
            to_committer: Some(to_committer),
            outcomes,
            stall: stall.clone(),
            stalled: false,
            stages,
            in_flight: Default::default(),
            pending: HashMap::new(),
            known: KnownCommands::load(Arc::clone(&self.store)),
            generation: 0,
            reload: false,
            health: Arc::clone(&self.health),
            durable,
            unknown: Default::default(),
            roll_back: false,
        };
        let thread = spawn("offboard-writer", move || writer.run())?;
        Ok(WriterRun { tx, stall, thread })
    }
}

fn spawn_error(e: std::io::Error) -> StoreError {
    StoreError::Io(format!("cannot start the writer thread: {e}"))
}

fn spawn(name: &str, run: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(run)
        .map_err(spawn_error)
}
