//! `webhook add|list|show|pause|resume|remove|rotate-secret|deliveries|replay`: webhook
//! subscriptions (`crate::webhooks`), on the data directory or through `--server`, as
//! the org's owner or an admin; and the `serve` flags that tune delivery.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use offboard_events::{Actor, Role, UserStatus};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::error::{CliError, EXIT_REJECTED};
use super::{resolve, Ctx};
use crate::webhooks::book::DEFAULT_OVERLAP;
use crate::webhooks::{
    BodyFormat, DeliveryLog, Hub, NewSubscription, Subscription, SubscriptionDetail, WebhookError,
    WebhookOptions, WhenParked, WithSecret,
};

impl From<WebhookError> for CliError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::NotFound(_) => CliError::not_found(e.to_string()),
            WebhookError::Invalid(_) => CliError::invalid(e.to_string()),
            WebhookError::Storage(s) => s.into(),
        }
    }
}

/// `serve`'s webhook delivery flags.
#[derive(Clone, Debug, Args)]
pub struct DeliveryFlags {
    /// Accept `http://` webhook URLs to loopback receivers (local testing).
    #[arg(long)]
    pub allow_http_webhooks: bool,
    /// Let webhooks reach private, link-local and loopback addresses (receivers inside
    /// the network).
    #[arg(long)]
    pub allow_private_webhooks: bool,
    /// Seconds one delivery request may take.
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub webhook_timeout: u64,
    /// Seconds before the first retry; each further one doubles (with jitter). At most
    /// --webhook-backoff-max.
    #[arg(long, default_value_t = 5, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub webhook_backoff_min: u64,
    /// Longest wait between two retries, in seconds (at most a day); a receiver's
    /// Retry-After is honoured beyond it.
    #[arg(long, default_value_t = 3600, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub webhook_backoff_max: u64,
    /// Attempts of one event before it is parked.
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_attempts: u32,
    /// Deliveries a second, all subscriptions together, while commands keep the writer
    /// busy (0: never paced); otherwise deliveries go as fast as receivers answer.
    #[arg(long, default_value_t = crate::webhooks::DEFAULT_PACE, value_name = "N")]
    pub webhook_pace: u32,
}

