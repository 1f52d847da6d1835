//! The Standard Webhooks headers of one delivery: `webhook-id`, `webhook-timestamp`
//! (Unix seconds) and `webhook-signature`, `v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">` once per live secret, space-separated, so a receiver still
//! holding the previous secret verifies during a rotation's overlap window.
//!
//! Signed with `hmac` over `sha2` rather than the `standardwebhooks` crate's `sign`: that
//! one copies the body into a `format!` string and hashes it with `hmac-sha256`, a
//! portable SHA-256 that never uses the CPU's SHA instructions — 40 % of the CPU of a
//! delivery (`callgrind`, see docs/performance.md). The bytes signed and the header are
//! the specification's; the tests verify every signature with `standardwebhooks`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use offboard_events::Envelope;
use sha2::Sha256;
use uuid::Uuid;

pub use standardwebhooks::{HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

/// What a secret starts with (Standard Webhooks); the rest is base64 of the key.
const SECRET_PREFIX: &str = "whsec_";

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
/// for the JSON bodies offboard sends; the specification signs text).
pub fn headers(
    secrets: &[String],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<[(&'static str, String); 3], String> {
    std::str::from_utf8(body).map_err(|_| "cannot sign: the body is not UTF-8".to_owned())?;
    let timestamp = timestamp.to_string();
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        signatures.push(sign(secret, id, &timestamp, body)?);
    }
    Ok([
        (HEADER_WEBHOOK_ID, id.to_owned()),
        (HEADER_WEBHOOK_TIMESTAMP, timestamp),
        (HEADER_WEBHOOK_SIGNATURE, signatures.join(" ")),
    ])
}

/// `v1,` + base64 of HMAC-SHA256 keyed by `secret` over `id.timestamp.body`, fed in
/// pieces (the body is not copied).
fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> Result<String, String> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("cannot sign: {e}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
        mac.update(part);
    }
    let tag = mac.finalize().into_bytes();
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    ))
}

#[cfg(test)]
mod tests {
    use standardwebhooks::Webhook;

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

    /// The reference crate's own `sign` gives the very same header, byte for byte.
    #[test]
    fn signatures_are_the_reference_crates_byte_for_byte() {
        let secret = super::super::secret::generate();
        let body = r#"{"event_type":"ResourcesRegistered","data":{"resources":["é:1"]}}"#;
        let ours = headers(
            std::slice::from_ref(&secret),
            "msg_a_b",
            1_700_000_000,
            body.as_bytes(),
        )
        .unwrap();
        let reference = Webhook::new(&secret)
            .unwrap()
            .sign("msg_a_b", 1_700_000_000, body.as_bytes())
            .unwrap();
        assert_eq!(ours[2], (HEADER_WEBHOOK_SIGNATURE, reference));
        assert_eq!(ours[1].1, "1700000000");
    }

    #[test]
    fn a_body_that_is_not_utf8_or_a_bad_secret_is_refused() {
        let secret = super::super::secret::generate();
        assert!(headers(&[secret], "msg_1", 1, &[0xff, 0xfe]).is_err());
        assert!(headers(&["whsec_not base64!".to_owned()], "msg_1", 1, b"{}").is_err());
    }
}
