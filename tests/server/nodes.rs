//! Several `serve` nodes on one log (issue 21 §2), the HTTP side, on engines posing as
//! followers (`Engine::set_role_for_tests`): writes and side-store reads forwarded to
//! the leader with their Idempotency-Key and answered as the leader answered; no
//! forwarding without a leader, nor twice; an unreachable leader and a lost answer;
//! `/readyz` and the metrics per role; webhook
//! deliveries only while leading; the token book read again on a follower.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::Router;
use offboard::engine::Role;
use offboard::server::{self, tokens, AppState, ServerOptions};
use offboard::webhooks::{NewSubscription, WebhookOptions};
use offboard::Engine;
use offboard_events::PrincipalKind;
use serde_json::{json, Value};

use super::support::*;

fn follower(leader: Option<&str>) -> Role {
    Role::Follower {
        leader: leader.map(str::to_owned),
        lag: 0,
    }
}

/// A router over a fresh engine posing as a follower of `leader`.
fn follower_app(leader: Option<&str>) -> Router {
    let engine = Arc::new(Engine::in_memory());
    engine.set_role_for_tests(follower(leader));
    server::app(AppState::new(engine).unwrap())
}

/// A leader on a real socket, with an org and its owner's token.
async fn leader() -> (Running, String) {
    let engine = Engine::in_memory();
    let (_, owner) = create_org(&engine, "Truck Pros").await;
    let token = tokens::create(&engine, None, &owner.to_string())
        .unwrap()
        .token;
    (start(engine).await, token)
}

fn invite(email: &str) -> String {
    json!({ "email": email, "first_name": "F", "last_name": "L", "role": "member", "active": true })
        .to_string()
}

async fn answer(app: &Router, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    send(app, method, path, None, None, headers).await
}

/// An answer's headers, through the router.
pub(super) async fn headers_of(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HeaderMap {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(axum::body::Body::empty()).unwrap();
    app.clone()
        .oneshot(request)
        .await
        .unwrap()
        .headers()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_to_a_follower_is_decided_by_the_leader_once_per_idempotency_key() {
    // Given a leader and a follower that knows it
    let (leader, token) = leader().await;
    let app = follower_app(Some(&leader.url()));
    let post = |key: &'static str, email: &str| {
        let body = invite(email);
        let app = app.clone();
        let token = token.clone();
        async move {
            send(
                &app,
                "POST",
                "/v1/users",
                Some(&token),
                Some(body),
                &[("idempotency-key", key)],
            )
            .await
        }
    };

    // When a command is sent to the follower, twice with the same Idempotency-Key
    let first = post("k-1", "ann@truckpros.example").await;
    let again = post("k-1", "ann@truckpros.example").await;

    // Then the leader created the user once, and both answers say so
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(first.location.is_some(), "Location passed through");
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(first.body["user_id"], again.body["user_id"]);
    assert!(first.body["positions"]["last"].is_u64(), "{}", first.text);
    assert_eq!(first.body["positions"], again.body["positions"]);
    let users: Value = reqwest::Client::new()
        .get(format!("{}/v1/users", leader.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let anns = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["email"] == "ann@truckpros.example")
        .count();
    assert_eq!(anns, 1, "{users}");

    // And the console is the leader's: its redirect to the sign-in form comes back as is
    let console = send(&app, "GET", "/", None, None, &[]).await;
    assert_eq!(console.status, 303, "{}", console.text);
    assert_eq!(console.location.as_deref(), Some("/sign-in"));

    // And a side-store read (the tokens) is the leader's too, while a projection read
    // is answered here (this follower's log is empty: no org, so 401)
    let listed = send(&app, "GET", "/v1/tokens", Some(&token), None, &[]).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    send(&app, "GET", "/v1/users", Some(&token), None, &[])
        .await
        .error(401, "unauthorized");
    leader.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaders_answer_comes_back_unchanged_and_the_request_says_it_was_forwarded() {
    // Given a "leader" that echoes what it received, with a status and headers of its own
    let echo = Router::new().fallback(|request: axum::extract::Request| async move {
        let headers: serde_json::Map<String, Value> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), json!(v.to_str().unwrap())))
            .collect();
        let seen = json!({ "method": request.method().as_str(), "uri": request.uri().to_string(), "headers": headers });
        (
            axum::http::StatusCode::ACCEPTED,
            [("x-leader", "yes"), ("location", "/elsewhere")],
            axum::Json(seen),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, echo).await });
    let app = follower_app(Some(&url));

    // When a command with a query, an Idempotency-Key and a hop-by-hop header goes
    // through the follower
    let got = send(
        &app,
        "POST",
        "/v1/users/u-1/deactivate?dry_run=true",
        Some("ofb_x"),
        Some("{}".to_owned()),
        &[
            ("idempotency-key", "k-2"),
            ("connection", "x-private"),
            ("x-private", "hop"),
            ("forwarded", "for=\"192.0.2.1:4000\""),
        ],
    )
    .await;

    // Then status, headers and body are the leader's
    assert_eq!(got.status, 202, "{}", got.text);
    assert_eq!(
        got.location.as_deref(),
        Some("/elsewhere"),
        "a redirect target is not followed"
    );
    let seen = &got.body;
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["uri"], "/v1/users/u-1/deactivate?dry_run=true");
    let h = &seen["headers"];
    assert_eq!(h["idempotency-key"], "k-2");
    assert_eq!(h["authorization"], "Bearer ofb_x");
    assert_eq!(h["offboard-forwarded"], url.as_str());
    assert!(
        h.get("x-private").is_none(),
        "a header Connection names stays behind: {h}"
    );
    let forwarded = h["forwarded"].as_str().unwrap();
    assert!(
        forwarded.starts_with("for=\"192.0.2.1:4000\", for="),
        "this hop is appended: {forwarded}"
    );
    let headers = headers_of(&app, "POST", "/v1/users/u-1/activate", &[]).await;
    assert_eq!(headers["x-leader"], "yes");
}