impl DeliveryFlags {
    /// The delivery options these flags give.
    ///
    /// # Errors
    /// `usage` when `--webhook-backoff-min` is above `--webhook-backoff-max`.
    pub fn options(&self) -> Result<WebhookOptions, CliError> {
        if self.webhook_backoff_min > self.webhook_backoff_max {
            return Err(CliError::usage(format!(
                "--webhook-backoff-min {} is above --webhook-backoff-max {}: the first retry cannot wait longer than the longest",
                self.webhook_backoff_min, self.webhook_backoff_max
            )));
        }
        Ok(WebhookOptions {
            allow_http_loopback: self.allow_http_webhooks,
            allow_private: self.allow_private_webhooks,
            timeout: Duration::from_secs(self.webhook_timeout),
            backoff_min: Duration::from_secs(self.webhook_backoff_min),
            backoff_max: Duration::from_secs(self.webhook_backoff_max),
            max_attempts: self.webhook_attempts,
            pace: self.webhook_pace,
            ..WebhookOptions::default()
        })
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Envelope,
    Cloudevents,
    Connector,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WhenParkedArg {
    Pause,
    Skip,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Subscribe URL to the org's events from now on; prints the `whsec_` secret once.
    Add {
        /// Where to POST each event: `https://…` (or `http://` on loopback with
        /// `--allow-http-webhooks`).
        url: String,
        /// Event types to deliver, comma-separated (default: every type).
        #[arg(long, value_delimiter = ',', value_name = "TYPE,…")]
        events: Vec<String>,
        /// A note for people: what the receiver is.
        #[arg(long)]
        description: Option<String>,
        /// The delivered body: the envelope, a CloudEvent, or the envelope with the users'
        /// emails and the resources' kinds and ids beside it (connector).
        #[arg(long, value_enum, default_value = "envelope")]
        format: FormatArg,
        /// After an event is parked: pause the subscription, or skip to the next event.
        #[arg(long, value_enum, default_value = "pause")]
        when_parked: WhenParkedArg,
        /// On the data directory: accept an `http://` loopback URL (as `serve --allow-http-webhooks`).
        #[arg(long)]
        allow_http_webhooks: bool,
        /// On the data directory: accept a private address (as `serve --allow-private-webhooks`).
        #[arg(long)]
        allow_private_webhooks: bool,
    },
    /// The org's subscriptions.
    List,
    /// One subscription with its cursor, attempts and parked count.
    Show {
        /// The subscription's id (as `webhook list` shows it).
        id: Uuid,
    },
    /// Stop delivering until resumed.
    Pause {
        /// The subscription's id (as `webhook list` shows it).
        id: Uuid,
    },
    /// Deliver again after the cursor.
    Resume {
        /// The subscription's id (as `webhook list` shows it).
        id: Uuid,
    },
    /// Remove the subscription.
    Remove {
        /// The subscription's id (as `webhook list` shows it).
        id: Uuid,
    },
    /// A new secret (printed once); the old one still signs during the overlap.
    RotateSecret {
        /// The subscription's id (as `webhook list` shows it).
        id: Uuid,
        /// Seconds both secrets sign.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_OVERLAP.num_seconds() as u32)]
        overlap: u32,
    },
    /// Recent attempts and parked events, newest first.
    Deliveries {
        /// The subscription's id (as `webhook list` shows it).
        id: Uuid,
        /// Only failed attempts.
        #[arg(long)]
        failed: bool,
    },
    /// Deliver again from position POS (parked events included); resumes a paused one.
    Replay {
        /// The subscription's id (as `webhook list` shows it).
        id: Uuid,
        /// The first position to deliver again.
        #[arg(long, value_name = "POS")]
        from: u64,
    },
}

pub fn webhook(cx: &mut Ctx, c: &WebhookCmd) -> Result<(), CliError> {
    match c {
        WebhookCmd::Add { .. } => add(cx, c),
        WebhookCmd::List => {
            let subs: Vec<Subscription> = match cx.remote() {
                Some(r) => r.webhooks()?,
                None => call(cx, Get("/v1/webhooks"), |hub, org, _| Ok(hub.list(org)))?,
            };
            print_list(cx, &subs)
        }
        WebhookCmd::Show { id } => {
            let path = format!("/v1/webhooks/{id}");
            let d: SubscriptionDetail = call(cx, Get(&path), |hub, org, e| {
                hub.show(org, *id, e.last_position())
            })?;
            print_doc(cx, &d, &describe(&d))
        }
        WebhookCmd::Pause { id } | WebhookCmd::Resume { id } | WebhookCmd::Remove { id } => {
            change(cx, c, *id)
        }
        WebhookCmd::RotateSecret { id, overlap } => {
            let path = format!("/v1/webhooks/{id}/rotate-secret?overlap_secs={overlap}");
            let overlap = chrono::Duration::seconds((*overlap).into());
            let rotated: WithSecret = call(cx, Post(&path, json!({})), |hub, org, e| {
                hub.rotate_secret(org, *id, overlap, e.clock().now())
            })?;
            print_secret(
                cx,
                &rotated,
                "The previous secret still signs during the overlap: update the receiver now.",
            )
        }
        WebhookCmd::Deliveries { id, failed } => {
            let path = format!("/v1/webhooks/{id}/deliveries?failed={failed}");
            let log: DeliveryLog = call(cx, Get(&path), |hub, org, _| {
                hub.deliveries(org, *id, *failed)
            })?;
            print_deliveries(cx, &log)
        }
        WebhookCmd::Replay { id, from } => {
            let path = format!("/v1/webhooks/{id}/replay");
            let d: SubscriptionDetail =
                call(cx, Post(&path, json!({ "from": from })), |hub, org, e| {
                    hub.replay(org, *id, *from, e.last_position())
                })?;
            let line = format!("Subscription {id} delivers again from position {from}.");
            print_doc(cx, &d, &line)
        }
    }
}

struct Get<'a>(&'a str);
struct Post<'a>(&'a str, serde_json::Value);

