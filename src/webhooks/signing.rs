//! The Standard Webhooks headers of one delivery, signed with the `standardwebhooks`
//! crate (the specification's reference implementation): `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature`, `v1,<base64 HMAC-SHA256
//! of "id.timestamp.body">` once per live secret, space-separated, so a receiver still
//! holding the previous secret verifies during a rotation's overlap window.

use offboard_events::Envelope;
use standardwebhooks::Webhook;
use uuid::Uuid;

pub use standardwebhooks::{HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

/// The `webhook-id` of `event` for subscription `subscription`: the same for every
/// attempt and replay of that pair, so receivers deduplicate on it.
pub fn message_id(subscription: Uuid, event: &Envelope) -> String {
    format!(
        "msg_{}_{}",
        event.event_id.0.simple(),
        subscription.simple()
    )
}

/// The three headers, as `(name, value)`.
///
/// # Errors
/// A secret that is not `whsec_` + base64, or a body that is not UTF-8 (never the case
/// for the JSON bodies offboard sends).
pub fn headers(
    secrets: &[String],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<[(&'static str, String); 3], String> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signed = Webhook::new(secret)
            .and_then(|w| w.sign(id, timestamp, body))
            .map_err(|e| format!("cannot sign: {e}"))?;
        signatures.push(signed);
    }
    Ok([
        (HEADER_WEBHOOK_ID, id.to_owned()),
        (HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string()),
        (HEADER_WEBHOOK_SIGNATURE, signatures.join(" ")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_signs_and_each_verifies_alone() {
        let (old, new) = (
            super::super::secret::generate(),
            super::super::secret::generate(),
        );
        let body = br#"{"position":1}"#;
        let now = chrono::Utc::now().timestamp();
        let headers = headers(&[new.clone(), old.clone()], "msg_1", now, body).unwrap();
        let mut map = axum::http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(name, value.parse().unwrap());
        }
        assert_eq!(
            map[HEADER_WEBHOOK_SIGNATURE]
                .to_str()
                .unwrap()
                .matches("v1,")
                .count(),
            2
        );
        for secret in [old, new] {
            Webhook::new(&secret).unwrap().verify(body, &map).unwrap();
        }
        let stranger = super::super::secret::generate();
        assert!(Webhook::new(&stranger).unwrap().verify(body, &map).is_err());
    }
}
