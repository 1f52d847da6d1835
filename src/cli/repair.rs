//! `offboard repair [--accept-loss] [--expect-head POS:HASH]`: the operator's way on from
//! a log that lost its tail.
//!
//! Opening refuses a directory whose durable records (the projection checkpoint, the head
//! record, consumers' positions, webhook cursors: `engine::claims`) say the log went
//! further than it does.
//! `repair` shows what was lost and what accepting it would drop, and writes nothing.
//! With `--accept-loss` it goes on from the shorter log, in this order, each step durable
//! before the next:
//!
//! 1. one `LogLossAccepted` event per organization (the system acts; all share one
//!    correlation id), at the first positions after the surviving log, naming the lost
//!    positions and what claimed them — an empty directory gets one under the nil org id;
//! 2. every consumer and webhook subscription past the surviving log moves back to its
//!    end, so it receives what now stands at the lost positions (the loss record first);
//! 3. the projection checkpoint is rebuilt from the log, and with it the head record and
//!    the head note.
//!
//! If the process dies between 1 and 3, the stale checkpoint names another hash at the
//! position of the loss record: `repair --accept-loss` run again recognises its own record
//! there and finishes steps 2 and 3. Any other rewritten position is refused: accepting a
//! loss never hides an edited log.
//!
//! What the directory cannot tell: once the head note, the checkpoint and the head record
//! are all gone (or none reaches past the log's end), a log that lost its tail looks
//! whole, and `--accept-loss` would write the note again at the shorter end, recording no
//! loss. `--expect-head POS:HASH` (a head kept outside: `offboard head`, `serve
//! --anchor`) closes that gap: repair goes on only if the log, as it finds it, ends
//! exactly there, and otherwise refuses with `integrity_broken` before writing anything.

use offboard_events::{Actor, CorrelationId, Event, LogLossAccepted, OrgId};
use serde_json::json;
use uuid::Uuid;

use super::error::CliError;
use super::output::Output;
use crate::anchor::{self, HeadRecord, Mismatch};
use crate::engine::claims::{self, Claim, ClaimSource, Damage};
use crate::engine::{AppendRequest, CommandMeta, Engine};
use crate::privacy::key_settings::KeySettings;
use crate::server::consumers;
use crate::store::{Location, HEAD_NOTE_FILE};
use crate::webhooks::Hub;

/// Runs `repair` on the log at `location` (a PostgreSQL store's KEK found as `keys` say);
/// `expect_head`: `--expect-head POS:HASH` as given.
pub fn run(
    location: &Location,
    keys: &KeySettings,
    accept_loss: bool,
    expect_head: Option<&str>,
    out: &mut Output,
) -> Result<(), CliError> {
    // A malformed head is refused before the directory is opened, as `verify` does.
    let expected = expect_head.map(super::head::parse_expected).transpose()?;
    let engine = Engine::open_for_repair_at(location, keys)?;
    let claims = engine.durable_claims()?;
    let damage = claims::assess(engine.store().as_ref(), &claims)?;
    if let Some(expected) = &expected {
        check_expected(&engine, expected)?;
    }
    if damage.is_none() {
        let matched = match &expected {
            Some(head) => format!(" Its head is {head}, as --expect-head names."),
            None => String::new(),
        };
        return report(
            out,
            json!({"ok": true, "damaged": false, "log_end": damage.log_end}),
            format!(
                "Nothing to repair: the log ends at {} and every durable record agrees with it.{matched}",
                damage.log_end
            ),
        );
    }
    if damage.beyond.is_empty() && damage.rewritten.is_empty() {
        return rewrite_note(engine, &damage, accept_loss, expected.is_some(), out);
    }
    let loss = match interrupted_repair(&engine, &damage)? {
        Some(range) => Loss {
            range,
            recorded: true,
        },
        None if !damage.rewritten.is_empty() => return Err(refuse_rewritten(&damage)),
        None => Loss {
            range: damage
                .missing()
                .expect("damage that is no rewrite has a missing range"),
            recorded: false,
        },
    };
    let dropped = what_is_dropped(&damage, loss.range.0 - 1);
    if accept_loss {
        accept(engine, &damage, &loss, &dropped, out)
    } else {
        explain(&damage, &loss, &dropped, out)
    }
}

/// `--expect-head`: `integrity_broken` unless the log, as repair finds it (before it
/// writes anything), ends exactly at `expected`, saying what it found instead.
fn check_expected(engine: &Engine, expected: &HeadRecord) -> Result<(), CliError> {
    let head = engine.head()?;
    if head == *expected {
        return Ok(());
    }
    let restore = format!(
        "restore the directory from a backup that holds {expected}, or `import-log` a good export"
    );
    let why = match anchor::check(engine.store().as_ref(), expected)? {
        Err(Mismatch::Missing { position, log_end }) => format!(
            "the log ends at {log_end}: positions {}..={position} are missing; nothing was written: {restore}",
            log_end + 1
        ),
        Err(Mismatch::OtherHash { position, found }) => format!(
            "the event at {position} has hash {found}: the log was changed since that head was recorded; nothing was written: {restore}"
        ),
        Ok(()) => format!(
            "the log holds it but goes on to {head}; nothing was written: --expect-head must name the log's last event (the newest head kept outside: the last line of a `serve --anchor` file, the last `offboard head` saved)"
        ),
    };
    Err(CliError::storage(
        "integrity_broken",
        format!("the log's head is {head}, but --expect-head names {expected}: {why}"),
    ))
}

