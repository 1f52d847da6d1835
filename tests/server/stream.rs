//! The event stream on a real socket: a consumer reads while 20 clients write, is cut
//! off mid-stream, reconnects with `Last-Event-ID`, and has every position exactly once
//! in order; a named consumer acks, the server restarts, and the consumer resumes after
//! its checkpoint; a graceful stop loses no acknowledged command.

use std::time::Duration;

use futures_util::StreamExt;
use offboard::domain::Command;
use offboard::server::client::{Client, EventsRequest, SseStream};
use offboard::server::tokens;
use offboard::Engine;
use offboard_events::PrincipalKind;
use serde_json::json;

use super::stores::{places, Place};
use super::support::*;

const WRITERS: usize = 20;
const COMMANDS_EACH: usize = 10;

/// An org with an owner and an auditor; their tokens.
async fn scene(engine: &Engine) -> (String, String) {
    let (org, owner) = create_org(engine, "Truck Pros").await;
    as_user(
        engine,
        org,
        owner,
        Command::RegisterPrincipal {
            kind: PrincipalKind::Auditor,
            name: "downstream".into(),
        },
    )
    .await;
    let owner_token = tokens::create(engine, None, &owner.to_string())
        .unwrap()
        .token;
    let auditor_token = tokens::create(engine, None, "auditor:downstream")
        .unwrap()
        .token;
    (owner_token, auditor_token)
}

/// The next event's position (panics on a stream error or a stall).
async fn next_position(stream: &mut SseStream) -> Option<u64> {
    let message = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the stream stalled")?
        .expect("the stream broke");
    assert_eq!(message.event, None, "{}", message.data);
    let position = message.position().expect("every event has an id");
    let envelope: serde_json::Value = serde_json::from_str(&message.data).unwrap();
    assert_eq!(envelope["position"].as_u64(), Some(position));
    Some(position)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_gets_every_position_once_in_order_across_a_reconnect_while_twenty_clients_write(
) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let (owner_token, auditor_token) = scene(&engine).await;
    let server = start(engine).await;
    let url = server.url();

    let consumer = Client::new(&url, Some(&auditor_token)).unwrap();
    let mut stream = consumer
        .events(&EventsRequest {
            from: Some(1),
            follow: true,
            ..Default::default()
        })
        .await
        .unwrap();

    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let client = Client::new(&url, Some(&owner_token)).unwrap();
            tokio::spawn(async move {
                let mut last = 0;
                for _ in 0..COMMANDS_EACH {
                    let done = client
                        .post("/v1/credits/pool", &json!({"amount": 1}))
                        .await
                        .unwrap();
                    last = last.max(done["positions"]["last"].as_u64().unwrap());
                }
                last
            })
        })
        .collect();

    let mut received = Vec::new();
    // Read part of it, then hang up mid-stream while the writers are still going.
    while received.len() < 40 {
        received.push(next_position(&mut stream).await.unwrap());
    }
    drop(stream);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut stream = consumer
        .events(&EventsRequest {
            from: Some(1),
            last_event_id: received.last().copied(),
            follow: true,
            ..Default::default()
        })
        .await
        .unwrap();

    let mut end = 0;
    for writer in writers {
        end = end.max(writer.await.unwrap());
    }
    let expected_end = 4 + (WRITERS * COMMANDS_EACH) as u64;
    assert_eq!(end, expected_end);
    while *received.last().unwrap() < end {
        received.push(next_position(&mut stream).await.unwrap());
    }
    let expected: Vec<u64> = (1..=end).collect();
    assert_eq!(received, expected, "every position exactly once, in order");
    drop(stream);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_consumer_resumes_after_its_checkpoint_when_the_server_restarts() {
    for place in places() {
        eprintln!("store: {}", place.name);
        a_named_consumer_resumes_on(&place).await;
    }
}

