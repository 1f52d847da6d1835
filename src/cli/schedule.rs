//! Scheduled offboarding (R28): `schedule USER --at TIME …`, `schedule list|show|move|
//! cancel`, and `run-due` (what `serve` does every second, for cron on a directory no
//! server holds).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use offboard_events::{FollowUp, ScheduleId};
use serde_json::json;

use super::error::CliError;
use super::plan_file::PlanFile;
use super::Ctx;
use crate::domain::Command;
use crate::read::{ScheduleQuery, ScheduleView, SchedulesQuery};

/// `schedule USER --at TIME [--plan FILE] [--then deactivate|delete] [--delete-after
/// DAYS]`, or one of the subcommands.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub cmd: Option<ScheduleCmd>,
    /// The leaver, by email or id.
    #[arg(required = true)]
    pub user: Option<String>,
    /// When: RFC 3339 with an offset (2026-12-31T17:00:00+01:00), or a date YYYY-MM-DD,
    /// the start of that day in the org's time zone (policy --time-zone, default UTC).
    #[arg(long, value_name = "TIME", required = true)]
    pub at: Option<String>,
    /// The plan to carry out then (as `offboard --plan`; `-` reads stdin); without one,
    /// just the follow-up.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// What follows: deactivate (the default) or delete.
    #[arg(long, value_name = "FOLLOW_UP", default_value = "deactivate")]
    pub then: FollowUp,
    /// Delete the user this many days after the run (with --then deactivate).
    #[arg(long, value_name = "DAYS")]
    pub delete_after: Option<u32>,
    /// The org's confirmation phrase, for a schedule that deletes.
    #[arg(long, value_name = "PHRASE")]
    pub confirm: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// Every scheduled offboarding, by time, with its status and any failure.
    List,
    /// One schedule: its plan, runs, next run and any failure with its blockers.
    Show {
        /// The schedule's id (or a unique prefix of 8 or more hex digits).
        id: String,
    },
    /// Move the schedule's next run to another time.
    Move {
        /// The schedule's id (or a unique prefix of 8 or more hex digits).
        id: String,
        /// The new time (as `schedule --at`).
        #[arg(long, value_name = "TIME")]
        at: String,
    },
    /// Cancel what the schedule has not run yet.
    Cancel {
        /// The schedule's id (or a unique prefix of 8 or more hex digits).
        id: String,
    },
}

/// `schedule …`.
pub fn schedule(cx: &mut Ctx, a: &ScheduleArgs) -> Result<(), CliError> {
    match &a.cmd {
        None => new(cx, a),
        Some(ScheduleCmd::List) => list(cx),
        Some(ScheduleCmd::Show { id }) => show(cx, id),
        Some(ScheduleCmd::Move { id, at }) => {
            let schedule = find(cx, id)?;
            cx.run(
                Command::MoveSchedule {
                    schedule,
                    at: at.clone(),
                },
                None,
            )?;
            Ok(())
        }
        Some(ScheduleCmd::Cancel { id }) => {
            let schedule = find(cx, id)?;
            cx.run(Command::CancelSchedule { schedule }, None)?;
            Ok(())
        }
    }
}

fn new(cx: &mut Ctx, a: &ScheduleArgs) -> Result<(), CliError> {
    let (Some(user), Some(at)) = (&a.user, &a.at) else {
        return Err(CliError::usage("schedule needs USER and --at TIME"));
    };
    let user = cx.user(user)?;
    let file = a.plan.as_deref().map(PlanFile::read).transpose()?;
    let plan = file
        .as_ref()
        .map(|f| cx.names(|n| f.resolve(n)))
        .transpose()?;
    cx.run_with(
        Command::ScheduleOffboarding {
            user,
            at: at.clone(),
            plan,
            then: a.then,
            delete_after_days: a.delete_after,
            confirm: a.confirm.clone(),
        },
        None,
        json!({ "plan": file, "then": a.then }),
    )?;
    Ok(())
}

fn list(cx: &mut Ctx) -> Result<(), CliError> {
    let all = cx
        .reader()?
        .all(SchedulesQuery::default(), |p| p.schedules)?;
    if cx.out.is_json() {
        cx.out.doc(&json!({ "schedules": all, "next": null }))?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.email.clone(),
                s.at.to_rfc3339(),
                what(s),
                s.status.replace('_', " "),
                s.failure
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |f| f.message.clone()),
            ]
        })
        .collect();
    cx.out
        .table(&["id", "user", "at", "then", "status", "failure"], &rows);
    Ok(())
}

