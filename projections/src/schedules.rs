//! Scheduled offboardings (R28) of one org: each schedule's time, plan and where it
//! stands, and which runs are due at a given time (what the scheduler asks).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use offboard_events::{
    Actor, CorrelationId, Envelope, Event, FollowUp, ScheduleId, SchedulePhase, UnattendedWork,
    UserId,
};
use serde::{Deserialize, Serialize};

/// Where a schedule stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleStatus {
    /// Waiting for `at`.
    Pending,
    /// The offboarding ran; the delete waits for `delete_at`.
    AwaitingDelete,
    /// Every run did what was planned.
    Completed,
    /// A run could not do what was planned (see `failure`); nothing more runs.
    Failed,
    Cancelled,
}

impl ScheduleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleStatus::Pending => "pending",
            ScheduleStatus::AwaitingDelete => "awaiting_delete",
            ScheduleStatus::Completed => "completed",
            ScheduleStatus::Failed => "failed",
            ScheduleStatus::Cancelled => "cancelled",
        }
    }
}

/// Why a run failed, as its `ScheduleFailed` event said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleFailure {
    pub phase: SchedulePhase,
    pub code: String,
    pub message: String,
    pub blockers: Vec<UnattendedWork>,
    pub deactivated: bool,
    pub position: u64,
}

/// One scheduled offboarding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: ScheduleId,
    pub user: UserId,
    pub at: DateTime<Utc>,
    /// The plan as JSON (see `OffboardingScheduled::plan`).
    pub plan: Option<serde_json::Value>,
    pub then: FollowUp,
    pub delete_after_days: Option<u32>,
    pub status: ScheduleStatus,
    /// When the delete runs, once the offboarding ran (`delete_after_days`).
    pub delete_at: Option<DateTime<Utc>>,
    pub scheduled_by: Actor,
    pub scheduled_at: DateTime<Utc>,
    /// The correlation id of each run, in order.
    pub runs: Vec<CorrelationId>,
    pub failure: Option<ScheduleFailure>,
}

impl Schedule {
    /// The run that is due next and when, if any.
    pub fn next_run(&self) -> Option<(SchedulePhase, DateTime<Utc>)> {
        match self.status {
            ScheduleStatus::Pending => Some((SchedulePhase::Offboard, self.at)),
            ScheduleStatus::AwaitingDelete => self.delete_at.map(|at| (SchedulePhase::Delete, at)),
            _ => None,
        }
    }
}

/// Every schedule of one org, by id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Schedules {
    by_id: BTreeMap<ScheduleId, Schedule>,
}

impl Schedules {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::OffboardingScheduled(e) => {
                self.by_id.entry(e.schedule_id).or_insert_with(|| Schedule {
                    id: e.schedule_id,
                    user: e.user,
                    at: e.at,
                    plan: e.plan.clone(),
                    then: e.then,
                    delete_after_days: e.delete_after_days,
                    status: ScheduleStatus::Pending,
                    delete_at: None,
                    scheduled_by: env.actor.clone(),
                    scheduled_at: env.occurred_at,
                    runs: Vec::new(),
                    failure: None,
                });
            }
            Event::ScheduleMoved(e) => self.change(e.schedule_id, |s| match e.phase {
                SchedulePhase::Offboard => s.at = e.to,
                SchedulePhase::Delete => s.delete_at = Some(e.to),
            }),
            Event::ScheduleCancelled(e) => {
                self.change(e.schedule_id, |s| s.status = ScheduleStatus::Cancelled)
            }
            Event::ScheduleStarted(e) => {
                self.change(e.schedule_id, |s| s.runs.push(env.correlation_id))
            }
            Event::ScheduleCompleted(e) => self.change(e.schedule_id, |s| {
                s.delete_at = e.delete_at;
                s.status = match e.delete_at {
                    Some(_) => ScheduleStatus::AwaitingDelete,
                    None => ScheduleStatus::Completed,
                };
            }),
            Event::ScheduleFailed(e) => self.change(e.schedule_id, |s| {
                s.status = ScheduleStatus::Failed;
                s.failure = Some(ScheduleFailure {
                    phase: e.phase,
                    code: e.code.clone(),
                    message: e.message.clone(),
                    blockers: e.blockers.clone(),
                    deactivated: e.deactivated,
                    position: env.position,
                });
            }),
            _ => {}
        }
    }

    fn change(&mut self, id: ScheduleId, f: impl FnOnce(&mut Schedule)) {
        if let Some(s) = self.by_id.get_mut(&id) {
            f(s);
        }
    }

    pub fn get(&self, id: ScheduleId) -> Option<&Schedule> {
        self.by_id.get(&id)
    }

    /// Every schedule, by id.
    pub fn all(&self) -> impl Iterator<Item = &Schedule> {
        self.by_id.values()
    }

    /// The schedules of `user`, by id.
    pub fn of_user(&self, user: UserId) -> impl Iterator<Item = &Schedule> {
        self.by_id.values().filter(move |s| s.user == user)
    }

    /// The runs due at `now` (their time is `now` or earlier), oldest first.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<(ScheduleId, SchedulePhase, DateTime<Utc>)> {
        let mut due: Vec<_> = self
            .by_id
            .values()
            .filter_map(|s| s.next_run().map(|(phase, at)| (s.id, phase, at)))
            .filter(|(_, _, at)| *at <= now)
            .collect();
        due.sort_by_key(|(id, _, at)| (*at, *id));
        due
    }
}
