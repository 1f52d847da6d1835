//! Projection checkpoints: the whole projected state, saved now and then so start-up
//! loads it and replays only the tail of the log.
//!
//! Policy: the writer saves a checkpoint after every [`CHECKPOINT_EVERY`] events it
//! commits (on the checkpointer's thread, from a copy of the state) and when it shuts
//! down cleanly; `rebuild` saves one when it finishes. Each save also writes the head
//! record (`crate::anchor`) at the checkpoint's position. A checkpoint whose version
//! differs from this build's `State::VERSION` or that does not decode is ignored (and
//! replaced by the next save), never trusted; one that claims a position past the log's
//! end, or another hash at its position, stops the engine from opening
//! (`super::claims`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use offboard_projections::State;
use serde::Serialize;

use super::replay::{replay_all, ReadError};
use crate::anchor::{self, HeadRecord};
use crate::privacy::KeyVault;
use crate::store::{CheckpointDir, LogStore, StoreError};

/// The name of the projections' checkpoint (a file in the data directory's `checkpoints/`).
pub const CHECKPOINT_NAME: &str = "projections";

/// Events between two checkpoints the writer takes on its own.
pub const CHECKPOINT_EVERY: u64 = 50_000;

/// How the state was recovered when the engine opened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// The position of the checkpoint loaded, if one was usable.
    pub checkpoint_position: Option<u64>,
    /// Why a stored checkpoint was ignored, if it was.
    pub checkpoint_ignored: Option<String>,
    /// Events replayed on top of the checkpoint (or from position 1).
    pub replayed: u64,
}

/// The stored checkpoint, decrypted and decoded; `Err` says why it is unusable.
pub fn load(
    store: &dyn LogStore,
    vault: &KeyVault,
) -> Result<Option<Result<State, String>>, StoreError> {
    Ok(store
        .checkpoint(CHECKPOINT_NAME)?
        .map(|sealed| open_sealed(sealed, vault)))
}

/// The checkpoint read straight from a data directory's files, without the log: for
/// `Engine::open`, which loads it while sled is still opening (the caller holds the
/// directory's lock, so nothing changes the files meanwhile).
pub fn load_from_files(
    checkpoints: &CheckpointDir,
    vault: &KeyVault,
) -> Result<Option<Result<State, String>>, StoreError> {
    Ok(checkpoints
        .get(CHECKPOINT_NAME)?
        .map(|sealed| open_sealed(sealed, vault)))
}

fn open_sealed(sealed: Vec<u8>, vault: &KeyVault) -> Result<State, String> {
    let mut keys = vault.checkpoint_keys().into_iter().peekable();
    let mut sealed = sealed;
    while let Some(key) = keys.next() {
        // Decryption is in place: keep the sealed bytes only while another key is left.
        let mut attempt = if keys.peek().is_some() {
            sealed.clone()
        } else {
            std::mem::take(&mut sealed)
        };
        if let Some(bytes) = key.decrypt_in_place(&mut attempt) {
            return State::from_checkpoint_bytes(bytes).map_err(|e| e.to_string());
        }
    }
    Err("checkpoint cannot be decrypted with the current checkpoint key".to_owned())
}

/// Takes the checkpoint `loaded` (if usable) and replays the tail up to `last_position`.
pub fn recover(
    store: &dyn LogStore,
    vault: &KeyVault,
    loaded: Option<Result<State, String>>,
    last_position: u64,
) -> Result<(State, Recovery), ReadError> {
    let mut recovery = Recovery::default();
    let mut state = match loaded {
        Some(loaded) => match loaded {
            Ok(state) if state.position() <= last_position => {
                recovery.checkpoint_position = Some(state.position());
                state
            }
            Ok(state) => {
                recovery.checkpoint_ignored = Some(format!(
                    "checkpoint at {} is past the log's end at {last_position}",
                    state.position()
                ));
                State::default()
            }
            Err(why) => {
                // Rebuilt from the log, so nothing is lost; but say so: an unusable
                // checkpoint also claims nothing about how far the log went.
                tracing::warn!(
                    reason = %why,
                    "the projection checkpoint (checkpoints/projections) cannot be used; rebuilding the projections from the whole log"
                );
                recovery.checkpoint_ignored = Some(why);
                State::default()
            }
        },
        None => State::default(),
    };
    recovery.replayed = replay_all(store, vault, &mut state)?;
    Ok((state, recovery))
}

