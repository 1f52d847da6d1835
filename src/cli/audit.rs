//! Audit and stream: `history` (of a user, a resource, one operation, or the org's
//! timeline), `events` (JSON lines or CloudEvents, in order), `verify`, `rebuild`.

use std::io::Write;

use serde_json::json;

use super::args::{EventFormat, EventsArgs, HistoryArgs, VerifyArgs};
use super::describe;
use super::describe_record;
use super::error::{CliError, EXIT_STORAGE};
use super::output::Progress;
use super::resolve::{self, DayEnd};
use super::Ctx;
use crate::domain::plural;
use crate::engine::for_each_envelope;
use crate::integrity::VerifyError;
use crate::read::{HistoryQuery, HistorySelector};
use crate::server::VerifyView;
use crate::store::StoreError;

/// `history --user U | --resource K:ID | --correlation ID | --org [--since T] [--until T]
/// [--limit N] [--cursor C]`: printed page by page as they are read. A history that
/// fits in one page prints as a table under `TITLE (N events):`; a longer one prints
/// `TITLE:`, the table as pages arrive, then `N events.`.
pub fn history(cx: &mut Ctx, a: &HistoryArgs) -> Result<(), CliError> {
    let since = a
        .since
        .as_deref()
        .map(|t| resolve::time(t, DayEnd::Start))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|t| resolve::time(t, DayEnd::End))
        .transpose()?;
    let selector = if let Some(u) = &a.user {
        HistorySelector::User(cx.any_user(u)?.into())
    } else if let Some(r) = &a.resource {
        HistorySelector::Resource(resolve::resource(r)?)
    } else if let Some(c) = &a.correlation {
        HistorySelector::Correlation(cx.correlation(c)?)
    } else {
        HistorySelector::Org
    };
    let title = match &selector {
        HistorySelector::User(_) => {
            format!("History of {}", a.user.as_deref().unwrap_or_default())
        }
        HistorySelector::Resource(key) => format!("History of {key}"),
        HistorySelector::Correlation(id) => format!("Everything operation {id} did"),
        HistorySelector::Org => "The organization's timeline".to_owned(),
    };
    let record = match &selector {
        HistorySelector::Resource(key) => Some(key.clone()),
        _ => None,
    };
    let query = HistoryQuery {
        selector,
        since,
        until,
        ..HistoryQuery::default()
    };
    let reader = cx.reader()?;
    let header = [
        "position",
        "time (UTC)",
        "actor",
        "event",
        "correlation id",
        "what happened",
    ];
    let mut widths = None;
    let mut count = 0u64;
    let mut paged = false;
    // Opened with the first page: a query refused at once prints only its error.
    let next = reader.walk(query, &a.page, |page| {
        if !cx.out.list_open() {
            cx.out.list_begin(json!({}), "events")?;
        }
        for e in &page.events {
            cx.out.list_item(e)?;
        }
        count += page.events.len() as u64;
        if cx.out.is_json() {
            return Ok(());
        }
        let rows = cx.names(|o| {
            Ok(page
                .events
                .iter()
                .map(|e| {
                    let e = &e.0;
                    vec![
                        e.position.to_string(),
                        e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        describe::actor(o, e),
                        e.event.event_type().to_owned(),
                        e.correlation_id.to_string(),
                        match &record {
                            Some(key) => describe_record::about(o, e, key),
                            None => describe::sentence(o, e),
                        },
                    ]
                })
                .collect::<Vec<_>>())
        })?;
        if widths.is_none() {
            paged = page.next.is_some();
            match paged {
                false => cx.out.line(format!("{title} ({} events):", rows.len())),
                true => cx.out.line(format!("{title}:")),
            }
        }
        cx.out.table_page(&mut widths, &header, &rows);
        Ok(())
    })?;
    cx.out.list_end(json!({ "next": next, "count": count }))?;
    if paged {
        cx.out.line(format!("{count} {}.", plural("event", count)));
    }
    super::users::more(cx, next.as_deref());
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
            let report = report.map_err(unreadable)?;
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

/// `verify` meeting a page it cannot read: the error's own advice is to run `verify`,
/// so this one says what can be done instead.
fn unreadable(e: VerifyError) -> CliError {
    match e {
        VerifyError::Storage(StoreError::Corrupt(why)) => CliError::new(
            "log_corrupt",
            format!(
                "the log is damaged: {why}. Restore the data directory from a backup (`offboard backup`), or `import-log` a good export into an empty directory; `offboard repair` accepts only a lost tail"
            ),
            EXIT_STORAGE,
        ),
        other => other.into(),
    }
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
