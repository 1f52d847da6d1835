//! Checkpoints: the whole state as bytes, so start-up loads one and replays only the
//! tail of the log.
//!
//! Layout: [`State::VERSION`] as u32 big-endian, the position as u64 big-endian, then
//! the state as JSON. The header lets a reader discard a stale checkpoint without
//! parsing it. Every serialized map is written in key order (a `BTreeMap`, or a hash map
//! sorted on the way out) and every lookup index is left out and rebuilt on load, so two
//! states that applied the same events give the same bytes. The tables that grow with
//! every event are packed ([`crate::packed`]).

use crate::state::State;

const HEADER_LEN: usize = 12;

/// Why checkpoint bytes were not loaded. Every variant means the same to the engine:
/// discard the checkpoint and rebuild from the log.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint is {0} bytes, shorter than its {HEADER_LEN}-byte header")]
    Truncated(usize),
    #[error("checkpoint has version {found}, this build reads version {expected}")]
    VersionMismatch { found: u32, expected: u32 },
    #[error("checkpoint body does not decode: {0}")]
    Corrupt(String),
    #[error("checkpoint header says position {header} but its body is at {body}")]
    PositionMismatch { header: u64, body: u64 },
}

impl State {
    /// The state as checkpoint bytes (deterministic).
    pub fn to_checkpoint_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&Self::VERSION.to_be_bytes());
        bytes.extend_from_slice(&self.position().to_be_bytes());
        serde_json::to_writer(&mut bytes, self).expect("a state always serializes to JSON");
        bytes
    }

    /// The state saved by [`State::to_checkpoint_bytes`] of this same [`State::VERSION`].
    pub fn from_checkpoint_bytes(bytes: &[u8]) -> Result<State, CheckpointError> {
        let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(CheckpointError::Truncated(bytes.len()));
        };
        let (version, position) = header.split_at(4);
        let found = u32::from_be_bytes(version.try_into().expect("4 bytes"));
        if found != Self::VERSION {
            return Err(CheckpointError::VersionMismatch {
                found,
                expected: Self::VERSION,
            });
        }
        let header_position = u64::from_be_bytes(position.try_into().expect("8 bytes"));
        let mut state: State =
            serde_json::from_slice(body).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
        if state.position() != header_position {
            return Err(CheckpointError::PositionMismatch {
                header: header_position,
                body: state.position(),
            });
        }
        state.rebuild().map_err(CheckpointError::Corrupt)?;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_versions_and_short_input() {
        let mut bytes = State::default().to_checkpoint_bytes();
        assert!(State::from_checkpoint_bytes(&bytes).is_ok());
        bytes[3] = bytes[3].wrapping_add(1);
        assert!(matches!(
            State::from_checkpoint_bytes(&bytes),
            Err(CheckpointError::VersionMismatch {
                expected: State::VERSION,
                ..
            })
        ));
        assert!(matches!(
            State::from_checkpoint_bytes(&bytes[..5]),
            Err(CheckpointError::Truncated(5))
        ));
    }

    #[test]
    fn rejects_a_body_that_contradicts_its_header() {
        let mut bytes = State::default().to_checkpoint_bytes();
        bytes[11] = 7;
        assert!(matches!(
            State::from_checkpoint_bytes(&bytes),
            Err(CheckpointError::PositionMismatch { header: 7, body: 0 })
        ));
        let mut bytes = State::default().to_checkpoint_bytes();
        bytes.truncate(HEADER_LEN + 3);
        assert!(matches!(
            State::from_checkpoint_bytes(&bytes),
            Err(CheckpointError::Corrupt(_))
        ));
    }
}
