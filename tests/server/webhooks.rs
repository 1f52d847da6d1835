//! Webhooks end to end, with in-process loopback receivers (small axum apps): deliveries
//! are signed (checked with the `standardwebhooks` crate), in order, of the
//! subscription's org only; backoff follows a `ManualClock`, honours `Retry-After`, parks
//! and pauses, and replay sends again; pause, resume and secret rotation; SSRF refusals
//! at the API; no event lost across a restart of the engine mid-delivery; the cursor on
//! disk at each acknowledgement, the history at the next save; removal deleting a
//! subscription's records; and the delivery metrics.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use offboard::clock::{Clock, ManualClock};
use offboard::domain::Command;
use offboard::server::{self, tokens, ServerOptions};
use offboard::store::MemoryLog;
use offboard::webhooks::book::Outcome;
use offboard::webhooks::{
    Attempt, Deliveries, Hub, NewSubscription, SubscriptionStatus, WebhookOptions, WhenParked,
};
use offboard::Engine;
use offboard_events::{OrgId, PrincipalKind, UserId};
use serde_json::{json, Value};
use standardwebhooks::Webhook;
use tokio::sync::Notify;

use super::support::*;

/// One request as the receiver got it.
#[derive(Clone, Debug)]
struct Got {
    headers: HeaderMap,
    body: Bytes,
}

impl Got {
    fn position(&self) -> u64 {
        self.json()["position"].as_u64().unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers[name].to_str().unwrap()
    }
}

/// A loopback receiver: records every request and answers from a script (then 204).
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Got>>,
    script: Mutex<VecDeque<(u16, Option<&'static str>)>>,
    delay: Mutex<Duration>,
    arrived: Notify,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let delay = *r.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let answer = r.script.lock().unwrap().pop_front();
    r.got.lock().unwrap().push(Got { headers, body });
    r.arrived.notify_waiters();
    match answer {
        None => StatusCode::NO_CONTENT.into_response(),
        Some((status, retry_after)) => {
            let status = StatusCode::from_u16(status).unwrap();
            match retry_after {
                Some(ra) => (status, [("retry-after", ra)], "crm down").into_response(),
                None => (status, "crm down").into_response(),
            }
        }
    }
}

