//! Failover rounds (issue 21 §3): a throwaway PostgreSQL cluster, an org set up on it with
//! the CLI, three `offboard serve` nodes on the one database (each through its own TCP
//! proxy, so it can be partitioned alone) and 16 HTTP clients sending commands with
//! `Idempotency-Key`s to random nodes, resending on no answer or a 503 as a real client
//! would. Then the scenarios, in order: `kill` (SIGKILL the leader, time until another
//! node leads, restart it), `pg-restart` (`pg_ctl restart -m fast` under load),
//! `partition` (the leader cut off from PostgreSQL: it steps down, another leads; heal,
//! it follows) and `behind` (a follower restarted far behind catches up; events/s).
//! Finally every node must converge to the same position and views, `offboard verify`
//! must pass, and every command is checked as crash_rounds checks it (`finish.rs`).
//!
//! ```sh
//! cargo build --release   # the binary it launches (cargo builds none for an example)
//! cargo run --release --example failover_rounds -- --rounds 20
//! cargo run --release --example failover_rounds -- --scenario kill,partition --rounds 5 --seed 1234
//! ```
//!
//! PostgreSQL's `initdb` and `pg_ctl` must be installed (on PATH, or Debian's
//! `/usr/lib/postgresql/*/bin`). Exit 0 when nothing was violated, 1 otherwise (the
//! nodes' directories and logs are then kept); the cluster is stopped either way.

#[path = "../crash_rounds/binary.rs"]
mod binary;
#[path = "../crash_rounds/check.rs"]
mod check;
#[path = "../crash_rounds/cli.rs"]
mod cli;
// crash_rounds' clients: their commands, outcomes and resource bookkeeping (its own
// one-shot `run` is not used: these clients resend, `load.rs`).
#[allow(dead_code)]
#[path = "../crash_rounds/clients.rs"]
mod clients;
#[path = "../crash_rounds/http.rs"]
mod http;
#[path = "../crash_rounds/ledger.rs"]
mod ledger;
#[path = "../crash_rounds/ops.rs"]
mod ops;
// The throwaway cluster of the PostgreSQL tests (`database()` is theirs).
#[allow(dead_code)]
#[path = "../../tests/common/pg_cluster.rs"]
mod pg_cluster;
// crash_rounds' `serve` child (`launch` with `--store`; `start` is the sled one).
#[allow(dead_code)]
#[path = "../crash_rounds/server.rs"]
mod server;
#[path = "../crash_rounds/setup.rs"]
mod setup;

mod args;
mod behind;
mod finish;
mod kill;
mod load;
mod nodes;
mod partition;
mod pg_restart;
#[path = "../../tests/common/pg_proxy.rs"]
mod proxy;
mod report;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fastrand::Rng;

use args::{Args, Scenario};
use ledger::Ledger;
use load::Load;
use nodes::Nodes;
use pg_cluster::Cluster;
use report::{max_ms, Report};

/// The database the nodes share.
const DATABASE: &str = "failover";

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed();
    println!(
        "failover_rounds: seed {seed}, {} nodes, {} clients, {} kill rounds (replay: --seed {seed})",
        args.nodes, args.clients, args.rounds
    );
    let outcome = Cluster::start().and_then(|pg| {
        let pg = Arc::new(pg);
        let result = prepare_and_run(&args, seed, &pg);
        // Stopped here on success and failure alike (and by its watcher if this dies).
        if let Err(why) = pg.stop() {
            eprintln!("failover_rounds: stopping PostgreSQL: {why}");
        }
        result
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("failover_rounds FAILED (seed {seed}): {why}");
            ExitCode::FAILURE
        }
    }
}

/// Everything between PostgreSQL's start and stop.
fn prepare_and_run(args: &Args, seed: u64, pg: &Arc<Cluster>) -> Result<(), String> {
    let bin = binary::offboard(args.bin.clone())?;
    let root = tempfile::Builder::new()
        .prefix("failover_rounds.")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let store = pg.create_database(DATABASE)?;
    // The CLI (setup, verify) works on the store directly; the nodes go through proxies.
    std::env::set_var("OFFBOARD_STORE", &store);
    let admin = root.path().join("admin");
    let world = setup::create(&bin, &admin, root.path(), args.users.max(2), args.resources)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("a tokio runtime: {e}"))?;
    let place = Place {
        bin: &bin,
        root: root.path(),
        admin: &admin,
        pg: SocketAddr::from(([127, 0, 0, 1], pg.port())),
    };
    let result = runtime.block_on(run(args, seed, pg, &place, &world));
    if result.is_err() || args.keep {
        let kept = root.keep();
        println!("nodes' directories and logs kept in {}", kept.display());
    }
    result
}

