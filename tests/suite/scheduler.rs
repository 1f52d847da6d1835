//! R28 on the real engine with a settable clock (`ManualClock`): a schedule missed while
//! nothing ran runs once when the engine comes back, a run whose answer was lost (a
//! crash after its commit) is never done twice, and `serve`'s scheduler task runs a
//! schedule when the clock reaches it.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, TimeZone, Utc};
use offboard::clock::ManualClock;
use offboard::domain::{Command, NewUser, OffboardPlan};
use offboard::engine::{run_command_id, Scheduler};
use offboard::privacy::KeyVault;
use offboard::store::MemoryLog;
use offboard::{CommandMeta, Engine};
use offboard_events::*;
use offboard_projections::ScheduleStatus;

struct Office {
    store: Arc<MemoryLog>,
    vault: Arc<KeyVault>,
    clock: Arc<ManualClock>,
    org: OrgId,
    pat: UserId,
    ann: UserId,
    schedule: ScheduleId,
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        first_name: "F".into(),
        last_name: "L".into(),
        job_title: None,
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    }
}

async fn invite(engine: &Engine, meta: CommandMeta, email: &str) -> UserId {
    engine
        .execute(
            meta,
            Command::InviteUser {
                user: new_user(email),
                role: Role::Member,
                manager: None,
                active: true,
            },
        )
        .await
        .unwrap();
    user(engine, email)
}

fn user(engine: &Engine, email: &str) -> UserId {
    let state = engine.state();
    let org = state.orgs().next().unwrap();
    org.directory().user_by_email(email).unwrap().id
}

/// Given (on 2026-05-01 09:00 UTC): pat owns ten buyers, and pat's offboarding to ann
/// is scheduled for 2026-05-02 (the start of that day, UTC).
async fn office() -> (Office, Engine) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap(),
    ));
    let store = Arc::new(MemoryLog::new());
    let vault = Arc::new(KeyVault::in_memory());
    let engine = Engine::with_parts(store.clone(), vault.clone(), clock.clone()).unwrap();
    let org = OrgId::new();
    engine
        .execute(
            CommandMeta::new(org, Actor::System),
            Command::CreateOrganization {
                name: "Office".into(),
                owner: new_user("o@office.example"),
            },
        )
        .await
        .unwrap();
    let owner = engine.state().org(org).unwrap().owner();
    let as_owner = || CommandMeta::new(org, Actor::User { id: owner });
    let pat = invite(&engine, as_owner(), "pat@office.example").await;
    let ann = invite(&engine, as_owner(), "ann@office.example").await;
    let buyers = (0..10)
        .map(|i| format!("buyer:B-{i}").parse().unwrap())
        .collect();
    engine
        .execute(
            as_owner(),
            Command::RegisterResources {
                owner: pat,
                resources: buyers,
            },
        )
        .await
        .unwrap();
    engine
        .execute(
            as_owner(),
            Command::ScheduleOffboarding {
                user: pat,
                at: "2026-05-02".into(),
                plan: Some(OffboardPlan {
                    default_to: Some(ann),
                    ..OffboardPlan::default()
                }),
                then: FollowUp::Deactivate,
                delete_after_days: None,
                confirm: None,
            },
        )
        .await
        .unwrap();
    let schedule = engine
        .state()
        .org(org)
        .unwrap()
        .schedules()
        .all()
        .next()
        .unwrap()
        .id;
    let office = Office {
        store,
        vault,
        clock,
        org,
        pat,
        ann,
        schedule,
    };
    (office, engine)
}

impl Office {
    fn reopen(&self) -> Engine {
        Engine::with_parts(self.store.clone(), self.vault.clone(), self.clock.clone()).unwrap()
    }

    fn status(engine: &Engine, org: OrgId, id: ScheduleId) -> ScheduleStatus {
        engine
            .state()
            .org(org)
            .unwrap()
            .schedules()
            .get(id)
            .unwrap()
            .status
    }
}

#[tokio::test]
async fn a_schedule_missed_while_down_runs_once_after_a_restart() {
    let (office, engine) = office().await;
    // When: the scheduler looks before the day. Then: nothing runs.
    assert!(engine.run_due().await.is_empty());
    // When: the engine stops, two days pass, and it opens again.
    engine.shutdown();
    office.clock.advance(Duration::days(2));
    let engine = office.reopen();
    let runs = engine.run_due().await;
    // Then: the missed schedule ran once, under its own id, and did its plan.
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].outcome, "completed");
    assert_eq!(runs[0].command_id.0, office.schedule.0);
    {
        let state = engine.state();
        let org = state.org(office.org).unwrap();
        assert_eq!(
            org.directory().user(office.pat).unwrap().status,
            UserStatus::Deactivated
        );
        assert_eq!(org.ownership().resources_of(office.ann, None).len(), 10);
    }
    // When: the scheduler looks again, and after another restart. Then: nothing more.
    assert!(engine.run_due().await.is_empty());
    let end = engine.last_position();
    engine.shutdown();
    let engine = office.reopen();
    assert!(engine.run_due().await.is_empty());
    assert_eq!(engine.last_position(), end);
    assert_eq!(
        Office::status(&engine, office.org, office.schedule),
        ScheduleStatus::Completed
    );
}

#[tokio::test]
async fn a_run_whose_answer_was_lost_is_not_done_twice() {
    let (office, engine) = office().await;
    office.clock.advance(Duration::days(1));
    // Given: the run was written, then the process died before it heard the answer (a
    // crash mid-run as the scheduler sees it): the same command comes again.
    let meta = CommandMeta {
        command_id: run_command_id(office.schedule, SchedulePhase::Offboard),
        ..CommandMeta::new(office.org, Actor::System)
    };
    let run = Command::RunSchedule {
        schedule: office.schedule,
    };
    let first = engine.execute(meta.clone(), run.clone()).await.unwrap();
    engine.shutdown();
    let engine = office.reopen();
    // When: the scheduler resubmits it, and runs what is due.
    let again = engine.execute(meta, run).await.unwrap();
    let due = engine.run_due().await;
    // Then: the first result, nothing new; nothing is due.
    assert!(again.duplicate);
    assert_eq!(again.positions, first.positions);
    assert!(due.is_empty(), "{due:?}");
    assert_eq!(engine.last_position(), first.positions.unwrap().1);
    let started = engine
        .read_range(1, engine.last_position())
        .unwrap()
        .iter()
        .filter(|e| matches!(e.event, Event::ScheduleStarted(_)))
        .count();
    assert_eq!(started, 1);
}

#[tokio::test]
async fn the_serve_scheduler_runs_a_schedule_when_the_clock_reaches_it() {
    let (office, engine) = office().await;
    let engine = Arc::new(engine);
    let scheduler = Scheduler::start(&engine, StdDuration::from_millis(20));
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    assert_eq!(
        Office::status(&engine, office.org, office.schedule),
        ScheduleStatus::Pending
    );
    // When: the clock reaches the day.
    office.clock.advance(Duration::days(1));
    // Then: within a few ticks the schedule has run.
    let mut waited = 0;
    while Office::status(&engine, office.org, office.schedule) == ScheduleStatus::Pending {
        assert!(waited < 500, "the scheduler did not run the due schedule");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
        waited += 1;
    }
    scheduler.stop().await;
    assert_eq!(
        Office::status(&engine, office.org, office.schedule),
        ScheduleStatus::Completed
    );
}
