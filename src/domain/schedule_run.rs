//! Running a scheduled offboarding (R28): `RunSchedule`, what the scheduler submits
//! with the schedule id as the command id (exactly once in effect). The plan is decided
//! against the state now; if it cannot be carried out (a recipient left, a new blocker),
//! access is removed all the same — a leaver is never left active because a plan went
//! stale — and the failure is recorded with every blocker.

use chrono::Duration;
use offboard_events::{
    Actor, CreditAccount, CreditsTransferred, Event, FollowUp, Role, ScheduleCompleted,
    ScheduleFailed, ScheduleId, SchedulePhase, ScheduleStarted, UserStatus,
};
use offboard_projections::Schedule;

use super::authority::Scope;
use super::command::OffboardPlan;
use super::error::{Decided, DomainError};
use super::handover;
use super::holdings::{unattended, Holdings};
use super::offboarding;
use super::schedule::find;

/// Runs the schedule's due run, framed by `ScheduleStarted` and `ScheduleCompleted` or
/// `ScheduleFailed`. Refused (`invalid_state`) before its time or when nothing is left
/// to run; the scheduler (the system actor) or an admin may ask.
pub fn run(scope: Scope, id: ScheduleId) -> Decided<Vec<Event>> {
    if !matches!(scope.ctx.actor, Actor::System) {
        scope.require_role(Role::Admin)?;
    }
    let s = find(scope, id)?;
    let Some((phase, due)) = s.next_run() else {
        return Err(DomainError::InvalidState(format!(
            "schedule {id} is {}: nothing is left to run",
            s.status.as_str().replace('_', " ")
        )));
    };
    if due > scope.ctx.now {
        return Err(DomainError::InvalidState(format!(
            "schedule {id} is not due until {}",
            due.to_rfc3339()
        )));
    }
    let mut events: Vec<Event> = vec![ScheduleStarted {
        schedule_id: id,
        user: s.user,
        phase,
        due,
    }
    .into()];
    match attempt(scope, s, phase) {
        Ok(done) => {
            events.extend(done);
            let delete_at = match phase {
                SchedulePhase::Offboard => s
                    .delete_after_days
                    .map(|days| scope.ctx.now + Duration::days(i64::from(days))),
                SchedulePhase::Delete => None,
            };
            events.push(
                ScheduleCompleted {
                    schedule_id: id,
                    user: s.user,
                    phase,
                    delete_at,
                }
                .into(),
            );
        }
        Err(refusal) => events.extend(failed(scope, s, phase, &refusal)),
    }
    Ok(events)
}

/// What the run does when everything goes as planned.
fn attempt(scope: Scope, s: &Schedule, phase: SchedulePhase) -> Decided<Vec<Event>> {
    let target = scope.user(s.user)?;
    match phase {
        SchedulePhase::Delete => offboarding::scheduled(scope, target, None, FollowUp::Delete),
        SchedulePhase::Offboard => match (&s.plan, s.then) {
            (Some(plan), then) => {
                let plan: OffboardPlan = serde_json::from_value(plan.clone()).map_err(|e| {
                    DomainError::InvalidInput(format!("the stored plan does not read: {e}"))
                })?;
                offboarding::scheduled(scope, target, Some(&plan), then)
            }
            (None, FollowUp::Delete) => {
                offboarding::scheduled(scope, target, None, FollowUp::Delete)
            }
            (None, _) => {
                let left = Holdings::of(scope.org, target);
                handover::deactivation(scope.org.policy(), target, &left)
            }
        },
    }
}

/// The plan went stale: deactivate a user who is still active (with what is left with
/// nobody), and record why the run failed. Unused credits go to the pool first (R8: a
/// deactivated user holds none). The org's owner is never deactivated (R3): the
/// failure says so, and access stays until ownership is handed over.
fn failed(scope: Scope, s: &Schedule, phase: SchedulePhase, refusal: &DomainError) -> Vec<Event> {
    let mut events = Vec::new();
    let active = scope
        .org
        .directory()
        .user(s.user)
        .filter(|u| u.status == UserStatus::Active && u.id != scope.org.owner());
    if let Some(target) = active {
        let left = Holdings::of(scope.org, target);
        if left.credit_balance > 0 {
            events.push(
                CreditsTransferred {
                    from: CreditAccount::User { id: target.id },
                    to: CreditAccount::Pool,
                    amount: left.credit_balance,
                }
                .into(),
            );
        }
        events.extend(handover::deactivated(target, &left.handover_gaps()));
    }
    events.push(
        ScheduleFailed {
            schedule_id: s.id,
            user: s.user,
            phase,
            code: refusal.code().to_owned(),
            message: refusal.to_string(),
            blockers: unattended(refusal.blockers()),
            deactivated: active.is_some(),
        }
        .into(),
    );
    events
}
