//! Sealing and unsealing the `profile` of the events that carry personal data.
//!
//! Stored form: `"profile": {"sealed": "<base64 of nonce ++ ciphertext>"}`, encrypted
//! with the user's key. Read form: the plaintext profile, or every field `erased` once
//! the key is destroyed. Everything else in the envelope stays readable, and the hash is
//! computed over the stored (sealed) form.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use offboard_events::{DecodeError, Envelope, RawEnvelope, UserId};
use offboard_projections::ERASED;
use serde_json::{json, Value};

use super::vault::KeyVault;
use crate::store::StoreError;

/// The event types whose payload has a `user_id` and a `profile`.
const PROFILE_EVENTS: &[&str] = &["UserInvited", "UserProfileChanged"];

fn user_of(data: &Value) -> Option<UserId> {
    data.get("user_id")?.as_str()?.parse().ok()
}

/// Replaces the plaintext profile in an envelope's JSON by its sealed form.
pub fn seal(value: &mut Value, vault: &KeyVault) -> Result<(), StoreError> {
    let is_profile_event = value
        .get("event_type")
        .and_then(Value::as_str)
        .is_some_and(|t| PROFILE_EVENTS.contains(&t));
    if !is_profile_event {
        return Ok(());
    }
    let data = &mut value["data"];
    let user = user_of(data)
        .ok_or_else(|| StoreError::Io("a profile event without a user id".to_owned()))?;
    let profile = data["profile"].take();
    let plaintext = serde_json::to_vec(&profile).expect("a JSON value always serializes");
    let key = vault.key_for_sealing(user)?;
    data["profile"] = json!({ "sealed": STANDARD.encode(key.encrypt(&plaintext)) });
    Ok(())
}

/// Decodes stored envelope bytes, unsealing the profile with the user's key, or
/// reading it as erased when the key is gone (R13).
pub fn decode(bytes: &[u8], vault: &KeyVault) -> Result<Envelope, DecodeError> {
    let raw = RawEnvelope::parse(bytes)?;
    let sealed =
        PROFILE_EVENTS.contains(&raw.event_type.as_str()) && raw.data.get().contains("\"sealed\"");
    if !sealed {
        return raw.decode();
    }
    let mut data: Value =
        serde_json::from_str(raw.data.get()).map_err(|e| DecodeError::Envelope(e.to_string()))?;
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
    raw.decode_with(&data.to_string())
}
