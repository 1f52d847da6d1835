//! Crash rounds (sled's crash-test pattern, through the real binary): sets up an org on a
//! fresh data directory with the CLI, then round after round starts `offboard serve`,
//! runs concurrent HTTP clients sending commands with unique `Idempotency-Key`s, kills
//! the server with SIGKILL at a random moment, runs `offboard verify` on the directory,
//! restarts the server and checks everything the clients were told (see `check.rs`).
//! One directory for all rounds: each recovery starts from the last one's.
//!
//! ```sh
//! cargo build --release   # the binary it launches (cargo builds none for an example)
//! cargo run --release --example crash_rounds -- --rounds 100
//! cargo run --release --example crash_rounds -- --rounds 5 --seed 1234   # replay choices
//! ```
//!
//! The seed fixes every choice (commands, amounts, kill delays); when the kill lands
//! depends on the machine, so a replay repeats the choices, not the exact interleaving.
//! Exit 0 when every round passed, 1 on any violation (the directory is then kept).

mod args;
mod binary;
mod check;
mod cli;
mod clients;
mod http;
mod ledger;
mod ops;
mod server;
mod setup;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fastrand::Rng;

use args::Args;
use check::Tally;
use http::Http;
use ledger::Ledger;
use server::Server;

/// How long clients may take to notice the kill.
const CLIENTS_STOP: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed();
    println!(
        "crash_rounds: seed {seed}, {} rounds, {} clients (replay: --seed {seed})",
        args.rounds, args.clients
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(&args, seed)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("crash_rounds FAILED (seed {seed}): {why}");
            ExitCode::FAILURE
        }
    }
}

/// Paths of one run: the data directory and where the servers' stderr goes.
struct Dirs {
    root: tempfile::TempDir,
    data: PathBuf,
}

impl Dirs {
    fn log(&self, round: u32) -> PathBuf {
        self.root.path().join(format!("serve.{round}.log"))
    }

    /// Keeps the directory for a post-mortem and says where it is.
    fn keep(self) -> PathBuf {
        self.root.keep()
    }
}

async fn run(args: &Args, seed: u64) -> Result<(), String> {
    let bin = binary::offboard(args.bin.clone())?;
    let root = tempfile::Builder::new()
        .prefix("crash_rounds.")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let data = root.path().join("data");
    let dirs = Dirs { root, data };
    let started = Instant::now();
    let world = setup::create(
        &bin,
        &dirs.data,
        dirs.root.path(),
        args.users.max(2),
        args.resources,
    )?;
    let users = Arc::new(world.users.clone());
    let mut server = Server::start(&bin, &dirs.data, &dirs.log(0))?;
    let mut ledger = Ledger::default();
    check::catch_up(&Http::new(&server.url, &world.token), &mut ledger).await?;
    let mut rng = Rng::with_seed(seed);
    let mut total = Tally::default();
    for round in 1..=args.rounds {
        let round_started = Instant::now();
        let kill_ms = rng.u64(args.min_kill_ms..=args.max_kill_ms.max(args.min_kill_ms));
        let clients = clients::share(&ledger, args.clients.max(1), &mut rng, round);
        let http = Http::new(&server.url, &world.token);
        let load = {
            let (http, users) = (http.clone(), Arc::clone(&users));
            tokio::spawn(async move { clients::run(&http, &users, clients).await })
        };
        tokio::time::sleep(Duration::from_millis(kill_ms)).await;
        server.kill();
        let sent = tokio::time::timeout(CLIENTS_STOP, load)
            .await
            .map_err(|_| format!("round {round}: clients still busy after the kill"))?
            .map_err(|e| format!("round {round}: a client panicked: {e}"))?;
        let verified = cli::verify(&bin, &dirs.data).map_err(|e| format!("round {round}: {e}"))?;
        server = Server::start(&bin, &dirs.data, &dirs.log(round))
            .map_err(|e| format!("round {round}: {e}"))?;
        let http = Http::new(&server.url, &world.token);
        let (tally, bad) = check::round(&http, &mut ledger, &sent, verified).await;
        report(round, args.rounds, kill_ms, &tally, &ledger, round_started);
        add(&mut total, &tally);
        if !bad.is_empty() {
            server.kill();
            for why in bad.iter().take(20) {
                eprintln!("  violation: {why}");
            }
            let kept = dirs.keep();
            return Err(format!(
                "round {round}: {} violations; data directory kept in {}",
                bad.len(),
                kept.join("data").display()
            ));
        }
    }
    server.kill();
    summary(args.rounds, &total, &ledger, started.elapsed());
    if args.keep {
        println!(
            "data directory kept in {}",
            dirs.keep().join("data").display()
        );
    }
    Ok(())
}

fn add(total: &mut Tally, t: &Tally) {
    total.sent += t.sent;
    total.acked += t.acked;
    total.refused += t.refused;
    total.unknown_present += t.unknown_present;
    total.unknown_absent += t.unknown_absent;
    total.resent += t.resent;
    total.events += t.events;
}

fn report(round: u32, rounds: u32, kill_ms: u64, t: &Tally, ledger: &Ledger, since: Instant) {
    println!(
        "round {round}/{rounds}: killed after {kill_ms} ms; {} sent: {} acked, {} refused, \
         {} unanswered ({} in the log, {} not); +{} events, log 1..={}; {} resent; {:.1} s",
        t.sent,
        t.acked,
        t.refused,
        t.unknown_present + t.unknown_absent,
        t.unknown_present,
        t.unknown_absent,
        t.events,
        ledger.head,
        t.resent,
        since.elapsed().as_secs_f64()
    );
}

fn summary(rounds: u32, t: &Tally, ledger: &Ledger, took: Duration) {
    println!(
        "crash_rounds: {rounds} rounds passed in {:.0} s: {} commands sent, {} acknowledged \
         and re-checked, {} refused and absent, {} unanswered ({} in the log, {} not); \
         log 1..={} ({} resources, {} credits added); 0 failures",
        took.as_secs_f64(),
        t.sent,
        t.acked,
        t.refused,
        t.unknown_present + t.unknown_absent,
        t.unknown_present,
        t.unknown_absent,
        ledger.head,
        ledger.owners.len(),
        ledger.added
    );
}
