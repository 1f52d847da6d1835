//! `resource sync` at the scale: a CRM export of 1,000,000 rows against a log
//! holding 1,000,000 resources of 1,000 users, where 1% of the rows name another owner,
//! 1% are new and 1% of the resources are missing from the file. Times the sync from
//! opening the file until every change is durable, its peak memory, and an identical
//! second run (which must write nothing).

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::fixture::{keys, Fixture};
use super::place::Place;
use super::{fail, figure, rss, BenchConfig, BenchError, Figure};
use crate::domain::Command;
use crate::engine::Options;
use crate::sync::{plan_on, run as sync_run, SyncReport};

/// Writes the export: row i names resource `buyer:C-i` with its owner, except every
/// 100th (missing: to retire) and every 100th + 1 (another owner: to move); then one new
/// row per missing one, so the file has as many rows as the log has resources.
fn write_export(path: &Path, total: u64, users: u64) -> Result<(), BenchError> {
    let mut out = BufWriter::new(std::fs::File::create(path).map_err(fail)?);
    writeln!(out, "kind,id,owner").map_err(fail)?;
    for i in 0..total {
        let owner = match i % 100 {
            0 => continue,
            1 => (i + 1) % users,
            _ => i % users,
        };
        writeln!(out, "buyer,C-{i},u{owner}@bench.example").map_err(fail)?;
    }
    for i in 0..total.div_ceil(100) {
        writeln!(out, "buyer,N-{i},u{}@bench.example", i % users).map_err(fail)?;
    }
    out.flush().map_err(fail)
}

/// Plans `path` against the views and applies it; the report and the seconds it took.
async fn sync_once(fx: &Fixture, path: &Path) -> Result<(SyncReport, f64), BenchError> {
    let started = Instant::now();
    let input = BufReader::with_capacity(64 * 1024, std::fs::File::open(path).map_err(fail)?);
    let plan = plan_on(&fx.engine, fx.org, input, &[]).map_err(|e| fail(format!("{e:?}")))?;
    let mut report = SyncReport::planned(&plan, false);
    sync_run::apply(&fx.engine, fx.as_owner(), &plan, &mut report)
        .await
        .map_err(fail)?;
    Ok((report, started.elapsed().as_secs_f64()))
}

pub async fn run(config: &BenchConfig, place: &Place) -> Result<Vec<Figure>, BenchError> {
    let users = config.scaled(1_000, 8);
    let total = config.scaled(1_000_000, 2_000);
    let fx = Fixture::new(place.open("sync", Options::default())?, users as usize).await?;
    let fx = Arc::new(fx);
    // Resource C-i belongs to user i mod `users`: one registration per user.
    let mut owned: Vec<Vec<offboard_events::ResourceKey>> = vec![Vec::new(); users as usize];
    for (i, key) in keys("buyer", "C", 0..total).into_iter().enumerate() {
        owned[i % users as usize].push(key);
    }
    let mut tasks = JoinSet::new();
    for (owner, resources) in fx.users.clone().into_iter().zip(owned) {
        let fx = Arc::clone(&fx);
        tasks.spawn(async move {
            fx.run(Command::RegisterResources { owner, resources })
                .await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(fail)??;
    }
    let export = place.path("crm-export.csv");
    write_export(&export, total, users)?;

    rss::reset_peak();
    let (report, seconds) = sync_once(&fx, &export).await?;
    let peak = rss::peak_mib().unwrap_or(0.0);
    let changed = report.diff.changed();
    let (again, again_s) = sync_once(&fx, &export).await?;
    if again.events != 0 {
        return Err(fail(format!(
            "an identical second sync wrote {} events",
            again.events
        )));
    }
    let scenario = format!("sync: {} rows vs {total}", report.diff.rows);
    Ok(vec![
        figure(
            &scenario,
            &format!("{changed} changes, {} commands, durable", report.commands),
            seconds,
            "s",
            "≤ 10 s",
            Some(seconds <= 10.0),
        ),
        figure(
            &scenario,
            "peak RSS during the sync",
            peak,
            "MiB",
            "≤ 500 MB",
            Some(peak * 1.048_576 <= 500.0),
        ),
        figure(
            &scenario,
            "identical second run (writes nothing)",
            again_s,
            "s",
            "",
            None,
        ),
    ])
}