trait Request {
    fn send<T: DeserializeOwned>(self, r: &super::remote::Remote) -> Result<T, CliError>;
}

impl Request for Get<'_> {
    fn send<T: DeserializeOwned>(self, r: &super::remote::Remote) -> Result<T, CliError> {
        r.get(self.0)
    }
}

impl Request for Post<'_> {
    fn send<T: DeserializeOwned>(self, r: &super::remote::Remote) -> Result<T, CliError> {
        r.post(self.0, &self.1)
    }
}

struct Delete<'a>(&'a str);

impl Request for Delete<'_> {
    fn send<T: DeserializeOwned>(self, r: &super::remote::Remote) -> Result<T, CliError> {
        r.delete(self.0)
    }
}

/// Through the server when `--server` is given, else on the data directory as `--as`
/// (who must be the org's active owner or an admin, as over HTTP).
fn call<T: DeserializeOwned>(
    cx: &Ctx,
    remote: impl Request,
    local: impl FnOnce(&Hub, offboard_events::OrgId, &crate::Engine) -> Result<T, WebhookError>,
) -> Result<T, CliError> {
    if let Some(r) = cx.remote() {
        return remote.send(r);
    }
    let org = cx.read(|org| {
        let actor = resolve::actor(org, cx.global.actor.as_deref())?;
        let manages = match actor {
            Actor::User { id } => org
                .directory()
                .user(id)
                .is_some_and(|u| u.status == UserStatus::Active && u.role >= Role::Admin),
            _ => false,
        };
        if !manages {
            return Err(CliError::new(
                "forbidden",
                "webhooks are managed by the organization's owner and admins",
                EXIT_REJECTED,
            ));
        }
        Ok(org.id())
    })?;
    let engine = cx.engine()?;
    let hub = Hub::load(engine)?;
    Ok(local(&hub, org, engine)?)
}

fn add(cx: &mut Ctx, c: &WebhookCmd) -> Result<(), CliError> {
    let WebhookCmd::Add {
        url,
        events,
        description,
        format,
        when_parked,
        allow_http_webhooks,
        allow_private_webhooks,
    } = c
    else {
        unreachable!("called for add")
    };
    let new = NewSubscription {
        url: url.clone(),
        events: events.iter().map(|e| e.trim().to_owned()).collect(),
        description: description.clone(),
        format: match format {
            FormatArg::Envelope => BodyFormat::Envelope,
            FormatArg::Cloudevents => BodyFormat::Cloudevents,
            FormatArg::Connector => BodyFormat::Connector,
        },
        when_parked: match when_parked {
            WhenParkedArg::Pause => WhenParked::Pause,
            WhenParkedArg::Skip => WhenParked::Skip,
        },
    };
    let body = json!({
        "url": new.url, "events": new.events, "description": new.description,
        "format": new.format, "when_parked": new.when_parked,
    });
    let options = WebhookOptions {
        allow_http_loopback: *allow_http_webhooks,
        allow_private: *allow_private_webhooks,
        ..WebhookOptions::default()
    };
    let created: WithSecret = call(cx, Post("/v1/webhooks", body), |hub, org, e| {
        hub.add(org, new, &options, e.last_position(), e.clock().now())
    })?;
    print_secret(
        cx,
        &created,
        "It is shown only this once (stored sealed): give it to the receiver now. Events after the current end of the log are delivered.",
    )
}

