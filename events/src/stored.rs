//! The stored form of an envelope: its metadata in a fixed binary layout, its payload as
//! canonical JSON text (sealed where it carries personal data).
//!
//! Why not JSON for the whole envelope: reading a log back is bounded by decoding it, and
//! an 850-byte canonical JSON envelope (sorted keys, six UUIDs and two hashes as text, a
//! timestamp to parse) took ~2.6 µs to decode; the metadata here takes a few loads.
//! The payload stays JSON because it is what old schema versions are upcast from and
//! what personal data is sealed in.
//!
//! The hash chain does not change: `hash` is still SHA-256 of the envelope's canonical
//! JSON without `hash` ([`crate::canonical`]). [`StoredEnvelope::canonical_json`] writes
//! exactly those bytes from the stored form (tested against the JSON path for every
//! event type), so the writer and `verify` hash the same bytes by construction, and an
//! export is the canonical JSON an auditor can re-hash with any tool.
//!
//! Layout, integers little-endian, UUIDs as their 16 bytes:
//! `FORMAT` · position u64 · org_id · stream_version u64 · event_id · schema_version u32
//! · occurred_at (seconds i64, nanoseconds u32) · command_id · correlation_id ·
//! causation_id · prev_hash [32] · hash [32] · on_behalf_of (0, or 1 + UUID) · actor kind
//! u8 (+ UUID for a user) · stream_id, event_type, actor name (each u32 length + UTF-8;
//! the name empty unless support or auditor) · the payload's canonical JSON to the end.
//! Envelopes stored as JSON by earlier builds start with `{` and are still read.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::actor::Actor;
use crate::canonical;
use crate::envelope::{Envelope, RawEnvelope};
use crate::event::Event;
use crate::ids::{CommandId, CorrelationId, EventId, OrgId, StreamId, UserId};
use crate::upcast::DecodeError;

/// First byte of a binary stored envelope (JSON starts with `{`).
pub const FORMAT: u8 = 0xB1;

const ACTOR_USER: u8 = 0;
const ACTOR_SUPPORT: u8 = 1;
const ACTOR_AUDITOR: u8 = 2;
const ACTOR_SYSTEM: u8 = 3;
const ACTOR_PROVISIONER: u8 = 4;

/// Whether `bytes` are a binary stored envelope (rather than JSON).
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.first() == Some(&FORMAT)
}

/// An envelope as stored: metadata decoded, payload still canonical JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEnvelope<'a> {
    pub position: u64,
    pub org_id: OrgId,
    pub stream_id: Cow<'a, str>,
    pub stream_version: u64,
    pub event_id: EventId,
    pub event_type: Cow<'a, str>,
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub on_behalf_of: Option<UserId>,
    pub command_id: CommandId,
    pub correlation_id: CorrelationId,
    pub causation_id: Uuid,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    /// The payload's canonical JSON, as stored (sealed where it carries personal data).
    pub data: Cow<'a, str>,
}

impl<'a> StoredEnvelope<'a> {
    /// The stored form of `env` with `data` as its stored payload and `hash` zero (to be
    /// computed); `None` if `prev_hash` is not a lowercase hex SHA-256.
    pub(crate) fn from_envelope(env: &'a Envelope, data: String) -> Option<Self> {
        Some(StoredEnvelope {
            position: env.position,
            org_id: env.org_id,
            stream_id: Cow::Borrowed(&env.stream_id.0),
            stream_version: env.stream_version,
            event_id: env.event_id,
            event_type: Cow::Borrowed(env.event.event_type()),
            schema_version: env.event.schema_version(),
            occurred_at: env.occurred_at,
            actor: env.actor.clone(),
            on_behalf_of: env.on_behalf_of,
            command_id: env.command_id,
            correlation_id: env.correlation_id,
            causation_id: env.causation_id,
            prev_hash: hash_bytes(&env.prev_hash)?,
            hash: [0; 32],
            data: Cow::Owned(data),
        })
    }

    /// The stored form of an envelope read from JSON (an imported log), if it can be
    /// stored in binary without changing a byte of what its hash covers. Its payload is
    /// taken as written: a payload that is not canonical JSON fails the hash check and
    /// the envelope stays JSON.
    pub fn from_raw(raw: &'a RawEnvelope<'_>) -> Option<Self> {
        let stored = StoredEnvelope {
            position: raw.position,
            org_id: raw.org_id,
            stream_id: Cow::Borrowed(&raw.stream_id.0),
            stream_version: raw.stream_version,
            event_id: raw.event_id,
            event_type: Cow::Borrowed(&raw.event_type),
            schema_version: raw.schema_version,
            occurred_at: raw.occurred_at,
            actor: raw.actor.clone(),
            on_behalf_of: raw.on_behalf_of,
            command_id: raw.command_id,
            correlation_id: raw.correlation_id,
            causation_id: raw.causation_id,
            prev_hash: hash_bytes(&raw.prev_hash)?,
            hash: hash_bytes(&raw.hash)?,
            data: Cow::Borrowed(raw.data.get()),
        };
        (stored.computed_hash() == stored.hash).then_some(stored)
    }

