//! Reading the log back into envelopes and folding it into projections.

use offboard_events::{DecodeError, Envelope};
use offboard_projections::State;

use crate::privacy::{seal, KeyVault};
use crate::store::{LogStore, StoreError};

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error("event at position {position} cannot be read: {error}")]
    Decode { position: u64, error: DecodeError },
    /// Something durable says the log went further than it does, or recorded another
    /// hash for one of its events (see `engine::claims`).
    #[error(transparent)]
    Integrity(crate::integrity::VerifyError),
}

impl ReadError {
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::Storage(e) => e.code(),
            ReadError::Decode { .. } => "log_unreadable",
            ReadError::Integrity(e) => e.code(),
        }
    }
}

/// Decodes one stored envelope, unsealing personal data with `vault`.
pub fn decode(vault: &KeyVault, position: u64, bytes: &[u8]) -> Result<Envelope, ReadError> {
    seal::decode(bytes, vault).map_err(|e| match e {
        seal::OpenError::Decode(error) => ReadError::Decode { position, error },
        seal::OpenError::Key(fault) => ReadError::Storage(fault.into()),
    })
}

/// Calls `visit` with every envelope from `from` to `to` (inclusive), in order.
pub fn for_each_envelope(
    store: &dyn LogStore,
    vault: &KeyVault,
    from: u64,
    to: u64,
    visit: &mut dyn FnMut(Envelope),
) -> Result<(), ReadError> {
    scan_envelopes(store, vault, from, to, &mut |envelope| {
        visit(envelope);
        true
    })
}

/// Decodes the envelopes from `from` to `to` in order while `visit` returns `true`.
fn scan_envelopes(
    store: &dyn LogStore,
    vault: &KeyVault,
    from: u64,
    to: u64,
    visit: &mut dyn FnMut(Envelope) -> bool,
) -> Result<(), ReadError> {
    let mut failure = None;
    store.scan(
        from,
        to,
        &mut |position, bytes| match decode(vault, position, bytes) {
            Ok(envelope) => visit(envelope),
            Err(e) => {
                failure = Some(e);
                false
            }
        },
    )?;
    failure.map_or(Ok(()), Err)
}

/// Envelopes per hand-over between the decoding and the applying thread of a replay.
const REPLAY_BATCH: usize = 1024;

/// Batches decoded but not yet applied: enough to ride out uneven batches, little memory.
const REPLAY_AHEAD: usize = 4;

/// [`for_each_envelope`] on two threads: one scans the log and decodes (the larger
/// half of the work: JSON and unsealing), the caller's thread runs `visit` on the
/// envelopes in order. For replays (rebuild, start-up), where both halves are busy.
///
/// Applied batches go back to the decoding thread to be dropped: memory freed by a
/// thread other than the one that allocated it takes that thread's allocator lock, and
/// with every envelope freed across threads the pipeline was no faster than one thread
/// (measured: 1M events, 2.0-2.4 s either way).
pub fn replay_range(
    store: &dyn LogStore,
    vault: &KeyVault,
    from: u64,
    to: u64,
    visit: &mut dyn FnMut(&Envelope),
) -> Result<(), ReadError> {
    let (batches, decoded) = std::sync::mpsc::sync_channel::<Vec<Envelope>>(REPLAY_AHEAD);
    let (spent, applied) = std::sync::mpsc::channel::<Vec<Envelope>>();
    std::thread::scope(|scope| {
        let decoder = scope.spawn(move || {
            let mut batch = Vec::with_capacity(REPLAY_BATCH);
            let scanned = scan_envelopes(store, vault, from, to, &mut |envelope| {
                batch.push(envelope);
                if batch.len() < REPLAY_BATCH {
                    return true;
                }
                // Reuse an applied batch's vector once its envelopes are dropped here.
                let empty = match applied.try_recv() {
                    Ok(mut old) => {
                        old.clear();
                        old
                    }
                    Err(_) => Vec::with_capacity(REPLAY_BATCH),
                };
                let full = std::mem::replace(&mut batch, empty);
                // The applying side hung up (it panicked): stop scanning.
                batches.send(full).is_ok()
            });
            // What decoded before a bad event is still applied, as in `for_each_envelope`.
            if !batch.is_empty() {
                let _ = batches.send(batch);
            }
            scanned
        });
        for batch in decoded {
            batch.iter().for_each(&mut *visit);
            // Dropped by the decoder if it is still running, else here.
            let _ = spent.send(batch);
        }
        decoder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Applies every event after `state.position()` to `state`; returns how many it applied.
pub fn replay_all(
    store: &dyn LogStore,
    vault: &KeyVault,
    state: &mut State,
) -> Result<u64, ReadError> {
    let mut applied = 0;
    replay_range(
        store,
        vault,
        state.position() + 1,
        u64::MAX,
        &mut |envelope| {
            state.apply(envelope);
            applied += 1;
        },
    )?;
    Ok(applied)
}
