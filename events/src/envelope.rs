//! The envelope (R24): one event with everything an auditor or a downstream system needs
//! to place it — where it is in the log, which org and stream, who did it and on whose
//! behalf, which command and business operation caused it, and its link in the hash chain.
//!
//! Wire shape (stable JSON; keys sorted in the stored canonical form):
//! `{position, org_id, stream_id, stream_version, event_id, event_type, schema_version,
//!   occurred_at, actor, on_behalf_of, command_id, correlation_id, causation_id, data,
//!   prev_hash, hash}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::actor::Actor;
use crate::canonical;
use crate::event::Event;
use crate::ids::{CommandId, CorrelationId, EventId, OrgId, StreamId, UserId};
use crate::stored::{self, StoredEnvelope};
use crate::upcast::DecodeError;

/// One stored event with its metadata. `position` is the global, gapless, 1-based order
/// of the log; `stream_version` is the 1-based order within `stream_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub position: u64,
    pub org_id: OrgId,
    pub stream_id: StreamId,
    pub stream_version: u64,
    pub event_id: EventId,
    pub occurred_at: DateTime<Utc>,
    /// Who acted (R5).
    pub actor: Actor,
    /// The deactivated user an admin acted for (R6), if any.
    pub on_behalf_of: Option<UserId>,
    /// The command that produced this event (idempotency key).
    pub command_id: CommandId,
    /// The business operation (e.g. one offboarding) this event is part of.
    pub correlation_id: CorrelationId,
    /// What directly caused this event: the command's id for events a command decided.
    pub causation_id: Uuid,
    /// Hex SHA-256 of the previous event ([`canonical::GENESIS_HASH`] for position 1).
    pub prev_hash: String,
    /// Hex SHA-256 of this envelope's canonical bytes (which include `prev_hash`).
    pub hash: String,
    pub event: Event,
}

#[derive(Serialize)]
struct WireRef<'a> {
    position: u64,
    org_id: OrgId,
    stream_id: &'a StreamId,
    stream_version: u64,
    event_id: EventId,
    event_type: &'static str,
    schema_version: u32,
    occurred_at: DateTime<Utc>,
    actor: &'a Actor,
    on_behalf_of: Option<UserId>,
    command_id: CommandId,
    correlation_id: CorrelationId,
    causation_id: Uuid,
    data: &'a Event,
    prev_hash: &'a str,
    hash: &'a str,
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireRef {
            position: self.position,
            org_id: self.org_id,
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            event_id: self.event_id,
            event_type: self.event.event_type(),
            schema_version: self.event.schema_version(),
            occurred_at: self.occurred_at,
            actor: &self.actor,
            on_behalf_of: self.on_behalf_of,
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            data: &self.event,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
        .serialize(s)
    }
}

/// A stored envelope with its payload still raw, so the payload can be decoded by its
/// type tag and upcast from its stored schema version.
#[derive(Debug, Deserialize)]
pub struct RawEnvelope<'a> {
    pub position: u64,
    pub org_id: OrgId,
    pub stream_id: StreamId,
    pub stream_version: u64,
    pub event_id: EventId,
    pub event_type: String,
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub on_behalf_of: Option<UserId>,
    pub command_id: CommandId,
    pub correlation_id: CorrelationId,
    pub causation_id: Uuid,
    #[serde(borrow)]
    pub data: &'a RawValue,
    pub prev_hash: String,
    pub hash: String,
}

impl<'a> RawEnvelope<'a> {
    /// Parses an envelope's JSON, leaving `data` undecoded.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Envelope(e.to_string()))
    }

    /// Decodes the payload (upcasting it if it is an older version).
    pub fn decode(self) -> Result<Envelope, DecodeError> {
        let data = self.data.get();
        self.decode_with(data)
    }

    /// Decodes `data` in place of the stored payload: for readers that transform the
    /// stored payload first (e.g. unsealing personal data).
    pub fn decode_with(self, data: &str) -> Result<Envelope, DecodeError> {
        let event = Event::decode(&self.event_type, self.schema_version, data)?;
        Ok(Envelope {
            position: self.position,
            org_id: self.org_id,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            event_id: self.event_id,
            occurred_at: self.occurred_at,
            actor: self.actor,
            on_behalf_of: self.on_behalf_of,
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            prev_hash: self.prev_hash,
            hash: self.hash,
            event,
        })
    }
}

impl Envelope {
    /// Reads an envelope from its JSON (stored or wire form), upcasting old payloads.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        RawEnvelope::parse(bytes)?.decode()
    }

    /// The envelope as a JSON value (wire shape).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an envelope always serializes")
    }

    /// The hash this envelope must carry given its contents and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        canonical::envelope_hash(&self.to_value())
    }

    /// Sets `hash` from the contents and returns the stored bytes.
    pub fn seal_hash(&mut self) -> Vec<u8> {
        self.seal_hash_with(|_, _| Ok::<(), std::convert::Infallible>(()))
            .unwrap_or_else(|never| match never {})
    }

    /// Like [`Envelope::seal_hash`], but lets `store_form` rewrite the payload's JSON
    /// first, given the event type (e.g. to encrypt personal data): the hash covers the
    /// stored form.
    ///
    /// The bytes are the binary [`StoredEnvelope`]; the hash is SHA-256 of the
    /// envelope's canonical JSON either way. Only an envelope whose `prev_hash` is not a
    /// lowercase hex SHA-256 (never one the writer builds) is stored as canonical JSON.
    pub fn seal_hash_with<E>(
        &mut self,
        store_form: impl FnOnce(&str, &mut serde_json::Value) -> Result<(), E>,
    ) -> Result<Vec<u8>, E> {
        let mut data = serde_json::to_value(&self.event).expect("an event always serializes");
        store_form(self.event.event_type(), &mut data)?;
        let mut text = Vec::with_capacity(256);
        canonical::write_canonical(&data, &mut text);
        let text = String::from_utf8(text).expect("JSON is UTF-8");
        let Some(mut stored) = StoredEnvelope::from_envelope(self, text) else {
            let mut value = self.to_value();
            value["data"] = data;
            let (canonical, at) = canonical::canonical_without_hash_at(&value);
            self.hash = canonical::sha256_hex(&canonical);
            return Ok(canonical::with_hash_member(&canonical, at, &self.hash));
        };
        stored.hash = stored.computed_hash();
        let (hash, bytes) = (stored.hash, stored.encode());
        self.hash = canonical::hash_hex(&hash);
        Ok(bytes)
    }

    /// Reads stored bytes: the binary [`StoredEnvelope`], or JSON (stored by earlier
    /// builds, or the wire form), upcasting old payloads.
    pub fn from_stored(bytes: &[u8]) -> Result<Self, DecodeError> {
        if stored::is_binary(bytes) {
            StoredEnvelope::parse(bytes)?.decode()
        } else {
            Self::from_json(bytes)
        }
    }
}
