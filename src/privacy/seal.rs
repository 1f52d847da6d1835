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
use crate::store::{who, SideFileError, StoreError};

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

/// Why stored envelope bytes could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The user's key is there but does not open their sealed profile.
    #[error(transparent)]
    Key(SideFileError),
}

/// Decodes stored envelope bytes (binary or JSON), unsealing the profile with the
/// user's key, or reading it as erased when the key is gone (R13). A key that is there
/// but does not open the profile is an error, never read as erased.
pub fn decode(bytes: &[u8], vault: &KeyVault) -> Result<Envelope, OpenError> {
    if stored::is_binary(bytes) {
        let envelope = StoredEnvelope::parse(bytes)?;
        return Ok(
            match unsealed(&envelope.event_type, &envelope.data, vault)? {
                Some(data) => envelope.decode_with(&data),
                None => envelope.decode(),
            }?,
        );
    }
    let raw = RawEnvelope::parse(bytes)?;
    Ok(match unsealed(&raw.event_type, raw.data.get(), vault)? {
        Some(data) => raw.decode_with(&data),
        None => raw.decode(),
    }?)
}

/// How a profile event stored its personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredProfile {
    /// Sealed under the user's key: `nonce ++ ciphertext`.
    Sealed { user: UserId, sealed: Vec<u8> },
    /// In plaintext (a v1 `UserInvited`, written before profiles were sealed): no key
    /// protects it and no purge can erase it.
    Plain { user: UserId },
}

impl StoredProfile {
    /// Whose profile it is.
    pub fn user(&self) -> UserId {
        match self {
            StoredProfile::Sealed { user, .. } | StoredProfile::Plain { user } => *user,
        }
    }
}

/// The profile stored in envelope bytes, if they hold a profile event.
pub fn stored_profile(bytes: &[u8]) -> Result<Option<StoredProfile>, DecodeError> {
    let (event_type, data) = stored_payload(bytes)?;
    if !PROFILE_EVENTS.contains(&event_type.as_str()) {
        return Ok(None);
    }
    let Some(user) = user_of(&data) else {
        return Ok(None);
    };
    Ok(Some(match data["profile"]["sealed"].as_str() {
        Some(sealed) => StoredProfile::Sealed {
            user,
            sealed: STANDARD.decode(sealed).unwrap_or_default(),
        },
        None => StoredProfile::Plain { user },
    }))
}

/// The event type and stored payload (profile still sealed) of envelope bytes.
pub fn stored_payload(bytes: &[u8]) -> Result<(String, Value), DecodeError> {
    let (event_type, data) = if stored::is_binary(bytes) {
        let envelope = StoredEnvelope::parse(bytes)?;
        (envelope.event_type.to_string(), envelope.data.to_string())
    } else {
        let raw = RawEnvelope::parse(bytes)?;
        (raw.event_type, raw.data.get().to_owned())
    };
    let data = serde_json::from_str(&data).map_err(|e| DecodeError::Envelope(e.to_string()))?;
    Ok((event_type, data))
}

/// The user id a payload names in `user_id`.
pub fn payload_user(data: &Value) -> Option<UserId> {
    user_of(data)
}

/// The payload with its profile opened (or erased), if it is a sealed one.
fn unsealed(event_type: &str, data: &str, vault: &KeyVault) -> Result<Option<String>, OpenError> {
    if !(PROFILE_EVENTS.contains(&event_type) && data.contains("\"sealed\"")) {
        return Ok(None);
    }
    let mut data: Value =
        serde_json::from_str(data).map_err(|e| DecodeError::Envelope(e.to_string()))?;
    let user = user_of(&data);
    let key = user.and_then(|user| vault.user_key(user));
    let opened = match (user, key) {
        (Some(user), Some(key)) => {
            let opened = data["profile"]["sealed"]
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .and_then(|sealed| key.decrypt(&sealed))
                .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok());
            match opened {
                Some(opened) => Some(opened),
                // Sealed before an import that went without the user's key; a key
                // created since opens only what came after.
                None if vault.is_withheld(user) => None,
                None => return Err(OpenError::Key(key_does_not_open(user, vault))),
            }
        }
        _ => None,
    };
    data["profile"] = opened
        .unwrap_or_else(|| json!({ "email": ERASED, "first_name": ERASED, "last_name": ERASED }));
    Ok(Some(data.to_string()))
}

/// The fault of a key that does not open its user's sealed profile.
pub fn key_does_not_open(user: UserId, vault: &KeyVault) -> SideFileError {
    SideFileError::KeyDamaged {
        user,
        who: who(user, None),
        file: vault.place(user),
        problem: "the key does not open the user's sealed personal data (run `offboard verify`: if the log is intact, the key file was altered)".to_owned(),
    }
}
