//! Online backup (`POST /v1/admin/backup`): a copy taken while several writers keep
//! appending is a verified prefix of the live log, at one position, with the views,
//! keys, tokens and consumer positions of that position; a second backup into the same
//! directory is refused.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use offboard::domain::{Command, NewUser};
use offboard::server::{self, consumers, tokens, AppState};
use offboard::{CommandMeta, Engine};
use offboard_events::{Actor, OrgId, ResourceKey, UserId};
use serde_json::json;

use crate::support::{create_org, send};

/// Keeps appending (a resource, and now and then a new user) until `stop`.
async fn keep_writing(
    engine: Arc<Engine>,
    org: OrgId,
    owner: UserId,
    writer: u64,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let meta = CommandMeta::new(org, Actor::User { id: owner });
        let command = if n.is_multiple_of(5) {
            Command::InviteUser {
                user: NewUser {
                    email: format!("w{writer}-{n}@truckpros.example"),
                    first_name: "Wanda".into(),
                    last_name: "Writer".into(),
                    job_title: None,
                    external_id: None,
                    department: None,
                    employee_number: None,
                    user_name: None,
                },
                role: offboard_events::Role::Member,
                manager: None,
                active: true,
            }
        } else {
            Command::RegisterResources {
                owner,
                resources: vec![ResourceKey::new("buyer", &format!("W{writer}-{n}")).unwrap()],
            }
        };
        engine.execute(meta, command).await.unwrap();
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// `(id, email, status, role)` of every user of `org` in `state`.
fn users(state: &offboard_projections::State, org: OrgId) -> Vec<String> {
    let mut out: Vec<String> = state
        .org(org)
        .unwrap()
        .directory()
        .users()
        .map(|u| format!("{} {} {:?} {:?}", u.id, u.profile.email, u.status, u.role))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_writers_append_is_a_verified_prefix_with_that_positions_views() {
    // Given a served data directory with an owner token, a consumer that acked, and four
    // writers appending as fast as they can
    let home = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(home.path().join("data")).unwrap());
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    let owner_token = tokens::create(&engine, Some("Truck Pros"), &owner.to_string())
        .unwrap()
        .token;
    let app = server::app(AppState::new(Arc::clone(&engine)).unwrap());
    let acked = send(
        &app,
        "POST",
        "/v1/consumers/crm/ack",
        Some(&owner_token),
        Some(json!({"position": 1}).to_string()),
        &[],
    )
    .await;
    assert!(acked.status.is_success(), "{}", acked.text);
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let writers: Vec<_> = (0..4)
        .map(|w| {
            tokio::spawn(keep_writing(
                Arc::clone(&engine),
                org,
                owner,
                w,
                Arc::clone(&stop),
                Arc::clone(&done),
            ))
        })
        .collect();
    while done.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    // When the owner asks for a backup meanwhile
    let copy_dir = home.path().join("copy");
    let body = json!({ "dir": copy_dir.to_str().unwrap() }).to_string();
    let answer = send(
        &app,
        "POST",
        "/v1/admin/backup",
        Some(&owner_token),
        Some(body.clone()),
        &[],
    )
    .await;
    let during = done.load(Ordering::Relaxed);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let report = answer.ok();

    // Then it answers with one position and its head, and the files it wrote
    let position = report["position"].as_u64().unwrap();
    let live_end = engine.last_position();
    assert!(
        position > 200 && position < live_end,
        "copied {position} of {live_end} (writers went on: {during} commands by the answer)"
    );
    assert_eq!(
        report["head"],
        format!("{position}:{}", engine.read_one(position).unwrap().hash)
    );
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for expected in [
        "db",
        "checkpoints/projections",
        "checkpoints/chain-head",
        "checkpoints/server.tokens",
        "keys/checkpoint.key",
    ] {
        assert!(files.contains(&expected), "{expected} not in {files:?}");
    }
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("checkpoints/server.consumer.")),
        "{files:?}"
    );
    assert!(
        files
            .iter()
            .filter(|f| f.starts_with("keys/users/"))
            .count()
            > 1,
        "{files:?}"
    );

    // And the copy opens (every claim and key checked), verifies, and its log is the live
    // log's prefix, hash for hash
    let copy = Arc::new(Engine::open(&copy_dir).unwrap());
    let verified = copy.verify(&mut |_| {}).unwrap();
    assert_eq!(verified.events, position);
    assert_eq!(copy.last_position(), position);
    let live_prefix = engine.read_range(1, position).unwrap();
    let copied = copy.read_range(1, position).unwrap();
    assert_eq!(copied.len(), live_prefix.len());
    for (a, b) in live_prefix.iter().zip(&copied) {
        assert_eq!(
            (a.position, &a.hash, &a.event),
            (b.position, &b.hash, &b.event)
        );
    }

    // And its users and owners are the live ones as of that position
    let then = engine.state_at(position).unwrap();
    assert_eq!(users(&copy.state(), org), users(&then, org));
    let copy_app = server::app(AppState::new(Arc::clone(&copy)).unwrap());
    let owners_then = send(
        &app,
        "GET",
        &format!("/v1/owners?position={position}&limit=1000"),
        Some(&owner_token),
        None,
        &[],
    )
    .await
    .ok();
    let owners_copy = send(
        &copy_app,
        "GET",
        "/v1/owners?limit=1000",
        Some(&owner_token),
        None,
        &[],
    )
    .await
    .ok();
    // (one page holds them all; `as_of` differs only in being asked for)
    assert_eq!(owners_then["next"], serde_json::Value::Null);
    assert_eq!(owners_copy["owners"], owners_then["owners"]);

    // And the token and the consumer's position came along
    let consumers = consumers::all(copy.store().as_ref()).unwrap();
    assert_eq!(consumers.len(), 1);
    assert_eq!(consumers[0].1.position, 1);

    // When a second backup goes to the same directory
    let before = engine.last_position();
    let again = send(
        &app,
        "POST",
        "/v1/admin/backup",
        Some(&owner_token),
        Some(body),
        &[],
    )
    .await;

    // Then it is refused with a stable code, and nothing changed anywhere
    again.error(409, "directory_not_empty");
    assert_eq!(engine.last_position(), before);
    assert_eq!(copy.last_position(), position);
}

#[tokio::test]
async fn only_an_owner_may_back_up_and_only_to_an_absolute_path() {
    // Given a server with an owner and an auditor
    let engine = Engine::in_memory();
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    crate::support::as_user(
        &engine,
        org,
        owner,
        Command::RegisterPrincipal {
            kind: offboard_events::PrincipalKind::Auditor,
            name: "audit-firm".into(),
        },
    )
    .await;
    let owner_token = tokens::create(&engine, Some("Truck Pros"), &owner.to_string())
        .unwrap()
        .token;
    let auditor_token = tokens::create(&engine, Some("Truck Pros"), "auditor:audit-firm")
        .unwrap()
        .token;
    let app = server::app(AppState::new(Arc::new(engine)).unwrap());
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("copy");
    let body = json!({ "dir": dir.to_str().unwrap() }).to_string();

    // When the auditor asks, or the owner names a relative path
    let auditor = send(
        &app,
        "POST",
        "/v1/admin/backup",
        Some(&auditor_token),
        Some(body),
        &[],
    )
    .await;
    let relative = send(
        &app,
        "POST",
        "/v1/admin/backup",
        Some(&owner_token),
        Some(json!({"dir": "copy"}).to_string()),
        &[],
    )
    .await;

    // Then both are refused and nothing was written
    auditor.error(403, "forbidden");
    relative.error(422, "invalid_input");
    assert!(!dir.exists());
}
