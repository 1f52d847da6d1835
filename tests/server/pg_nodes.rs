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
use offboard::server::client::{Client, CommandOptions};
use offboard::server::{tokens, ServerOptions};
use offboard::webhooks::WebhookOptions;
use offboard::Engine;
use offboard_events::UserId;
use serde_json::json;

use super::nodes::receiver;
use super::stores::Place;
use super::support::*;

/// A node of `place` on a free loopback port, advertising it: opened, not serving yet.
async fn open(place: &Place) -> (Arc<Engine>, tokio::net::TcpListener) {
    open_at(place.location.clone()).await
}

/// A node on `location`, bound to a free loopback port it advertises (not listening yet).
pub(super) async fn open_at(
    location: offboard::store::Location,
) -> (Arc<Engine>, tokio::net::TcpListener) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
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

/// [`open`], serving (webhooks may go to loopback receivers).
async fn node(place: &Place) -> (Arc<Engine>, Running) {
    let (engine, listener) = open(place).await;
    let running = start_shared_on(listener, Arc::clone(&engine), options()).await;
    (engine, running)
}

fn options() -> ServerOptions {
    ServerOptions {
        webhooks: WebhookOptions {
            allow_http_loopback: true,
            ..WebhookOptions::default()
        },
        ..ServerOptions::default()
    }
}

/// A leader of a new database with an org and its owner's token, serving, and a second
/// node that follows it.
async fn two_nodes(place: &Place) -> ((Arc<Engine>, Running), (Arc<Engine>, Running), Owner) {
    let (a, listener) = open(place).await;
    assert_eq!(a.role(), Role::Leader);
    let (_, owner) = create_org(&a, "Truck Pros").await;
    let token = tokens::create(&a, None, &owner.to_string()).unwrap().token;
    let a_run = start_shared_on(listener, Arc::clone(&a), options()).await;
    let (b, b_run) = node(place).await;
    let a_url = a_run.url();
    role_becomes(&b, Duration::from_secs(5), |r| {
        r.leader() == Some(a_url.as_str())
    })
    .await;
    ((a, a_run), (b, b_run), Owner { id: owner, token })
}

/// The org's owner and its token.
struct Owner {
    id: UserId,
    token: String,
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
    let ((a, a_run), (b, b_run), Owner { id: owner, token }) = two_nodes(&place).await;
    let a_url = a_run.url();
    let on_b = Client::new(&b_run.url(), Some(&token)).unwrap();
    let invite = |key: &str, email: &str| {
        let options = CommandOptions {
            idempotency_key: Some(key.to_owned()),
            ..CommandOptions::default()
        };
        let body = json!({ "email": email, "first_name": "F", "last_name": "L", "role": "member", "active": true });
        let on_b = on_b.clone();
        async move { on_b.command("/v1/users", &body, &options).await }
    };

    // When a command is sent to the follower
    let first = invite("k-1", "ann@truckpros.example").await.unwrap();
    // Then the leader decided it, and the follower reads it back at its position (the
    // client asks for it)
    let user = first["user_id"].as_str().unwrap();
    on_b.get(&format!("/v1/users/{user}")).await.unwrap();
    let ready = Client::new(&b_run.url(), None)
        .unwrap()
        .get("/readyz")
        .await
        .unwrap();
    assert_eq!(ready["role"], "follower", "{ready}");
    assert_eq!(ready["leader"], a_url.as_str(), "{ready}");

    // When a token is created through the follower (the leader issues it)
    let issued = on_b
        .post("/v1/tokens", &json!({ "principal": owner.to_string() }))
        .await
        .unwrap();
    let fresh = issued["token"].as_str().unwrap().to_owned();
    // Then it opens the follower at once
    let with_fresh = Client::new(&b_run.url(), Some(&fresh)).unwrap();
    with_fresh.get("/v1/org").await.unwrap();

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
    let again = loop {
        match invite("k-1", "ann@truckpros.example").await {
            Err(e) if e.status() == Some(503) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            answered => break answered.unwrap(),
        }
    };
    assert_eq!(again["positions"], first["positions"]);
    invite("k-2", "bob@truckpros.example").await.unwrap();
    with_fresh.get("/v1/org").await.unwrap();
    drop(b);
    b_run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_are_delivered_by_the_leader_alone_and_by_the_next_one_after_it() {
    let Some(place) = Place::postgres() else {
        return;
    };
    // Given two nodes and a subscription added through the follower
    let ((a, a_run), (b, b_run), Owner { token, .. }) = two_nodes(&place).await;
    let (got, url) = receiver().await;
    let on_b = Client::new(&b_run.url(), Some(&token)).unwrap();
    on_b.post(
        "/v1/webhooks",
        &json!({ "url": url, "events": ["UserInvited"] }),
    )
    .await
    .unwrap();
    let invite = |email: String| {
        let on_b = on_b.clone();
        async move {
            let body = json!({ "email": email, "first_name": "F", "last_name": "L", "role": "member", "active": true });
            on_b.post("/v1/users", &body).await.unwrap();
        }
    };

    // When three users are invited
    for i in 0..3 {
        invite(format!("u{i}@truckpros.example")).await;
    }
    // Then each invitation is delivered once: the follower delivers nothing
    arrive(&got, 3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(got.lock().unwrap().len(), 3, "delivered twice");

    // When the leader stops and the follower takes over, and one more user is invited
    drop(a);
    a_run.stop().await;
    role_becomes(&b, Duration::from_secs(5), Role::is_leader).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body = json!({ "email": "late@truckpros.example", "first_name": "F", "last_name": "L", "role": "member", "active": true });
        match on_b.post("/v1/users", &body).await {
            Err(e) if e.status() == Some(503) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            answered => break drop(answered.unwrap()),
        }
    }
    // Then the new leader delivers it (at least once: what the old one delivered but
    // had not saved yet may come again)
    arrive(&got, 4).await;
    let bodies = serde_json::to_string(&*got.lock().unwrap()).unwrap();
    assert!(bodies.contains("late@truckpros.example"), "{bodies}");
    drop(b);
    b_run.stop().await;
}

/// Waits up to 10 s until `n` deliveries arrived.
async fn arrive(got: &std::sync::Mutex<Vec<serde_json::Value>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} deliveries arrived",
            got.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
