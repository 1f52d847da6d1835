//! The reference connector (`examples/crm_connector.rs`) against the real server: 10,000
//! buyers registered and moved in bulk while the connector is SIGKILLed mid-way and
//! restarted; its SQLite table ends exactly equal to `offboard owners`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::util::*;

const BUYERS: usize = 10_000;
const CHUNK: usize = 500;

/// The example binary `cargo test` builds beside the test binaries.
fn connector_bin() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let bin = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/crm_connector");
    assert!(
        bin.exists(),
        "build it first: cargo build --example crm_connector"
    );
    bin
}

/// The running connector; SIGKILLed when dropped (also when a test fails).
struct Crm(Child);

impl Drop for Crm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the connector on `port`; returns once it listens.
fn connector(port: u16, db: &std::path::Path, secret: &str) -> Crm {
    let mut child = Command::new(connector_bin())
        .args(["--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(db)
        .args(["--secret", secret])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "{line}");
    Crm(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `key → owner_id` of the connector's table.
fn crm_table(db: &std::path::Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(db).unwrap();
    let mut rows = db
        .prepare("SELECT key, owner_id FROM crm_owners ORDER BY key")
        .unwrap();
    rows.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn the_connectors_table_ends_equal_to_owners_after_a_sigkill_mid_way() {
    // Given the connector's subscription (connector body) added before the buyers exist
    let d = acme();
    let t = token(&d, OWNER);
    let port = free_port();
    let added = d.json(&[
        "webhook",
        "add",
        &format!("http://127.0.0.1:{port}/hook"),
        "--format",
        "connector",
        "--events",
        "ResourcesRegistered,ResourcesTransferred",
        "--allow-http-webhooks",
    ]);
    let secret = added["secret"].as_str().unwrap().to_owned();
    let id = added["subscription"]["id"].as_str().unwrap().to_owned();
    let db = d.path("crm.sqlite");
    let mut crm = Some(connector(port, &db, &secret));
    let server = Server::start_with(
        &d,
        &[
            "--allow-http-webhooks",
            "--webhook-backoff-min",
            "1",
            "--webhook-backoff-max",
            "2",
        ],
    );

    // When Pat gets 10,000 buyers and they move to Ann and Bob, 500 at a time
    let keys: Vec<String> = (1..=BUYERS).map(|i| format!("buyer:B-{i}")).collect();
    let post = |path: &str, body: Value| {
        let (status, answer) = http(&server.url, "POST", path, Some(&t), Some(&body));
        assert_eq!(status, 200, "{answer}");
    };
    for chunk in keys.chunks(CHUNK) {
        post(
            &format!("/v1/users/{PAT}/resources"),
            json!({ "resources": chunk }),
        );
    }
    let delivered = || {
        http(
            &server.url,
            "GET",
            &format!("/v1/webhooks/{id}"),
            Some(&t),
            None,
        )
        .1["delivered"]
            .as_u64()
            .unwrap()
    };
    for (i, chunk) in keys.chunks(CHUNK).enumerate() {
        let to = if i % 2 == 0 { ANN } else { BOB };
        post(
            &format!("/v1/users/{PAT}/transfer-resources"),
            json!({ "resources": chunk, "to": to }),
        );
        // And the connector is SIGKILLed once some transfers are through
        if i == 10 {
            let started = Instant::now();
            while delivered() < 25 {
                assert!(started.elapsed() < PATIENCE * 3, "deliveries stalled");
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(crm.take());
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let crm = connector(port, &db, &secret);

    // Then every event is delivered, and the table equals `offboard owners`
    let expected = (2 * BUYERS / CHUNK) as u64;
    let started = Instant::now();
    while delivered() < expected {
        assert!(
            started.elapsed() < PATIENCE * 6,
            "only {} delivered",
            delivered()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // (the kill mattered: attempts failed while the connector was down)
    let failed = http(
        &server.url,
        "GET",
        &format!("/v1/webhooks/{id}/deliveries?failed=true"),
        Some(&t),
        None,
    )
    .1;
    assert!(!failed["recent"].as_array().unwrap().is_empty(), "{failed}");
    let owners = server.client(&d, &t).json(&["owners"]);
    let mut want: Vec<(String, String)> = owners["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource"].as_str().unwrap().to_owned(),
                r["owner"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    want.sort();
    assert_eq!(want.len(), BUYERS);
    assert_eq!(crm_table(&db), want);
    drop(crm);
    assert_eq!(server.terminate(), Some(0));
}
