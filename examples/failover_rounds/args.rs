//! The harness's command line.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Three `offboard serve` nodes on one PostgreSQL database under concurrent clients:
/// kill the leader, restart PostgreSQL, partition the leader from it, leave a follower
/// far behind; then check that nothing acknowledged was lost, reused or changed and that
/// every node converged.
#[derive(Debug, Parser)]
#[command(name = "failover_rounds")]
pub struct Args {
    /// Leader kills (scenario `kill`); the other scenarios run `rounds.min(3)` times.
    #[arg(long, default_value_t = 10)]
    pub rounds: u32,
    /// Which scenarios, in this order (default: all four).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenario: Vec<Scenario>,
    /// `serve` nodes on the database.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// The seed of every random choice (printed; give it again to replay a run's choices).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The `offboard` binary. Default: the one beside this example (build it first).
    #[arg(long = "bin")]
    pub bin: Option<PathBuf>,
    /// Users the clients move resources and credits between (besides the owner).
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Resources imported before the first round.
    #[arg(long, default_value_t = 256)]
    pub resources: usize,
    /// Earliest disruption, in milliseconds into a round.
    #[arg(long, default_value_t = 200)]
    pub min_delay_ms: u64,
    /// Latest disruption, in milliseconds into a round.
    #[arg(long, default_value_t = 1500)]
    pub max_delay_ms: u64,
    /// Events the far-behind follower misses (scenario `behind`).
    #[arg(long, default_value_t = 100_000)]
    pub behind_events: u64,
    /// The longest a failover may take, in milliseconds (the target: 5 s).
    #[arg(long, default_value_t = 5_000)]
    pub failover_ms: u64,
    /// Keep the nodes' directories and logs (and print where they are).
    #[arg(long)]
    pub keep: bool,
}

/// One kind of failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// SIGKILL the leader at a random moment, `--rounds` times.
    Kill,
    /// `pg_ctl restart -m fast` under load.
    PgRestart,
    /// Cut the leader off from PostgreSQL (its proxy), then heal.
    Partition,
    /// Stop a follower, append `--behind-events` events, restart it.
    Behind,
}

impl Args {
    /// The seed given, or a random one.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(|| fastrand::u64(..))
    }

    /// The scenarios to run, in order.
    pub fn scenarios(&self) -> Vec<Scenario> {
        if self.scenario.is_empty() {
            Scenario::value_variants().to_vec()
        } else {
            self.scenario.clone()
        }
    }
}