/// Only the head note is missing: nothing is known lost, and nothing in the directory can
/// show a loss after the log's end any more (only a head kept outside can:
/// `checked` says whether `--expect-head` was given, and so matched). With
/// `--accept-loss` the note is written again at the end (durable when it returns); no
/// event is recorded, as no loss is known.
fn rewrite_note(
    engine: Engine,
    damage: &Damage,
    accept_loss: bool,
    checked: bool,
    out: &mut Output,
) -> Result<(), CliError> {
    let end = damage.log_end;
    let head = engine.head()?;
    let doc = |accepted: bool| {
        json!({"ok": true, "damaged": true, "accepted": accepted, "log_end": end,
               "head": head.to_string(), "note_missing": true})
    };
    let blind = "`--accept-loss` alone cannot tell a whole log from a shortened one";
    if !accept_loss {
        let message = if checked {
            format!(
                "The log ends at {end}, and its head {head} is the one --expect-head names; the head note {HEAD_NOTE_FILE} is missing or unreadable. Nothing was written: run `offboard repair --accept-loss --expect-head {head}` to write the note again at {end}."
            )
        } else {
            format!(
                "The log ends at {end}; the head note {HEAD_NOTE_FILE} is missing or unreadable, and nothing else left in this directory reaches past {end}, so whether acknowledged events after position {end} were lost cannot be told from here. The log's head is {head}: compare it with one kept outside (an anchor file, a saved `offboard head`). {blind}: run `offboard repair --accept-loss --expect-head POS:HASH` with the head kept outside, and the note is written again at {end} only if the log ends exactly there. Nothing was written."
            )
        };
        return report(out, doc(false), message);
    }
    close_noting_the_head(engine)?;
    let message = if checked {
        format!(
            "Wrote the head note again at {head}, the head --expect-head names: the log ends exactly where the head kept outside says. The head note {HEAD_NOTE_FILE} was missing or unreadable; no loss was recorded. The log opens again."
        )
    } else {
        format!(
            "Wrote the head note again at {head}. The head note {HEAD_NOTE_FILE} was missing or unreadable, so whether acknowledged events after position {end} were lost could not be told from this directory, and no loss was recorded: {blind}. Compare {head} with a head kept outside (an anchor file, a saved `offboard head`): if that one is further, events were lost, and `offboard verify --expect-head POS:HASH` says which (`repair --accept-loss --expect-head POS:HASH` refuses before writing anything). The log opens again."
        )
    };
    report(out, doc(true), message)
}

/// Writes the head note at the log's end, durably, and closes the engine.
fn close_noting_the_head(engine: Engine) -> Result<(), CliError> {
    let store = engine.store();
    store.note_head(&store.head()?)?;
    store.sync()?;
    engine.shutdown();
    Ok(())
}

/// The positions lost, and whether an interrupted repair already recorded them.
struct Loss {
    range: (u64, u64),
    recorded: bool,
}

/// Without `--accept-loss`: what accepting it would drop; nothing is written.
fn explain(
    damage: &Damage,
    loss: &Loss,
    dropped: &[String],
    out: &mut Output,
) -> Result<(), CliError> {
    let (from, to) = loss.range;
    let what = if loss.recorded {
        format!("a repair recorded the loss of positions {from}..={to} but did not finish")
    } else {
        format!("positions {from}..={to} are missing")
    };
    let record = if loss.recorded {
        ""
    } else {
        " It would record a LogLossAccepted event in each organization's log first."
    };
    let message = format!(
        "The log ends at {}; {what}. Accepting the loss would drop: {}.{record} Nothing was written: run `offboard repair --accept-loss` to go on from the shorter log.",
        damage.log_end,
        dropped.join("; ")
    );
    report(
        out,
        json!({"ok": true, "damaged": true, "accepted": false, "log_end": damage.log_end,
               "missing_from": from, "missing_to": to, "would_drop": dropped}),
        message,
    )
}