impl Receiver {
    /// Serves on 127.0.0.1; returns it and its URL.
    async fn start() -> (Arc<Self>, String) {
        let receiver = Arc::new(Self::default());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Arc::clone(&receiver));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    fn script(&self, answers: &[(u16, Option<&'static str>)]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    /// Waits until `n` requests arrived (panics after 20 s).
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let arrived = self.arrived.notified();
                if self.got.lock().unwrap().len() >= n {
                    return self.got();
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), arrived).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{n} requests never arrived ({} did)", self.got().len()))
    }

    /// Asserts nothing more than `n` requests arrive within `wait`.
    async fn stays_at(&self, n: usize, wait: Duration) {
        tokio::time::sleep(wait).await;
        assert_eq!(
            self.got().len(),
            n,
            "a request arrived that should not have"
        );
    }
}

fn loopback() -> WebhookOptions {
    WebhookOptions {
        allow_http_loopback: true,
        ..WebhookOptions::default()
    }
}

/// `count` events in `org` (one principal registered each).
async fn write(engine: &Engine, org: OrgId, owner: UserId, tag: &str, count: usize) {
    for i in 0..count {
        as_user(
            engine,
            org,
            owner,
            Command::RegisterPrincipal {
                kind: PrincipalKind::Auditor,
                name: format!("{tag}-{i}"),
            },
        )
        .await;
    }
}

fn subscribe(url: &str) -> NewSubscription {
    NewSubscription {
        url: url.to_owned(),
        ..NewSubscription::default()
    }
}

fn verifies(secret: &str, got: &Got) -> bool {
    Webhook::new(secret)
        .unwrap()
        .verify(&got.body, &got.headers)
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_added_over_the_api_gets_its_orgs_events_signed_and_in_order_and_no_other_orgs(
) {
    // Given a server that accepts loopback receivers, and a subscription of "Truck Pros"
    let engine = Engine::in_memory();
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    let (other, other_owner) = create_org(&engine, "Other Co").await;
    let owner_token = tokens::create(&engine, None, &owner.to_string())
        .unwrap()
        .token;
    let other_token = tokens::create(&engine, Some("Other Co"), &other_owner.to_string())
        .unwrap()
        .token;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = ServerOptions {
        webhooks: loopback(),
        ..ServerOptions::default()
    };
    let served = tokio::spawn(server::serve_listener(engine, listener, options, async {
        let _ = stopped.await;
    }));
    let (receiver, url) = Receiver::start().await;
    let (other_receiver, other_url) = Receiver::start().await;
    let http = reqwest::Client::new();
    let add = |token: &str, url: &str| {
        http.post(format!("{base}/v1/webhooks"))
            .bearer_auth(token)
            .json(&json!({ "url": url, "events": ["UserInvited"], "description": "CRM" }))
            .send()
    };
    let created: Value = add(&owner_token, &url).await.unwrap().json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = created["subscription"]["id"].as_str().unwrap().to_owned();
    add(&other_token, &other_url).await.unwrap();

    // When both orgs invite users, interleaved
    for i in 0..10 {
        for (token, domain) in [(&owner_token, "truckpros"), (&other_token, "otherco")] {
            let answer = http
                .post(format!("{base}/v1/users"))
                .bearer_auth(token)
                .json(&json!({ "email": format!("u{i}@{domain}.example"), "first_name": "F", "last_name": "L", "role": "member", "active": true }))
                .send()
                .await
                .unwrap();
            assert!(
                answer.status().is_success(),
                "{}",
                answer.text().await.unwrap()
            );
        }
    }

    // Then each receiver gets its own org's ten invitations, in order, each signed
    let got = receiver.wait_for(10).await;
    receiver.stays_at(10, Duration::from_millis(300)).await;
    let positions: Vec<u64> = got.iter().map(Got::position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    for g in &got {
        assert_eq!(g.json()["org_id"], org.to_string());
        assert_eq!(g.json()["event_type"], "UserInvited");
        assert!(verifies(&secret, g), "signature does not verify");
        assert!(g.header("webhook-id").starts_with("msg_"));
        assert!(g.header("webhook-signature").starts_with("v1,"));
    }
    let ids: std::collections::BTreeSet<&str> =
        got.iter().map(|g| g.header("webhook-id")).collect();
    assert_eq!(ids.len(), 10);
    let other_got = other_receiver.wait_for(10).await;
    assert!(other_got
        .iter()
        .all(|g| g.json()["org_id"] == other.to_string()));
    if let Ok(file) = std::env::var("OFFBOARD_WEBHOOK_CAPTURE") {
        // For .ci/verify_webhook.py: one captured request and its secret.
        let g = &got[0];
        let capture = json!({
            "secret": secret,
            "headers": {
                "webhook-id": g.header("webhook-id"),
                "webhook-timestamp": g.header("webhook-timestamp"),
                "webhook-signature": g.header("webhook-signature"),
            },
            "body": String::from_utf8(g.body.to_vec()).unwrap(),
        });
        std::fs::write(file, capture.to_string()).unwrap();
    }

    // And the subscription shows its cursor at the last delivered position; another org
    // does not see it
    let shown: Value = http
        .get(format!("{base}/v1/webhooks/{id}"))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["delivered"], 10);
    assert!(shown["cursor"].as_u64().unwrap() >= *positions.last().unwrap());

    // And /metrics counts the deliveries and shows each subscription's lag and parked
    // events, labelled by ids only
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let delivered: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("offboard_webhook_deliveries_total{outcome=\"delivered\"} "))
        .unwrap_or_else(|| panic!("no delivered count in {metrics}"))
        .parse()
        .unwrap();
    assert!(delivered >= 10, "{delivered}");
    let labels = format!("{{org=\"{org}\",subscription=\"{id}\"}}");
    assert!(
        metrics.contains(&format!("offboard_webhook_parked_events{labels} 0")),
        "{metrics}"
    );
    let lag = format!("offboard_webhook_lag_events{labels} ");
    assert!(metrics.lines().any(|l| l.starts_with(&lag)), "{metrics}");
    assert!(!metrics.contains(&url), "a receiver's URL is never a label");
    let hidden = http
        .get(format!("{base}/v1/webhooks/{id}"))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}

/// An engine on a manual clock, an org, a hub and running delivery tasks.
struct Scene {
    engine: Arc<Engine>,
    clock: Arc<ManualClock>,
    hub: Arc<Hub>,
    org: OrgId,
    owner: UserId,
    deliveries: Option<Deliveries>,
}

impl Scene {
    async fn new(options: WebhookOptions) -> Self {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let engine = Engine::with_store(Arc::new(MemoryLog::new()), clock.clone()).unwrap();
        let (org, owner) = create_org(&engine, "Truck Pros").await;
        let engine = Arc::new(engine);
        let hub = Arc::new(Hub::load(&engine).unwrap());
        let deliveries = Deliveries::start(Arc::clone(&engine), Arc::clone(&hub), options).unwrap();
        Self {
            engine,
            clock,
            hub,
            org,
            owner,
            deliveries: Some(deliveries),
        }
    }

