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
    /// Hex SHA-256 of the previous envelope.
    prev_hash: String,
    /// Hex SHA-256 of this envelope's canonical JSON (sorted keys, no `hash`).
    hash: String,
    #[serde(flatten)]
    event: EventWire,
}

/// The schema as pretty JSON, exactly as checked in (with a trailing newline).
pub fn envelope_schema_json() -> String {
    let schema = schemars::schema_for!(EnvelopeWire);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    text.push('\n');
    text
}
