//! Sealing and unsealing the `profile` of the events that carry personal data.
//!
//! Stored form: `"profile": {"sealed": "<base64 of nonce ++ ciphertext>"}`, encrypted
//! with the user's key. Read form: the plaintext profile, or every field `erased` once
//! the key is destroyed. Everything else in the envelope stays readable, and the hash is
//! computed over the stored (sealed) form.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use offboard_events::{stored, DecodeError, Envelope, RawEnvelope, StoredEnvelope, UserId};
use offboard_projections::ERASED;
use serde_json::{json, Value};

use super::vault::KeyVault;
use crate::store::StoreError;

/// The event types whose payload has a `user_id` and a `profile`.
const PROFILE_EVENTS: &[&str] = &["UserInvited", "UserProfileChanged"];

fn user_of(data: &Value) -> Option<UserId> {
    data.get("user_id")?.as_str()?.parse().ok()
}

/// Replaces the plaintext profile in an event's payload (`data`, of type `event_type`)
/// by its sealed form.
pub fn seal(event_type: &str, data: &mut Value, vault: &KeyVault) -> Result<(), StoreError> {
    if !PROFILE_EVENTS.contains(&event_type) {
        return Ok(());
    }
    let user = user_of(data)
        .ok_or_else(|| StoreError::Io("a profile event without a user id".to_owned()))?;
    let profile = data["profile"].take();
    let plaintext = serde_json::to_vec(&profile).expect("a JSON value always serializes");
    let key = vault.key_for_sealing(user)?;
    data["profile"] = json!({ "sealed": STANDARD.encode(key.encrypt(&plaintext)) });
    Ok(())
}

/// Decodes stored envelope bytes (binary or JSON), unsealing the profile with the
/// user's key, or reading it as erased when the key is gone (R13).
pub fn decode(bytes: &[u8], vault: &KeyVault) -> Result<Envelope, DecodeError> {
    if stored::is_binary(bytes) {
        let envelope = StoredEnvelope::parse(bytes)?;
        return match unsealed(&envelope.event_type, &envelope.data, vault)? {
            Some(data) => envelope.decode_with(&data),
            None => envelope.decode(),
        };
    }
    let raw = RawEnvelope::parse(bytes)?;
    match unsealed(&raw.event_type, raw.data.get(), vault)? {
        Some(data) => raw.decode_with(&data),
        None => raw.decode(),
    }
}

/// The payload with its profile opened (or erased), if it is a sealed one.
fn unsealed(event_type: &str, data: &str, vault: &KeyVault) -> Result<Option<String>, DecodeError> {
    if !(PROFILE_EVENTS.contains(&event_type) && data.contains("\"sealed\"")) {
        return Ok(None);
    }
    let mut data: Value =
        serde_json::from_str(data).map_err(|e| DecodeError::Envelope(e.to_string()))?;
    let opened = user_of(&data)
        .and_then(|user| vault.user_key(user))
        .zip(
            data["profile"]["sealed"]
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok()),
        )
        .and_then(|(key, sealed)| key.decrypt(&sealed))
        .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok());
    data["profile"] = opened
        .unwrap_or_else(|| json!({ "email": ERASED, "first_name": ERASED, "last_name": ERASED }));
    Ok(Some(data.to_string()))
}
