//! The HTTP path, measured (issue 16 §5): the server runs in-process on 127.0.0.1 over a
//! sled directory, and 64 clients — the benchmark's own load generator, each one HTTP/1.1
//! keep-alive connection of hyper's bare client, as `wrk` keeps them — send one-resource
//! registrations (`POST /v1/users/{owner}/resources`, a fresh `Idempotency-Key` each),
//! each waiting for its answer before the next. Runs with the HTTP conventions (request
//! ids, compression, ETag, CORS, HTTP metrics) and without them alternate, a fresh
//! directory each, so a slow stretch of a shared machine falls on both; the figures are
//! each side's median run. Server and clients share the benchmark's runtime and the
//! machine's cores, as `wrk` beside a server would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::task::JoinSet;

use super::fixture::Fixture;
use super::place::Place;
use super::rss;
use super::{fail, figure, gather, median_run, quantile, BenchConfig, BenchError, Figure};
use crate::engine::Options;
use crate::server::{self, tokens, ServerOptions};
use crate::Engine;

const CLIENTS: usize = 64;
const SCENARIO: &str = "HTTP: 64 clients, registrations";
/// Runs per side (with and without the conventions), alternating.
const ROUNDS: usize = 5;

struct Run {
    commands_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The process's CPU time over the run, per command (µs): server, engine and load
    /// generator together, user and system time (the kernel's loopback TCP included).
    cpu_us: f64,
}

pub async fn run(config: &BenchConfig, place: &Place) -> Result<Vec<Figure>, BenchError> {
    let per_client = config.scaled(400, 10);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for conventions in [true, false] {
            let name = format!("http-{round}-{conventions}");
            let run = measure(place, &name, conventions, per_client).await?;
            if conventions { &mut with } else { &mut without }.push(run);
        }
    }
    let (with, without) = (median(with), median(without));
    let requests = config.scaled(100_000, 1_000);
    let layer_us = [
        router_cpu_us(true, requests).await,
        router_cpu_us(false, requests).await,
    ];
    // Throughput with the conventions over without: 0.9 or more means they cost at most
    // 10%. Other processes' load moves it by as much; the router alone (below) measures
    // the layers' own CPU without that noise.
    let kept = ratio(with.commands_per_s, without.commands_per_s);
    // The same cost as CPU: what the layers add per request (router alone) over what a
    // command costs end to end with them. Unlike the throughput ratio, it does not move
    // with what else the machine runs.
    // (A difference under the clock's 10 ms tick, at a small --scale, reads as none.)
    let share = ratio((layer_us[0] - layer_us[1]).max(0.0), with.cpu_us);
    Ok(vec![
        figure(
            SCENARIO,
            "commands/s over HTTP",
            with.commands_per_s,
            "cmd/s",
            ">= 20000 cmd/s",
            Some(with.commands_per_s >= 20_000.0),
        ),
        figure(SCENARIO, "HTTP latency p50", with.p50_ms, "ms", "", None),
        figure(
            SCENARIO,
            "HTTP latency p99",
            with.p99_ms,
            "ms",
            "<= 10 ms",
            Some(with.p99_ms <= 10.0),
        ),
        figure(
            SCENARIO,
            "without the HTTP conventions",
            without.commands_per_s,
            "cmd/s",
            "",
            None,
        ),
        figure(
            SCENARIO,
            "p99 without the conventions",
            without.p99_ms,
            "ms",
            "",
            None,
        ),
        figure(
            SCENARIO,
            "router alone, CPU per request",
            layer_us[0],
            "µs",
            "",
            None,
        ),
        figure(
            SCENARIO,
            "router alone, without",
            layer_us[1],
            "µs",
            "",
            None,
        ),
        figure(
            SCENARIO,
            "with / without conventions",
            kept,
            "x",
            ">= 0.9x",
            Some(kept >= 0.9),
        ),
        figure(
            SCENARIO,
            "CPU per command, end to end",
            with.cpu_us,
            "µs",
            "",
            None,
        ),
        figure(
            SCENARIO,
            "CPU per command, without",
            without.cpu_us,
            "µs",
            "",
            None,
        ),
        figure(
            SCENARIO,
            "conventions' share, router alone",
            share * 100.0,
            "%",
            "",
            None,
        ),
    ])
}

/// `a / b`, or 1 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        1.0
    }
}