    /// Reads the binary stored form.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader { bytes, at: 0 };
        if r.u8()? != FORMAT {
            return Err(damaged("not a binary stored envelope"));
        }
        let position = r.u64()?;
        let org_id = OrgId(r.uuid()?);
        let stream_version = r.u64()?;
        let event_id = EventId(r.uuid()?);
        let schema_version = r.u32()?;
        let (seconds, nanos) = (r.u64()? as i64, r.u32()?);
        let occurred_at = DateTime::from_timestamp(seconds, nanos)
            .ok_or_else(|| damaged("the time is out of range"))?;
        let command_id = CommandId(r.uuid()?);
        let correlation_id = CorrelationId(r.uuid()?);
        let causation_id = r.uuid()?;
        let prev_hash = r.array()?;
        let hash = r.array()?;
        let on_behalf_of = match r.u8()? {
            0 => None,
            1 => Some(UserId(r.uuid()?)),
            _ => return Err(damaged("bad on_behalf_of flag")),
        };
        let kind = r.u8()?;
        let actor_id = if kind == ACTOR_USER {
            Some(UserId(r.uuid()?))
        } else {
            None
        };
        let stream_id = r.str()?;
        let event_type = r.str()?;
        let name = r.str()?;
        let actor = match (kind, actor_id) {
            (ACTOR_USER, Some(id)) => Actor::User { id },
            (ACTOR_SUPPORT, _) => Actor::Support {
                name: name.to_owned(),
            },
            (ACTOR_AUDITOR, _) => Actor::Auditor {
                name: name.to_owned(),
            },
            (ACTOR_SYSTEM, _) => Actor::System,
            (ACTOR_PROVISIONER, _) => Actor::Provisioner {
                name: name.to_owned(),
            },
            _ => return Err(damaged("unknown actor kind")),
        };
        let data =
            std::str::from_utf8(&bytes[r.at..]).map_err(|_| damaged("the payload is not UTF-8"))?;
        Ok(Self {
            position,
            org_id,
            stream_id: Cow::Borrowed(stream_id),
            stream_version,
            event_id,
            event_type: Cow::Borrowed(event_type),
            schema_version,
            occurred_at,
            actor,
            on_behalf_of,
            command_id,
            correlation_id,
            causation_id,
            prev_hash,
            hash,
            data: Cow::Borrowed(data),
        })
    }

    /// The binary stored form.
    pub fn encode(&self) -> Vec<u8> {
        let name = match &self.actor {
            Actor::Support { name } | Actor::Auditor { name } | Actor::Provisioner { name } => {
                name.as_str()
            }
            Actor::User { .. } | Actor::System => "",
        };
        let mut out = Vec::with_capacity(
            230 + self.stream_id.len() + self.event_type.len() + name.len() + self.data.len(),
        );
        out.push(FORMAT);
        out.extend_from_slice(&self.position.to_le_bytes());
        out.extend_from_slice(self.org_id.0.as_bytes());
        out.extend_from_slice(&self.stream_version.to_le_bytes());
        out.extend_from_slice(self.event_id.0.as_bytes());
        out.extend_from_slice(&self.schema_version.to_le_bytes());
        out.extend_from_slice(&self.occurred_at.timestamp().to_le_bytes());
        out.extend_from_slice(&self.occurred_at.timestamp_subsec_nanos().to_le_bytes());
        out.extend_from_slice(self.command_id.0.as_bytes());
        out.extend_from_slice(self.correlation_id.0.as_bytes());
        out.extend_from_slice(self.causation_id.as_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&self.hash);
        match self.on_behalf_of {
            None => out.push(0),
            Some(user) => {
                out.push(1);
                out.extend_from_slice(user.0.as_bytes());
            }
        }
        match &self.actor {
            Actor::User { id } => {
                out.push(ACTOR_USER);
                out.extend_from_slice(id.0.as_bytes());
            }
            Actor::Support { .. } => out.push(ACTOR_SUPPORT),
            Actor::Auditor { .. } => out.push(ACTOR_AUDITOR),
            Actor::System => out.push(ACTOR_SYSTEM),
            Actor::Provisioner { .. } => out.push(ACTOR_PROVISIONER),
        }
        for text in [&*self.stream_id, &*self.event_type, name] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(self.data.as_bytes());
        out
    }

    /// The envelope's canonical JSON (keys sorted at every depth, compact), with or
    /// without its `hash` member: byte for byte what [`crate::canonical`] writes for the
    /// envelope's JSON. The payload is spliced in as stored; it is canonical already.
    pub fn canonical_json(&self, with_hash: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(700 + self.data.len());
        let uuid = |out: &mut Vec<u8>, id: &Uuid| {
            out.push(b'"');
            out.extend_from_slice(
                id.hyphenated()
                    .encode_lower(&mut Uuid::encode_buffer())
                    .as_bytes(),
            );
            out.push(b'"');
        };
        let text = |out: &mut Vec<u8>, s: &str| {
            serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
        };
        let hex = |out: &mut Vec<u8>, bytes: &[u8; 32]| {
            out.push(b'"');
            out.extend_from_slice(canonical::hash_hex(bytes).as_bytes());
            out.push(b'"');
        };
        // Members in byte order of their names, as `canonical::write_canonical` sorts.
        out.extend_from_slice(b"{\"actor\":");
        match &self.actor {
            Actor::User { id } => {
                out.extend_from_slice(b"{\"id\":");
                uuid(&mut out, &id.0);
                out.extend_from_slice(b",\"kind\":\"user\"}");
            }
            Actor::Support { name } => {
                out.extend_from_slice(b"{\"kind\":\"support\",\"name\":");
                text(&mut out, name);
                out.push(b'}');
            }
            Actor::Auditor { name } => {
                out.extend_from_slice(b"{\"kind\":\"auditor\",\"name\":");
                text(&mut out, name);
                out.push(b'}');
            }
            Actor::Provisioner { name } => {
                out.extend_from_slice(b"{\"kind\":\"provisioner\",\"name\":");
                text(&mut out, name);
                out.push(b'}');
            }
            Actor::System => out.extend_from_slice(b"{\"kind\":\"system\"}"),
        }
        out.extend_from_slice(b",\"causation_id\":");
        uuid(&mut out, &self.causation_id);
        out.extend_from_slice(b",\"command_id\":");
        uuid(&mut out, &self.command_id.0);
        out.extend_from_slice(b",\"correlation_id\":");
        uuid(&mut out, &self.correlation_id.0);
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(self.data.as_bytes());
        out.extend_from_slice(b",\"event_id\":");
        uuid(&mut out, &self.event_id.0);
        out.extend_from_slice(b",\"event_type\":");
        text(&mut out, &self.event_type);
        if with_hash {
            out.extend_from_slice(b",\"hash\":");
            hex(&mut out, &self.hash);
        }
        out.extend_from_slice(b",\"occurred_at\":");
        serde_json::to_writer(&mut out, &self.occurred_at).expect("a time always serializes");
        out.extend_from_slice(b",\"on_behalf_of\":");
        match &self.on_behalf_of {
            Some(user) => uuid(&mut out, &user.0),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"org_id\":");
        uuid(&mut out, &self.org_id.0);
        out.extend_from_slice(b",\"position\":");
        out.extend_from_slice(self.position.to_string().as_bytes());
        out.extend_from_slice(b",\"prev_hash\":");
        hex(&mut out, &self.prev_hash);
        out.extend_from_slice(b",\"schema_version\":");
        out.extend_from_slice(self.schema_version.to_string().as_bytes());
        out.extend_from_slice(b",\"stream_id\":");
        text(&mut out, &self.stream_id);
        out.extend_from_slice(b",\"stream_version\":");
        out.extend_from_slice(self.stream_version.to_string().as_bytes());
        out.push(b'}');
        out
    }

    /// The hash the envelope's contents call for (whatever `hash` holds).
    pub fn computed_hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_json(false)).into()
    }

    /// Decodes the stored payload (upcasting it if it is an older version).
    pub fn decode(self) -> Result<Envelope, DecodeError> {
        let event = Event::decode(&self.event_type, self.schema_version, &self.data)?;
        Ok(self.into_envelope(event))
    }

    /// Decodes `data` in place of the stored payload: for readers that transform the
    /// stored payload first (e.g. unsealing personal data).
    pub fn decode_with(self, data: &str) -> Result<Envelope, DecodeError> {
        let event = Event::decode(&self.event_type, self.schema_version, data)?;
        Ok(self.into_envelope(event))
    }

    fn into_envelope(self, event: Event) -> Envelope {
        Envelope {
            position: self.position,
            org_id: self.org_id,
            stream_id: StreamId(self.stream_id.into_owned()),
            stream_version: self.stream_version,
            event_id: self.event_id,
            occurred_at: self.occurred_at,
            actor: self.actor,
            on_behalf_of: self.on_behalf_of,
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            prev_hash: canonical::hash_hex(&self.prev_hash),
            hash: canonical::hash_hex(&self.hash),
            event,
        }
    }
}

/// Stored bytes (binary or JSON) as the envelope's canonical JSON with its hash: what an
/// export writes. JSON is returned as stored.
pub fn to_json(bytes: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    if is_binary(bytes) {
        Ok(Cow::Owned(
            StoredEnvelope::parse(bytes)?.canonical_json(true),
        ))
    } else {
        Ok(Cow::Borrowed(bytes))
    }
}

fn hash_bytes(hex_text: &str) -> Option<[u8; 32]> {
    let mut out = [0; 32];
    hex::decode_to_slice(hex_text, &mut out).ok()?;
    // Upper-case hex would decode too, but would not re-encode to the same text.
    (canonical::hash_hex(&out) == hex_text).then_some(out)
}

fn damaged(what: &str) -> DecodeError {
    DecodeError::Envelope(format!("stored envelope damaged: {what}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| damaged("it ends early"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }

    fn uuid(&mut self) -> Result<Uuid, DecodeError> {
        self.array().map(Uuid::from_bytes)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| damaged("a name is not UTF-8"))
    }
}