fn change(cx: &mut Ctx, c: &WebhookCmd, id: Uuid) -> Result<(), CliError> {
    let (sub, done): (Subscription, &str) = match c {
        WebhookCmd::Pause { .. } => (
            call(
                cx,
                Post(&format!("/v1/webhooks/{id}/pause"), json!({})),
                |h, o, _| h.pause(o, id),
            )?,
            "paused",
        ),
        WebhookCmd::Resume { .. } => (
            call(
                cx,
                Post(&format!("/v1/webhooks/{id}/resume"), json!({})),
                |h, o, _| h.resume(o, id),
            )?,
            "resumed",
        ),
        _ => (
            call(cx, Delete(&format!("/v1/webhooks/{id}")), |h, o, _| {
                h.remove(o, id)
            })?,
            "removed",
        ),
    };
    print_doc(cx, &sub, &format!("Subscription {id} {done}."))
}

fn print_doc<T: Serialize>(cx: &mut Ctx, doc: &T, line: &str) -> Result<(), CliError> {
    if cx.out.is_json() {
        cx.out.doc(doc)?;
    } else {
        cx.out.line(line);
    }
    Ok(())
}

fn print_secret(cx: &mut Ctx, w: &WithSecret, note: &str) -> Result<(), CliError> {
    let message = format!(
        "Subscription {} → {}. {note}",
        w.subscription.id, w.subscription.url
    );
    if cx.out.is_json() {
        cx.out.doc(&json!({ "ok": true, "message": message, "secret": w.secret, "subscription": w.subscription }))?;
    } else {
        cx.out.line(&w.secret);
        cx.out.line(message);
    }
    Ok(())
}

fn print_list(cx: &mut Ctx, subs: &[Subscription]) -> Result<(), CliError> {
    if cx.out.is_json() {
        cx.out.doc(&json!({ "webhooks": subs }))?;
        return Ok(());
    }
    if subs.is_empty() {
        cx.out
            .line("No webhook yet: add one with `offboard webhook add https://…`.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = subs
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.url.clone(),
                if s.events.is_empty() {
                    "all".to_owned()
                } else {
                    s.events.join(",")
                },
                format!("{:?}", s.status).to_lowercase(),
            ]
        })
        .collect();
    cx.out.table(&["id", "url", "events", "status"], &rows);
    Ok(())
}

fn describe(d: &SubscriptionDetail) -> String {
    let s = &d.subscription;
    let mut text = format!(
        "{} → {} ({}), delivered through position {} ({} behind the log's end), {} delivered, {} parked",
        s.id,
        s.url,
        format!("{:?}", s.status).to_lowercase(),
        d.cursor,
        d.lag,
        d.delivered,
        d.parked
    );
    if let Some(why) = &s.paused_reason {
        text.push_str(&format!("; paused: {why}"));
    }
    if let Some(at) = d.next_attempt_at {
        text.push_str(&format!("; attempt {} at {at}", d.attempts + 1));
    }
    text
}

fn print_deliveries(cx: &mut Ctx, log: &DeliveryLog) -> Result<(), CliError> {
    if cx.out.is_json() {
        cx.out.doc(log)?;
        return Ok(());
    }
    let cell = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    if !log.parked.is_empty() {
        cx.out
            .line("Parked (replay with `webhook replay ID --from POS`):");
        let rows: Vec<Vec<String>> = log
            .parked
            .iter()
            .map(|p| {
                vec![
                    p.position.to_string(),
                    p.attempts.to_string(),
                    cell(p.last_status.map(|s| s.to_string())),
                    cell(p.detail.clone()),
                ]
            })
            .collect();
        cx.out
            .table(&["position", "attempts", "last status", "detail"], &rows);
    }
    if log.recent.is_empty() {
        cx.out.line("No delivery attempt yet.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = log
        .recent
        .iter()
        .map(|a| {
            vec![
                a.position.to_string(),
                a.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                a.outcome.clone(),
                cell(a.status.map(|s| s.to_string())),
                format!("{} ms", a.duration_ms),
                cell(a.detail.clone()),
            ]
        })
        .collect();
    cx.out.table(
        &[
            "position", "at (UTC)", "outcome", "status", "took", "detail",
        ],
        &rows,
    );
    Ok(())
}
