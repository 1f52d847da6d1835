//! Scheduling an offboarding (R28): `ScheduleOffboarding`, `MoveSchedule`,
//! `CancelSchedule`. Who may schedule is who may offboard the user now (R4); the plan is
//! checked against the state when it runs (`schedule_run.rs`), not frozen here.

use chrono::{DateTime, Utc};
use offboard_events::{
    Event, FollowUp, OffboardingScheduled, Role, ScheduleCancelled, ScheduleId, ScheduleMoved,
    UserId,
};
use offboard_projections::Schedule;

use super::authority::Scope;
use super::command::OffboardPlan;
use super::error::{Decided, DomainError};
use super::schedule_time;

/// The most days a delete may follow its offboarding: ten years.
pub const MAX_DELETE_AFTER_DAYS: u32 = 3650;

/// What a new schedule asks for, as the command carries it.
#[derive(Clone, Copy, Debug)]
pub struct NewSchedule<'a> {
    pub user: UserId,
    pub at: &'a str,
    pub plan: Option<&'a OffboardPlan>,
    pub then: FollowUp,
    pub delete_after_days: Option<u32>,
    pub confirm: Option<&'a str>,
}

/// Schedule an offboarding of `new.user`. Its id (and its run's command id) is derived
/// from this command's id, so a retried command schedules it once.
pub fn schedule(scope: Scope, new: NewSchedule) -> Decided<Vec<Event>> {
    let target = scope.user(new.user)?;
    scope.may_change(target)?;
    let at = future_time(scope, new.at)?;
    match (new.then, new.delete_after_days) {
        (FollowUp::None, _) => {
            return Err(DomainError::InvalidInput(
                "a scheduled offboarding removes access: then is deactivate or delete".to_owned(),
            ))
        }
        (FollowUp::Delete, Some(_)) => {
            return Err(DomainError::InvalidInput(
                "delete_after_days follows a deactivation: use then deactivate".to_owned(),
            ))
        }
        (_, Some(days)) if days == 0 || days > MAX_DELETE_AFTER_DAYS => {
            return Err(DomainError::InvalidInput(format!(
                "delete_after_days must be 1 to {MAX_DELETE_AFTER_DAYS}, not {days}"
            )))
        }
        _ => {}
    }
    let deletes = new.then == FollowUp::Delete || new.delete_after_days.is_some();
    let phrase = &scope.org.policy().confirmation_phrase;
    if deletes && new.confirm != Some(phrase.as_str()) {
        return Err(DomainError::ConfirmationRequired {
            expected: phrase.clone(),
        });
    }
    if let Some(open) = scope
        .org
        .schedules()
        .of_user(new.user)
        .find(|s| s.next_run().is_some())
    {
        return Err(DomainError::AlreadyExists(format!(
            "schedule {} for {} (at {}): move or cancel it",
            open.id,
            target.profile.email,
            open.at.to_rfc3339()
        )));
    }
    let plan = new
        .plan
        .map(|p| serde_json::to_value(p).expect("a plan always serializes"));
    Ok(vec![OffboardingScheduled {
        schedule_id: ScheduleId(scope.ctx.new_id(0)),
        user: new.user,
        at,
        plan,
        then: new.then,
        delete_after_days: new.delete_after_days,
    }
    .into()])
}

/// Move the schedule's next run (the offboarding, or the delete that follows it).
pub fn move_to(scope: Scope, id: ScheduleId, at: &str) -> Decided<Vec<Event>> {
    let s = open_schedule(scope, id)?;
    let to = future_time(scope, at)?;
    let (phase, from) = s.next_run().expect("open schedules have a next run");
    if from == to {
        return Err(DomainError::InvalidState(format!(
            "the schedule already runs at {}",
            to.to_rfc3339()
        )));
    }
    Ok(vec![ScheduleMoved {
        schedule_id: id,
        user: s.user,
        phase,
        from,
        to,
    }
    .into()])
}

/// Cancel what has not run yet.
pub fn cancel(scope: Scope, id: ScheduleId) -> Decided<Vec<Event>> {
    let s = open_schedule(scope, id)?;
    Ok(vec![ScheduleCancelled {
        schedule_id: id,
        user: s.user,
    }
    .into()])
}

/// A schedule of this org that still has a run to come, changed by someone with
/// authority over its user (an admin or the owner once the user is gone).
fn open_schedule<'a>(scope: Scope<'a>, id: ScheduleId) -> Decided<&'a Schedule> {
    let s = find(scope, id)?;
    match scope.user(s.user) {
        Ok(target) => scope.may_change(target).map(|_| ())?,
        Err(_) => scope.require_role(Role::Admin).map(|_| ())?,
    }
    if s.next_run().is_none() {
        return Err(DomainError::InvalidState(format!(
            "schedule {id} is {}: nothing is left to run",
            s.status.as_str().replace('_', " ")
        )));
    }
    Ok(s)
}

/// The schedule `id` of this org (R1: another org's is not found).
pub fn find<'a>(scope: Scope<'a>, id: ScheduleId) -> Decided<&'a Schedule> {
    scope
        .org
        .schedules()
        .get(id)
        .ok_or_else(|| DomainError::NotFound(format!("schedule {id}")))
}

/// `at` resolved in the org's time zone, refused unless it is after now.
fn future_time(scope: Scope, at: &str) -> Decided<DateTime<Utc>> {
    let t = schedule_time::resolve(at, &scope.org.policy().time_zone)?;
    if t <= scope.ctx.now {
        return Err(DomainError::InvalidInput(format!(
            "{} is not in the future (now is {}): schedule a later time, or offboard now",
            t.to_rfc3339(),
            scope.ctx.now.to_rfc3339()
        )));
    }
    Ok(t)
}
