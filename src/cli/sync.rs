//! `resource sync FILE [--kind K…] [--dry-run]`: make the views agree with a system of
//! record's export (CSV or JSON lines, `-` for stdin), read row by row. Embedded, the
//! file is compared with the views here and sent as `SyncResources` batches; through a
//! server, it is streamed to `POST /v1/resources/sync`, which does the same there.

use std::path::Path;

use serde_json::json;

use super::error::{CliError, EXIT_REJECTED};
use super::{input, Ctx};
use crate::domain::plural;
use crate::sync::rows::bad_rows_message;
use crate::sync::{plan_on, run, Action, PlanError, SyncReport};

/// Checks the `--kind` names: resource kinds, and not `group` (offboard's own).
fn checked_kinds(kinds: &[String]) -> Result<(), CliError> {
    for kind in kinds {
        if !offboard_events::resource::is_valid_kind(kind.trim()) || kind.trim() == "group" {
            return Err(CliError::invalid(format!(
                "--kind {kind:?}: name a resource kind such as buyer (groups are not synced)"
            )));
        }
    }
    Ok(())
}

/// Compares `file` with the views and, unless `dry_run`, sends the changes; prints the
/// diff either way. Nothing is written if any row is bad (every bad row is reported
/// with its line). Each batch is durable when it returns; the same file run again
/// writes nothing.
pub fn sync(cx: &mut Ctx, file: &Path, kinds: &[String], dry_run: bool) -> Result<(), CliError> {
    checked_kinds(kinds)?;
    let report = match cx.remote() {
        Some(remote) => remote.sync(file, kinds, dry_run)?,
        None => sync_here(cx, file, kinds, dry_run)?,
    };
    if report.diff.rows == 0 && kinds.is_empty() {
        // Only reachable embedded: the server refuses the same with the same words.
        return Err(empty(&input::name(file)));
    }
    print(cx, file, &report)
}

/// The refusal of a file without rows and without `--kind`: it covers no kind.
pub fn empty(source: &str) -> CliError {
    CliError::invalid(format!(
        "{source} holds no rows: it covers no kind, so nothing would change (name --kind K \
         to retire every record of kind K)"
    ))
}

fn sync_here(
    cx: &mut Ctx,
    file: &Path,
    kinds: &[String],
    dry_run: bool,
) -> Result<SyncReport, CliError> {
    let source = input::name(file);
    let org = cx.org_id()?;
    let plan = plan_on(cx.engine()?, org, input::open(file)?, kinds).map_err(|e| match e {
        PlanError::Header(why) => CliError::invalid(format!("{source}, line 1: {why}")),
        PlanError::BadRows(mut bad) => {
            let (code, message) = bad_rows_message(&source, &mut bad, "nothing was written");
            CliError::new(code, message, EXIT_REJECTED)
        }
        PlanError::NoOrg(id) => CliError::not_found(format!("organization {id}")),
    })?;
    let mut report = SyncReport::planned(&plan, dry_run);
    if plan.diff.rows == 0 && kinds.is_empty() {
        return Err(empty(&source));
    }
    if !dry_run {
        let meta = cx.meta()?;
        let session = cx.session()?;
        session
            .runtime()
            .block_on(run::apply(session.engine(), meta, &plan, &mut report))
            .map_err(CliError::from)?;
    }
    Ok(report)
}

/// The sentence that sums up `report`.
fn summary(source: &str, report: &SyncReport) -> String {
    let (mut register, mut moved, mut retire, mut unchanged) = (0, 0, 0, 0);
    for c in report.diff.kinds.values() {
        register += c.register;
        moved += c.moved;
        retire += c.retire;
        unchanged += c.unchanged;
    }
    let roles = match report.diff.roles {
        0 => String::new(),
        n => format!(", {n} record {} to change", plural("role", n)),
    };
    let counts = format!(
        "{register} to register, {moved} to move, {retire} to retire, {unchanged} unchanged{roles}"
    );
    let ignored = match report.diff.ignored {
        0 => String::new(),
        n => format!("; {n} {} of other kinds ignored", plural("row", n)),
    };
    let rows = report.diff.rows;
    let lead = format!(
        "{source}: {rows} {}: {counts}{ignored}.",
        plural("row", rows)
    );
    match (report.dry_run, report.commands) {
        (true, _) => format!("{lead} Dry run: nothing was written."),
        (false, 0) => format!("{lead} Already in sync: nothing was written."),
        (false, n) => format!(
            "{lead} Done in {n} {} ({} {}).",
            plural("command", n),
            report.events,
            plural("event", report.events)
        ),
    }
}

fn print(cx: &mut Ctx, file: &Path, report: &SyncReport) -> Result<(), CliError> {
    let message = summary(&input::name(file), report);
    if cx.out.is_json() {
        let mut doc = json!({ "ok": true, "command": "sync_resources", "message": message });
        if let (Some(doc), Ok(serde_json::Value::Object(fields))) =
            (doc.as_object_mut(), serde_json::to_value(report))
        {
            doc.extend(fields);
        }
        cx.out.doc(&doc)?;
        return Ok(());
    }
    cx.out.line(message);
    let kinds: Vec<Vec<String>> = report
        .diff
        .kinds
        .iter()
        .map(|(kind, c)| {
            [c.register, c.moved, c.retire, c.unchanged]
                .iter()
                .map(u64::to_string)
                .fold(vec![kind.clone()], |mut row, n| {
                    row.push(n);
                    row
                })
        })
        .collect();
    cx.out
        .table(&["kind", "register", "move", "retire", "unchanged"], &kinds);
    if !report.diff.changes.is_empty() {
        let shown = report.diff.changes.len() as u64;
        cx.out
            .line(format!("The first {shown} {}:", plural("change", shown)));
        let rows: Vec<Vec<String>> = report
            .diff
            .changes
            .iter()
            .map(|c| {
                let action = match c.action {
                    Action::Register => "register",
                    Action::Move => "move",
                    Action::Retire => "retire",
                    Action::Role => "role",
                };
                vec![
                    c.line.map_or("-".into(), |l| l.to_string()),
                    c.resource.clone(),
                    action.to_owned(),
                    c.from.clone().unwrap_or_else(|| "-".into()),
                    c.to.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        cx.out
            .table(&["line", "resource", "action", "from", "to"], &rows);
    }
    if let (Some(id), Some(p)) = (report.correlation_id, report.positions) {
        cx.out.line(format!(
            "  correlation id {id} · positions {}–{}",
            p.first, p.last
        ));
    }
    Ok(())
}
