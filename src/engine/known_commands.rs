//! The command ids the command-id index may hold, kept in memory so that the writer asks
//! the store only about ids it may know.
//!
//! Before deciding a group the writer looks up each command id in the index, to answer a
//! retry with its first result. Almost every id is new, and on a log that has outgrown
//! sled's page cache each lookup of a new id reads index pages back from the file on the
//! writer's thread: over HTTP, 64 clients went from 19,600 to 14,200 commands/s while
//! the log grew from 5,000 to 245,000 commands (`docs/performance.md`, 2026-12-02).
//!
//! The set holds 64 bits of each id (their random part), about 9–18 bytes per command
//! (18 MB for a million). A loader thread reads every id the store holds when the writer
//! starts, and the writer notes each id it decides from the start, so once the loader is
//! done the set holds every stored id: an id it lacks is not stored, and is not looked
//! up. Until then, or if the store cannot list its index (the loader failed), every id
//! is looked up as before. Two ids sharing those 64 bits only cost a lookup.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use offboard_events::CommandId;

use crate::store::LogStore;

/// Ids the loader reads before it adds them to the set at once (the writer waits for the
/// set's lock at most that long).
const LOAD_CHUNK: usize = 4096;

/// The ids of commands the store may hold; see the module's documentation.
#[derive(Debug, Default)]
pub(crate) struct KnownCommands {
    /// Set once the loader has added every id the store held when it began.
    complete: AtomicBool,
    ids: Mutex<HashSet<u64, foldhash::fast::FixedState>>,
}

impl KnownCommands {
    /// An empty set and a thread (`offboard-commands`) that reads the store's index into
    /// it. If the thread cannot start, or the store cannot list its index, the set never
    /// completes and every id is looked up.
    ///
    /// The thread holds the set weakly: once the writer drops it (the engine closes), the
    /// thread stops at its next chunk and lets go of the store, so the directory can be
    /// opened again at once.
    pub fn load(store: Arc<dyn LogStore>) -> Arc<Self> {
        let known = Arc::new(Self::default());
        let loading = Arc::downgrade(&known);
        let started = std::thread::Builder::new()
            .name("offboard-commands".to_owned())
            .spawn(move || read_index(&loading, store.as_ref()));
        if let Err(e) = started {
            tracing::warn!(error = %e, "offboard: every command id will be looked up in the log (the thread listing them did not start)");
        }
        known
    }

    /// Notes `id` as possibly stored (the writer, for each command it decides).
    pub fn note(&self, id: CommandId) {
        self.lock().insert(bits(id));
    }

    /// Whether the store may hold `id`: `false` only once the set is complete and lacks it.
    pub fn may_hold(&self, id: CommandId) -> bool {
        !self.complete.load(Ordering::Acquire) || self.lock().contains(&bits(id))
    }

    /// Whether the loader has read the whole index.
    #[cfg(test)]
    pub fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<u64, foldhash::fast::FixedState>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Adds every id `store` lists to `known`, a chunk at a time, then marks it complete;
/// stops early once `known` is dropped.
fn read_index(known: &Weak<KnownCommands>, store: &dyn LogStore) {
    let mut chunk = Vec::with_capacity(LOAD_CHUNK);
    let mut dropped = false;
    let listed = store.scan_commands(&mut |id, _| {
        chunk.push(bits(id));
        if chunk.len() < LOAD_CHUNK {
            return true;
        }
        match known.upgrade() {
            Some(known) => {
                known.lock().extend(chunk.drain(..));
                true
            }
            None => {
                dropped = true;
                false
            }
        }
    });
    match (listed, known.upgrade()) {
        (Ok(()), Some(known)) if !dropped => {
            known.lock().extend(chunk);
            known.complete.store(true, Ordering::Release);
        }
        (Err(e), Some(_)) => {
            tracing::info!(error = %e, "offboard: every command id will be looked up in the log");
        }
        _ => {}
    }
}

/// The id's last 64 bits: random in every version offboard makes (v4, v7, and v8 from a
/// hashed `Idempotency-Key`).
fn bits(id: CommandId) -> u64 {
    id.0.as_u64_pair().1
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::store::{CommandRecord, CommitBatch, MemoryLog};

    fn complete(known: &KnownCommands) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !known.is_complete() {
            assert!(Instant::now() < deadline, "the loader never finished");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn once_loaded_it_holds_every_stored_and_every_noted_id_and_nothing_else() {
        // Given a store holding 10,000 command ids,
        let store = Arc::new(MemoryLog::default());
        let stored: Vec<CommandId> = (0..10_000).map(|_| CommandId::new()).collect();
        let mut batch = CommitBatch::default();
        for id in &stored {
            let record = CommandRecord {
                fingerprint: String::new(),
                correlation_id: offboard_events::CorrelationId(id.0),
                positions: None,
            };
            batch.commands.push((*id, record));
        }
        store.write(&batch).unwrap();
        // when the set is loaded from it while the writer notes a new id,
        let known = KnownCommands::load(store);
        let decided = CommandId::new();
        let stranger = CommandId::new();
        known.note(decided);
        complete(&known);
        // then every stored and noted id may be held, and a new one is known absent.
        assert!(stored.iter().all(|id| known.may_hold(*id)));
        assert!(known.may_hold(decided));
        assert!(!known.may_hold(stranger));
    }

    #[test]
    fn until_loaded_every_id_may_be_held() {
        // A set whose loader has not finished (or failed) knows nothing yet.
        let known = KnownCommands::default();
        known.note(CommandId::new());
        assert!(known.may_hold(CommandId::new()));
    }
}
