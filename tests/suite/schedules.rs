//! R28: scheduled offboarding (issue 20 §3), decided by the domain alone. A schedule
//! runs once at its time, checked against the state then; a plan that went stale still
//! removes access and records the failure with every blocker.

use chrono::Duration;
use offboard::domain::{plan, Command, OffboardPlan, PolicyChange};
use offboard_events::*;
use offboard_projections::ScheduleStatus;

use super::gwt::{keys, user_actor, Scenario};

struct Leaving {
    s: Scenario,
    pat: UserId,
    ann: UserId,
}

/// Given: pat owns three buyers; ann is a colleague.
fn leaving() -> Leaving {
    let mut s = Scenario::new("Sched");
    let pat = s.hire("pat@sched.example", Role::Member);
    let ann = s.hire("ann@sched.example", Role::Member);
    s.own(pat, keys("buyer", 0..3));
    Leaving { s, pat, ann }
}

fn schedule(user: UserId, at: &str, plan: Option<OffboardPlan>) -> Command {
    Command::ScheduleOffboarding {
        user,
        at: at.into(),
        plan,
        then: FollowUp::Deactivate,
        delete_after_days: None,
        confirm: None,
    }
}

fn to(user: UserId) -> OffboardPlan {
    OffboardPlan {
        default_to: Some(user),
        ..OffboardPlan::default()
    }
}

/// Schedules as the owner and returns the new schedule's id.
fn scheduled(s: &mut Scenario, command: Command) -> ScheduleId {
    let owner = user_actor(s.owner);
    let events = s.run(owner, command);
    let Event::OffboardingScheduled(e) = &events[0] else {
        panic!("{events:?}")
    };
    e.schedule_id
}

/// Given: the owner gives `duty` to `to`.
fn give_duty(s: &mut Scenario, duty: &str, to: UserId) {
    let owner = user_actor(s.owner);
    s.run(
        owner,
        Command::AssignDuty {
            duty: duty.into(),
            to,
        },
    );
}

fn run(id: ScheduleId) -> Command {
    Command::RunSchedule { schedule: id }
}

fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::event_type).collect()
}

#[test]
fn a_schedule_runs_its_plan_once_when_due() {
    // Given: pat's offboarding to ann, scheduled for tomorrow 09:00 Berlin time.
    let Leaving { mut s, pat, ann } = leaving();
    let id = scheduled(
        &mut s,
        schedule(pat, "2026-03-04T09:00:00+01:00", Some(to(ann))),
    );
    // When: the scheduler asks before its time. Then: refused, nothing runs.
    s.when(Actor::System, run(id)).then_error("invalid_state");
    // When: it is due.
    s.advance(Duration::days(1));
    let events = s.run(Actor::System, run(id));
    // Then: the plan ran between the schedule's markers, and pat is deactivated.
    assert_eq!(
        types(&events),
        [
            "ScheduleStarted",
            "OffboardingStarted",
            "ResourcesTransferred",
            "UserDeactivated",
            "OffboardingCompleted",
            "ScheduleCompleted"
        ]
    );
    assert_eq!(s.status(pat), UserStatus::Deactivated);
    assert_eq!(s.owner_of("buyer:00000"), Some(ann));
    // And: a second run is refused (exactly once).
    s.when(Actor::System, run(id)).then_error("invalid_state");
    let sched = s.org_state().schedules().get(id).unwrap().clone();
    assert_eq!(sched.status, ScheduleStatus::Completed);
}

