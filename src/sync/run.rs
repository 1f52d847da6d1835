//! Carrying out a sync plan on an engine: its `SyncResources` batches one after the
//! other under one correlation id (so `history --correlation` shows the whole sync as
//! one operation), and the report a caller prints or answers.

use std::io::BufRead;

use offboard_events::{CommandId, CorrelationId, OrgId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::plan::{Diff, Plan, Planner};
use super::rows::{BadRow, ResourceRows};
use crate::engine::{AppendError, CommandMeta, Engine};
use crate::server::Positions;

/// Rows compared per hold of the views' read lock: the writer waits for a lock held a
/// few milliseconds at most, never for a whole file.
const ROWS_PER_LOCK: usize = 10_000;

/// Why a file could not be planned.
#[derive(Debug)]
pub enum PlanError {
    /// The first line (a CSV header) says the file cannot be read as rows: why.
    Header(String),
    /// Every bad row, with its line.
    BadRows(Vec<BadRow>),
    /// The organization is not in the views.
    NoOrg(OrgId),
}

/// Reads `input` row by row and compares it with `org`'s views: rows are parsed
/// outside the read lock and compared under it, [`ROWS_PER_LOCK`] at a time.
pub fn plan_on<R: BufRead>(
    engine: &Engine,
    org: OrgId,
    input: R,
    kinds: &[String],
) -> Result<Plan, PlanError> {
    let mut rows = ResourceRows::new(input).map_err(PlanError::Header)?;
    let mut planner = Planner::new(kinds);
    loop {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_LOCK).collect();
        let state = engine.state();
        let views = state.org(org).ok_or(PlanError::NoOrg(org))?;
        if chunk.is_empty() {
            return planner.finish(views).map_err(PlanError::BadRows);
        }
        for (line, row) in chunk {
            planner.row(views, line, row);
        }
    }
}

/// Resources per `SyncResources` command a sync sends: a million changes are a hundred
/// commands, each one append of a few events per owner.
pub const SYNC_BATCH: usize = 10_000;

/// What a sync found and did: the API's answer to `POST /v1/resources/sync`, and the
/// CLI's `--json` document beside `ok`, `command` and `message`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SyncReport {
    /// `true`: nothing was written; the diff says what a sync would do.
    pub dry_run: bool,
    #[serde(flatten)]
    pub diff: Diff,
    /// `SyncResources` commands sent (0 when nothing changes, or on a dry run).
    pub commands: u64,
    /// The one correlation id every command of the sync carries (`null` if none was sent).
    pub correlation_id: Option<CorrelationId>,
    /// First and last position written (`null` when nothing was).
    pub positions: Option<Positions>,
    /// Events appended.
    pub events: u64,
}

impl SyncReport {
    /// A report of `plan` before anything is sent.
    pub fn planned(plan: &Plan, dry_run: bool) -> Self {
        Self {
            dry_run,
            diff: plan.diff.clone(),
            ..Self::default()
        }
    }
}

/// Sends `plan`'s batches as `meta`'s principal, the first under `meta.command_id`,
/// all under one correlation id (`meta`'s, or the first command id).
///
/// **Durability: each batch is durable when the next is sent, and all of them when this
/// returns `Ok`.** On `Err` the batches before the failing one stay written; running the
/// same sync again finishes the job, as it compares against the views anew.
pub async fn apply(
    engine: &Engine,
    meta: CommandMeta,
    plan: &Plan,
    report: &mut SyncReport,
) -> Result<(), AppendError> {
    let correlation = meta
        .correlation_id
        .unwrap_or(CorrelationId(meta.command_id.0));
    for (i, command) in plan.batches(SYNC_BATCH).into_iter().enumerate() {
        let mut meta = meta.clone();
        if i > 0 {
            meta.command_id = CommandId::new();
        }
        meta.correlation_id = Some(correlation);
        let appended = engine.execute(meta, command).await?;
        report.commands += 1;
        report.correlation_id = Some(correlation);
        report.events += appended.count();
        if let Some((first, last)) = appended.positions {
            let first = report.positions.map_or(first, |p| p.first);
            report.positions = Some(Positions { first, last });
        }
    }
    Ok(())
}