/// The run with the median throughput.
fn median(runs: Vec<Run>) -> Run {
    median_run(runs, |r| r.commands_per_s)
}

/// One server on a fresh directory, `CLIENTS` clients sending `per_client` each.
async fn measure(
    place: &Place,
    name: &str,
    conventions: bool,
    per_client: u64,
) -> Result<Run, BenchError> {
    let fx = Fixture::new(place.open(name, Options::default())?, 0).await?;
    let token = tokens::create(&fx.engine, None, &fx.owner.to_string())
        .map_err(fail)?
        .token;
    let owner = fx.owner;
    let engine = Arc::try_unwrap(fx.engine).map_err(|_| fail("the engine is still shared"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(fail)?;
    let addr: SocketAddr = listener.local_addr().map_err(fail)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = ServerOptions {
        conventions,
        ..ServerOptions::default()
    };
    let server = tokio::spawn(server::serve_listener(engine, listener, options, async {
        let _ = stopped.await;
    }));
    let path = format!("/v1/users/{owner}/resources");
    let auth = format!("Bearer {token}");
    let started = Instant::now();
    let cpu_before = rss::cpu_seconds().unwrap_or(0.0);
    let mut clients = JoinSet::new();
    for c in 0..CLIENTS {
        let (path, auth) = (path.clone(), auth.clone());
        clients.spawn(async move { client(addr, c, &path, &auth, per_client).await });
    }
    let (mut latencies, elapsed) = gather(clients, started).await?;
    let cpu_us = (rss::cpu_seconds().unwrap_or(0.0) - cpu_before) * 1e6 / latencies.len() as f64;
    let _ = stop.send(());
    server.await.map_err(fail)?.map_err(fail)?;
    Ok(Run {
        commands_per_s: latencies.len() as f64 / elapsed,
        p50_ms: quantile(&mut latencies, 0.50),
        p99_ms: quantile(&mut latencies, 0.99),
        cpu_us,
    })
}

/// One client: a keep-alive connection to `addr` sending `count` registrations one
/// after another; returns each one's latency (ms). Any answer but 2xx fails the run.
async fn client(
    addr: SocketAddr,
    c: usize,
    path: &str,
    auth: &str,
    count: u64,
) -> Result<Vec<f64>, BenchError> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(fail)?;
    stream.set_nodelay(true).map_err(fail)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(fail)?;
    tokio::spawn(connection);
    let mut latencies = Vec::with_capacity(count as usize);
    for i in 0..count {
        let body = format!(r#"{{"resources":["task:c{c}-{i}"]}}"#);
        let request = hyper::Request::post(path)
            .header("host", addr.to_string())
            .header("authorization", auth)
            .header("content-type", "application/json")
            .header("idempotency-key", format!("bench-{c}-{i}"))
            .body(Full::new(Bytes::from(body)))
            .map_err(fail)?;
        let sent = Instant::now();
        let answer = sender.send_request(request).await.map_err(fail)?;
        let status = answer.status();
        let body = answer.into_body().collect().await.map_err(fail)?.to_bytes();
        if !status.is_success() {
            return Err(fail(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(latencies)
}

/// CPU per request of the router alone (no socket, no engine work): `count` POSTs of a
/// registration with an unknown token, answered 401 by the token check, so what differs
/// with `conventions` is only their layers.
async fn router_cpu_us(conventions: bool, count: u64) -> f64 {
    use tower::ServiceExt;
    let Ok(state) = server::AppState::with_options(
        Arc::new(Engine::in_memory()),
        ServerOptions {
            conventions,
            ..ServerOptions::default()
        },
    ) else {
        return 0.0;
    };
    let app = server::app(state);
    let before = rss::cpu_seconds().unwrap_or(0.0);
    for i in 0..count {
        let request = axum::http::Request::post("/v1/users/u@bench.example/resources")
            .header("authorization", "Bearer ofb_unknown")
            .header("content-type", "application/json")
            .header("idempotency-key", format!("k-{i}"))
            .body(axum::body::Body::from(r#"{"resources":["task:x-1"]}"#))
            .expect("a valid request");
        let Ok(answer) = app.clone().oneshot(request).await;
        let _ = axum::body::to_bytes(answer.into_body(), usize::MAX).await;
    }
    (rss::cpu_seconds().unwrap_or(0.0) - before) * 1e6 / count as f64
}