fn show(cx: &mut Ctx, id: &str) -> Result<(), CliError> {
    let id = find(cx, id)?;
    let s = cx.ask(&ScheduleQuery { id: Some(id) })?;
    if cx.out.is_json() {
        cx.out.doc(&s)?;
        return Ok(());
    }
    let mut lines = vec![
        format!("Schedule {} for {}", s.id, s.email),
        format!("  at:        {}", s.at.to_rfc3339()),
        format!("  then:      {}", what(&s)),
        format!("  status:    {}", s.status.replace('_', " ")),
        format!(
            "  next run:  {}",
            s.next_run.as_ref().map_or_else(
                || "none".to_owned(),
                |n| format!("{} at {}", n.phase.as_str(), n.at.to_rfc3339())
            )
        ),
        format!(
            "  plan:      {}",
            s.plan
                .as_ref()
                .map_or_else(|| "none".to_owned(), ToString::to_string)
        ),
        format!(
            "  scheduled: {} by {}",
            s.scheduled_at.to_rfc3339(),
            s.scheduled_by
        ),
    ];
    for run in &s.runs {
        lines.push(format!("  run:       correlation id {run}"));
    }
    if let Some(f) = &s.failure {
        lines.push(format!(
            "  failed:    {} run: {} ({})",
            f.phase.as_str(),
            f.message,
            f.code
        ));
        for b in &f.blockers {
            lines.push(format!("    - {}", b.message));
        }
        if f.deactivated {
            lines.push("    access was removed all the same".to_owned());
        }
    }
    for line in lines {
        cx.out.line(line);
    }
    Ok(())
}

/// `deactivate`, `delete`, `deactivate, delete after 30 days`.
fn what(s: &ScheduleView) -> String {
    let then = match s.then {
        FollowUp::Delete => "delete",
        FollowUp::Deactivate => "deactivate",
        FollowUp::None => "none",
    };
    let plan = if s.plan.is_some() { "plan, " } else { "" };
    match s.delete_after_days {
        Some(d) => format!("{plan}{then}, delete after {d} days"),
        None => format!("{plan}{then}"),
    }
}

/// A schedule by id or by a unique prefix of 8 or more hex digits.
fn find(cx: &mut Ctx, id: &str) -> Result<ScheduleId, CliError> {
    let id = id.trim();
    if let Ok(full) = id.parse::<ScheduleId>() {
        return Ok(full);
    }
    let prefix = id.to_ascii_lowercase();
    if prefix.len() < 8 || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(CliError::invalid(format!(
            "{id:?} is not a schedule id: give the id as `schedule list` shows it, or 8 or more of its first hex digits"
        )));
    }
    let all = cx
        .reader()?
        .all(SchedulesQuery::default(), |p| p.schedules)?;
    let matches: Vec<ScheduleId> = all
        .iter()
        .map(|s| s.id)
        .filter(|s| s.to_string().starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(CliError::not_found(format!("schedule {id}"))),
        many => Err(CliError::invalid(format!(
            "{id:?} names {} schedules ({}): give more digits",
            many.len(),
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `run-due`: every run due now, on the data directory (`serve` does this itself).
pub fn run_due(cx: &mut Ctx) -> Result<(), CliError> {
    let session = cx.session()?;
    let runs = session.runtime().block_on(session.engine().run_due());
    if cx.out.is_json() {
        cx.out.doc(&json!({ "ok": true, "runs": runs }))?;
        return Ok(());
    }
    if runs.is_empty() {
        cx.out.line("No scheduled offboarding is due.");
    }
    for run in &runs {
        let duplicate = run.appended.as_ref().is_some_and(|a| a.duplicate);
        let outcome = match run.outcome.as_str() {
            _ if duplicate => "had already run: nothing new was written".to_owned(),
            "completed" => "completed".to_owned(),
            "failed" => {
                "failed (see `schedule show`); access was removed where it could be".to_owned()
            }
            code => format!("could not run ({code}); it is tried again next time"),
        };
        cx.out.line(format!(
            "Schedule {} ({} run): {outcome}",
            run.schedule_id,
            run.phase.as_str()
        ));
    }
    Ok(())
}