    fn add(&self, new: NewSubscription) -> (uuid::Uuid, String) {
        let created = self
            .hub
            .add(
                self.org,
                new,
                &loopback(),
                self.engine.last_position(),
                self.clock.now(),
            )
            .unwrap();
        (created.subscription.id, created.secret)
    }

    async fn write(&self, tag: &str, count: usize) {
        write(&self.engine, self.org, self.owner, tag, count).await;
    }

    /// The subscription once `done` holds of it (the receiver sees a request before its
    /// outcome is recorded).
    async fn once(
        &self,
        id: uuid::Uuid,
        done: impl Fn(&offboard::webhooks::SubscriptionDetail) -> bool,
    ) -> offboard::webhooks::SubscriptionDetail {
        for _ in 0..200 {
            let shown = self
                .hub
                .show(self.org, id, self.engine.last_position())
                .unwrap();
            if done(&shown) {
                return shown;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{:?}", self.hub.show(self.org, id, 0).unwrap())
    }

    async fn stop(mut self) {
        self.deliveries.take().unwrap().stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_on_the_clock_honour_retry_after_then_park_and_pause_and_replay_sends_again(
) {
    // Given a subscription parking after 3 attempts, and a receiver that answers
    // 503 (Retry-After: 120), then 500 twice
    let options = WebhookOptions {
        max_attempts: 3,
        ..loopback()
    };
    let scene = Scene::new(options).await;
    let (receiver, url) = Receiver::start().await;
    receiver.script(&[(503, Some("120")), (500, None), (500, None)]);
    let (id, _) = scene.add(subscribe(&url));
    let first = scene.engine.last_position() + 1;

    // When two events are written
    scene.write("a", 2).await;

    // Then the first is tried at once, and again only once the clock passes Retry-After
    receiver.wait_for(1).await;
    let shown = scene.once(id, |s| s.attempts == 1).await;
    let due = shown.next_attempt_at.unwrap() - scene.clock.now();
    assert_eq!(due.num_seconds(), 120, "Retry-After honoured");
    scene.clock.advance(chrono::Duration::seconds(100));
    receiver.stays_at(1, Duration::from_millis(500)).await;
    scene.clock.advance(chrono::Duration::seconds(20));
    receiver.wait_for(2).await;
    // the second failure waits 2 × 5 s, jittered into [5 s, 10 s]
    let shown = scene.once(id, |s| s.attempts == 2).await;
    let due = (shown.next_attempt_at.unwrap() - scene.clock.now()).num_milliseconds();
    assert!((5_000..=10_000).contains(&due), "{due} ms");
    scene
        .clock
        .advance(chrono::Duration::milliseconds(due - 500));
    receiver.stays_at(2, Duration::from_millis(500)).await;
    scene.clock.advance(chrono::Duration::seconds(1));
    let got = receiver.wait_for(3).await;
    assert!(
        got.iter().all(|g| g.position() == first),
        "the same event each time"
    );
    assert!(got
        .windows(2)
        .all(|w| w[0].header("webhook-id") == w[1].header("webhook-id")));

    // And after the third it is parked with its status and body, and the subscription
    // pauses (policy pause): the second event is not sent
    let shown = scene.once(id, |s| s.parked == 1).await;
    receiver.stays_at(3, Duration::from_millis(500)).await;
    assert_eq!(shown.subscription.status, SubscriptionStatus::Paused);
    assert!(shown.subscription.paused_reason.unwrap().contains("parked"));
    let log = scene.hub.deliveries(scene.org, id, true).unwrap();
    assert_eq!(log.parked.len(), 1);
    assert_eq!(log.parked[0].position, first);
    assert_eq!(log.parked[0].last_status, Some(500));
    assert_eq!(log.parked[0].detail.as_deref(), Some("crm down"));
    assert_eq!(log.recent.len(), 3);

    // When it is replayed from the parked event (the receiver now answers 204)
    scene
        .hub
        .replay(scene.org, id, first, scene.engine.last_position())
        .unwrap();

    // Then both events arrive, in order, and nothing stays parked
    let got = receiver.wait_for(5).await;
    assert_eq!(
        got[3..].iter().map(Got::position).collect::<Vec<_>>(),
        vec![first, first + 1]
    );
    let shown = scene.once(id, |s| s.delivered == 2).await;
    assert_eq!(shown.parked, 0);
    assert_eq!(shown.subscription.status, SubscriptionStatus::Active);
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_skip_parks_and_goes_on_with_the_next_event() {
    let options = WebhookOptions {
        max_attempts: 1,
        ..loopback()
    };
    let scene = Scene::new(options).await;
    let (receiver, url) = Receiver::start().await;
    receiver.script(&[(410, None)]);
    let (id, _) = scene.add(NewSubscription {
        when_parked: WhenParked::Skip,
        ..subscribe(&url)
    });
    scene.write("s", 2).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].position(), got[0].position() + 1);
    let shown = scene.once(id, |s| s.delivered == 1).await;
    assert_eq!(shown.parked, 1);
    assert_eq!(shown.subscription.status, SubscriptionStatus::Active);
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_subscription_waits_until_resumed_and_a_rotated_secret_overlaps_the_old_one() {
    let scene = Scene::new(loopback()).await;
    let (receiver, url) = Receiver::start().await;
    let (id, old) = scene.add(subscribe(&url));

    // Given a paused subscription, When an event is written, Then nothing arrives
    scene.hub.pause(scene.org, id).unwrap();
    scene.write("p", 1).await;
    receiver.stays_at(0, Duration::from_millis(600)).await;
    // When it is resumed, Then the event arrives
    scene.hub.resume(scene.org, id).unwrap();
    let got = receiver.wait_for(1).await;
    assert!(verifies(&old, &got[0]));

    // When the secret is rotated with an overlap, Then the next delivery carries both
    // signatures and each secret verifies it
    let new = scene
        .hub
        .rotate_secret(scene.org, id, chrono::Duration::hours(1), scene.clock.now())
        .unwrap()
        .secret;
    scene.write("r", 1).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].header("webhook-signature").matches("v1,").count(), 2);
    assert!(verifies(&old, &got[1]) && verifies(&new, &got[1]));

    // When the overlap has passed, Then only the new secret signs
    scene.clock.advance(chrono::Duration::hours(2));
    scene.write("q", 1).await;
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].header("webhook-signature").matches("v1,").count(), 1);
    // (the clock moved two hours, so verify against a fresh timestamp check only for
    // the signature itself)
    let ts: i64 = got[2].header("webhook-timestamp").parse().unwrap();
    let sign = |secret: &str| {
        Webhook::new(secret)
            .unwrap()
            .sign(got[2].header("webhook-id"), ts, &got[2].body)
            .unwrap()
    };
    assert_eq!(got[2].header("webhook-signature"), sign(&new));
    assert_ne!(got[2].header("webhook-signature"), sign(&old));
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_or_reordered_across_a_restart_of_the_engine_during_delivery() {
    // Given a durable engine, a subscription and a slow receiver
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    let engine = Arc::new(engine);
    let hub = Arc::new(Hub::load(&engine).unwrap());
    let (receiver, url) = Receiver::start().await;
    *receiver.delay.lock().unwrap() = Duration::from_millis(15);
    let start = engine.last_position();
    hub.add(org, subscribe(&url), &loopback(), start, chrono::Utc::now())
        .unwrap();
    let deliveries = Deliveries::start(Arc::clone(&engine), Arc::clone(&hub), loopback()).unwrap();

    // When 60 events are written while delivery runs, and the engine stops mid-way
    write(&engine, org, owner, "before", 60).await;
    receiver.wait_for(10).await;
    deliveries.stop().await;
    drop(hub);
    Arc::try_unwrap(engine).unwrap().shutdown();
    let delivered_before = receiver.got().len();
    assert!(
        delivered_before < 60,
        "the restart came too late to test anything"
    );

    // And it reopens from disk, delivery starts again and 20 more are written
    let engine = Arc::new(Engine::open(dir.path()).unwrap());
    let hub = Arc::new(Hub::load(&engine).unwrap());
    let deliveries = Deliveries::start(Arc::clone(&engine), Arc::clone(&hub), loopback()).unwrap();
    write(&engine, org, owner, "after", 20).await;

    // Then every position after the subscription's start arrives, in order; only the
    // one in flight at the stop may come twice
    let expected: Vec<u64> = (start + 1..=engine.last_position()).collect();
    assert_eq!(expected.len(), 80);
    let mut got: Vec<u64> = loop {
        let got: Vec<u64> = receiver.got().iter().map(Got::position).collect();
        let mut unique = got.clone();
        unique.dedup();
        if unique.len() >= expected.len() {
            break got;
        }
        receiver.wait_for(got.len() + 1).await;
    };
    let all = got.len();
    got.dedup();
    assert_eq!(got, expected);
    assert!(all - got.len() <= 1, "{} duplicates", all - got.len());
    deliveries.stop().await;
}

#[tokio::test]
async fn an_acknowledgement_moves_the_cursor_file_at_once_and_the_history_at_the_next_save() {
    // Given a durable engine with three events and a subscription starting before them
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    let start = engine.last_position();
    write(&engine, org, owner, "w", 3).await;
    let hub = Hub::load(&engine).unwrap();
    let now = chrono::Utc::now();
    let url = "http://127.0.0.1:9/hook";
    let id = hub
        .add(org, subscribe(url), &loopback(), start, now)
        .unwrap()
        .subscription
        .id;

    // When the receiver acknowledges the first one (the quick record: no sync)
    let work = hub.work(id, now).unwrap();
    let outcome = Outcome {
        attempt: Attempt {
            position: start + 1,
            webhook_id: "msg_1".to_owned(),
            at: now,
            outcome: "delivered".to_owned(),
            status: Some(204),
            detail: None,
            duration_ms: 1,
        },
        retry_at: None,
    };
    assert!(Hub::is_quick(&work, &outcome));
    assert!(hub.record(&work, outcome, 10).unwrap());

    // Then a hub loaded now, as after a SIGKILL, resumes after it from the cursor file,
    // though the attempt history is not saved yet
    let last = engine.last_position();
    let reloaded = Hub::load(&engine).unwrap();
    let shown = reloaded.show(org, id, last).unwrap();
    assert_eq!((shown.cursor, shown.delivered), (start + 1, 0));

    // And once saved, the history is there too
    hub.save().unwrap();
    let reloaded = Hub::load(&engine).unwrap();
    assert_eq!(reloaded.show(org, id, last).unwrap().delivered, 1);
    assert_eq!(reloaded.deliveries(org, id, false).unwrap().recent.len(), 1);
}

#[tokio::test]
async fn removing_a_subscription_deletes_its_progress_and_cursor_and_a_load_sweeps_leftovers() {
    // Given two subscriptions on a durable engine
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let (org, _) = create_org(&engine, "Truck Pros").await;
    let hub = Hub::load(&engine).unwrap();
    let (now, last) = (chrono::Utc::now(), engine.last_position());
    let add = || {
        hub.add(
            org,
            subscribe("https://crm.example.com/hook"),
            &loopback(),
            last,
            now,
        )
        .unwrap()
        .subscription
        .id
    };
    let (gone, kept) = (add(), add());
    let checkpoints = dir.path().join("checkpoints");
    let records = |id: uuid::Uuid| {
        [
            checkpoints.join(format!("server.webhook.{id}")),
            checkpoints.join(format!("server.webhook.{id}.cursor")),
        ]
    };
    assert!(records(gone).iter().all(|r| r.exists()));

    // When one is removed
    hub.remove(org, gone).unwrap();

    // Then its progress and cursor are gone from the disk, the other's stay, and a
    // reload knows only the other
    assert!(records(gone).iter().all(|r| !r.exists()));
    assert!(records(kept).iter().all(|r| r.exists()));
    let ids = |hub: &Hub| hub.list(org).iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(&Hub::load(&engine).unwrap()), vec![kept]);

