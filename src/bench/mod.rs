//! `offboard bench`: the performance targets of issue 7, measured on the real engine
//! (sled, fsync on) in a temporary data directory. Every ratio is measured in the same
//! run as its baseline, because these machines are noisy. The benchmark drives the same
//! API a user's command goes through (`Engine::execute`), never a private shortcut.

mod bulk;
mod console;
mod fixture;
mod http;
mod pgbench;
mod place;
mod rebuild;
mod roles;
mod rss;
mod sync;
mod throughput;
mod webhooks;

use std::path::PathBuf;

use place::Place;

use serde::Serialize;

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// 1.0 = the sizes of the issue; smaller for a quick run (CI uses 0.01).
    pub scale: f64,
    /// Where the temporary data directories go (a fresh temp dir when `None`).
    pub dir: Option<PathBuf>,
    /// The scenarios to run; every one when empty.
    pub only: Vec<Scenario>,
    /// A PostgreSQL server URL (`postgres://USER@HOST:PORT/DB`) to run every scenario
    /// on, each in a database of its own; `None`: sled data directories.
    pub store: Option<String>,
}

/// The benchmark's scenario groups, for `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// TransferAllBuyers of 100,000 buyers, its restore, peak memory, time travel.
    Bulk,
    /// 64 concurrent clients with group commit, against one flush per command.
    Throughput,
    /// Rebuild and start-up on 1,000,000 events.
    Rebuild,
    /// 64 HTTP clients on loopback against the in-process server, with and without the
    /// HTTP conventions.
    Http,
    /// `resource sync` of a 1,000,000-row CRM export against 1,000,000 resources (1%
    /// moved, 1% new, 1% retired), and an identical second run.
    Sync,
    /// A user holding 100,000 records in three record roles offboarded (then deleted)
    /// and restored.
    Roles,
    /// Webhook delivery to a loopback receiver: events/s and commit→delivery latency of
    /// one subscription, and the 64-client throughput with 0 and 10 subscriptions.
    Webhooks,
    /// The web console's server time per page (p50, p99) with 10,000 users and
    /// 1,000,000 resources in one org, through the router in-process.
    Console,
}

impl BenchConfig {
    fn runs(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }

    /// `n` scaled, never below `min`.
    pub(crate) fn scaled(&self, n: u64, min: u64) -> u64 {
        ((n as f64 * self.scale) as u64).max(min)
    }
}

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub scenario: String,
    pub figure: String,
    pub value: f64,
    pub unit: String,
    /// The target as written in the issue (for the full scale).
    pub target: String,
    /// Whether the value meets the target (`None` for figures without one).
    pub met: Option<bool>,
}

/// Everything one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Where the logs were: `sled` or `PostgreSQL`.
    pub store: String,
    pub scale: f64,
    pub cores: usize,
    pub figures: Vec<Figure>,
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
#[error("benchmark failed: {0}")]
pub struct BenchError(pub String);

/// Wraps any error as a benchmark failure.
pub(crate) fn fail(e: impl std::fmt::Display) -> BenchError {
    BenchError(e.to_string())
}

pub(crate) fn figure(
    scenario: &str,
    figure: &str,
    value: f64,
    unit: &str,
    target: &str,
    met: Option<bool>,
) -> Figure {
    Figure {
        scenario: scenario.to_owned(),
        figure: figure.to_owned(),
        value,
        unit: unit.to_owned(),
        target: target.to_owned(),
        met,
    }
}

/// Runs every scenario; `progress` hears which one starts.
pub async fn run(
    config: &BenchConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchReport, BenchError> {
    let base = match &config.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .map_err(fail)?;
    let place = match &config.store {
        Some(url) => Place::postgres(base.path(), url)?,
        None => Place::sled(base.path()),
    };
    let mut figures = Vec::new();
    // Bulk first, so its peak memory is not inflated by what other scenarios left behind.
    if config.runs(Scenario::Bulk) {
        progress("bulk: TransferAllBuyers of 100,000 buyers, restore, memory, time travel");
        figures.extend(bulk::run(config, &place).await?);
    }
    if config.runs(Scenario::Throughput) {
        progress("throughput: 64 concurrent clients, group commit vs one flush per command");
        figures.extend(throughput::run(config, &place).await?);
    }
    if config.runs(Scenario::Rebuild) {
        progress("rebuild and start-up on 1,000,000 events");
        figures.extend(rebuild::run(config, &place).await?);
    }
    if config.runs(Scenario::Http) {
        progress("http: 64 clients on loopback, with and without the HTTP conventions");
        figures.extend(http::run(config, &place).await?);
    }
    if config.runs(Scenario::Sync) {
        progress("sync: a CRM export of 1,000,000 rows against 1,000,000 resources");
        figures.extend(sync::run(config, &place).await?);
    }
    if config.runs(Scenario::Roles) {
        progress("roles: a user holding 100,000 records in 3 roles offboarded and restored");
        figures.extend(roles::run(config, &place).await?);
    }
    if config.runs(Scenario::Webhooks) {
        progress(
            "webhooks: one subscription's delivery, and 64 clients with 0 and 10 subscriptions",
        );
        figures.extend(webhooks::run(config, &place).await?);
    }
    if config.runs(Scenario::Console) {
        progress("console: server time per page, 10,000 users and 1,000,000 resources");
        figures.extend(console::run(config, &place).await?);
    }
    Ok(BenchReport {
        store: place.store().to_owned(),
        scale: config.scale,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        figures,
    })
}

/// The report as a table for people.
pub fn table(report: &BenchReport) -> String {
    let mut out = format!(
        "offboard bench — {}, scale {}, {} cores\n\n",
        report.store, report.scale, report.cores
    );
    out.push_str(&format!(
        "{:<34} {:<34} {:>14}  {:<24} {}\n",
        "scenario", "figure", "value", "target", "met"
    ));
    for f in &report.figures {
        let value = if f.value >= 100.0 {
            format!("{:.0} {}", f.value, f.unit)
        } else {
            format!("{:.3} {}", f.value, f.unit)
        };
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        out.push_str(&format!(
            "{:<34} {:<34} {:>14}  {:<24} {}\n",
            f.scenario, f.figure, value, f.target, met
        ));
    }
    out
}

/// Waits for every client; returns all their latencies (ms) and the seconds since
/// `started`.
pub(crate) async fn gather(
    mut clients: tokio::task::JoinSet<Result<Vec<f64>, BenchError>>,
    started: std::time::Instant,
) -> Result<(Vec<f64>, f64), BenchError> {
    let mut latencies = Vec::new();
    while let Some(done) = clients.join_next().await {
        latencies.extend(done.map_err(fail)??);
    }
    Ok((latencies, started.elapsed().as_secs_f64()))
}

/// The run of `runs` (at least one) with the median `commands_per_s`: for scenarios run
/// several times on a shared machine, where another tenant's load can fall on one run.
pub(crate) fn median_run<T>(mut runs: Vec<T>, commands_per_s: impl Fn(&T) -> f64) -> T {
    runs.sort_by(|a, b| commands_per_s(a).total_cmp(&commands_per_s(b)));
    runs.swap_remove(runs.len() / 2)
}

/// The `q` quantile (0..=1) of `samples` (sorted in place).
pub(crate) fn quantile(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i]
}
