//! Two `serve` nodes on one PostgreSQL log (issue 21 §2), for real: the second node
//! follows the first; a command sent to it is decided by the leader once per
//! Idempotency-Key and read back on the follower with `min_position`; `/readyz` names
//! each node's part; when the leader stops, the follower leads and takes commands and
//! tokens itself; a token issued through the follower opens it at once, and the CLI
//! pointed at the follower works. Skipped, saying so, where PostgreSQL is not installed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use offboard::engine::{Options, Role};
use offboard::privacy::key_settings::KeySettings;
use offboard::server::{tokens, ServerOptions};
use offboard::Engine;
use serde_json::{json, Value};

use super::stores::Place;
use super::support::*;

/// A node of `place` on a free loopback port, advertising it: opened, not serving yet.
async fn open(place: &Place) -> (Arc<Engine>, tokio::net::TcpListener) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let location = place.location.clone();
    let engine = tokio::task::spawn_blocking(move || {
        Engine::open_node(
            &location,
            Options::default(),
            &KeySettings::default(),
            Some(&url),
        )
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("opening a node: {e}"));
    (Arc::new(engine), listener)
}

/// [`open`], serving.
async fn node(place: &Place) -> (Arc<Engine>, Running) {
    let (engine, listener) = open(place).await;
    let running = start_shared_on(listener, Arc::clone(&engine), ServerOptions::default()).await;
    (engine, running)
}

/// Waits up to `patience` for `engine`'s role to satisfy `what`.
async fn role_becomes(engine: &Engine, patience: Duration, what: impl Fn(&Role) -> bool) -> Role {
    let deadline = Instant::now() + patience;
    loop {
        let role = engine.role();
        if what(&role) {
            return role;
        }
        assert!(
            Instant::now() < deadline,
            "still {role:?} after {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_forwards_commands_reads_its_writes_and_leads_when_the_leader_stops() {
    let Some(place) = Place::postgres() else {
        return;
    };
    // Given a leader with an org and its owner's token, and a second node
    let (a, listener) = open(&place).await;
    assert_eq!(a.role(), Role::Leader);
    let (_, owner) = create_org(&a, "Truck Pros").await;
    let token = tokens::create(&a, None, &owner.to_string()).unwrap().token;
    let a_run = start_shared_on(listener, Arc::clone(&a), ServerOptions::default()).await;
    let (b, b_run) = node(&place).await;
    let a_url = a_run.url();
    role_becomes(&b, Duration::from_secs(5), |r| {
        r.leader() == Some(a_url.as_str())
    })
    .await;
    let http = reqwest::Client::new();
    let invite = |base: String, key: &'static str, email: &'static str| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let answer = http
                .post(format!("{base}/v1/users"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&json!({ "email": email, "first_name": "F", "last_name": "L", "role": "member", "active": true }))
                .send()
                .await
                .unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };

    // When a command is sent to the follower
    let (status, first) = invite(b_run.url(), "k-1", "ann@truckpros.example").await;
    // Then the leader decided it, and the follower reads it back at its position
    assert_eq!(status, 201, "{first}");
    let position = first["positions"]["last"].as_u64().unwrap();
    let user = first["user_id"].as_str().unwrap();
    let read = http
        .get(format!(
            "{}/v1/users/{user}?min_position={position}",
            b_run.url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let ready: Value = http
        .get(format!("{}/readyz", b_run.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["role"], "follower", "{ready}");
    assert_eq!(ready["leader"], a_url.as_str(), "{ready}");

    // When a token is created through the follower (the leader issues it)
    let owner_token: Value = http
        .post(format!("{}/v1/tokens", b_run.url()))
        .bearer_auth(&token)
        .json(&json!({ "principal": owner.to_string() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = owner_token["token"].as_str().unwrap().to_owned();
    // Then it opens the follower at once
    let org = http
        .get(format!("{}/v1/org", b_run.url()))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(org.status(), 200);

    // And the CLI pointed at the follower just works
    let (b_url, cli_token) = (b_run.url(), fresh.clone());
    let cli = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_offboard"))
            .args([
                "--server", &b_url, "--token", &cli_token, "--json", "user", "add",
            ])
            .args([
                "--email",
                "cli@truckpros.example",
                "--first",
                "C",
                "--last",
                "L",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        cli.status.success(),
        "{}{}",
        String::from_utf8_lossy(&cli.stdout),
        String::from_utf8_lossy(&cli.stderr)
    );

    // When the leader stops
    drop(a);
    a_run.stop().await;

    // Then the follower leads within 5 s, takes commands itself, answers a retry of the
    // first command as before, and its tokens still open it
    role_becomes(&b, Duration::from_secs(5), Role::is_leader).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let (status, again) = loop {
        let (status, body) = invite(b_run.url(), "k-1", "ann@truckpros.example").await;
        if status != 503 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["positions"], first["positions"]);
    let (status, second) = invite(b_run.url(), "k-2", "bob@truckpros.example").await;
    assert_eq!(status, 201, "{second}");
    drop(b);
    b_run.stop().await;
}
