//! Audit and stream: `history` (of a user, a resource, one operation, or the org's
//! timeline), `events` (JSON lines or CloudEvents, in order), `verify`, `rebuild`.

use std::io::Write;

use chrono::{DateTime, Utc};
use offboard_events::{CorrelationId, Envelope};
use serde_json::json;

use super::args::{EventFormat, EventsArgs, HistoryArgs};
use super::describe;
use super::error::CliError;
use super::output::Progress;
use super::resolve::{self, DayEnd};
use super::Ctx;
use crate::engine::for_each_envelope;

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
    let org = cx.org_id()?;
    let engine = cx.engine()?;
    let (title, events): (String, Vec<Envelope>) = if let Some(u) = &a.user {
        let id = cx.any_user(u)?;
        (format!("History of {u}"), engine.user_history(org, id)?)
    } else if let Some(r) = &a.resource {
        let key = resolve::resource(r)?;
        let positions: Vec<u64> = engine
            .resource_history(org, &key)
            .iter()
            .map(|c| c.position)
            .collect();
        if positions.is_empty() {
            return Err(CliError::not_found(format!("resource {key}")));
        }
        (
            format!("History of {key}"),
            engine.read_positions(&positions)?,
        )
    } else if let Some(c) = &a.correlation {
        let id: CorrelationId = c
            .trim()
            .parse()
            .map_err(|_| CliError::invalid(format!("{c:?} is not a correlation id (a UUID)")))?;
        let events = engine.correlation_history(org, id)?;
        if events.is_empty() {
            return Err(CliError::not_found(format!("correlation id {id}")));
        }
        (format!("Everything operation {id} did"), events)
    } else {
        (
            "The organization's timeline".to_owned(),
            engine.timeline(org, since, until)?,
        )
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
                    describe::sentence(o, e),
                ]
            })
            .collect())
    })?;
    cx.out.line(format!("{title} ({} events):", events.len()));
    cx.out.table(
        &["position", "time (UTC)", "actor", "event", "what happened"],
        &rows,
    );
    Ok(())
}

/// `events [--from POS] [--format json|cloudevents]`: the selected org's events as JSON
/// lines, in log order, one per line (`--json` changes nothing: it already is JSON).
pub fn events(cx: &mut Ctx, a: &EventsArgs) -> Result<(), CliError> {
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
        u64::MAX,
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
pub fn verify(cx: &mut Ctx) -> Result<(), CliError> {
    let engine = cx.engine()?;
    let progress = Progress::new(Some(engine.last_position()), "verifying");
    let report = engine.verify(&mut |p| progress.set(p));
    progress.finish();
    let report = report?;
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "ok": true,
            "events": report.events,
            "head_hash": report.head_hash,
        }))?;
    } else {
        cx.out.line(format!(
            "Log intact: {} events, every hash and link checked; chain head {}.",
            report.events, report.head_hash
        ));
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
