//! Deliveries yield to commands (`webhooks::pace`): while commands keep the writer busy,
//! all deliveries together go at `WebhookOptions::pace` a second; once commands stop,
//! the subscription catches up at full speed. The writer is kept busy by clients that
//! write without pause on a log whose every sync takes 5 ms, so a group is always in
//! flight.

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
use offboard_events::PrincipalKind;

use super::delegate::delegate_reads;
use super::support::*;

/// A memory log on a disk whose every sync takes 5 ms.
#[derive(Debug, Default)]
struct SlowSync {
    inner: MemoryLog,
}

impl LogStore for SlowSync {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.inner.write(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        std::thread::sleep(Duration::from_millis(5));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_paced_while_commands_keep_the_writer_busy_and_catch_up_once_they_stop() {
    // Given: an engine on a slow-syncing log, one subscription, and a pace of 40 a second
    let store: Arc<dyn LogStore> = Arc::new(SlowSync::default());
    let vault = Arc::new(KeyVault::in_memory());
    let engine = Engine::with_options(store, vault, Arc::new(SystemClock), Options::default());
    let engine = Arc::new(engine.unwrap());
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    let hub = Arc::new(Hub::load(&engine).unwrap());
    let (delivered, url) = counting_receiver().await;
    let options = WebhookOptions {
        allow_http_loopback: true,
        pace: 40,
        ..WebhookOptions::default()
    };
    let start = engine.last_position();
    let subscription = NewSubscription {
        url,
        ..NewSubscription::default()
    };
    hub.add(org, subscription, &options, start, chrono::Utc::now())
        .unwrap();
    let deliveries = Deliveries::start(Arc::clone(&engine), Arc::clone(&hub), options).unwrap();

    // When: 8 clients write without pause for 1.2 s
    let until = Instant::now() + Duration::from_millis(1_200);
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let engine = Arc::clone(&engine);
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
        .collect();
    // Then: once the writer has been busy a sample, deliveries are paced, and from then
    // on about 40 a second arrive (the 0.6 s below: 24, and a burst) …
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        hub.metrics().is_paced(),
        "not paced while the writer is busy"
    );
    let before = delivered.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let meanwhile = delivered.load(Ordering::SeqCst) - before;
    assert!(
        meanwhile <= 40,
        "{meanwhile} delivered in 0.6 s at 40 a second"
    );
    for client in clients {
        client.await.unwrap();
    }
    let written = (engine.last_position() - start) as usize;
    assert!(
        written > 400,
        "only {written} events: the writer was not kept busy"
    );

    // … and once commands stop, pacing ends and every event arrives within seconds (at
    // 40 a second it would take ten).
    let caught_up = tokio::time::timeout(Duration::from_secs(5), async {
        while delivered.load(Ordering::SeqCst) < written {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        caught_up.is_ok(),
        "{} of {written} delivered",
        delivered.load(Ordering::SeqCst)
    );
    assert!(!hub.metrics().is_paced());
    deliveries.stop().await;
}
