//! Issue 21 §2, several nodes on one PostgreSQL log: one leads (it holds the writer
//! lock), the others follow — their projections kept current by tailing the log, their
//! commands refused with `not_leader` naming the leader — and a follower takes over when
//! the leader's session ends. Skipped (saying so) where PostgreSQL is not installed,
//! unless OFFBOARD_REQUIRE_POSTGRES=1.

use std::time::Duration;

use offboard::domain::{Command, NewUser};
use offboard::engine::{Options, Role as NodeRole};
use offboard::privacy::kek::Kek;
use offboard::privacy::key_settings::KeySettings;
use offboard::store::PgPool;
use offboard::{AppendError, CommandMeta, Engine};
use offboard_events::*;

use super::privacy::{org_with_zelda, EMAIL};
use super::stores::Place;

/// How long a follower may take to see a commit, or to take over: far above what it
/// needs (milliseconds), so a slow CI machine does not fail the test.
const PATIENCE: Duration = Duration::from_secs(10);

/// A PostgreSQL place and the KEK every node shares, or `None` without PostgreSQL.
fn cluster() -> Option<(Place, KeySettings)> {
    let place = Place::postgres()?;
    let kek = place.dir.path().join("nodes.kek");
    Kek::create_file(&kek).unwrap();
    let keys = KeySettings {
        kek_file: Some(kek),
        backup_retention: None,
    };
    Some((place, keys))
}

fn node(place: &Place, keys: &KeySettings, url: &str) -> Engine {
    Engine::open_node(&place.location, Options::default(), keys, Some(url)).unwrap()
}

/// Waits until `engine` reports a role `accept`s.
async fn role_becomes(engine: &Engine, accept: impl Fn(&NodeRole) -> bool) -> NodeRole {
    let mut roles = engine.roles();
    let waited = tokio::time::timeout(PATIENCE, roles.wait_for(|r| accept(r))).await;
    let role = engine.role();
    assert!(waited.is_ok(), "the role stayed {role:?}");
    role
}

/// Invites a member with `email`: a command that appends.
fn invite(email: &str) -> Command {
    Command::InviteUser {
        user: NewUser {
            email: email.into(),
            first_name: "Nod".into(),
            last_name: "Follower".into(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        },
        role: Role::Member,
        manager: None,
        active: true,
    }
}

fn email_of(engine: &Engine, org: OrgId, user: UserId) -> String {
    let state = engine.state();
    let user = state.org(org).unwrap().directory().user(user).unwrap();
    user.profile.email.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_serves_what_the_leader_commits_and_takes_over_when_it_goes() {
    let Some((place, keys)) = cluster() else {
        return;
    };
    // Given two nodes on one database: the first to open leads, the second follows
    let leader = node(&place, &keys, "http://leader.example");
    let follower = node(&place, &keys, "http://follower.example");
    assert_eq!(leader.role(), NodeRole::Leader);
    let role = role_becomes(&follower, |r| r.leader() == Some("http://leader.example")).await;
    assert!(!role.is_leader());
    // When the leader commits an org with Zelda (her profile sealed with a key the
    // follower has never loaded)
    let (org, owner, zelda) = org_with_zelda(&leader).await;
    // Then the follower applies it and reads her profile
    assert!(
        follower
            .wait_for_position(leader.last_position(), PATIENCE)
            .await
    );
    assert_eq!(email_of(&follower, org, zelda), EMAIL);
    // And a command sent to the follower is refused, naming the leader, and appends nothing
    let before = leader.last_position();
    let as_owner = || CommandMeta::new(org, Actor::User { id: owner });
    let refused = follower
        .execute(as_owner(), Command::PurgeExpired)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, AppendError::NotLeader { leader: Some(url) } if url == "http://leader.example"),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "not_leader");
    assert_eq!(leader.last_position(), before);
    // When the leader purges Zelda
    let purge = Command::PurgeUser {
        user: zelda,
        confirm: "CONFIRM".into(),
    };
    leader.execute(as_owner(), purge).await.unwrap();
    assert!(
        follower
            .wait_for_position(leader.last_position(), PATIENCE)
            .await
    );
    // Then the follower has forgotten her key too (R13 holds on every node)
    assert_eq!(follower.vault().user_key(zelda), None);
    assert_eq!(email_of(&follower, org, zelda), "erased");
    // When the leader goes away (its session ends with it)
    let last = leader.last_position();
    drop(leader);
    // Then the follower takes over, from the position the leader reached
    role_becomes(&follower, NodeRole::is_leader).await;
    assert_eq!(follower.last_position(), last);
    let appended = follower
        .execute(as_owner(), invite("after@nodes.example"))
        .await
        .unwrap();
    assert_eq!(appended.positions.map(|(first, _)| first), Some(last + 1));
    // And the log it continued verifies, end to end
    let report = follower.verify(&mut |_| {}).unwrap();
    assert_eq!(report.events, follower.last_position());
}

