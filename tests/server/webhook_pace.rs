//! Deliveries yield to commands (`webhooks::pace`): while commands keep the writer busy,
//! all deliveries together go at `WebhookOptions::pace` a second; once commands stop,
//! the subscription catches up at full speed; and a request waiting its turn does not go
//! out once the subscription is paused or removed. The writer is kept busy by clients
//! that write without pause on a log whose every sync takes 20 ms, so a group is always
//! in flight: the writer rests only while a client's next command is on its way, well
//! under a tenth of the time even on a loaded machine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use offboard::clock::SystemClock;
use offboard::domain::Command;
use offboard::engine::Options;
use offboard::privacy::KeyVault;
use offboard::store::{CommitBatch, LogStore, MemoryLog, StoreError};
use offboard::webhooks::{Deliveries, Hub, NewSubscription, WebhookOptions};
use offboard::Engine;
use offboard_events::{OrgId, PrincipalKind, UserId};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::delegate::delegate_reads;
use super::support::*;

/// A memory log on a disk whose every sync takes 20 ms.
#[derive(Debug, Default)]
struct SlowSync {
    inner: MemoryLog,
}

impl LogStore for SlowSync {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.inner.write(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        std::thread::sleep(Duration::from_millis(20));
        self.inner.sync()
    }
    delegate_reads!(inner);
}

/// A loopback receiver that counts what it is sent; its URL.
async fn counting_receiver() -> (Arc<AtomicUsize>, String) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (count, url)
}

/// An engine on a slow-syncing log with one org and one subscription to a counting
/// receiver, delivering at `pace` a second while the writer is busy.
struct Paced {
    engine: Arc<Engine>,
    org: OrgId,
    owner: UserId,
    hub: Arc<Hub>,
    subscription: Uuid,
    delivered: Arc<AtomicUsize>,
    deliveries: Deliveries,
    start: u64,
}

impl Paced {
    async fn start(pace: u32) -> Self {
        let store: Arc<dyn LogStore> = Arc::new(SlowSync::default());
        let vault = Arc::new(KeyVault::in_memory());
        let engine = Engine::with_options(store, vault, Arc::new(SystemClock), Options::default());
        let engine = Arc::new(engine.unwrap());
        let (org, owner) = create_org(&engine, "Truck Pros").await;
        let hub = Arc::new(Hub::load(&engine).unwrap());
        let (delivered, url) = counting_receiver().await;
        let options = WebhookOptions {
            allow_http_loopback: true,
            pace,
            ..WebhookOptions::default()
        };
        let start = engine.last_position();
        let new = NewSubscription {
            url,
            ..NewSubscription::default()
        };
        let added = hub.add(org, new, &options, start, chrono::Utc::now());
        let subscription = added.unwrap().subscription.id;
        let deliveries = Deliveries::start(Arc::clone(&engine), Arc::clone(&hub), options);
        Self {
            deliveries: deliveries.unwrap(),
            engine,
            org,
            owner,
            hub,
            subscription,
            delivered,
            start,
        }
    }

    /// 16 clients writing without pause until `until`.
    fn keep_busy(&self, until: Instant) -> Vec<JoinHandle<()>> {
        (0..16)
            .map(|client| {
                let (engine, org, owner) = (Arc::clone(&self.engine), self.org, self.owner);
                tokio::spawn(async move {
                    let mut i = 0;
                    while Instant::now() < until {
                        let name = format!("c{client}-{i}");
                        let kind = PrincipalKind::Auditor;
                        let command = Command::RegisterPrincipal { kind, name };
                        as_user(&engine, org, owner, command).await;
                        i += 1;
                    }
                })
            })
            .collect()
    }

    fn delivered(&self) -> usize {
        self.delivered.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_paced_while_commands_keep_the_writer_busy_and_catch_up_once_they_stop() {
    // Given: an engine on a slow-syncing log, one subscription, and a pace of 40 a second
    let paced = Paced::start(40).await;
    // When: 16 clients write without pause for 1.2 s
    let clients = paced.keep_busy(Instant::now() + Duration::from_millis(1_200));
    // Then: once the writer has been busy a sample, deliveries are paced, and from then
    // on about 40 a second arrive (the 0.6 s below: 24, and a burst) …
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        paced.hub.metrics().is_paced(),
        "not paced while the writer is busy"
    );
    let before = paced.delivered();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let meanwhile = paced.delivered() - before;
    assert!(
        meanwhile <= 40,
        "{meanwhile} delivered in 0.6 s at 40 a second"
    );
    for client in clients {
        client.await.unwrap();
    }
    let written = (paced.engine.last_position() - paced.start) as usize;
    assert!(
        written > 400,
        "only {written} events: the writer was not kept busy"
    );

    // … and once commands stop, pacing ends and every event arrives within seconds (at
    // 40 a second it would take ten).
    let caught_up = tokio::time::timeout(Duration::from_secs(5), async {
        while paced.delivered() < written {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        caught_up.is_ok(),
        "{} of {written} delivered",
        paced.delivered()
    );
    assert!(!paced.hub.metrics().is_paced());
    paced.deliveries.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waiting_its_turn_does_not_go_out_once_its_subscription_is_paused_or_removed() {
    // Given: a pace of 1 a second and the writer kept busy, so the subscription's next
    // request waits up to a second for its turn
    let paced = Paced::start(1).await;
    let (org, id) = (paced.org, paced.subscription);
    let clients = paced.keep_busy(Instant::now() + Duration::from_millis(6_000));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(paced.hub.metrics().is_paced());
    // When: it is paused (a request already on the wire may still land: 50 ms)
    paced.hub.pause(org, id).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let at_pause = paced.delivered();
    // Then: the waiting request never goes out
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(paced.delivered(), at_pause, "delivered after the pause");
    // When: resumed, a turn comes (within two seconds: the turn the paused request
    // took counts against the pace); then removed while the next one waits
    paced.hub.resume(org, id).unwrap();
    let resumed = tokio::time::timeout(Duration::from_secs(3), async {
        while paced.delivered() == at_pause {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(resumed.is_ok(), "nothing delivered after the resume");
    paced.hub.remove(org, id).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let at_removal = paced.delivered();
    // Then: nothing goes out after the removal either
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(paced.delivered(), at_removal, "delivered after the removal");
    for client in clients {
        client.await.unwrap();
    }
    paced.deliveries.stop().await;
}
