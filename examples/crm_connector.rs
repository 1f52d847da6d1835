//! A reference connector (issue 18 §3): receives offboard's webhooks, verifies their
//! Standard Webhooks signature with the `standardwebhooks` crate, deduplicates on
//! `webhook-id`, and applies every ownership change to a CRM-like table in SQLite
//! (`crm_owners`, keyed by `kind:id`) — in one transaction with the record of the
//! webhook id, so a retried delivery is applied exactly once in effect. Whenever it
//! cannot apply a change it answers 503, and offboard retries.
//!
//! ```sh
//! offboard webhook add https://crm-sync.internal/hook --format connector --events ResourcesRegistered,ResourcesTransferred
//! cargo run --example crm_connector -- --listen 127.0.0.1:9100 --db crm.sqlite --secret whsec_…
//! ```
//!
//! To adapt it to a real CRM, replace [`apply`]: where it updates `crm_owners`, call
//! the CRM's API (e.g. reassign the lead or account `id` of `kind` to the user whose
//! email is in the body's `users`), and keep the `processed` insert in the same unit of
//! work, or make the CRM call idempotent on `webhook-id` (most CRMs accept an
//! idempotency key or an external id).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use rusqlite::{params, Connection};
use serde_json::Value;
use standardwebhooks::Webhook;

#[derive(Debug, Parser)]
struct Args {
    /// Where to listen (port 0 picks one; the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// The SQLite database (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// The subscription's `whsec_` secret.
    #[arg(long, env = "CRM_WEBHOOK_SECRET")]
    secret: String,
}

struct Connector {
    webhook: Webhook,
    db: Mutex<Connection>,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS crm_owners (
        key TEXT PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL,
        owner_id TEXT NOT NULL, owner_email TEXT, position INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS processed (webhook_id TEXT PRIMARY KEY, position INTEGER NOT NULL);
";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let db = Connection::open(&args.db)?;
    db.execute_batch(SCHEMA)?;
    let connector = Arc::new(Connector {
        webhook: Webhook::new(&args.secret)?,
        db: Mutex::new(db),
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(connector);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!(
        "crm_connector listening on http://{}/hook",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}

async fn receive(State(c): State<Arc<Connector>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if c.webhook.verify(&body, &headers).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = headers["webhook-id"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    let applied = tokio::task::spawn_blocking(move || {
        let mut db = c.db.lock().unwrap_or_else(|p| p.into_inner());
        apply(&mut db, &id, &body)
    })
    .await;
    match applied {
        Ok(Ok(())) => StatusCode::NO_CONTENT,
        Ok(Err(e)) => {
            eprintln!("crm_connector: cannot apply: {e}");
            StatusCode::SERVICE_UNAVAILABLE
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Applies one delivery (the connector body, or a bare envelope) once: nothing when its
/// webhook id was processed already.
fn apply(db: &mut Connection, webhook_id: &str, body: &Value) -> rusqlite::Result<()> {
    let event = body.get("event").unwrap_or(body);
    let position = event["position"].as_i64().unwrap_or_default();
    let email = |user: &Value| {
        let id = user.as_str().unwrap_or_default();
        body["users"][id]["email"].as_str().map(str::to_owned)
    };
    let tx = db.transaction()?;
    let seen: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM processed WHERE webhook_id = ?1)",
        params![webhook_id],
        |row| row.get(0),
    )?;
    if !seen {
        let data = &event["data"];
        let moves: Vec<(&Value, &Value)> = match event["event_type"].as_str() {
            Some("ResourcesRegistered") => list(&data["resources"])
                .iter()
                .map(|key| (key, &data["owner"]))
                .collect(),
            Some("ResourcesTransferred") => list(&data["handovers"])
                .iter()
                .flat_map(|h| list(&h["resources"]).iter().map(move |key| (key, &h["to"])))
                .collect(),
            _ => Vec::new(),
        };
        let mut upsert = tx.prepare_cached(
            "INSERT INTO crm_owners (key, kind, id, owner_id, owner_email, position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(key) DO UPDATE SET owner_id = ?4, owner_email = ?5, position = ?6",
        )?;
        for (key, owner) in moves {
            let key = key.as_str().unwrap_or_default();
            let (kind, id) = key.split_once(':').unwrap_or((key, ""));
            upsert.execute(params![
                key,
                kind,
                id,
                owner.as_str(),
                email(owner),
                position
            ])?;
        }
        drop(upsert);
        tx.execute(
            "INSERT INTO processed (webhook_id, position) VALUES (?1, ?2)",
            params![webhook_id, position],
        )?;
    }
    tx.commit()
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}
