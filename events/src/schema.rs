//! JSON Schema of the wire envelope and of every event payload, generated from the Rust
//! types so the published contract cannot drift from the code. The checked-in copy lives
//! in `events/schema/envelope.schema.json`; a test fails when it is stale, and
//! `OFFBOARD_WRITE_SCHEMA=1 cargo test -p offboard-events` rewrites it.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use uuid::Uuid;

use crate::actor::Actor;
use crate::event::EventWire;
use crate::ids::{CommandId, CorrelationId, EventId, OrgId, StreamId, UserId};

/// The wire envelope as the schema describes it: the metadata plus `event_type` and
/// `data`, one alternative per event type. Mirrors `Envelope`'s `Serialize`.
// Public only for its `JsonSchema` impl, so other documents (the server's OpenAPI) embed
// the same contract; it is never built.
#[derive(JsonSchema)]
#[schemars(title = "offboard event envelope")]
#[allow(dead_code, missing_debug_implementations)]
pub struct EnvelopeWire {
    /// Global, gapless, 1-based position in the log.
    position: u64,
    org_id: OrgId,
    stream_id: StreamId,
    /// 1-based version of the event within its stream.
    stream_version: u64,
    event_id: EventId,
    /// Schema version of `data` for its `event_type`.
    schema_version: u32,
    occurred_at: DateTime<Utc>,
    actor: Actor,
    on_behalf_of: Option<UserId>,
    command_id: CommandId,
    correlation_id: CorrelationId,
    causation_id: Uuid,
    /// Hex SHA-256 of the previous envelope (64 zeros before the first).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    prev_hash: String,
    /// Hex SHA-256 of this envelope's canonical JSON (sorted keys, no `hash`).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    hash: String,
    #[serde(flatten)]
    event: EventWire,
}

/// A user's personal data as it travels: in plaintext (opened by the API and the stream,
/// or a v1 log written before profiles were sealed) or sealed under the user's key, as the
/// log stores it and `offboard export` writes it.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, missing_debug_implementations)]
pub enum ProfileWire {
    Plain(crate::user::Profile),
    Sealed {
        /// Base64 (standard alphabet, padded) of the 24-byte nonce followed by the
        /// XChaCha20-Poly1305 ciphertext of the plaintext profile's JSON.
        #[schemars(regex(pattern = r"^[A-Za-z0-9+/]+={0,2}$"))]
        sealed: String,
    },
}

/// Names each alternative of the envelope's `oneOf` after its event type (`title:
/// "UserInvitedEvent"`), so generated clients get one named type per event instead of
/// `EnvelopeType0…31`.
pub fn title_event_alternatives(schema: &mut schemars::Schema) {
    let Some(alternatives) = schema.get_mut("oneOf").and_then(|v| v.as_array_mut()) else {
        return;
    };
    for alternative in alternatives {
        let name = alternative
            .pointer("/properties/event_type/const")
            .and_then(serde_json::Value::as_str)
            .map(|t| format!("{t}Event"));
        if let (Some(name), Some(map)) = (name, alternative.as_object_mut()) {
            map.insert("title".into(), name.into());
        }
    }
}

/// Matches the text form of a UUID, so validators that skip `format` still check it.
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Closes the contract: an object schema that lists its properties accepts no others
/// (`additionalProperties: false`), except where serde flattens alternatives into it
/// (properties beside `oneOf`/`anyOf`/`allOf`): there the object says
/// `unevaluatedProperties: false` and its partial alternatives stay open, since each
/// sees the whole object. UUIDs gain a `pattern`. Public so every document embedding
/// the envelope (the server's OpenAPI) closes it the same way.
pub fn close_contract(schema: &mut serde_json::Value) {
    close(schema, false);
}

fn close(schema: &mut serde_json::Value, partial: bool) {
    use serde_json::Value;
    match schema {
        Value::Object(map) => {
            let combined = ["oneOf", "anyOf", "allOf"]
                .iter()
                .any(|k| map.contains_key(*k));
            let listed = map.contains_key("properties");
            if map.get("format").and_then(Value::as_str) == Some("uuid") {
                map.entry("pattern").or_insert_with(|| UUID_PATTERN.into());
            }
            let open = map.contains_key("additionalProperties")
                || map.contains_key("unevaluatedProperties")
                || map.contains_key("patternProperties");
            if listed && !open && !partial {
                let key = if combined {
                    "unevaluatedProperties"
                } else {
                    "additionalProperties"
                };
                map.insert(key.into(), Value::Bool(false));
            }
            for (key, value) in map.iter_mut() {
                let branch = matches!(key.as_str(), "oneOf" | "anyOf" | "allOf");
                match value {
                    Value::Array(items) if branch => {
                        items.iter_mut().for_each(|s| close(s, listed))
                    }
                    // `properties`, `$defs`: maps from names to schemas.
                    Value::Object(named) if key == "properties" || key == "$defs" => {
                        named.values_mut().for_each(|s| close(s, false))
                    }
                    _ if key == "items" || key == "additionalProperties" => close(value, false),
                    _ => {}
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|s| close(s, false)),
        _ => {}
    }
}

/// The schema as pretty JSON, exactly as checked in (with a trailing newline).
pub fn envelope_schema_json() -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(EnvelopeWire))
        .expect("a schema always serializes");
    close_contract(&mut schema);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    text.push('\n');
    text
}