/// Where the run's pieces are.
#[derive(Debug)]
struct Place<'a> {
    bin: &'a Path,
    root: &'a Path,
    /// The CLI's directory (its `offboard.kek` wraps the store's keys).
    admin: &'a PathBuf,
    /// PostgreSQL's address, behind the proxies.
    pg: SocketAddr,
}

async fn run(
    args: &Args,
    seed: u64,
    pg: &Arc<Cluster>,
    place: &Place<'_>,
    world: &setup::World,
) -> Result<(), String> {
    let started = Instant::now();
    let kek = place.admin.join("offboard.kek");
    let mut nodes = Nodes::new(
        args.nodes.max(1),
        (place.bin, place.root, &kek),
        place.pg,
        DATABASE,
    )
    .await?;
    for i in 0..nodes.nodes.len() {
        nodes.start(i).await?;
    }
    let (leader, _) = nodes.wait_for_leader(None, Duration::from_secs(60)).await?;
    let mut ledger = Ledger::default();
    let http = http::Http::new(&nodes.url(leader).unwrap_or_default(), &world.token);
    check::catch_up(&http, &mut ledger).await?;
    let mut rng = Rng::with_seed(seed);
    let users = Arc::new(world.users.clone());
    let clients = clients::share(&ledger, args.clients.max(1), &mut rng, 0);
    let mut load = Load::start(Arc::clone(&nodes.urls), &world.token, users, clients);
    let mut report = Report::default();
    let others = args.rounds.clamp(1, 3);
    for scenario in args.scenarios() {
        match scenario {
            Scenario::Kill => kill::run(&mut nodes, args, &mut rng, &mut report).await?,
            Scenario::PgRestart => {
                pg_restart::run(&mut nodes, pg, (args, others), &mut rng, &mut report).await?
            }
            Scenario::Partition => {
                partition::run(&mut nodes, (args, others), &mut rng, &mut report).await?
            }
            Scenario::Behind => {
                behind::run(
                    &mut nodes,
                    &mut load,
                    (args.behind_events, others),
                    &mut rng,
                    &mut report,
                )
                .await?
            }
        }
    }
    let seen = Arc::clone(&load.seen);
    let sent = load.stop().await;
    for why in seen.violations.lock().expect("not poisoned").drain(..) {
        report.violation(why);
    }
    nodes.revive(&mut report).await?;
    finish::converge(&nodes, &world.token, &mut report).await?;
    for i in 0..nodes.nodes.len() {
        nodes.kill(i);
    }
    let verified = cli::verify(place.bin, place.admin)?;
    nodes.start(0).await?;
    nodes.wait_for_leader(None, Duration::from_secs(60)).await?;
    let tally = finish::commands(
        &nodes,
        (0, &world.token),
        &mut ledger,
        &sent,
        verified,
        &mut report,
    )
    .await;
    for i in 0..nodes.nodes.len() {
        nodes.kill(i);
    }
    summary(&report, &tally, &seen, &ledger, started.elapsed());
    match report.violations.len() {
        0 => Ok(()),
        n => Err(format!("{n} violations (listed above)")),
    }
}

fn summary(r: &Report, t: &check::Tally, seen: &load::Seen, ledger: &Ledger, took: Duration) {
    use std::sync::atomic::Ordering::Relaxed;
    let rate = r.replay_rates.iter().copied().fold(f64::NAN, f64::min);
    println!(
        "failover_rounds: {} kills (failover max {} ms), {} PostgreSQL restarts (leader again \
         max {} ms), {} partitions (failover max {} ms), {} far-behind restarts (slowest \
         replay {rate:.0} events/s) in {:.0} s: {} commands sent, {} acknowledged and \
         re-checked, {} refused and absent, {} unanswered ({} in the log, {} not); {} resends \
         after {} 503s and {} unanswered requests; log 1..={}; {} violations",
        r.failovers.len(),
        max_ms(&r.failovers),
        r.pg_restarts.len(),
        max_ms(&r.pg_restarts),
        r.partitions.len(),
        max_ms(&r.partitions),
        r.replay_rates.len(),
        took.as_secs_f64(),
        t.sent,
        t.acked,
        t.refused,
        t.unknown_present + t.unknown_absent,
        t.unknown_present,
        t.unknown_absent,
        seen.retries.load(Relaxed),
        seen.unavailable.load(Relaxed),
        seen.no_answer.load(Relaxed),
        ledger.head,
        r.violations.len()
    );
}
