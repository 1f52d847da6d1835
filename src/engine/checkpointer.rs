//! The writer's checkpoints, saved on a thread of their own.
//!
//! Saving a checkpoint of a large state takes most of a second (serializing 100 MB of
//! views, encrypting and fsyncing them): done by the writer, that stalled every command
//! for as long, every [`CHECKPOINT_EVERY`](super::checkpoint::CHECKPOINT_EVERY) events
//! (measured on a million-event log, 64 clients: the slowest answer took 1.4 s and
//! throughput fell to a third). The writer now only copies the state at a point of rest
//! (~15 ms for a million events) and hands the copy over; this thread saves it while the
//! writer goes on deciding.
//!
//! A copy that arrives after a newer checkpoint was saved (by a purge, which saves at
//! once, or by `Engine::checkpoint_now`) is dropped by [`Checkpoints::save`], so an older
//! state never replaces a newer one.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use offboard_projections::State;

use super::checkpoint::Checkpoints;
use crate::privacy::KeyVault;
use crate::store::{LogStore, StoreError};

/// The sending end, owned by the writer.
pub(crate) struct Checkpointer {
    copies: Option<SyncSender<State>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the saving thread.
    pub(crate) fn start(
        store: Arc<dyn LogStore>,
        vault: Arc<KeyVault>,
        checkpoints: Arc<Checkpoints>,
    ) -> Result<Self, StoreError> {
        // One copy saving and at most one waiting.
        let (copies, saved) = sync_channel::<State>(1);
        let thread = std::thread::Builder::new()
            .name("offboard-checkpointer".to_owned())
            .spawn(move || {
                for state in saved {
                    if let Err(e) = checkpoints.save(store.as_ref(), &vault, &state) {
                        // A failed checkpoint costs only start-up time: reported, not fatal.
                        tracing::warn!("offboard: checkpoint not saved: {e}");
                    }
                }
            })
            .map_err(|e| StoreError::Io(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self {
            copies: Some(copies),
            thread: Some(thread),
        })
    }

    /// Hands a copy of the state to the saving thread; `false` (and the copy dropped) if
    /// one is already waiting or the thread is gone.
    pub(crate) fn save_later(&self, copy: State) -> bool {
        let Some(copies) = &self.copies else {
            return false;
        };
        match copies.try_send(copy) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Waits for the save in progress, if any, and stops the thread.
    pub(crate) fn finish(&mut self) {
        self.copies = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.finish();
    }
}
