//! A fixed HTTP workload for counting instructions per command (issues 16 and 18):
//! wall-clock figures on a shared machine are noisy, so the server runs under
//! `valgrind --tool=callgrind` and this program, outside it, sends an exact number of
//! commands; the instructions counted between two `callgrind_control` dumps, divided
//! by that number, are the server's cost per command. The steps are in
//! `docs/performance.md` ("Instructions per HTTP command").
//!
//! ```sh
//! # COUNT one-resource registrations (`POST /v1/users/{owner}/resources`, a fresh
//! # Idempotency-Key each) over CLIENTS keep-alive connections, keys tagged with RUN so
//! # runs on one directory never collide; exits 1 on any answer but 2xx.
//! cargo run --release --example http_load -- send ADDR TOKEN OWNER COUNT CLIENTS RUN
//! # A webhook receiver on ADDR answering every POST 204, printing how many arrived
//! # each second it received any.
//! cargo run --release --example http_load -- receive ADDR
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["send", addr, token, owner, count, clients, run] => {
            send(addr, token, owner, count, clients, run).await
        }
        ["receive", addr] => receive(addr).await,
        _ => Err("usage: http_load send ADDR TOKEN OWNER COUNT CLIENTS RUN | receive ADDR".into()),
    };
    if let Err(why) = outcome {
        eprintln!("http_load: {why}");
        std::process::exit(1);
    }
}

/// Sends `count` registrations over `clients` connections; prints the rate.
async fn send(
    addr: &str,
    token: &str,
    owner: &str,
    count: &str,
    clients: &str,
    run: &str,
) -> Result<(), String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let count: u64 = count.parse().map_err(|e| format!("{count}: {e}"))?;
    let clients: u64 = clients.parse().map_err(|e| format!("{clients}: {e}"))?;
    let path = Arc::new(format!("/v1/users/{owner}/resources"));
    let auth = Arc::new(format!("Bearer {token}"));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        // The first `count % clients` connections send one more.
        let mine = count / clients + u64::from(c < count % clients);
        let (path, auth, tag) = (Arc::clone(&path), Arc::clone(&auth), format!("{run}-{c}"));
        tasks.spawn(async move { client(addr, &path, &auth, &tag, mine).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{count} commands in {elapsed:.2} s: {:.0}/s",
        count as f64 / elapsed
    );
    Ok(())
}

/// One keep-alive connection sending `count` registrations, one after another.
async fn client(
    addr: SocketAddr,
    path: &str,
    auth: &str,
    tag: &str,
    count: u64,
) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    for i in 0..count {
        let body = format!(r#"{{"resources":["task:{tag}-{i}"]}}"#);
        let request = hyper::Request::post(path)
            .header("host", addr.to_string())
            .header("authorization", auth)
            .header("content-type", "application/json")
            .header("idempotency-key", format!("load-{tag}-{i}"))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let answer = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = answer.status();
        let body = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body.to_bytes()).into_owned();
            return Err(format!("{status}: {text}"));
        }
    }
    Ok(())
}

/// Answers every POST 204 and prints the arrivals of each second that had any.
async fn receive(addr: &str) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    let arrived = Arc::new(AtomicU64::new(0));
    let counting = Arc::clone(&arrived);
    tokio::spawn(async move {
        let mut last = 0;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = counting.load(Ordering::Relaxed);
            if now != last {
                println!("{now} received ({}/s)", now - last);
                last = now;
            }
        }
    });
    let app = axum::Router::new().fallback(axum::routing::post(move || {
        arrived.fetch_add(1, Ordering::Relaxed);
        async { axum::http::StatusCode::NO_CONTENT }
    }));
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}
