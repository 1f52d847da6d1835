//! Issue 5 on the real engine with a settable clock: support restores an accidental
//! delete within the window and everything comes back; the log only grows.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use offboard::clock::ManualClock;
use offboard::domain::{Command, NewUser, OffboardPlan, Recipients, Strategy};
use offboard::store::MemoryLog;
use offboard::{AppendError, CommandMeta, Engine};
use offboard_events::*;

struct Desk {
    engine: Engine,
    clock: Arc<ManualClock>,
    org: OrgId,
    owner: UserId,
    leaving: UserId,
}

impl Desk {
    fn owner(&self) -> CommandMeta {
        CommandMeta::new(self.org, Actor::User { id: self.owner })
    }

    fn ownership(&self) -> String {
        serde_json::to_string(
            &self
                .engine
                .state()
                .org(self.org)
                .unwrap()
                .ownership()
                .list(None, None),
        )
        .unwrap()
    }

    /// The leaver's directory record, but for when it last changed (the delete and the
    /// restore are changes: that time moves on).
    fn record(&self) -> String {
        let state = self.engine.state();
        let mut user = state
            .org(self.org)
            .unwrap()
            .directory()
            .user(self.leaving)
            .unwrap()
            .clone();
        user.modified_at = user.created_at;
        serde_json::to_string(&user).unwrap()
    }

    fn stored(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.engine
            .store()
            .scan(1, u64::MAX, &mut |_, b| {
                out.push(b.to_vec());
                true
            })
            .unwrap();
        out
    }
}

/// Given: a leaver with 30 buyers and 3 colleagues; support "sam" serves the org.
async fn desk() -> Desk {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap(),
    ));
    let engine = Engine::with_store(Arc::new(MemoryLog::new()), clock.clone()).unwrap();
    let org = OrgId::new();
    let new = |email: &str| NewUser {
        email: email.into(),
        first_name: "F".into(),
        last_name: "L".into(),
        job_title: None,
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    };
    engine
        .execute(
            CommandMeta::new(org, Actor::System),
            Command::CreateOrganization {
                name: "Desk".into(),
                owner: new("o@desk.example"),
            },
        )
        .await
        .unwrap();
    let owner = engine.state().org(org).unwrap().owner();
    let as_owner = || CommandMeta::new(org, Actor::User { id: owner });
    for email in [
        "lee@desk.example",
        "a@desk.example",
        "b@desk.example",
        "c@desk.example",
    ] {
        let invite = Command::InviteUser {
            user: new(email),
            role: Role::Member,
            manager: None,
            active: true,
        };
        engine.execute(as_owner(), invite).await.unwrap();
    }
    let leaving = engine
        .state()
        .org(org)
        .unwrap()
        .directory()
        .user_by_email("lee@desk.example")
        .unwrap()
        .id;
    let buyers = (0..30)
        .map(|i| format!("buyer:B-{i}").parse().unwrap())
        .collect();
    engine
        .execute(
            as_owner(),
            Command::RegisterResources {
                owner: leaving,
                resources: buyers,
            },
        )
        .await
        .unwrap();
    engine
        .execute(
            as_owner(),
            Command::RegisterPrincipal {
                kind: PrincipalKind::Support,
                name: "sam".into(),
            },
        )
        .await
        .unwrap();
    Desk {
        engine,
        clock,
        org,
        owner,
        leaving,
    }
}

async fn accidental_delete(d: &Desk) {
    let colleagues: Vec<UserId> = ["a@desk.example", "b@desk.example", "c@desk.example"]
        .iter()
        .map(|e| {
            d.engine
                .state()
                .org(d.org)
                .unwrap()
                .directory()
                .user_by_email(e)
                .unwrap()
                .id
        })
        .collect();
    let plan = OffboardPlan {
        resources: BTreeMap::from([(
            "buyer".to_owned(),
            Recipients {
                to: colleagues,
                strategy: Strategy::RoundRobin,
            },
        )]),
        ..OffboardPlan::default()
    };
    let offboard = Command::Offboard {
        user: d.leaving,
        plan,
        then: FollowUp::Delete,
        confirm: Some("CONFIRM".into()),
    };
    d.engine.execute(d.owner(), offboard).await.unwrap();
}

fn restore(user: UserId) -> Command {
    Command::RestoreUser {
        user,
        return_ownership: true,
        new_email: None,
        reactivate: true,
    }
}

#[tokio::test]
async fn support_restores_an_accidental_delete_on_day_29_and_the_log_only_grew() {
    let d = desk().await;
    let (ownership, record) = (d.ownership(), d.record());
    accidental_delete(&d).await;
    assert_ne!(d.ownership(), ownership);
    let before_restore = d.stored();

    d.clock.advance(Duration::days(29));
    let support = CommandMeta::new(d.org, Actor::Support { name: "sam".into() });
    let done = d.engine.execute(support, restore(d.leaving)).await.unwrap();
    assert!(
        done.count() >= 4,
        "restored, three transfers back, the revert marker"
    );

    assert_eq!(
        d.ownership(),
        ownership,
        "the ownership view is as before the offboarding"
    );
    assert_eq!(d.record(), record, "the user's record is as before");
    let after = d.stored();
    assert_eq!(
        &after[..before_restore.len()],
        &before_restore[..],
        "nothing stored was rewritten"
    );
    assert!(after.len() > before_restore.len());
    d.engine.verify(&mut |_| {}).unwrap();
    let last = d.engine.tail(1).unwrap().remove(0);
    assert_eq!(
        last.actor,
        Actor::Support { name: "sam".into() },
        "the restore names who did it"
    );
}

#[tokio::test]
async fn on_day_31_the_window_of_30_days_has_passed() {
    let d = desk().await;
    accidental_delete(&d).await;
    d.clock.advance(Duration::days(31));
    let err = d
        .engine
        .execute(d.owner(), restore(d.leaving))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppendError::Rejected(e) if e.code() == "restore_window_expired"),
        "{err}"
    );
    let last = d.engine.last_position();
    d.engine
        .execute(
            CommandMeta::new(d.org, Actor::System),
            Command::PurgeExpired,
        )
        .await
        .unwrap();
    assert_eq!(
        d.engine.last_position(),
        last + 1,
        "the sweep purged the expired user"
    );
    assert_eq!(d.engine.store().head().unwrap().last_position, last + 1);
}
