//! Webhooks through the real binary: a subscription added on the data directory, `serve
//! --allow-http-webhooks` delivering to a loopback receiver, SIGKILL mid-delivery, a
//! restart, and every event arrives in order with at most the one in flight twice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use serde_json::json;

use super::util::*;

type Seen = Arc<Mutex<Vec<u64>>>;

/// A receiver on 127.0.0.1 answering 204 after `delay`; records each body's position.
fn receiver(rt: &tokio::runtime::Runtime, delay: Duration) -> (Seen, String) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |State(seen): State<Seen>, body: Bytes| async move {
                tokio::time::sleep(delay).await;
                let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
                seen.lock()
                    .unwrap()
                    .push(event["position"].as_u64().unwrap());
                axum::http::StatusCode::NO_CONTENT
            }),
        )
        .with_state(Arc::clone(&seen));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await });
    (seen, url)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn after_a_sigkill_of_serve_mid_delivery_a_restart_delivers_every_event_in_order() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (seen, url) = receiver(&rt, Duration::from_millis(10));
    let d = acme();
    let t = token(&d, OWNER);
    // An http:// URL is refused unless allowed, with a stable code
    assert_eq!(
        d.fails(1, &["webhook", "add", &url])["code"],
        "invalid_input"
    );
    let added = d.json(&["webhook", "add", &url, "--allow-http-webhooks"]);
    assert!(added["secret"].as_str().unwrap().starts_with("whsec_"));
    let start = last_position(&d);

    let server = Server::start_with(&d, &["--allow-http-webhooks"]);
    for i in 0..40 {
        let (status, answer) = http(
            &server.url,
            "POST",
            "/v1/users",
            Some(&t),
            Some(
                &json!({"email": format!("n{i}@acme.example"), "first_name": "N", "last_name": "U", "active": true}),
            ),
        );
        assert_eq!(status, 201, "{answer}");
    }
    wait_until("ten deliveries", || seen.lock().unwrap().len() >= 10);
    let status = std::process::Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    drop(server);
    let last = last_position(&d);
    let before = seen.lock().unwrap().len() as u64;
    assert!(
        before < last - start,
        "the kill came too late to test anything"
    );

    let server = Server::start_with(&d, &["--allow-http-webhooks"]);
    let expected: Vec<u64> = (start + 1..=last).collect();
    let unique = || {
        let mut got = seen.lock().unwrap().clone();
        got.dedup();
        got
    };
    wait_until("every delivery", || unique().len() >= expected.len());
    assert_eq!(unique(), expected);
    let all = seen.lock().unwrap().len();
    assert!(
        all - expected.len() <= 1,
        "{} duplicates",
        all - expected.len()
    );
    // And in client mode the list reads every page of the server's answer.
    let listed = server.client(&d, &t).json(&["webhook", "list"]);
    assert_eq!(listed["webhooks"][0]["url"], url.as_str(), "{listed}");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn contradictory_backoff_flags_and_an_empty_event_type_are_refused_before_anything_starts() {
    // Given an org
    let d = acme();
    let before = last_position(&d);
    // When serve is given a first retry longer than the longest, Then it is a usage
    // error (exit 2) naming both flags, and nothing starts.
    let refused = d.fails(
        2,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--webhook-backoff-min",
            "100",
            "--webhook-backoff-max",
            "10",
        ],
    );
    assert_eq!(refused["code"], "usage");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("--webhook-backoff-max 10"), "{message}");
    // When a subscription names an empty event type, Then it is refused: it would have
    // meant every event.
    let refused = d.fails(
        1,
        &[
            "webhook",
            "add",
            "https://crm.example.com/hook",
            "--events",
            "",
        ],
    );
    assert_eq!(refused["code"], "invalid_input");
    assert_eq!(d.json(&["webhook", "list"]), json!({ "webhooks": [] }));
    assert_eq!(last_position(&d), before);
}