/// With `--accept-loss`: records the loss (unless an interrupted repair did), moves
/// consumers back, rebuilds the checkpoint and head record; each step durable before
/// the next.
fn accept(
    engine: Engine,
    damage: &Damage,
    loss: &Loss,
    dropped: &[String],
    out: &mut Output,
) -> Result<(), CliError> {
    let (from, to) = loss.range;
    if !loss.recorded {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(record_loss(&engine, damage, from, to))?;
    }
    let now = engine.clock().now();
    for (org, consumer) in consumers::all(engine.store().as_ref())? {
        consumers::lower(engine.store().as_ref(), org, &consumer.name, from - 1, now)?;
    }
    // Webhook subscriptions too, so the loss record and what follows are delivered.
    Hub::load(&engine)?
        .lower_cursors(from - 1)
        .map_err(CliError::from)?;
    let end = engine.checkpoint_now()?;
    let head = engine.head()?;
    // An interrupted repair appends nothing this time, so nothing moved the note yet.
    close_noting_the_head(engine)?;
    let lost = match from == to {
        true => format!("position {from} was lost"),
        false => format!("positions {from}..={to} were lost"),
    };
    // The records of the loss stand right after the surviving log, one per organization.
    let records = match from == end {
        true => format!("position {from} (LogLossAccepted)"),
        false => format!("positions {from}..={end} (LogLossAccepted, one per organization)"),
    };
    let recorded = match loss.recorded {
        true => "A repair that did not finish had recorded the loss",
        false => "Recorded the loss",
    };
    report(
        out,
        json!({"ok": true, "damaged": true, "accepted": true, "missing_from": from,
               "missing_to": to, "dropped": dropped, "log_end": end,
               "head": head.to_string()}),
        format!(
            "Accepted the loss: {lost}; the surviving log ends at position {}. {recorded} after it, at {records}, so the log now ends at position {end}, with the record of the loss; its head is {head} (keep it outside the directory: `offboard verify --expect-head {head}` checks the log against it later). Dropped {}. The log opens again.",
            from - 1,
            dropped.join("; ")
        ),
    )
}

fn report(out: &mut Output, doc: serde_json::Value, message: String) -> Result<(), CliError> {
    if out.is_json() {
        let mut doc = doc;
        doc["message"] = json!(message);
        out.doc(&doc)?;
    } else {
        out.line(message);
    }
    Ok(())
}

/// What accepting the loss drops, one phrase per durable record; consumers move back to
/// `back_to`.
fn what_is_dropped(damage: &Damage, back_to: u64) -> Vec<String> {
    let beyond = damage.beyond.iter();
    let rewritten = damage.rewritten.iter().map(|(claim, _)| claim);
    beyond
        .chain(rewritten)
        .map(|claim| match &claim.source {
            ClaimSource::Checkpoint => format!("the {} (rebuilt from the log)", claim.describe()),
            ClaimSource::HeadRecord | ClaimSource::HeadNote => {
                format!("the {} (reset to the log's end)", claim.describe())
            }
            ClaimSource::Consumer { .. } | ClaimSource::Webhook { .. } => {
                format!("the {} (moved back to {back_to})", claim.describe())
            }
        })
        .chain(damage.note_missing.map(|_| {
            format!("the head note {HEAD_NOTE_FILE} (missing or unreadable: written again at the log's end; a loss past the positions named cannot be told)")
        }))
        .collect()
}

/// A repair that recorded the loss but died before dropping the claims left its
/// `LogLossAccepted` at the position the stale claims name with another hash: the range
/// it recorded, if so.
fn interrupted_repair(engine: &Engine, damage: &Damage) -> Result<Option<(u64, u64)>, CliError> {
    let Some(first) = damage.rewritten.iter().map(|(c, _)| c.position).min() else {
        return Ok(None);
    };
    match engine.read_one(first)?.event {
        // Several orgs' records follow each other: a stale claim may name any of them.
        Event::LogLossAccepted(e) if (e.missing_from..=e.missing_to).contains(&first) => {
            Ok(Some((e.missing_from, e.missing_to)))
        }
        _ => Ok(None),
    }
}

fn refuse_rewritten(damage: &Damage) -> CliError {
    let mut error = CliError::from(damage.to_error());
    error.message = format!(
        "{}. Repair accepts a log that lost its tail, never one changed behind a record: restore the directory from a backup or `import-log` a good export",
        error.message.trim_end_matches("; `offboard repair` shows what accepting the loss would drop")
    );
    error
}

/// Appends one `LogLossAccepted` per organization (durable when it returns).
async fn record_loss(engine: &Engine, damage: &Damage, from: u64, to: u64) -> Result<(), CliError> {
    let mut orgs: Vec<OrgId> = engine.state().orgs().map(|o| o.id()).collect();
    if orgs.is_empty() {
        orgs.push(OrgId(Uuid::nil()));
    }
    let correlation = CorrelationId(Uuid::now_v7());
    for org in orgs {
        let claimed_by = damage
            .beyond
            .iter()
            .filter(|claim| visible_to(claim, org))
            .map(Claim::describe)
            .collect();
        let event = LogLossAccepted {
            missing_from: from,
            missing_to: to,
            claimed_head_hash: damage.claimed_head_hash(),
            claimed_by,
        };
        let mut meta = CommandMeta::new(org, Actor::System);
        meta.correlation_id = Some(correlation);
        engine
            .append(AppendRequest {
                meta,
                expected: Vec::new(),
                events: vec![event.into()],
            })
            .await?;
    }
    Ok(())
}

/// An org's record names the directory's own records and its own consumers, never
/// another org's (R1).
fn visible_to(claim: &Claim, org: OrgId) -> bool {
    match &claim.source {
        ClaimSource::Consumer { org: of, .. } | ClaimSource::Webhook { org: of, .. } => *of == org,
        ClaimSource::Checkpoint | ClaimSource::HeadRecord | ClaimSource::HeadNote => true,
    }
}