async fn a_named_consumer_resumes_on(place: &Place) {
    let engine = place.open();
    let (owner_token, auditor_token) = scene(&engine).await;
    let server = start(engine).await;
    let owner = Client::new(&server.url(), Some(&owner_token)).unwrap();
    for amount in 1..=3 {
        owner
            .post("/v1/credits/pool", &json!({ "amount": amount }))
            .await
            .unwrap();
    }
    let consumer = Client::new(&server.url(), Some(&auditor_token)).unwrap();
    let as_crm = EventsRequest {
        consumer: Some("crm".into()),
        follow: true,
        ..Default::default()
    };
    let mut stream = consumer.events(&as_crm).await.unwrap();
    let mut processed = Vec::new();
    for _ in 0..5 {
        processed.push(next_position(&mut stream).await.unwrap());
    }
    assert_eq!(processed, [1, 2, 3, 4, 5]);
    let acked = consumer
        .post("/v1/consumers/crm/ack", &json!({"position": 5}))
        .await
        .unwrap();
    assert_eq!(acked["position"], 5);

    // A graceful stop ends the live stream and answers every command it accepted.
    let url = server.url();
    let burst: Vec<_> = (0..WRITERS)
        .map(|_| {
            let owner = Client::new(&url, Some(&owner_token)).unwrap();
            tokio::spawn(async move { owner.post("/v1/credits/pool", &json!({"amount": 1})).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.stop().await;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the stream ends when the server stops")
        {
            None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    let mut acknowledged = Vec::new();
    for call in burst {
        if let Ok(done) = call.await.unwrap() {
            acknowledged.push(done["positions"]["last"].as_u64().unwrap());
        }
    }

    let engine = place.open();
    let last = engine.last_position();
    for position in &acknowledged {
        assert!(*position <= last, "acknowledged {position} lost");
    }
    let server = start(engine).await;
    let consumer = Client::new(&server.url(), Some(&auditor_token)).unwrap();
    let checkpoint = consumer.get("/v1/consumers/crm").await.unwrap();
    assert_eq!(checkpoint["position"], 5);
    let mut stream = consumer
        .events(&EventsRequest {
            follow: false,
            ..as_crm
        })
        .await
        .unwrap();
    let mut resumed = Vec::new();
    while let Some(position) = next_position(&mut stream).await {
        resumed.push(position);
    }
    let expected: Vec<u64> = (6..=last).collect();
    assert_eq!(resumed, expected);
    server.stop().await;
}

#[tokio::test]
async fn serve_reports_an_address_in_use_and_stops_when_told() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let error = offboard::server::serve(Engine::in_memory(), addr, async {})
        .await
        .unwrap_err();
    assert!(
        matches!(error, offboard::server::ServeError::Bind { .. }),
        "{error}"
    );
    drop(taken);
    // A free port and an immediate shutdown: serves nothing, returns cleanly.
    let free = "127.0.0.1:0".parse().unwrap();
    offboard::server::serve(Engine::in_memory(), free, async {})
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_stops_reading_never_holds_up_the_writer() {
    let engine = Engine::in_memory();
    let (owner_token, auditor_token) = scene(&engine).await;
    let server = start(engine).await;
    let consumer = Client::new(&server.url(), Some(&auditor_token)).unwrap();
    let mut stalled = consumer
        .events(&EventsRequest {
            follow: true,
            ..Default::default()
        })
        .await
        .unwrap();
    // About 4 MB of events while the consumer reads nothing: far more than the socket
    // buffers hold, so the stream is blocked on the consumer the whole time.
    let writer = Client::new(&server.url(), Some(&owner_token)).unwrap();
    let me = writer.get("/v1/whoami").await.unwrap();
    let owner_id = me["principal"]["id"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    let mut last = 0;
    for batch in 0..50 {
        let keys: Vec<String> = (0..2000)
            .map(|i| format!("buyer:B-{batch:03}-{i:05}-padding-to-make-the-event-bigger"))
            .collect();
        let done = writer
            .post(
                &format!("/v1/users/{owner_id}/resources"),
                &json!({ "resources": keys }),
            )
            .await
            .unwrap();
        last = done["positions"]["last"].as_u64().unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    // It catches up from the log afterwards, every position in order.
    let mut received = Vec::new();
    while received.last().copied().unwrap_or(0) < last {
        received.push(next_position(&mut stalled).await.unwrap());
    }
    let expected: Vec<u64> = (1..=last).collect();
    assert_eq!(received, expected);
    drop(stalled);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_with_an_error_once_its_token_is_revoked() {
    let engine = Engine::in_memory();
    let (owner_token, _) = scene(&engine).await;
    let auditor = tokens::create(&engine, None, "auditor:downstream").unwrap();
    let last = engine.last_position();
    let server = start(engine).await;
    // Given an auditor's stream that has read the log so far
    let consumer = Client::new(&server.url(), Some(&auditor.token)).unwrap();
    let mut stream = consumer
        .events(&EventsRequest {
            follow: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen = 0;
    while seen < last {
        seen = next_position(&mut stream).await.unwrap();
    }
    // When the owner revokes the auditor's token, and something new is committed
    let owner = Client::new(&server.url(), Some(&owner_token)).unwrap();
    owner
        .post(
            &format!("/v1/tokens/{}/revoke", auditor.record.id),
            &json!({}),
        )
        .await
        .unwrap();
    let me = owner.get("/v1/whoami").await.unwrap();
    let owner_id = me["principal"]["id"].as_str().unwrap().to_owned();
    owner
        .post(
            &format!("/v1/users/{owner_id}/resources"),
            &json!({ "resources": ["buyer:B-after-revoke"] }),
        )
        .await
        .unwrap();
    // Then the stream sends no new event: it ends with an `unauthorized` error
    let message = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the stream stalled")
        .expect("the stream ended without saying why")
        .expect("the stream broke");
    assert_eq!(message.event.as_deref(), Some("error"), "{}", message.data);
    assert!(message.data.contains("unauthorized"), "{}", message.data);
    assert!(message.data.contains("revoked"), "{}", message.data);
    server.stop().await;
}
