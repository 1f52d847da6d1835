//! Scheduled offboarding (R28): an offboarding prepared before the leaver's last day
//! and run once at its time, re-checked against the state then. Every step is an
//! event on the schedule's stream, so the audit shows who planned what, when it ran,
//! and what it could not do.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{ScheduleId, UserId};
use crate::offboarding::FollowUp;
use crate::user::UnattendedWork;

/// Which run of a schedule: the offboarding itself, or the delete that follows it
/// `delete_after_days` later.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SchedulePhase {
    Offboard,
    Delete,
}

impl SchedulePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulePhase::Offboard => "offboard",
            SchedulePhase::Delete => "delete",
        }
    }
}

/// An offboarding of `user` was scheduled for `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OffboardingScheduled {
    pub schedule_id: ScheduleId,
    pub user: UserId,
    /// When it runs (UTC; the command's time as given, resolved in the org's time zone).
    pub at: DateTime<Utc>,
    /// The plan (`OffboardPlan` with users by id, as the command carried it); kept as
    /// JSON because the plan's type belongs to the commands, not to this contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
    /// `deactivate` or `delete`.
    pub then: FollowUp,
    /// A delete follows this many days after the run (`then` is then `deactivate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_days: Option<u32>,
}

/// A scheduled run was moved to another time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleMoved {
    pub schedule_id: ScheduleId,
    pub user: UserId,
    pub phase: SchedulePhase,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A schedule was cancelled before its (next) run; nothing more runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleCancelled {
    pub schedule_id: ScheduleId,
    pub user: UserId,
}

/// A scheduled run began; the events up to its `ScheduleCompleted` or `ScheduleFailed`
/// (same command, same correlation id) are what it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleStarted {
    pub schedule_id: ScheduleId,
    pub user: UserId,
    pub phase: SchedulePhase,
    /// The time it was due.
    pub due: DateTime<Utc>,
}

/// A scheduled run did everything it was planned to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleCompleted {
    pub schedule_id: ScheduleId,
    pub user: UserId,
    pub phase: SchedulePhase,
    /// When the delete runs, if one follows (`delete_after_days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<DateTime<Utc>>,
}

/// A scheduled run could not do what was planned (the plan went stale: a recipient
/// left, a new blocker appeared). Access was removed all the same when the user was
/// still active (`deactivated`); `blockers` says what stood in the way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleFailed {
    pub schedule_id: ScheduleId,
    pub user: UserId,
    pub phase: SchedulePhase,
    /// The refusal's stable code, e.g. `owns_resources`, `invalid_input`.
    pub code: String,
    /// The refusal as a sentence.
    pub message: String,
    /// Every blocker, for a blocked deactivate or delete; empty otherwise.
    pub blockers: Vec<UnattendedWork>,
    /// Whether this run deactivated the user despite the failure.
    pub deactivated: bool,
}
