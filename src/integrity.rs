//! `verify`: walks the whole log and checks that positions are gapless, every envelope's
//! `prev_hash` names the hash before it, and every `hash` matches the envelope's canonical
//! bytes. Works on the stored form (its canonical JSON), never on decoded events, so old
//! schema versions and sealed personal data verify exactly as they were written.

use offboard_events::canonical::{self, envelope_hash, GENESIS_HASH};
use offboard_events::{stored, StoredEnvelope};
use serde::Serialize;
use serde_json::Value;

use crate::store::{LogStore, StoreError};

/// A log that verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub head_hash: String,
}

/// Why verification stopped.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The event at `position` (or the link to it) is not what the chain says.
    #[error("log integrity broken at position {position}: {problem}")]
    Broken { position: u64, problem: String },
    /// The log ends at `log_end`, short of where a durable record or a recorded head
    /// says it went, or with nothing left to vouch for where it ended: what is wrong lies
    /// past its end, so no position is named as broken (a log of 30 events is not broken
    /// "at position 31"); `problem` says where it ends and what is missing.
    #[error("log integrity broken: {problem}")]
    Short { log_end: u64, problem: String },
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl VerifyError {
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Broken { .. } | VerifyError::Short { .. } => "integrity_broken",
            VerifyError::Storage(e) => e.code(),
        }
    }
}

/// Verifies every event; `progress` is called with the position reached now and then.
pub fn verify(
    store: &dyn LogStore,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, VerifyError> {
    let mut expected = 1u64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut broken: Option<(u64, String)> = None;
    store.scan(1, u64::MAX, &mut |position, bytes| match check_one(
        expected, position, &prev_hash, bytes,
    ) {
        Ok(hash) => {
            prev_hash = hash;
            expected = position + 1;
            if position % 65_536 == 0 {
                progress(position);
            }
            true
        }
        Err(problem) => {
            broken = Some((position.min(expected), problem));
            false
        }
    })
    .map_err(|e| match e {
        // Say how far the walk got: everything before it was checked.
        StoreError::Corrupt(why) => StoreError::Corrupt(format!(
            "position {expected} and after cannot be read ({why}); positions 1..{expected} were checked"
        )),
        other => other,
    })?;
    if let Some((position, problem)) = broken {
        return Err(VerifyError::Broken { position, problem });
    }
    let events = expected - 1;
    let head = store.head()?;
    if head.last_position != events || head.last_hash != prev_hash {
        return Err(VerifyError::Broken {
            position: events + 1,
            problem: format!(
                "the stored chain head (position {}, hash {}) does not match the last event (position {events}, hash {prev_hash})",
                head.last_position, head.last_hash
            ),
        });
    }
    progress(events);
    Ok(VerifyReport {
        events,
        head_hash: prev_hash,
    })
}

/// Checks one stored envelope and returns its hash.
fn check_one(
    expected: u64,
    position: u64,
    prev_hash: &str,
    bytes: &[u8],
) -> Result<String, String> {
    if position != expected {
        return Err(format!(
            "position {expected} is missing (next stored is {position})"
        ));
    }
    if stored::is_binary(bytes) {
        let envelope = StoredEnvelope::parse(bytes).map_err(|e| e.to_string())?;
        return check_stored_link(position, prev_hash, &envelope);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    check_link(position, prev_hash, &value)
}

/// [`check_link`] for the binary stored form: the hash is recomputed over the canonical
/// JSON the stored form stands for, exactly as for an envelope stored as JSON.
fn check_stored_link(
    position: u64,
    prev_hash: &str,
    envelope: &StoredEnvelope<'_>,
) -> Result<String, String> {
    if envelope.position != position {
        return Err(format!(
            "the envelope's position field is {}, expected {position}",
            envelope.position
        ));
    }
    if canonical::hash_hex(&envelope.prev_hash) != prev_hash {
        return Err("prev_hash does not name the previous event's hash".to_owned());
    }
    if envelope.computed_hash() != envelope.hash {
        return Err("hash does not match the envelope's contents".to_owned());
    }
    Ok(canonical::hash_hex(&envelope.hash))
}

/// Checks one envelope (as JSON) against its place in the chain: its `position` field,
/// its link to `prev_hash`, and its own `hash`. Returns that hash. Shared by `verify`
/// and by `import-log`, which checks an exported log line by line.
pub fn check_link(position: u64, prev_hash: &str, value: &Value) -> Result<String, String> {
    let found = value.get("position").and_then(Value::as_u64);
    if found != Some(position) {
        return Err(format!(
            "the envelope's position field is {found:?}, expected {position}"
        ));
    }
    if value.get("prev_hash").and_then(Value::as_str) != Some(prev_hash) {
        return Err("prev_hash does not name the previous event's hash".to_owned());
    }
    let stored = value
        .get("hash")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if envelope_hash(value) != stored {
        return Err("hash does not match the envelope's contents".to_owned());
    }
    Ok(stored)
}