    // And the records of a removal a crash cut short are deleted at the next load
    let orphan = uuid::Uuid::new_v4();
    for record in records(orphan) {
        std::fs::write(record, b"{}").unwrap();
    }
    assert_eq!(ids(&Hub::load(&engine).unwrap()), vec![kept]);
    assert!(records(orphan).iter().all(|r| !r.exists()));
    assert!(records(kept).iter().all(|r| r.exists()));
}

#[tokio::test]
async fn the_api_refuses_unsafe_urls_and_principals_who_do_not_manage_the_org() {
    let world = world().await;
    for url in [
        "http://crm.example.com/hook",
        "http://127.0.0.1:9000/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "file:///etc/passwd",
    ] {
        let answer = world
            .post(&world.owner_token, "/v1/webhooks", json!({ "url": url }))
            .await;
        let body = answer.error(422, "invalid_input");
        assert!(!body.to_string().contains("whsec_"));
    }
    let bad_type = json!({ "url": "https://crm.example.com/hook", "events": ["Nope"] });
    world
        .post(&world.owner_token, "/v1/webhooks", bad_type)
        .await
        .error(422, "invalid_input");
    let good = json!({ "url": "https://crm.example.com/hook" });
    world
        .post(&world.auditor_token, "/v1/webhooks", good.clone())
        .await
        .error(403, "forbidden");
    assert_eq!(
        world.get(&world.owner_token, "/v1/webhooks").await.ok(),
        json!({ "webhooks": [], "next": null })
    );
    let created = world
        .post(&world.owner_token, "/v1/webhooks", good)
        .await
        .ok();
    let id = created["subscription"]["id"].as_str().unwrap();
    world
        .get(&world.other_token, &format!("/v1/webhooks/{id}"))
        .await
        .error(404, "not_found");
    let listed = world.get(&world.owner_token, "/v1/webhooks").await.ok();
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1, "{listed}");
    assert!(
        !listed.to_string().contains("whsec_"),
        "the secret is shown once only"
    );
}

