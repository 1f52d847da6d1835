//! What a caller hands the writer and what it gets back: command metadata, optimistic
//! concurrency expectations, the outcome, and every way an append can fail.

use offboard_events::{Actor, CommandId, CorrelationId, Event, OrgId, StreamId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::health::Refusal;
use crate::domain::DomainError;
use crate::store::StoreError;

/// Who is doing what, for which org, under which ids. Everything here ends up in the
/// envelope of every event the command appends (R24).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandMeta {
    pub org_id: OrgId,
    pub actor: Actor,
    /// The deactivated user an admin is acting for (R6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<UserId>,
    /// Idempotency key: resubmitting the same id returns the first result.
    pub command_id: CommandId,
    /// The business operation this command is part of; defaults to the command id, so a
    /// retry without one is still the same command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<CorrelationId>,
    /// What caused this command (e.g. an event a process manager reacted to); defaults
    /// to the command id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
}

impl CommandMeta {
    /// Metadata for a new command with a fresh id.
    pub fn new(org_id: OrgId, actor: Actor) -> Self {
        Self {
            org_id,
            actor,
            on_behalf_of: None,
            command_id: CommandId::new(),
            correlation_id: None,
            causation_id: None,
        }
    }

    pub fn correlation(&self) -> CorrelationId {
        self.correlation_id
            .unwrap_or(CorrelationId(self.command_id.0))
    }

    pub fn causation(&self) -> Uuid {
        self.causation_id.unwrap_or(self.command_id.0)
    }
}

/// Optimistic concurrency for one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "expect", content = "version")]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last version must be exactly this.
    Exact(u64),
}

impl ExpectedVersion {
    pub(crate) fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => actual == v,
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Events to append as they are, for one command (used by tests, imports and tools;
/// business commands go through `Engine::execute`, which decides the events).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendRequest {
    pub meta: CommandMeta,
    pub expected: Vec<(StreamId, ExpectedVersion)>,
    pub events: Vec<Event>,
}

/// A command's result: where its events landed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    pub command_id: CommandId,
    pub correlation_id: CorrelationId,
    /// First and last position appended; `None` when the command appended nothing.
    pub positions: Option<(u64, u64)>,
    /// `true` when this is a retry of a command already appended: nothing new was written.
    pub duplicate: bool,
}

impl Appended {
    /// How many events the command appended.
    pub fn count(&self) -> u64 {
        self.positions.map_or(0, |(first, last)| last - first + 1)
    }
}

/// Why an append was not acknowledged. Every variant but [`AppendError::OutcomeUnknown`]
/// means nothing of the command was written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Someone else wrote to the stream first: re-read it and decide again.
    #[error("conflict on stream {stream}: expected {expected}, but it is at version {actual}")]
    Conflict {
        stream: StreamId,
        expected: ExpectedVersion,
        actual: u64,
    },
    /// The command id was already used for a different command: use a fresh id.
    #[error("conflict: command id {command_id} was already used for a different command")]
    CommandIdReused { command_id: CommandId },
    /// The domain refused the command (a rule, authority or bad input): see its code.
    #[error(transparent)]
    Rejected(#[from] DomainError),
    /// The request itself is malformed: fix it before retrying.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Storage failed; nothing of the command was written. Retrying may succeed.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// The command may or may not be in the log (a flush failed or did not finish):
    /// retry with the same command id once offboard has restarted — the retry answers
    /// from the log (`duplicate: true`) if it was stored, and runs it if it was not.
    #[error("outcome unknown: the command may or may not have been stored ({0}); retry with the same Idempotency-Key once offboard has restarted")]
    OutcomeUnknown(String),
    /// The engine refuses writes since storage failed or the log was found damaged
    /// ([`Refusal`]); nothing of this command was written. Reads still answer.
    #[error("nothing was written: offboard is refusing writes ({}): {}; restart it once the cause is fixed", .0.code, .0.reason)]
    Refused(Refusal),
    /// The engine is shutting down.
    #[error("the engine is shut down")]
    Closed,
    /// This node is a follower: commands are decided by the leader at `leader` (its
    /// advertised URL; `None` while an election is under way). Nothing was written.
    #[error("{}", match .leader { Some(url) => format!("this node is a follower: send commands to the leader at {url}"), None => "this node is a follower and no leader is known yet (an election is under way): retry shortly".to_owned() })]
    NotLeader { leader: Option<String> },
}

impl AppendError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            AppendError::Conflict { .. } | AppendError::CommandIdReused { .. } => "conflict",
            AppendError::Rejected(e) => e.code(),
            AppendError::Invalid(_) => "invalid_input",
            AppendError::Storage(e) => e.code(),
            AppendError::OutcomeUnknown(_) => "outcome_unknown",
            AppendError::Refused(refusal) => refusal.code,
            AppendError::Closed => "unavailable",
            AppendError::NotLeader { .. } => "not_leader",
        }
    }
}
