//! Audit and stream: `history` (of a user, a resource, one operation, or the org's
//! timeline), `events` (JSON lines or CloudEvents, in order), `verify`, `rebuild`.

use std::io::Write;

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use offboard_events::{CorrelationId, Envelope, ResourceKey, UserId};
use serde_json::json;

use super::args::{EventFormat, EventsArgs, HistoryArgs, VerifyArgs};
use super::describe;
use super::error::CliError;
use super::output::Progress;
use super::remote::Remote;
use super::resolve::{self, DayEnd};
use super::Ctx;
use crate::engine::for_each_envelope;
use crate::integrity::VerifyError;
use crate::server::client::encode_segment;
use crate::server::{OwnershipChangeView, VerifyView};

/// Whose history `history` shows.
enum Selector {
    User(UserId),
    Resource(ResourceKey),
    Correlation(CorrelationId),
    Org,
}

fn history_embedded(
    cx: &Ctx,
    selector: &Selector,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Envelope>, CliError> {
    let org = cx.org_id()?;
    let engine = cx.engine()?;
    Ok(match selector {
        Selector::User(id) => engine.user_history(org, *id)?,
        Selector::Resource(key) => {
            let positions: Vec<u64> = engine
                .resource_history(org, key)
                .iter()
                .map(|c| c.position)
                .collect();
            if positions.is_empty() {
                return Err(CliError::not_found(format!("resource {key}")));
            }
            engine.read_positions(&positions)?
        }
        Selector::Correlation(id) => {
            let events = engine.correlation_history(org, *id)?;
            if events.is_empty() {
                return Err(CliError::not_found(format!("correlation id {id}")));
            }
            events
        }
        Selector::Org => engine.timeline(org, since, until)?,
    })
}

/// The same histories from the server. A resource's history is the events of the
/// operations that moved it, at the positions where its owner changed.
fn history_remote(
    r: &Remote,
    selector: &Selector,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<Envelope>, CliError> {
    let not_found = |what: String| {
        move |e: CliError| {
            if e.code == "not_found" {
                CliError::not_found(what.clone())
            } else {
                e
            }
        }
    };
    Ok(match selector {
        Selector::User(id) => r.envelopes(&format!("/v1/users/{id}/history"))?,
        Selector::Resource(key) => {
            let changes: Vec<OwnershipChangeView> = r
                .get(&format!(
                    "/v1/resources/{}/history",
                    encode_segment(key.as_str())
                ))
                .map_err(not_found(format!("resource {key}")))?;
            let positions: BTreeSet<u64> = changes.iter().map(|c| c.position).collect();
            let operations: BTreeSet<CorrelationId> =
                changes.iter().map(|c| c.correlation_id).collect();
            let mut events = Vec::new();
            for id in operations {
                events.extend(
                    r.operation(id)?
                        .into_iter()
                        .filter(|e| positions.contains(&e.position)),
                );
            }
            events.sort_by_key(|e| e.position);
            events
        }
        Selector::Correlation(id) => r
            .operation(*id)
            .map_err(not_found(format!("correlation id {id}")))?,
        Selector::Org => {
            let time = |t: Option<DateTime<Utc>>| {
                t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            };
            r.envelopes(&format!(
                "/v1/history{}",
                Remote::query(&[("since", time(since)), ("until", time(until))])
            ))?
        }
    })
}

/// `history --user U | --resource K:ID | --correlation ID | --org [--since T] [--until T]`.
pub fn history(cx: &mut Ctx, a: &HistoryArgs) -> Result<(), CliError> {
    let since = a
        .since
        .as_deref()
        .map(|t| resolve::time(t, DayEnd::Start))
        .transpose()?
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let until = a
        .until
        .as_deref()
        .map(|t| resolve::time(t, DayEnd::End))
        .transpose()?
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let selector = if let Some(u) = &a.user {
        Selector::User(cx.any_user(u)?)
    } else if let Some(r) = &a.resource {
        Selector::Resource(resolve::resource(r)?)
    } else if let Some(c) = &a.correlation {
        Selector::Correlation(cx.correlation(c)?)
    } else {
        Selector::Org
    };
    let events = match cx.remote() {
        None => history_embedded(cx, &selector, since, until)?,
        Some(r) => history_remote(
            r,
            &selector,
            a.since.is_some().then_some(since),
            a.until.is_some().then_some(until),
        )?,
    };
    let title = match &selector {
        Selector::User(_) => format!("History of {}", a.user.as_deref().unwrap_or_default()),
        Selector::Resource(key) => format!("History of {key}"),
        Selector::Correlation(id) => format!("Everything operation {id} did"),
        Selector::Org => "The organization's timeline".to_owned(),
    };
    let events: Vec<Envelope> = events
        .into_iter()
        .filter(|e| e.occurred_at >= since && e.occurred_at <= until)
        .collect();
    if cx.out.is_json() {
        cx.out
            .doc(&json!({ "count": events.len(), "events": events }))?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = cx.names(|o| {
        Ok(events
            .iter()
            .map(|e| {
                vec![
                    e.position.to_string(),
                    e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    describe::actor(o, e),
                    e.event.event_type().to_owned(),
                    e.correlation_id.to_string(),
                    describe::sentence(o, e),
                ]
            })
            .collect())
    })?;
    cx.out.line(format!("{title} ({} events):", events.len()));
    cx.out.table(
        &[
            "position",
            "time (UTC)",
            "actor",
            "event",
            "correlation id",
            "what happened",
        ],
        &rows,
    );
    Ok(())
}

/// `events [--from POS] [--format json|cloudevents]`: the selected org's events as JSON
/// lines, in log order, one per line (`--json` changes nothing: it already is JSON).
pub fn events(cx: &mut Ctx, a: &EventsArgs) -> Result<(), CliError> {
    if let Some(r) = cx.remote() {
        return r.tail(a.from, a.format, a.follow);
    }
    if a.follow {
        return Err(CliError::usage(
            "events --follow follows a server's live stream: add --server URL (while this process holds the data directory, nothing else can write to it)",
        ));
    }
    let engine = cx.engine()?;
    if engine.state().orgs().next().is_none() {
        return Ok(());
    }
    let org = cx.org_id()?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let mut failure: Option<std::io::Error> = None;
    for_each_envelope(
        engine.store().as_ref(),
        engine.vault(),
        a.from.max(1),
        engine.last_position(),
        &mut |env| {
            if failure.is_some() || env.org_id != org {
                return;
            }
            let written = match a.format {
                EventFormat::Json => serde_json::to_writer(&mut w, &env),
                EventFormat::Cloudevents => {
                    serde_json::to_writer(&mut w, &crate::cloudevents::to_cloudevent(&env))
                }
            }
            .map_err(std::io::Error::from)
            .and_then(|()| w.write_all(b"\n"));
            if let Err(e) = written {
                failure = Some(e);
            }
        },
    )?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    w.flush()?;
    Ok(())
}

/// `verify`: walks the hash chain.
pub fn verify(cx: &mut Ctx, args: &VerifyArgs) -> Result<(), CliError> {
    let mut anchors = 0;
    // A malformed head is refused before a long walk, not after it.
    if let Some(text) = &args.expect_head {
        super::head::parse_expected(text)?;
    }
    let (events, head_hash) = match cx.remote() {
        None => {
            let engine = cx.engine()?;
            let progress = Progress::new(Some(engine.last_position()), "verifying");
            let report = engine.verify(&mut |p| progress.set(p));
            progress.finish();
            let report = report?;
            anchors = super::head::check_expectations(engine, args)?;
            (report.events, report.head_hash)
        }
        Some(_) if args.expect_head.is_some() || args.anchor.is_some() => {
            return Err(CliError::usage(
                "--expect-head and --anchor check a data directory, not a server: leave out --server",
            ))
        }
        Some(r) => {
            let report: VerifyView = r.get("/v1/verify")?;
            match (report.intact, report.events, report.head_hash) {
                (true, Some(events), Some(head_hash)) => (events, head_hash),
                _ => {
                    return Err(CliError::from(VerifyError::Broken {
                        position: report.broken_at.unwrap_or_default(),
                        problem: report.problem.unwrap_or_default(),
                    }))
                }
            }
        }
    };
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "ok": true,
            "events": events,
            "head_hash": head_hash,
            "heads_checked": anchors,
        }))?;
    } else {
        cx.out.line(format!(
            "Log intact: {events} events, every hash and link checked; chain head {head_hash}."
        ));
        if anchors > 0 {
            cx.out.line(format!(
                "The log holds every recorded head checked ({anchors})."
            ));
        }
    }
    Ok(())
}

/// `rebuild`: every view from position 1.
pub fn rebuild(cx: &mut Ctx) -> Result<(), CliError> {
    let engine = cx.engine()?;
    let progress = Progress::new(Some(engine.last_position()), "rebuilding");
    let applied = engine.rebuild(&mut |n| progress.set(n));
    progress.finish();
    let applied = applied?;
    if cx.out.is_json() {
        cx.out.doc(&json!({ "ok": true, "events": applied }))?;
    } else {
        cx.out.line(format!(
            "Rebuilt every view from {applied} events and saved a checkpoint."
        ));
    }
    Ok(())
}