/// The last checkpoint saved or loaded, shared by the writer and
/// `Engine::checkpoint_now`. Its lock keeps two saves from interleaving (each replaces
/// the key, then the file: interleaved, the file could end up under a key no longer
/// kept), and its position spares the writer saving the same state again at shutdown
/// (after `rebuild`, a 1M-event log wrote its 91 MB checkpoint twice).
#[derive(Debug)]
pub struct Checkpoints {
    /// Read on every turn of the writer's loop, so never behind the save lock (a save
    /// of a large state takes most of a second).
    last: AtomicU64,
    saving: Mutex<()>,
    /// When the last checkpoint was saved or loaded (its own lock: a scrape of the
    /// checkpoint's age must not wait for a save).
    saved_at: Mutex<Instant>,
}

impl Checkpoints {
    /// `loaded_at`: the position of the checkpoint start-up loaded (0 if none).
    pub fn new(loaded_at: u64) -> Self {
        Self {
            last: AtomicU64::new(loaded_at),
            saving: Mutex::new(()),
            saved_at: Mutex::new(Instant::now()),
        }
    }

    /// The position of the last checkpoint saved or loaded.
    pub fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// Saves `state` as the checkpoint, unless a later one was saved meanwhile: a copy
    /// the writer handed to the checkpointer may wait behind a save of a newer state (a
    /// purge's, whose whole point is that no plaintext of the purged user survives in a
    /// readable checkpoint), and must not replace it.
    pub fn save(
        &self,
        store: &dyn LogStore,
        vault: &KeyVault,
        state: &State,
    ) -> Result<(), StoreError> {
        let _one_at_a_time = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        if state.position() < self.last() {
            return Ok(());
        }
        save(store, vault, state)?;
        self.last.fetch_max(state.position(), Ordering::AcqRel);
        *self.saved_at.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        Ok(())
    }

    /// Time since the last checkpoint was saved, or loaded when the engine opened
    /// (`offboard_checkpoint_age_seconds`).
    pub fn age(&self) -> Duration {
        self.saved_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }
}

/// Saves `state` as the checkpoint, encrypted under a fresh checkpoint key (the views
/// hold personal data in plaintext; replacing the key makes every earlier checkpoint
/// unreadable, including copies sled keeps in old segments), then the head record at its
/// position: the checkpoint's claim, kept where no key rotation can make it unreadable.
/// The new key replaces the old one only once the new file is durable: a save that fails
/// (a full disk) leaves the previous checkpoint and its key as they were.
fn save(store: &dyn LogStore, vault: &KeyVault, state: &State) -> Result<(), StoreError> {
    let key = vault.next_checkpoint_key()?;
    store.put_checkpoint(CHECKPOINT_NAME, &key.encrypt(&state.to_checkpoint_bytes()))?;
    vault.install_checkpoint_key(key)?;
    let record = match (state.position(), state.hash()) {
        (0, _) => HeadRecord::empty(),
        // A state loaded from an earlier build's checkpoint, with no event since, does
        // not know its hash: the log does.
        (position, "") => HeadRecord {
            position,
            hash: anchor::hash_at(store, position)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "position {position} is checkpointed but not stored"
                ))
            })?,
        },
        (position, hash) => HeadRecord {
            position,
            hash: hash.to_owned(),
        },
    };
    anchor::save_record(store, &record)
}

#[cfg(test)]
mod tests {
    use offboard_events::{Actor, OrgId, UserActivated, UserId};
    use uuid::Uuid;

    use super::*;
    use crate::store::MemoryLog;
    use crate::{AppendRequest, CommandMeta, Engine};

    async fn touch(engine: &Engine, n: u128) {
        let meta = CommandMeta::new(OrgId(Uuid::from_u128(1)), Actor::System);
        let event = UserActivated {
            user_id: UserId(Uuid::from_u128(n)),
        };
        let request = AppendRequest {
            meta,
            expected: Vec::new(),
            events: vec![event.into()],
        };
        engine.append(request).await.unwrap();
    }

    #[tokio::test]
    async fn an_older_state_never_replaces_a_newer_checkpoint() {
        let engine = Engine::in_memory();
        touch(&engine, 1).await;
        let older = engine.state().clone();
        touch(&engine, 2).await;
        let newer = engine.state().clone();

        let (store, vault) = (MemoryLog::new(), KeyVault::in_memory());
        let checkpoints = Checkpoints::new(0);
        checkpoints.save(&store, &vault, &newer).unwrap();
        // A copy that waited behind the newer save arrives late.
        checkpoints.save(&store, &vault, &older).unwrap();
        let loaded = load(&store, &vault).unwrap().unwrap().unwrap();
        assert_eq!(loaded.position(), newer.position());
        assert_eq!(checkpoints.last(), newer.position());
    }
}
