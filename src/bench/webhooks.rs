//! Webhook delivery, measured (issue 18): one subscription to a loopback receiver — the
//! events a second it delivers catching up on a backlog, and the time from an event's
//! durable answer to its arrival at the receiver while events are written at a steady
//! [`LIVE_RATE`] a second — and what delivery costs the writer: the 64-client command
//! throughput of `--only throughput` with no subscription and with 10 delivering every
//! event, alternating [`ROUNDS`] times on fresh directories, which side first alternating
//! too (each side's median, and the median of the rounds' ratios). The
//! 64 clients keep the writer busy, so the ten are paced (`webhooks::pace`, the default
//! `pace`) and fall behind; "delivered meanwhile" says how many went.
//!
//! The receivers (an axum app answering 204) run on runtimes of their own; on these
//! machines they share the cores with the server, where real receivers would not. So in
//! the loaded runs, where ten of them answer tens of thousands of requests a second, the
//! receiver's threads run at the lowest priority (nice 19), standing for machines of
//! their own as far as one machine can; the one-subscription receiver runs at the
//! process's priority.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use tokio::task::JoinSet;

use super::fixture::{keys, Fixture};
use super::place::Place;
use super::throughput::{self, CLIENTS};
use super::{fail, figure, median_run, quantile, BenchConfig, BenchError, Figure};
use crate::domain::Command;
use crate::engine::Options;
use crate::webhooks::{priority, Deliveries, Hub, NewSubscription, WebhookOptions};

const DELIVERY: &str = "webhooks: 1 subscription, loopback";
const LOAD: &str = "webhooks: 64 clients, transfers";
/// Events a second written while commit→delivery latency is measured.
const LIVE_RATE: u64 = 5_000;
/// Runs per side (no subscription, 10 subscriptions), alternating. Five, not three: the
/// two sides' medians of three moved by ±10 % from one bench to the next on these
/// machines (docs/performance.md), as much as the cost being measured.
const ROUNDS: usize = 5;
/// Subscriptions delivering during the loaded runs.
const SUBSCRIPTIONS: usize = 10;
/// Longest the receiver is waited for.
const PATIENCE: Duration = Duration::from_secs(300);

pub async fn run(config: &BenchConfig, place: &Place) -> Result<Vec<Figure>, BenchError> {
    let receiver = Receiver::start(0)?;
    let one = one_subscription(config, place, "webhooks-one", &receiver).await?;
    drop(receiver);
    let receiver = Receiver::start(19)?;
    let per_client = config.scaled(500, 20);
    let (mut without, mut with, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let name = |subscriptions| format!("webhooks-load-{round}-{subscriptions}");
        let run = |n: usize| {
            let name = name(n);
            let receiver = &receiver;
            async move { loaded(place, &name, per_client, n, receiver).await }
        };
        // Which side runs first alternates, so neither always follows the other.
        let (none, ten) = if round % 2 == 0 {
            let none = run(0).await?;
            (none, run(SUBSCRIPTIONS).await?)
        } else {
            let ten = run(SUBSCRIPTIONS).await?;
            (run(0).await?, ten)
        };
        kept.push(ten.commands_per_s / none.commands_per_s.max(f64::MIN_POSITIVE));
        without.push(none);
        with.push(ten);
    }
    let (without, with) = (median(without), median(with));
    // Each round's two runs are seconds apart: their ratio is the least moved by the
    // machine's slower and faster stretches, and the figure is the median of those.
    let kept = quantile(&mut kept, 0.5);
    Ok(vec![
        figure(
            DELIVERY,
            "delivered, catching up",
            one.events_per_s,
            "events/s",
            ">= 5000 events/s",
            Some(one.events_per_s >= 5_000.0),
        ),
        figure(
            DELIVERY,
            "commit→delivery p50, 5000/s",
            one.p50_ms,
            "ms",
            "",
            None,
        ),
        figure(
            DELIVERY,
            "commit→delivery p99, 5000/s",
            one.p99_ms,
            "ms",
            "<= 50 ms",
            Some(one.p99_ms <= 50.0),
        ),
        figure(
            LOAD,
            "no subscription",
            without.commands_per_s,
            "cmd/s",
            "",
            None,
        ),
        figure(
            LOAD,
            "10 subscriptions delivering",
            with.commands_per_s,
            "cmd/s",
            "",
            None,
        ),
        figure(
            LOAD,
            "10 subscriptions / none",
            kept,
            "x",
            ">= 0.9x",
            Some(kept >= 0.9),
        ),
        figure(
            LOAD,
            "delivered meanwhile, all 10",
            with.delivered_per_s,
            "events/s",
            "",
            None,
        ),
    ])
}

