//! Upcasting: old payload shapes are rewritten to today's shape on read, one version
//! step at a time, so stored events are never rewritten and projections only ever see
//! current types.
//!
//! To change a payload: bump its version in `event.rs` and add the step from the old
//! version here. Every step is a pure function on JSON.

use serde_json::{json, Value};

/// Why a stored event could not be read as a current [`crate::Event`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("{event_type} v{version} is newer than this build understands (v{current}); upgrade offboard")]
    FromTheFuture {
        event_type: String,
        version: u32,
        current: u32,
    },
    #[error("no upcaster for {event_type} v{version}")]
    NoUpcaster { event_type: String, version: u32 },
    #[error("{event_type} payload does not match its schema: {message}")]
    Payload { event_type: String, message: String },
    #[error("envelope is not valid JSON: {0}")]
    Envelope(String),
}

/// Rewrites `data`, written as `event_type` v`from`, to v`to`.
pub fn upcast(event_type: &str, from: u32, to: u32, mut data: Value) -> Result<Value, DecodeError> {
    for version in from..to {
        data = step(event_type, version, data)?;
    }
    Ok(data)
}

/// One step: `event_type` v`version` → v`version + 1`.
fn step(event_type: &str, version: u32, data: Value) -> Result<Value, DecodeError> {
    match (event_type, version) {
        ("UserInvited", 1) => Ok(user_invited_v1_to_v2(data)),
        _ => Err(DecodeError::NoUpcaster {
            event_type: event_type.to_owned(),
            version,
        }),
    }
}

/// v1 stored `name` ("First Last") and `email` at the top level and had no job title.
/// v2 keeps personal data together in `profile` (so it can be sealed and erased as one)
/// and splits the name at its last space: "Mary Ann Smith" → "Mary Ann" / "Smith".
fn user_invited_v1_to_v2(mut data: Value) -> Value {
    let take = |v: &mut Value, key: &str| {
        v.as_object_mut()
            .and_then(|o| o.remove(key))
            .and_then(|s| s.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let name = take(&mut data, "name");
    let email = take(&mut data, "email");
    let (first, last) = match name.trim().rsplit_once(' ') {
        Some((first, last)) => (first.trim().to_owned(), last.to_owned()),
        None => (name.trim().to_owned(), String::new()),
    };
    if let Some(obj) = data.as_object_mut() {
        obj.insert(
            "profile".to_owned(),
            json!({ "email": email, "first_name": first, "last_name": last }),
        );
    }
    data
}
