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
}

impl ReadError {
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::Storage(e) => e.code(),
            ReadError::Decode { .. } => "log_unreadable",
        }
    }
}

/// Decodes one stored envelope, unsealing personal data with `vault`.
pub fn decode(vault: &KeyVault, position: u64, bytes: &[u8]) -> Result<Envelope, ReadError> {
    seal::decode(bytes, vault).map_err(|error| ReadError::Decode { position, error })
}

/// Calls `visit` with every envelope from `from` to `to` (inclusive), in order.
pub fn for_each_envelope(
    store: &dyn LogStore,
    vault: &KeyVault,
    from: u64,
    to: u64,
    visit: &mut dyn FnMut(Envelope),
) -> Result<(), ReadError> {
    let mut failure = None;
    store.scan(
        from,
        to,
        &mut |position, bytes| match decode(vault, position, bytes) {
            Ok(envelope) => {
                visit(envelope);
                true
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        },
    )?;
    failure.map_or(Ok(()), Err)
}

/// Applies every event after `state.position()` to `state`; returns how many it applied.
pub fn replay_all(
    store: &dyn LogStore,
    vault: &KeyVault,
    state: &mut State,
) -> Result<u64, ReadError> {
    let mut applied = 0;
    for_each_envelope(
        store,
        vault,
        state.position() + 1,
        u64::MAX,
        &mut |envelope| {
            state.apply(&envelope);
            applied += 1;
        },
    )?;
    Ok(applied)
}