#[tokio::test]
async fn a_follower_without_a_leader_answers_not_leader_and_to_come_back_in_a_second() {
    // Given a follower during an election
    let app = follower_app(None);

    // When a command arrives
    let got = send(
        &app,
        "POST",
        "/v1/users",
        Some("ofb_x"),
        Some(invite("a@b.example")),
        &[],
    )
    .await;

    // Then 503 not_leader, Retry-After: 1
    got.error(503, "not_leader");
    let headers = headers_of(&app, "POST", "/v1/users", &[]).await;
    assert_eq!(headers["retry-after"], "1");
    // And a SCIM write and a console page wait for the leader too; a projection read does not
    answer(&app, "DELETE", "/scim/v2/Users/x", &[])
        .await
        .error(503, "not_leader");
    answer(&app, "GET", "/", &[]).await.error(503, "not_leader");
    let read = answer(&app, "GET", "/v1/users", &[]).await;
    read.error(401, "unauthorized");
}

#[tokio::test]
async fn a_forwarded_request_that_meets_a_follower_is_not_forwarded_again() {
    // Given a follower that knows a leader (which would answer anything)
    let app = follower_app(Some("http://127.0.0.1:9"));

    // When a request already forwarded once arrives (the leader stepped down meanwhile)
    let marked = [("offboard-forwarded", "http://10.0.0.1:8080")];
    let got = answer(&app, "POST", "/v1/users", &marked).await;

    // Then it is answered not_leader here, with Retry-After: 1
    got.error(503, "not_leader");
    let headers = headers_of(&app, "POST", "/v1/users", &marked).await;
    assert_eq!(headers["retry-after"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sent_forwarded_header_skips_nothing_a_node_would_do() {
    let marked = [("offboard-forwarded", "http://10.0.0.1:8080")];
    // Given a leader
    let w = world().await;
    let body = || serde_json::from_str::<Value>(&invite("m@truckpros.example")).ok();
    // When a client marks its requests as forwarded, Then the leader ignores the mark:
    // no token is still 401, and with one the command is decided as any other.
    let token = Some(w.owner_token.as_str());
    w.send("POST", "/v1/users", None, body(), &marked)
        .await
        .error(401, "unauthorized");
    w.send("POST", "/v1/users", token, body(), &marked)
        .await
        .created();

    // Given a follower whose leader counts the connections it gets
    let leader = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = follower_app(Some(&format!("http://{}", leader.local_addr().unwrap())));
    // When a marked command arrives, Then it is refused here (not_leader), never sent
    // on, nor taken by the follower itself.
    answer(&app, "POST", "/v1/users", &marked)
        .await
        .error(503, "not_leader");
    let contacted = tokio::time::timeout(Duration::from_millis(200), leader.accept()).await;
    assert!(
        contacted.is_err(),
        "the follower forwarded a marked request"
    );
    // And a marked read it answers itself still needs a token.
    answer(&app, "GET", "/v1/users", &marked)
        .await
        .error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_leader_and_a_lost_answer_are_told_apart() {
    // Given a leader URL nobody listens on
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = follower_app(Some(&gone));

    // Then a command is answered leader_unreachable (nothing was sent), Retry-After: 1
    answer(&app, "POST", "/v1/users", &[])
        .await
        .error(503, "leader_unreachable");
    assert_eq!(
        headers_of(&app, "POST", "/v1/users", &[]).await["retry-after"],
        "1"
    );

    // Given a leader that takes requests and drops the connection before answering
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rude = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
            drop(socket);
        }
    });
    let app = follower_app(Some(&rude));

    // Then a command's outcome is unknown (retry with the same key), a read's is not
    answer(&app, "POST", "/v1/users", &[("idempotency-key", "k-3")])
        .await
        .error(503, "outcome_unknown");
    answer(&app, "GET", "/v1/tokens", &[])
        .await
        .error(503, "leader_unreachable");
    // And the metrics count both
    let metrics = answer(&app, "GET", "/metrics", &[]).await.text;
    for line in [
        "offboard_forwarded_requests_total{outcome=\"outcome_unknown\"} 1",
        "offboard_forwarded_requests_total{outcome=\"leader_unreachable\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn a_request_held_by_a_hung_leader_is_answered_once_another_node_leads() {
    // Given a leader that takes requests and never answers (a stopped process)
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let engine = Arc::new(Engine::in_memory());
    engine.set_role_for_tests(follower(Some(&hung)));
    let app = server::app(AppState::new(Arc::clone(&engine)).unwrap());
    // And a command a follower forwarded to it
    let command = tokio::spawn({
        let app = app.clone();
        async move { answer(&app, "POST", "/v1/users", &[("idempotency-key", "k-h")]).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!command.is_finished(), "the hung leader answered");
    // When another node leads
    engine.set_role_for_tests(follower(Some("http://10.0.0.2:8080")));
    // Then the command is answered at once: its outcome is unknown (retry with the key)
    let answered = tokio::time::timeout(Duration::from_secs(5), command).await;
    answered
        .expect("still held by the hung leader")
        .unwrap()
        .error(503, "outcome_unknown");
}

#[tokio::test]
async fn readyz_says_the_role_and_catching_up_is_not_ready() {
    let w = world().await;
    let position = w.engine.last_position();

    // A leader
    let leader = answer(&w.app, "GET", "/readyz", &[]).await.ok();
    assert_eq!(
        leader,
        json!({ "ready": true, "role": "leader", "position": position })
    );

    // A follower, with its leader and lag
    w.engine.set_role_for_tests(Role::Follower {
        leader: Some("http://10.0.0.1:8080".into()),
        lag: 3,
    });
    let follower = answer(&w.app, "GET", "/readyz", &[]).await.ok();
    assert_eq!(
        follower,
        json!({ "ready": true, "role": "follower", "leader": "http://10.0.0.1:8080", "lag": 3, "position": position })
    );
    let metrics = answer(&w.app, "GET", "/metrics", &[]).await.text;
    assert!(metrics.contains("offboard_node_leader 0"), "{metrics}");
    assert!(
        metrics.contains("offboard_follower_lag_events 3"),
        "{metrics}"
    );

    // Catching up: 503 catching_up, saying how far
    w.engine.set_role_for_tests(Role::CatchingUp {
        position: 5,
        target: 50_000,
        leader: Some("http://leader.example".to_owned()),
    });
    let catching = answer(&w.app, "GET", "/readyz", &[])
        .await
        .error(503, "catching_up");
    let message = catching["error"]["message"].as_str().unwrap();
    assert!(message.contains("5 of 50000"), "{message}");
    assert_eq!(
        headers_of(&w.app, "GET", "/readyz", &[]).await["retry-after"],
        "1"
    );

    // Back to leading
    w.engine.set_role_for_tests(Role::Leader);
    let metrics = answer(&w.app, "GET", "/metrics", &[]).await.text;
    assert!(metrics.contains("offboard_node_leader 1"), "{metrics}");
    assert!(
        metrics.contains("offboard_follower_lag_events 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_reads_its_token_book_again_for_an_unknown_token_and_every_second() {
    // Given a node serving, posing as a follower
    let engine = Engine::in_memory();
    let (_, owner) = create_org(&engine, "Truck Pros").await;
    let first = tokens::create(&engine, None, &owner.to_string()).unwrap();
    let engine = Arc::new(engine);
    engine.set_role_for_tests(follower(Some("http://127.0.0.1:9")));
    let running = start_shared(Arc::clone(&engine), ServerOptions::default()).await;
    let base = running.url();
    let http = reqwest::Client::new();
    let status = |token: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}/v1/org"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(first.token.clone()).await, 200);

    // When the leader creates a token (in the shared store) and it is used here at once
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = tokens::create(&engine, None, &owner.to_string()).unwrap();
    // Then it opens this node (the unknown token made it read the book again)
    assert_eq!(status(second.token.clone()).await, 200);

    // When the leader revokes the first one
    tokens::revoke(&engine, &first.record.id.to_string()).unwrap();
    // Then it stops opening this node within about a second
    let revoked_at = std::time::Instant::now();
    while status(first.token.clone()).await == 200 {
        assert!(
            revoked_at.elapsed() < server::TOKEN_REFRESH + Duration::from_millis(500),
            "a revoked token still opens the follower"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(engine);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_run_only_while_the_node_leads() {
    // Given a subscription, three events after it, and a node that follows
    let (receiver, url) = receiver().await;
    let engine = Engine::in_memory();
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    let options = WebhookOptions {
        allow_http_loopback: true,
        ..WebhookOptions::default()
    };
    let hub = offboard::webhooks::Hub::load(&engine).unwrap();
    let subscription = NewSubscription {
        url: url.clone(),
        ..NewSubscription::default()
    };
    hub.add(
        org,
        subscription,
        &options,
        engine.last_position(),
        chrono::Utc::now(),
    )
    .unwrap();
    drop(hub);
    for name in ["a", "b", "c"] {
        as_user(
            &engine,
            org,
            owner,
            offboard::domain::Command::RegisterPrincipal {
                kind: PrincipalKind::Auditor,
                name: name.into(),
            },
        )
        .await;
    }
    let engine = Arc::new(engine);
    engine.set_role_for_tests(follower(None));
    let options = ServerOptions {
        webhooks: options,
        ..ServerOptions::default()
    };
    let running = start_shared(Arc::clone(&engine), options).await;

    // Then nothing is delivered while it follows
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.lock().unwrap().len(), 0, "a follower delivered");

    // When it becomes the leader
    engine.set_role_for_tests(Role::Leader);
    // Then the three events are delivered
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while receiver.lock().unwrap().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing delivered by the leader"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(engine);
    running.stop().await;
}

/// A loopback receiver of webhook deliveries: the bodies it got, and its URL.
pub(super) async fn receiver() -> (Arc<std::sync::Mutex<Vec<Value>>>, String) {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = Arc::clone(&got);
    let app = Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let keep = Arc::clone(&keep);
            async move {
                keep.lock()
                    .unwrap()
                    .push(serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (got, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_waits_out_an_election_and_its_command_lands_on_the_new_leader() {
    // Given a node serving with no leader known (an election under way)
    let engine = Engine::in_memory();
    let (_, owner) = create_org(&engine, "Truck Pros").await;
    let token = tokens::create(&engine, None, &owner.to_string())
        .unwrap()
        .token;
    let engine = Arc::new(engine);
    engine.set_role_for_tests(follower(None));
    let running = start_shared(Arc::clone(&engine), ServerOptions::default()).await;
    let client = offboard::server::client::Client::new(&running.url(), Some(&token)).unwrap();

    // When a command is sent, and the node becomes the leader a second later
    let flip = Arc::clone(&engine);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        flip.set_role_for_tests(Role::Leader);
    });
    let started = std::time::Instant::now();
    let answered = client
        .post(
            "/v1/users",
            &serde_json::from_str(&invite("ann@truckpros.example")).unwrap(),
        )
        .await;

    // Then the client retried after Retry-After and the new leader decided it
    let answered = answered.unwrap_or_else(|e| panic!("{e}"));
    assert!(answered["user_id"].is_string(), "{answered}");
    assert!(started.elapsed() >= Duration::from_millis(1200));
    drop(engine);
    running.stop().await;
}

#[tokio::test]
async fn only_the_leader_sweeps_webhook_records_it_does_not_know() {
    // Given a record of a subscription not in the book (the leader adding it right now)
    let engine = Engine::in_memory();
    let record = format!(
        "{}{}",
        offboard::webhooks::book::PROGRESS_PREFIX,
        uuid::Uuid::new_v4()
    );
    engine.store().put_checkpoint(&record, b"{}").unwrap();

    // When a follower loads the webhooks, it leaves it alone
    engine.set_role_for_tests(follower(None));
    let hub = offboard::webhooks::Hub::load(&engine).unwrap();
    assert!(engine.store().checkpoint(&record).unwrap().is_some());

    // When it takes over, it deletes it (the book does not name it)
    engine.set_role_for_tests(Role::Leader);
    hub.reload().unwrap();
    assert!(engine.store().checkpoint(&record).unwrap().is_none());
}

#[tokio::test]
async fn a_client_sends_a_command_whose_outcome_is_unknown_again_under_the_same_key() {
    use std::sync::Mutex;
    // Given a server that loses the first answer (outcome_unknown), then answers
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&keys);
    let app = Router::new().route(
        "/v1/users",
        axum::routing::post(move |headers: HeaderMap| {
            let seen = Arc::clone(&seen);
            async move {
                let key = headers["idempotency-key"].to_str().unwrap().to_owned();
                let first = {
                    let mut keys = seen.lock().unwrap();
                    keys.push(key);
                    keys.len() == 1
                };
                if first {
                    let body = json!({"error": {"code": "outcome_unknown", "message": "the answer was lost"}});
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        [("retry-after", "1")],
                        axum::Json(body),
                    );
                }
                (
                    axum::http::StatusCode::CREATED,
                    [("retry-after", "0")],
                    axum::Json(json!({"user_id": "u-1", "duplicate": true})),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = offboard::server::client::Client::new(&url, Some("ofb_test")).unwrap();
    // When a command is sent under an Idempotency-Key
    let options = offboard::server::client::CommandOptions {
        idempotency_key: Some("7d0c4c5e-0000-4000-8000-000000000001".to_owned()),
        on_behalf_of: None,
    };
    let answered = client
        .command("/v1/users", &json!({}), &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Then it was sent again under the same key, and the second answer is the answer
    assert_eq!(answered["duplicate"], true, "{answered}");
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn a_client_sends_a_user_import_whose_outcome_is_unknown_again_with_the_same_key_and_body() {
    use std::sync::Mutex;
    // Given a server that loses the first answer to an import (outcome_unknown), then answers
    /// Each request's Idempotency-Key and body, in order.
    type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let noted = Arc::clone(&seen);
    let app = Router::new().route(
        "/v1/users/import",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let noted = Arc::clone(&noted);
            async move {
                let key = headers["idempotency-key"].to_str().unwrap().to_owned();
                let first = {
                    let mut seen = noted.lock().unwrap();
                    seen.push((key, body.to_vec()));
                    seen.len() == 1
                };
                if first {
                    let body = json!({"error": {"code": "outcome_unknown", "message": "the leader went away"}});
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        [("retry-after", "0")],
                        axum::Json(body),
                    );
                }
                (
                    axum::http::StatusCode::OK,
                    [("retry-after", "0")],
                    axum::Json(json!({"ok": true, "changes": 2})),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = offboard::server::client::Client::new(&url, Some("ofb_test")).unwrap();
    // When an export is imported under an Idempotency-Key
    let export = b"email,first,last\nann@example.com,Ann,Lee\npat@example.com,Pat,Kim\n".to_vec();
    let key = "7d0c4c5e-0000-4000-8000-000000000002";
    let answered = client
        .import_users("?dry_run=false", export.clone(), Some(key))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Then it was sent again, whole and under the same key, and the second answer is the answer
    assert_eq!(answered["changes"], 2, "{answered}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|(k, body)| k == key && *body == export));
}
