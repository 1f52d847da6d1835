//! Issue 4 on the real engine: checkpoints (start-up replays only the tail; a stale one is
//! ignored), rebuild, and the auditor's questions across time (R23, R25).

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use offboard::clock::{Clock, ManualClock};
use offboard::domain::{Command, NewUser, Strategy};
use offboard::engine::CHECKPOINT_EVERY;
use offboard::store::{LogStore, MemoryLog};
use offboard::{AppendRequest, CommandMeta, Engine};
use offboard_events::*;
use offboard_projections::State;

use super::stores::places;
use super::support::{append_one, org, touch};

/// An engine on `store` whose clock starts on 2026-03-01 and moves only when told.
fn engine_on(store: Arc<dyn LogStore>) -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    (Engine::with_store(store, clock.clone()).unwrap(), clock)
}

#[tokio::test]
async fn reopening_with_a_checkpoint_replays_only_the_tail() {
    for place in places() {
        eprintln!("store: {}", place.name);
        replays_only_the_tail_on(Arc::from(place.raw_store())).await;
    }
}

async fn replays_only_the_tail_on(store: Arc<dyn LogStore>) {
    let (first, _) = engine_on(store.clone());
    for n in 0..100 {
        first.append(append_one(touch(n))).await.unwrap();
    }
    assert_eq!(first.checkpoint_now().unwrap(), 100);
    for n in 0..7 {
        first.append(append_one(touch(n))).await.unwrap();
    }
    // A second engine on the same log and keys, as a restarted process would open them.
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let second = Engine::with_parts(store.clone(), first.vault().clone(), clock).unwrap();
    assert_eq!(second.recovery().checkpoint_position, Some(100));
    assert_eq!(
        second.recovery().replayed,
        7,
        "only the tail after the checkpoint is replayed"
    );

    let mut full = State::default();
    for e in first.read_range(1, u64::MAX).unwrap() {
        full.apply(&e);
    }
    assert_eq!(
        second.state().to_checkpoint_bytes(),
        full.to_checkpoint_bytes()
    );
}

#[tokio::test]
async fn a_checkpoint_of_another_version_is_ignored_and_rebuilt() {
    let store = Arc::new(MemoryLog::new());
    let (first, _) = engine_on(store.clone());
    for n in 0..20 {
        first.append(append_one(touch(n))).await.unwrap();
    }
    let mut stale = first.state().to_checkpoint_bytes();
    stale[..4].copy_from_slice(&(State::VERSION + 1).to_be_bytes());
    let key = first
        .vault()
        .checkpoint_key()
        .unwrap_or_else(|| first.vault().rotate_checkpoint_key().unwrap());
    store
        .put_checkpoint("projections", &key.encrypt(&stale))
        .unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let second = Engine::with_parts(store, first.vault().clone(), clock).unwrap();
    assert_eq!(second.recovery().checkpoint_position, None);
    assert!(second
        .recovery()
        .checkpoint_ignored
        .as_deref()
        .unwrap()
        .contains("version"));
    assert_eq!(second.recovery().replayed, 20);
}

#[tokio::test]
async fn a_clean_shutdown_saves_a_checkpoint_on_disk() {
    for place in places() {
        {
            let engine = place.open();
            for n in 0..30 {
                engine.append(append_one(touch(n))).await.unwrap();
            }
        }
        let engine = place.open();
        assert_eq!(
            engine.recovery().checkpoint_position,
            Some(30),
            "{}",
            place.name
        );
        assert_eq!(engine.recovery().replayed, 0, "{}", place.name);
        assert_eq!(engine.rebuild(&mut |_| {}).unwrap(), 30, "{}", place.name);
    }
}