/// What the one subscription measured.
struct One {
    events_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A backlog of 64 × `per_client` transfers delivered from the start, then transfers
/// back at [`LIVE_RATE`] a second, each one's answer and arrival timed.
async fn one_subscription(
    config: &BenchConfig,
    place: &Place,
    name: &str,
    receiver: &Receiver,
) -> Result<One, BenchError> {
    let per_client = config.scaled(320, 8);
    let fx = throughput::prepare(place, name, Options::default(), per_client).await?;
    let hub = Arc::new(Hub::load(&fx.engine).map_err(fail)?);
    let start = fx.engine.last_position();
    let now = chrono::Utc::now();
    hub.add(
        fx.org,
        receiver.subscription("hook"),
        &options(),
        start,
        now,
    )
    .map_err(fail)?;
    throughput::drive(&fx, per_client).await?;
    let last = fx.engine.last_position();
    let started = Instant::now();
    let deliveries =
        Deliveries::start(Arc::clone(&fx.engine), Arc::clone(&hub), options()).map_err(fail)?;
    let arrived = receiver.wait_for(last).await?;
    let events_per_s = (last - start) as f64 / (arrived - started).as_secs_f64();

    let events = config.scaled(10_000, 200).min(CLIENTS as u64 * per_client);
    let mut latencies = live(&fx, receiver, events).await?;
    deliveries.stop().await;
    Ok(One {
        events_per_s,
        p50_ms: quantile(&mut latencies, 0.50),
        p99_ms: quantile(&mut latencies, 0.99),
    })
}

/// `events` transfers back (second user of each pair to the first), [`LIVE_RATE`] a
/// second in ticks of 10 ms; the milliseconds from each one's durable answer to its
/// arrival at the receiver (0 when it arrived before the answer reached its caller).
async fn live(fx: &Arc<Fixture>, receiver: &Receiver, events: u64) -> Result<Vec<f64>, BenchError> {
    let per_tick = (LIVE_RATE / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut answers = JoinSet::new();
    for i in 0..events {
        if i % per_tick == 0 {
            tick.tick().await;
        }
        let client = (i % CLIENTS as u64) as usize;
        let k = i / CLIENTS as u64;
        let key = keys("task", &format!("c{client}"), k..k + 1);
        let (from, to) = (fx.users[2 * client + 1], fx.users[2 * client]);
        let fx = Arc::clone(fx);
        answers.spawn(async move {
            let command = Command::TransferResources {
                from,
                resources: key,
                to,
            };
            let appended = fx.run(command).await?;
            Ok::<_, BenchError>((appended.positions, Instant::now()))
        });
    }
    let mut answered = Vec::new();
    while let Some(done) = answers.join_next().await {
        if let (Some((_, position)), at) = done.map_err(fail)?? {
            answered.push((position, at));
        }
    }
    let last = answered.iter().map(|(p, _)| *p).max().unwrap_or_default();
    receiver.wait_for(last).await?;
    Ok(answered
        .into_iter()
        .map(|(position, at)| {
            let arrived = receiver.arrival(position).unwrap_or(at);
            arrived.saturating_duration_since(at).as_secs_f64() * 1000.0
        })
        .collect())
}

/// One run of the 64 clients.
struct Loaded {
    commands_per_s: f64,
    /// Events the subscriptions delivered a second, all together, meanwhile.
    delivered_per_s: f64,
}

/// The 64 clients of `--only throughput` with `subscriptions` delivering every event.
async fn loaded(
    place: &Place,
    name: &str,
    per_client: u64,
    subscriptions: usize,
    receiver: &Receiver,
) -> Result<Loaded, BenchError> {
    let fx = throughput::prepare(place, name, Options::default(), per_client).await?;
    let hub = Arc::new(Hub::load(&fx.engine).map_err(fail)?);
    let start = fx.engine.last_position();
    for _ in 0..subscriptions {
        let now = chrono::Utc::now();
        hub.add(
            fx.org,
            receiver.subscription("sink"),
            &options(),
            start,
            now,
        )
        .map_err(fail)?;
    }
    let deliveries =
        Deliveries::start(Arc::clone(&fx.engine), Arc::clone(&hub), options()).map_err(fail)?;
    let started = Instant::now();
    let run = throughput::drive(&fx, per_client).await?;
    let elapsed = started.elapsed().as_secs_f64();
    deliveries.stop().await;
    let delivered: u64 = hub.details(start).iter().map(|d| d.delivered).sum();
    Ok(Loaded {
        commands_per_s: run.commands_per_s,
        delivered_per_s: delivered as f64 / elapsed,
    })
}

fn median(runs: Vec<Loaded>) -> Loaded {
    median_run(runs, |r| r.commands_per_s)
}

fn options() -> WebhookOptions {
    WebhookOptions {
        allow_http_loopback: true,
        ..WebhookOptions::default()
    }
}

/// A loopback receiver: `POST /hook` notes when each position first arrived, `POST
/// /sink` only answers; both answer 204.
struct Receiver {
    url: String,
    arrivals: Arc<Mutex<HashMap<u64, Instant>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

#[derive(serde::Deserialize)]
struct At {
    position: u64,
}

impl Receiver {
    /// A receiver whose threads sit `nice` steps below the caller's.
    fn start(nice: i32) -> Result<Self, BenchError> {
        let runtime = priority::runtime("bench-receiver", 1, nice).map_err(fail)?;
        let arrivals = Arc::new(Mutex::new(HashMap::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail)?;
        listener.set_nonblocking(true).map_err(fail)?;
        let url = format!("http://{}", listener.local_addr().map_err(fail)?);
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(note))
            .route(
                "/sink",
                axum::routing::post(|| async { StatusCode::NO_CONTENT }),
            )
            .with_state(Arc::clone(&arrivals));
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, app).await
        });
        Ok(Self {
            url,
            arrivals,
            runtime: Some(runtime),
        })
    }

    fn subscription(&self, path: &str) -> NewSubscription {
        NewSubscription {
            url: format!("{}/{path}", self.url),
            ..NewSubscription::default()
        }
    }

    fn arrival(&self, position: u64) -> Option<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&position)
            .copied()
    }

    /// When `position` arrived at `/hook`, once it has.
    async fn wait_for(&self, position: u64) -> Result<Instant, BenchError> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.arrival(position) {
                return Ok(at);
            }
            if started.elapsed() > PATIENCE {
                return Err(fail(format!("position {position} was never delivered")));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn note(
    State(arrivals): State<Arc<Mutex<HashMap<u64, Instant>>>>,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    match serde_json::from_slice::<At>(&body) {
        Ok(event) => {
            let mut arrivals = arrivals.lock().unwrap_or_else(|p| p.into_inner());
            arrivals.entry(event.position).or_insert(at);
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}