#[tokio::test]
async fn empty_types_credentials_long_urls_hidden_characters_and_a_101st_subscription_are_refused()
{
    // Given an org with no subscription
    let world = world().await;
    let url = "https://crm.example.com/hook";
    let long = format!("https://crm.example.com/{}", "a".repeat(2_100));
    // When subscriptions a tester found accepted are asked for, Then each is 422 and
    // nothing is stored: an empty type would have meant every event.
    for refused in [
        json!({ "url": url, "events": [""] }),
        json!({ "url": url, "events": ["UserDeleted", " "] }),
        json!({ "url": "https://user:pw@crm.example.com/hook" }),
        json!({ "url": long }),
        json!({ "url": "https://[::169.254.169.254]/" }),
        json!({ "url": "https://[fec0::1]/" }),
        json!({ "url": url, "description": "CRM \u{202e}sync" }),
        json!({ "url": url, "description": "CRM\u{0}sync" }),
    ] {
        let answer = world
            .post(&world.owner_token, "/v1/webhooks", refused.clone())
            .await;
        let body = answer.error(422, "invalid_input");
        assert!(!body.to_string().contains("whsec_"), "{refused}");
    }
    assert_eq!(
        world.get(&world.owner_token, "/v1/webhooks").await.ok()["webhooks"],
        json!([])
    );
    // When it holds the most it may, Then one more is refused, naming the limit.
    for _ in 0..offboard::webhooks::MAX_SUBSCRIPTIONS {
        world
            .post(&world.owner_token, "/v1/webhooks", json!({ "url": url }))
            .await
            .ok();
    }
    let answer = world
        .post(&world.owner_token, "/v1/webhooks", json!({ "url": url }))
        .await;
    let body = answer.error(422, "invalid_input");
    assert!(body.to_string().contains("100 subscriptions"), "{body}");
    // And the list comes in pages, oldest first, each with the next page's link.
    let first = world
        .get(&world.owner_token, "/v1/webhooks?limit=60")
        .await
        .ok();
    assert_eq!(first["webhooks"].as_array().unwrap().len(), 60);
    let next = first["next"].as_str().unwrap().to_owned();
    let rest = world.get(&world.owner_token, &next).await.ok();
    assert_eq!(rest["webhooks"].as_array().unwrap().len(), 40, "{rest}");
    assert_eq!(rest["next"], json!(null));
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut all = ids(&first);
    all.extend(ids(&rest));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100, "no subscription twice, none left out");
    // And: an unknown id is "not found" once.
    let missing = world
        .get(
            &world.owner_token,
            &format!("/v1/webhooks/{}", uuid::Uuid::nil()),
        )
        .await;
    let body = missing.error(404, "not_found");
    assert!(!body.to_string().contains("not found not found"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_slower_than_the_timeout_slows_neither_the_writer_nor_other_subscriptions() {
    // Given a subscription whose receiver takes 3 s (the timeout is 1 s) and one whose
    // receiver answers at once
    let options = WebhookOptions {
        timeout: Duration::from_secs(1),
        ..loopback()
    };
    let scene = Scene::new(options).await;
    let (slow, slow_url) = Receiver::start().await;
    *slow.delay.lock().unwrap() = Duration::from_secs(3);
    let (fast, fast_url) = Receiver::start().await;
    let (slow_id, _) = scene.add(subscribe(&slow_url));
    scene.add(subscribe(&fast_url));

    // When 30 events are written
    let started = std::time::Instant::now();
    scene.write("w", 30).await;
    let writing = started.elapsed();

    // Then the writer did not wait, the other subscription got all 30 in order, and the
    // slow one's first attempt is recorded as a timeout, to be retried
    let got = fast.wait_for(30).await;
    let positions: Vec<u64> = got.iter().map(Got::position).collect();
    assert!(
        positions.windows(2).all(|w| w[1] == w[0] + 1),
        "{positions:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(writing < Duration::from_secs(2), "{writing:?}");
    let shown = scene.once(slow_id, |s| s.attempts == 1).await;
    assert_eq!(shown.delivered, 0);
    let log = scene.hub.deliveries(scene.org, slow_id, true).unwrap();
    let detail = log.recent[0].detail.as_deref().unwrap();
    assert!(detail.contains("no answer within 1 s"), "{detail}");
    assert_eq!(log.recent[0].status, None);
    scene.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_body_names_each_users_email_and_external_id_and_each_resource_as_kind_and_id()
{
    // Given a subscription to transfers with the connector body
    let scene = Scene::new(loopback()).await;
    let (receiver, url) = Receiver::start().await;
    let (_, secret) = scene.add(NewSubscription {
        events: vec!["ResourcesTransferred".into()],
        format: offboard::webhooks::BodyFormat::Connector,
        ..subscribe(&url)
    });
    let act = |command| as_user(&scene.engine, scene.org, scene.owner, command);
    act(Command::InviteUser {
        user: offboard::domain::NewUser {
            email: "pat@truckpros.example".into(),
            first_name: "Pat".into(),
            last_name: "Kim".into(),
            job_title: None,
            external_id: Some("00u1pat".into()),
            department: None,
            employee_number: None,
            user_name: None,
        },
        role: offboard_events::Role::Member,
        manager: None,
        active: true,
    })
    .await;
    let pat = scene
        .engine
        .state()
        .org(scene.org)
        .unwrap()
        .directory()
        .user_by_email("pat@truckpros.example")
        .unwrap()
        .id;
    let keys: Vec<offboard_events::ResourceKey> = ["buyer:B-1", "buyer:B-2"]
        .iter()
        .map(|k| k.parse().unwrap())
        .collect();
    act(Command::RegisterResources {
        owner: scene.owner,
        resources: keys.clone(),
    })
    .await;

    // When the buyers move to Pat
    act(Command::TransferResources {
        from: scene.owner,
        resources: keys,
        to: pat,
    })
    .await;

    // Then the body carries both people's emails (and Pat's external id, the owner
    // having none), the keys split, the correlation id
    let got = receiver.wait_for(1).await;
    assert!(verifies(&secret, &got[0]));
    let body = got[0].json();
    let schema: Value =
        serde_json::from_str(&offboard::webhooks::payload::connector_schema_json()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(body["event"]["event_type"], "ResourcesTransferred");
    assert_eq!(body["correlation_id"], body["event"]["correlation_id"]);
    assert_eq!(
        body["users"][pat.to_string()],
        json!({ "email": "pat@truckpros.example", "external_id": "00u1pat", "status": "active" })
    );
    let owner = &body["users"][scene.owner.to_string()];
    assert_eq!(owner["email"], "owner@truckpros.example");
    assert!(owner.get("external_id").is_none(), "{owner}");
    assert_eq!(
        body["resources"],
        json!([
            { "key": "buyer:B-1", "kind": "buyer", "id": "B-1" },
            { "key": "buyer:B-2", "kind": "buyer", "id": "B-2" },
        ])
    );
    scene.stop().await;
}

#[test]
fn the_checked_in_connector_schema_is_current() {
    use offboard::webhooks::payload::{connector_schema_json, SCHEMA_FILE};
    let path = format!("{}/{SCHEMA_FILE}", env!("CARGO_MANIFEST_DIR"));
    let generated = connector_schema_json();
    if std::env::var_os("OFFBOARD_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{SCHEMA_FILE} is stale: run `OFFBOARD_WRITE_SCHEMA=1 cargo test --test server connector_schema`"
    );
}
