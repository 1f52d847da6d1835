//! Scheduled offboardings (R28) as reads: `GET /v1/schedules` (by time, then id) and
//! `GET /v1/schedules/{id}`, each schedule with its user's email, where it stands, its
//! next run and, for a failed run, the failure with every blocker.

use chrono::{DateTime, Utc};
use offboard_events::{
    Actor, CorrelationId, FollowUp, ScheduleId, SchedulePhase, UnattendedWork, UserId,
};
use offboard_projections::{OrgState, Schedule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::page::{keyed_page, page_answer, paged, Cursor, Limit};
use super::{email, named, Query, ReadFailure, Scope};

/// A schedule's next run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NextRunView {
    pub phase: SchedulePhase,
    pub at: DateTime<Utc>,
}

/// Why a run failed; access was removed all the same when `deactivated`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleFailureView {
    pub phase: SchedulePhase,
    pub code: String,
    pub message: String,
    pub blockers: Vec<UnattendedWork>,
    pub deactivated: bool,
    /// The log position of its `ScheduleFailed` event.
    pub position: u64,
}

/// One scheduled offboarding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleView {
    pub id: ScheduleId,
    pub user: UserId,
    /// The user's email today (their id if the org no longer knows it).
    pub email: String,
    /// `pending`, `awaiting_delete`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// When the offboarding runs (or ran), UTC.
    pub at: DateTime<Utc>,
    pub then: FollowUp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_days: Option<u32>,
    /// When the delete runs, once the offboarding ran with `delete_after_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_at: Option<DateTime<Utc>>,
    /// `null` once nothing is left to run.
    pub next_run: Option<NextRunView>,
    /// The plan as scheduled (users by id); `null` for a plain deactivate or delete.
    pub plan: Option<serde_json::Value>,
    pub scheduled_by: Actor,
    pub scheduled_at: DateTime<Utc>,
    /// The correlation id of each run, in order (`history --correlation ID` shows one).
    pub runs: Vec<CorrelationId>,
    pub failure: Option<ScheduleFailureView>,
}

impl ScheduleView {
    pub fn of(org: &OrgState, s: &Schedule) -> Self {
        Self {
            id: s.id,
            user: s.user,
            email: email(org, s.user),
            status: s.status.as_str().to_owned(),
            at: s.at,
            then: s.then,
            delete_after_days: s.delete_after_days,
            delete_at: s.delete_at,
            next_run: s.next_run().map(|(phase, at)| NextRunView { phase, at }),
            plan: s.plan.clone(),
            scheduled_by: s.scheduled_by.clone(),
            scheduled_at: s.scheduled_at,
            runs: s.runs.clone(),
            failure: s.failure.as_ref().map(|f| ScheduleFailureView {
                phase: f.phase,
                code: f.code.clone(),
                message: f.message.clone(),
                blockers: f.blockers.clone(),
                deactivated: f.deactivated,
                position: f.position,
            }),
        }
    }
}

/// `GET /v1/schedules`: every scheduled offboarding, by time then id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulesQuery {
    #[serde(default, skip_serializing_if = "Limit::is_default")]
    pub limit: Limit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// One page of `GET /v1/schedules`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SchedulesPage {
    pub schedules: Vec<ScheduleView>,
    /// The next page's relative URL; `null` on the last page.
    pub next: Option<String>,
}

paged!(SchedulesQuery);
page_answer!(SchedulesPage);

impl Query for SchedulesQuery {
    type Answer = SchedulesPage;

    fn path(&self) -> String {
        "/v1/schedules".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<SchedulesPage, ReadFailure> {
        let all = |org: &OrgState| -> Vec<ScheduleView> {
            let schedules = org.schedules().all();
            schedules.map(|s| ScheduleView::of(org, s)).collect()
        };
        // RFC 3339 in UTC with fixed digits sorts as text in time order.
        let key =
            |s: &ScheduleView| format!("{}\u{0}{}", s.at.format("%Y-%m-%dT%H:%M:%S%.9fZ"), s.id);
        let (schedules, next) = keyed_page(self, scope, "schedules", all, key)?;
        Ok(SchedulesPage { schedules, next })
    }
}

/// `GET /v1/schedules/{id}`: one scheduled offboarding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleQuery {
    /// The schedule's id, from the path.
    #[serde(skip)]
    pub id: Option<ScheduleId>,
}

impl Query for ScheduleQuery {
    type Answer = ScheduleView;

    fn path(&self) -> String {
        let id = self.id.map(|id| id.to_string()).unwrap_or_default();
        format!("/v1/schedules/{id}")
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<ScheduleView, ReadFailure> {
        let id = *named(self.id.as_ref(), "a schedule")?;
        scope.now(|org| {
            org.schedules()
                .get(id)
                .map(|s| ScheduleView::of(org, s))
                .ok_or_else(|| ReadFailure::NotFound(format!("schedule {id}")))
        })
    }
}