#[test]
fn a_stale_plan_still_removes_access_and_records_the_failure() {
    // Given: pat's offboarding to ann, scheduled; then ann leaves first.
    let Leaving { mut s, pat, ann } = leaving();
    let id = scheduled(&mut s, schedule(pat, "2026-03-04", Some(to(ann))));
    let owner = user_actor(s.owner);
    s.run(owner, Command::DeactivateUser { user: ann });
    // When: the schedule runs.
    s.advance(Duration::days(1));
    let events = s.run(Actor::System, run(id));
    // Then: pat is deactivated anyway, and the failure says why.
    assert_eq!(
        types(&events),
        ["ScheduleStarted", "UserDeactivated", "ScheduleFailed"]
    );
    let Event::ScheduleFailed(f) = &events[2] else {
        unreachable!()
    };
    assert_eq!(f.code, "invalid_input");
    assert!(f.message.contains("ann@sched.example"), "{}", f.message);
    assert!(f.deactivated);
    assert_eq!(s.status(pat), UserStatus::Deactivated);
    // And: the buyers stay with pat (nothing half-done), and the schedule shows failed.
    assert_eq!(s.owner_of("buyer:00000"), Some(pat));
    let sched = s.org_state().schedules().get(id).unwrap();
    assert_eq!(sched.status, ScheduleStatus::Failed);
}

#[test]
fn a_delete_that_became_blocked_deactivates_and_lists_every_blocker() {
    // Given: pat's delete (no plan) is scheduled; pat owns buyers and becomes a duty
    // holder meanwhile.
    let Leaving { mut s, pat, .. } = leaving();
    let id = scheduled(
        &mut s,
        Command::ScheduleOffboarding {
            user: pat,
            at: "2026-03-04".into(),
            plan: None,
            then: FollowUp::Delete,
            delete_after_days: None,
            confirm: Some("CONFIRM".into()),
        },
    );
    give_duty(&mut s, "billing_contact", pat);
    // When: it runs.
    s.advance(Duration::days(1));
    let events = s.run(Actor::System, run(id));
    // Then: deactivated (the duty recorded as left with nobody), failure with blockers.
    assert_eq!(
        types(&events),
        [
            "ScheduleStarted",
            "WorkLeftUnattended",
            "UserDeactivated",
            "ScheduleFailed"
        ]
    );
    let Event::ScheduleFailed(f) = &events[3] else {
        unreachable!()
    };
    assert_eq!(f.code, "owns_resources");
    let codes: Vec<&str> = f.blockers.iter().map(|b| b.code.as_str()).collect();
    assert_eq!(codes, ["owns_resources", "holds_duty"]);
}

#[test]
fn delete_after_days_deletes_once_more_time_has_passed() {
    // Given: pat is deactivated tomorrow and deleted 30 days later.
    let Leaving { mut s, pat, ann } = leaving();
    let id = scheduled(
        &mut s,
        Command::ScheduleOffboarding {
            user: pat,
            at: "2026-03-04".into(),
            plan: Some(to(ann)),
            then: FollowUp::Deactivate,
            delete_after_days: Some(30),
            confirm: Some("CONFIRM".into()),
        },
    );
    s.advance(Duration::days(1));
    let first = s.run(Actor::System, run(id));
    let Some(Event::ScheduleCompleted(c)) = first.last() else {
        panic!("{first:?}")
    };
    let delete_at = c.delete_at.expect("a delete follows");
    assert_eq!(delete_at, s.now + Duration::days(30));
    assert_eq!(s.status(pat), UserStatus::Deactivated);
    // When: 29 days later, not yet; 30 days later, the delete.
    s.advance(Duration::days(29));
    s.when(Actor::System, run(id)).then_error("invalid_state");
    s.advance(Duration::days(1));
    let second = s.run(Actor::System, run(id));
    assert_eq!(
        second.first().map(Event::event_type),
        Some("ScheduleStarted")
    );
    assert!(second.iter().any(|e| matches!(e, Event::UserDeleted(_))));
    assert_eq!(s.status(pat), UserStatus::Deleted);
    assert_eq!(
        s.org_state().schedules().get(id).unwrap().status,
        ScheduleStatus::Completed
    );
}

