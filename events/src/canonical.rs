//! Canonical bytes and the hash chain (R24, ARCHITECTURE "Integrity").
//!
//! The canonical form of an envelope is compact JSON with every object's keys sorted, the
//! `hash` field left out. It is computed here explicitly (not by relying on how a JSON
//! map happens to iterate), so a serde feature switched on elsewhere in a build can never
//! change a hash. `hash = SHA-256(canonical bytes)`, and the canonical bytes include
//! `prev_hash`, which links every event to the one before it.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the very first event in a log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Writes `value` as canonical JSON: compact, object keys in byte order.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // Numbers, booleans and null have one compact spelling in serde_json.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // serde_json's string escaping is deterministic; reuse it rather than re-implement it.
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// Canonical bytes of `value` without its top-level `hash` field, and the offset where
/// the `hash` member belongs in key order (so the stored form can be made by splicing
/// it in, without writing everything twice).
pub fn canonical_without_hash_at(value: &Value) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(1024);
    let Value::Object(map) = value else {
        write_canonical(value, &mut out);
        let at = out.len();
        return (out, at);
    };
    let mut entries: Vec<(&String, &Value)> =
        map.iter().filter(|(k, _)| k.as_str() != "hash").collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    let mut at = None;
    for (i, (key, v)) in entries.into_iter().enumerate() {
        if at.is_none() && key.as_bytes() > b"hash".as_slice() {
            at = Some(out.len());
        }
        if i > 0 {
            out.push(b',');
        }
        write_string(key, &mut out);
        out.push(b':');
        write_canonical(v, &mut out);
    }
    let at = at.unwrap_or(out.len());
    out.push(b'}');
    (out, at)
}

/// Canonical bytes of `value` without its top-level `hash` field.
pub fn canonical_without_hash(value: &Value) -> Vec<u8> {
    canonical_without_hash_at(value).0
}

/// The stored form: `canonical` (from [`canonical_without_hash_at`]) with the member
/// `"hash":"<hash>"` spliced in at `at`, exactly as [`write_canonical`] would place it.
pub fn with_hash_member(canonical: &[u8], at: usize, hash: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical.len() + hash.len() + 10);
    out.extend_from_slice(&canonical[..at]);
    // `at` is right after `{` (nothing precedes), or right after the member before it.
    let first = at == 1;
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"\"hash\":");
    write_string(hash, &mut out);
    if first && canonical.len() > 2 {
        out.push(b',');
    }
    out.extend_from_slice(&canonical[at..]);
    out
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hash_hex(&Sha256::digest(bytes).into())
}

/// A SHA-256 in lowercase hex. (`hex::encode` goes through a `char` iterator, which was
/// a third of decoding a stored envelope; encoding into a buffer costs a tenth of that.)
pub fn hash_hex(hash: &[u8; 32]) -> String {
    let mut out = [0u8; 64];
    hex::encode_to_slice(hash, &mut out).expect("64 bytes hold 32 in hex");
    String::from_utf8(out.to_vec()).expect("hex is ASCII")
}

/// The hash an envelope (given as JSON, `hash` field ignored) must carry.
pub fn envelope_hash(value: &Value) -> String {
    sha256_hex(&canonical_without_hash(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_depth() {
        let v = json!({"b": 1, "a": {"d": [true, null], "c": "x\"y"}});
        let mut out = Vec::new();
        write_canonical(&v, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":{"c":"x\"y","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn splicing_the_hash_in_equals_writing_it_canonically() {
        for v in [
            json!({"a": 1, "z": 2}),
            json!({"a": 1}),
            json!({"z": 1}),
            json!({}),
            json!({"event_type": "X", "occurred_at": "t", "data": {"hash": 1}}),
        ] {
            let (bytes, at) = canonical_without_hash_at(&v);
            let mut with = v.clone();
            with["hash"] = json!("abc");
            let mut expected = Vec::new();
            write_canonical(&with, &mut expected);
            assert_eq!(
                String::from_utf8(with_hash_member(&bytes, at, "abc")).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }

    #[test]
    fn hash_ignores_the_hash_field_but_covers_everything_else() {
        let a = json!({"position": 1, "prev_hash": GENESIS_HASH, "hash": "whatever"});
        let b = json!({"position": 1, "prev_hash": GENESIS_HASH});
        assert_eq!(envelope_hash(&a), envelope_hash(&b));
        let c = json!({"position": 2, "prev_hash": GENESIS_HASH});
        assert_ne!(envelope_hash(&b), envelope_hash(&c));
    }
}