#[tokio::test]
async fn the_writer_saves_a_checkpoint_every_so_many_events_while_it_goes_on() {
    let store = Arc::new(MemoryLog::new());
    let (first, _) = engine_on(store.clone());
    let per_append = 1_000;
    let append = |from: u64| AppendRequest {
        meta: CommandMeta::new(org(), Actor::System),
        expected: Vec::new(),
        events: (from..from + per_append).map(touch).collect(),
    };
    for n in 0..CHECKPOINT_EVERY / per_append {
        first.append(append(n * per_append)).await.unwrap();
    }
    // The checkpointer saves a copy taken at the point of rest after the append that
    // reached CHECKPOINT_EVERY, on its own thread: wait for the file.
    for _ in 0..600 {
        if store.checkpoint("projections").unwrap().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    first.append(append(CHECKPOINT_EVERY)).await.unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let second = Engine::with_parts(store, first.vault().clone(), clock).unwrap();
    assert_eq!(
        second.recovery().checkpoint_position,
        Some(CHECKPOINT_EVERY)
    );
    assert_eq!(second.recovery().replayed, per_append);
    assert_eq!(second.last_position(), CHECKPOINT_EVERY + per_append);
}

/// A small org on a manual clock: one command per day.
struct Story {
    engine: Engine,
    clock: Arc<ManualClock>,
    org: OrgId,
    owner: UserId,
}

impl Story {
    async fn new() -> Self {
        Self::on(Arc::new(MemoryLog::new())).await
    }

    /// The story on `store`.
    async fn on(store: Arc<dyn LogStore>) -> Self {
        let (engine, clock) = engine_on(store);
        let org = OrgId::new();
        let create = Command::CreateOrganization {
            name: "Acme".into(),
            owner: NewUser {
                email: "olive@acme.example".into(),
                first_name: "Olive".into(),
                last_name: "Owner".into(),
                job_title: None,
                external_id: None,
                department: None,
                employee_number: None,
                user_name: None,
            },
        };
        engine
            .execute(CommandMeta::new(org, Actor::System), create)
            .await
            .unwrap();
        let owner = engine.state().org(org).unwrap().owner();
        Self {
            engine,
            clock,
            org,
            owner,
        }
    }

    async fn run(&self, command: Command) -> offboard::Appended {
        self.clock.advance(Duration::days(1));
        self.engine
            .execute(
                CommandMeta::new(self.org, Actor::User { id: self.owner }),
                command,
            )
            .await
            .unwrap()
    }

    async fn hire(&self, email: &str) -> UserId {
        let invite = Command::InviteUser {
            user: NewUser {
                email: email.into(),
                first_name: "A".into(),
                last_name: "B".into(),
                job_title: None,
                external_id: None,
                department: None,
                employee_number: None,
                user_name: None,
            },
            role: Role::Member,
            manager: None,
            active: true,
        };
        self.run(invite).await;
        self.engine
            .state()
            .org(self.org)
            .unwrap()
            .directory()
            .user_by_email(email)
            .unwrap()
            .id
    }
}

#[tokio::test]
async fn who_owned_a_buyer_at_each_instant_and_who_moved_it() {
    for place in places() {
        eprintln!("store: {}", place.name);
        who_owned_a_buyer_on(Story::on(Arc::from(place.raw_store())).await).await;
    }
}

async fn who_owned_a_buyer_on(story: Story) {
    let (ann, bob, cid) = (
        story.hire("ann@acme.example").await,
        story.hire("bob@acme.example").await,
        story.hire("cid@acme.example").await,
    );
    let b17: ResourceKey = "buyer:B-17".parse().unwrap();
    story
        .run(Command::RegisterResources {
            owner: ann,
            resources: vec![b17.clone(), "buyer:B-18".parse().unwrap()],
        })
        .await;
    let registered_at = story.clock.now();
    let moved = story
        .run(Command::TransferAll {
            from: ann,
            kind: "buyer".into(),
            to: vec![bob],
            strategy: Strategy::RoundRobin,
        })
        .await;
    let moved_at = story.clock.now();
    story
        .run(Command::TransferResources {
            from: bob,
            resources: vec![b17.clone()],
            to: cid,
        })
        .await;
    let last_at = story.clock.now();

    let org = story.engine.state();
    let org = org.org(story.org).unwrap();
    assert_eq!(
        org.owner_at_time(&b17, registered_at - Duration::hours(1)),
        None
    );
    assert_eq!(org.owner_at_time(&b17, registered_at), Some(ann));
    assert_eq!(
        org.owner_at_time(&b17, moved_at - Duration::hours(1)),
        Some(ann)
    );
    assert_eq!(
        org.owner_at_time(&b17, moved_at + Duration::hours(1)),
        Some(bob)
    );
    assert_eq!(org.owner_at_time(&b17, last_at), Some(cid));

    let history = story.engine.resource_history(story.org, &b17);
    let owners: Vec<Option<UserId>> = history.iter().map(|c| c.owner).collect();
    assert_eq!(owners, vec![Some(ann), Some(bob), Some(cid)]);
    assert_eq!(
        history[1].correlation_id, moved.correlation_id,
        "the move names its offboarding"
    );
    assert_eq!(history[1].actor, Actor::User { id: story.owner });
    assert_eq!(history[1].previous, Some(ann));

    // "As of" any view: the state right after the move.
    let then = story
        .engine
        .state_at(story.engine.position_at(story.org, moved_at))
        .unwrap();
    let then = then.org(story.org).unwrap();
    assert_eq!(then.ownership().owner_of(&b17), Some(bob));
    assert_eq!(then.ownership().total_owned(ann), 0);
}

#[tokio::test]
async fn seats_as_of_a_past_date() {
    let story = Story::new().await;
    let ann = story.hire("ann@acme.example").await;
    let _bob = story.hire("bob@acme.example").await;
    let two_hired = story.clock.now();
    story.run(Command::DeactivateUser { user: ann }).await;
    let deactivated = story.clock.now();
    story
        .run(Command::DeleteUser {
            user: ann,
            confirm: "CONFIRM".into(),
        })
        .await;

    let state = story.engine.state();
    let billing = state.org(story.org).unwrap().billing();
    assert_eq!(
        billing.billed_seats_at_time(two_hired),
        3,
        "owner, ann, bob"
    );
    assert_eq!(
        billing.billed_seats_at_time(deactivated),
        3,
        "deactivated users are still billed (R8)"
    );
    assert_eq!(billing.billed_seats(), 2, "deleted users are not (R11)");
    assert_eq!(
        billing.billed_seats_at_time(two_hired - Duration::days(30)),
        0,
        "before the org existed"
    );
}

#[tokio::test]
async fn correlation_history_lists_exactly_the_events_of_one_offboarding() {
    let story = Story::new().await;
    let (ann, bob) = (
        story.hire("ann@acme.example").await,
        story.hire("bob@acme.example").await,
    );
    story
        .run(Command::RegisterResources {
            owner: ann,
            resources: vec!["lead:L-1".parse().unwrap()],
        })
        .await;
    let offboarding = story
        .run(Command::TransferAccount {
            from: ann,
            to: bob,
            then: FollowUp::Deactivate,
            confirm: None,
        })
        .await;
    story.run(Command::ReactivateUser { user: ann }).await;

    let events = story
        .engine
        .correlation_history(story.org, offboarding.correlation_id)
        .unwrap();
    let (first, last) = offboarding.positions.unwrap();
    assert_eq!(
        events.iter().map(|e| e.position).collect::<Vec<_>>(),
        (first..=last).collect::<Vec<_>>()
    );
    let types: Vec<&str> = events.iter().map(|e| e.event.event_type()).collect();
    assert_eq!(
        types,
        vec![
            "OffboardingStarted",
            "ResourcesTransferred",
            "UserDeactivated",
            "OffboardingCompleted"
        ]
    );

    let ann_history = story.engine.user_history(story.org, ann).unwrap();
    let ann_types: Vec<&str> = ann_history.iter().map(|e| e.event.event_type()).collect();
    assert_eq!(
        ann_types,
        vec![
            "UserInvited",
            "UserActivated",
            "ResourcesRegistered",
            "OffboardingStarted",
            "ResourcesTransferred",
            "UserDeactivated",
            "OffboardingCompleted",
            "UserReactivated"
        ]
    );
    let timeline = story
        .engine
        .timeline(
            story.org,
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
            Utc::now() + Duration::days(400),
        )
        .unwrap();
    assert_eq!(timeline.len() as u64, story.engine.last_position());
}

#[tokio::test]
async fn owners_across_an_offboarding_that_deleted_and_the_restore_that_undid_it() {
    for place in places() {
        eprintln!("store: {}", place.name);
        owners_across_a_delete_and_its_restore_on(Story::on(Arc::from(place.raw_store())).await)
            .await;
    }
}

async fn owners_across_a_delete_and_its_restore_on(story: Story) {
    let (ann, bob) = (
        story.hire("ann@acme.example").await,
        story.hire("bob@acme.example").await,
    );
    let b1: ResourceKey = "buyer:B-1".parse().unwrap();
    story
        .run(Command::RegisterResources {
            owner: ann,
            resources: vec![b1.clone()],
        })
        .await;
    let before = story.clock.now();
    let deleting = story
        .run(Command::TransferAccount {
            from: ann,
            to: bob,
            then: FollowUp::Delete,
            confirm: Some("CONFIRM".into()),
        })
        .await;
    let deleted = story.clock.now();
    let restore = Command::RestoreUser {
        user: ann,
        return_ownership: true,
        new_email: None,
        reactivate: true,
    };
    let restored_by = story.run(restore).await;
    let restored = story.clock.now();

    let state = story.engine.state();
    let org = state.org(story.org).unwrap();
    assert_eq!(org.owner_at_time(&b1, before), Some(ann));
    assert_eq!(org.owner_at_time(&b1, deleted), Some(bob));
    assert_eq!(org.owner_at_time(&b1, restored), Some(ann));
    let history = org.owner_history(&b1);
    let moves: Vec<(Option<UserId>, CorrelationId)> = history
        .iter()
        .map(|c| (c.owner, c.correlation_id))
        .collect();
    assert_eq!(
        moves[1],
        (Some(bob), deleting.correlation_id),
        "moved away by the offboarding"
    );
    assert_eq!(
        moves[2],
        (Some(ann), restored_by.correlation_id),
        "and back by the restore"
    );
    // The user's record as of the deletion, replayed: deleted then, active now.
    let then = story
        .engine
        .state_at(story.engine.position_at(story.org, deleted))
        .unwrap();
    assert_eq!(
        then.org(story.org)
            .unwrap()
            .directory()
            .user(ann)
            .unwrap()
            .status,
        UserStatus::Deleted
    );
    assert_eq!(
        org.directory().user(ann).unwrap().status,
        UserStatus::Active
    );
}

/// A checkpoint saved on request (as `rebuild` does) counts for the writer too: closing
/// the engine right after does not save the same state a second time (each save replaces
/// the checkpoint key, so an unchanged key file means no second save).
#[tokio::test]
async fn closing_right_after_a_checkpoint_does_not_save_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys/checkpoint.key");
    let engine = Engine::open(dir.path()).unwrap();
    for n in 0..10 {
        engine.append(append_one(touch(n))).await.unwrap();
    }
    engine.rebuild(&mut |_| {}).unwrap();
    let saved = std::fs::read(&key_file).unwrap();
    drop(engine);
    assert_eq!(
        std::fs::read(&key_file).unwrap(),
        saved,
        "saved again at close"
    );

    // With something new after it, closing does save.
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.recovery().checkpoint_position, Some(10));
    engine.append(append_one(touch(1))).await.unwrap();
    drop(engine);
    assert_ne!(std::fs::read(&key_file).unwrap(), saved);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.recovery().checkpoint_position, Some(11));
}