#[test]
fn move_and_cancel_change_what_runs() {
    let Leaving { mut s, pat, .. } = leaving();
    let id = scheduled(&mut s, schedule(pat, "2026-03-04", None));
    let owner = user_actor(s.owner);
    // When: moved to a week later. Then: not due after one day.
    s.run(
        owner.clone(),
        Command::MoveSchedule {
            schedule: id,
            at: "2026-03-10T09:00:00Z".into(),
        },
    );
    s.advance(Duration::days(1));
    s.when(Actor::System, run(id)).then_error("invalid_state");
    // When: cancelled. Then: it never runs, and cannot be cancelled twice.
    s.run(owner.clone(), Command::CancelSchedule { schedule: id });
    s.advance(Duration::days(30));
    s.when(Actor::System, run(id)).then_error("invalid_state");
    s.when(owner, Command::CancelSchedule { schedule: id })
        .then_error("invalid_state");
    assert_eq!(s.status(pat), UserStatus::Active);
}

#[test]
fn a_date_is_the_start_of_that_day_in_the_org_time_zone() {
    let Leaving { mut s, pat, .. } = leaving();
    let owner = user_actor(s.owner);
    s.run(
        owner,
        Command::SetPolicy(PolicyChange {
            time_zone: Some("America/New_York".into()),
            ..PolicyChange::default()
        }),
    );
    let id = scheduled(&mut s, schedule(pat, "2026-03-05", None));
    let at = s.org_state().schedules().get(id).unwrap().at;
    assert_eq!(at.to_rfc3339(), "2026-03-05T05:00:00+00:00");
}

#[test]
fn bad_schedules_are_refused_and_append_nothing() {
    let Leaving { mut s, pat, ann } = leaving();
    let owner = user_actor(s.owner);
    // A time in the past, a wall time without offset, no follow-up, a delete unconfirmed.
    s.when(owner.clone(), schedule(pat, "2026-03-01", None))
        .then_error("invalid_input");
    s.when(owner.clone(), schedule(pat, "2026-03-05T09:00:00", None))
        .then_error("invalid_input");
    let mut none = schedule(pat, "2026-03-05", None);
    if let Command::ScheduleOffboarding { then, .. } = &mut none {
        *then = FollowUp::None;
    }
    s.when(owner.clone(), none).then_error("invalid_input");
    let mut unconfirmed = schedule(pat, "2026-03-05", None);
    if let Command::ScheduleOffboarding {
        delete_after_days, ..
    } = &mut unconfirmed
    {
        *delete_after_days = Some(3);
    }
    s.when(owner.clone(), unconfirmed)
        .then_error("confirmation_required");
    // A member may not schedule a colleague's offboarding (R4).
    s.when(user_actor(ann), schedule(pat, "2026-03-05", None))
        .then_error("forbidden");
    // One open schedule per user.
    scheduled(&mut s, schedule(pat, "2026-03-05", None));
    s.when(owner, schedule(pat, "2026-03-06", None))
        .then_error("already_exists");
    // Only the scheduler (the system) or an admin runs one.
    let id = s.org_state().schedules().all().next().unwrap().id;
    s.advance(Duration::days(3));
    s.when(user_actor(ann), run(id)).then_error("forbidden");
}

#[test]
fn a_deactivate_only_schedule_records_what_it_leaves_with_nobody() {
    // Given: pat holds a duty; a plan-less deactivate is scheduled.
    let Leaving { mut s, pat, .. } = leaving();
    give_duty(&mut s, "default_lead_owner", pat);
    let id = scheduled(&mut s, schedule(pat, "2026-03-04", None));
    s.advance(Duration::days(1));
    // When: it runs. Then: warn (the default) records the duty, the schedule completes.
    let events = s.run(Actor::System, run(id));
    assert_eq!(
        types(&events),
        [
            "ScheduleStarted",
            "WorkLeftUnattended",
            "UserDeactivated",
            "ScheduleCompleted"
        ]
    );
    // And: the plan of the (now deactivated) user shows nothing left to deactivate.
    assert!(plan(s.org_state(), pat).unwrap().unattended.is_empty());
}