/// Ends every session holding an advisory lock in the database at `url` (what
/// PostgreSQL does to a session it can no longer reach).
fn end_lock_sessions(url: &str) {
    let pool = PgPool::connect(url).unwrap();
    pool.run(|client| async move {
        client
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks \
                 WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .await?;
        Ok(())
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_whose_lock_session_ends_steps_down_and_one_node_leads_again() {
    let Some((place, keys)) = cluster() else {
        return;
    };
    // Given a leader with an org, and a follower
    let first = node(&place, &keys, "http://first.example");
    let second = node(&place, &keys, "http://second.example");
    let (org, owner, _) = org_with_zelda(&first).await;
    // When PostgreSQL ends the leader's lock session
    end_lock_sessions(place.url().unwrap());
    // Then the leader stops leading (and answers commands not_leader meanwhile)
    role_becomes(&first, |r| !r.is_leader()).await;
    // And one of the two leads again, the other follows it
    let mut leading = None;
    for _ in 0..100 {
        match (first.role().is_leader(), second.role().is_leader()) {
            (true, false) => leading = Some((&first, &second)),
            (false, true) => leading = Some((&second, &first)),
            (true, true) => panic!("two nodes report leading at once"),
            (false, false) => {}
        }
        if leading.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (leader, other) = leading.expect("a node leads again");
    // And a command committed there reaches the other, on a gapless, verified log
    let as_owner = CommandMeta::new(org, Actor::User { id: owner });
    leader
        .execute(as_owner, invite("again@nodes.example"))
        .await
        .unwrap();
    assert!(
        other
            .wait_for_position(leader.last_position(), PATIENCE)
            .await
    );
    let report = leader.verify(&mut |_| {}).unwrap();
    assert_eq!(report.events, leader.last_position());
}

#[test]
fn a_node_advertising_the_leaders_own_url_is_refused_with_advertise_taken() {
    let Some((place, keys)) = cluster() else {
        return;
    };
    // Given a leader that published http://shared.example
    let leader = node(&place, &keys, "http://shared.example");
    assert_eq!(leader.role(), NodeRole::Leader);
    // When a second node starts with the same --advertise URL
    let started = std::time::Instant::now();
    let refused = Engine::open_node(
        &place.location,
        Options::default(),
        &keys,
        Some("http://shared.example"),
    )
    .map(|_| ())
    .unwrap_err();
    // Then, once the leader kept that URL for the publish patience, it is refused by name
    assert_eq!(refused.code(), "advertise_taken", "{refused}");
    assert!(
        refused.to_string().contains("http://shared.example"),
        "{refused}"
    );
    assert!(started.elapsed() >= Duration::from_secs(10));
    // And the leader still leads
    assert_eq!(leader.role(), NodeRole::Leader);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_that_resigns_hands_over_at_once_and_keeps_answering_reads() {
    let Some((place, keys)) = cluster() else {
        return;
    };
    // Given a leader with an org, and a follower that has applied it
    let leader = node(&place, &keys, "http://resigning.example");
    let follower = node(&place, &keys, "http://next.example");
    let (org, owner, zelda) = org_with_zelda(&leader).await;
    assert!(
        follower
            .wait_for_position(leader.last_position(), PATIENCE)
            .await
    );
    // When the leader resigns (serve's first step when told to stop), while it is still
    // open (before, it kept the writer lock until it was shut down and dropped)
    tokio::task::block_in_place(|| leader.resign());
    // Then the follower leads
    let role = role_becomes(&follower, NodeRole::is_leader).await;
    assert!(role.is_leader());
    // And the old leader refuses commands (retry elsewhere) but still reads
    let refused = leader
        .execute(
            CommandMeta::new(org, Actor::User { id: owner }),
            invite("late@example.com"),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "not_leader", "{refused}");
    assert_eq!(email_of(&leader, org, zelda), EMAIL);
    // And the new leader writes
    let written = follower
        .execute(
            CommandMeta::new(org, Actor::User { id: owner }),
            invite("next@example.com"),
        )
        .await;
    assert!(written.is_ok(), "{written:?}");
}
