//! The harness's command line.

use std::path::PathBuf;

use clap::Parser;

/// Kill `offboard serve` at random moments under concurrent clients and check, after each
/// restart, that nothing acknowledged was lost, reused or changed.
#[derive(Debug, Parser)]
#[command(name = "crash_rounds")]
pub struct Args {
    /// How many kill-and-recover rounds, all on one data directory (state accumulates).
    #[arg(long, default_value_t = 10)]
    pub rounds: u32,
    /// Concurrent HTTP clients per round.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// The seed of every random choice (printed; give it again to replay a run's choices).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The `offboard` binary. Default: the one beside this example, built first when run
    /// through cargo.
    #[arg(long = "bin")]
    pub bin: Option<PathBuf>,
    /// Users the clients move resources and credits between (besides the owner).
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Resources imported before the first round.
    #[arg(long, default_value_t = 256)]
    pub resources: usize,
    /// Earliest kill, in milliseconds after the clients start.
    #[arg(long, default_value_t = 50)]
    pub min_kill_ms: u64,
    /// Latest kill, in milliseconds after the clients start.
    #[arg(long, default_value_t = 1500)]
    pub max_kill_ms: u64,
    /// Keep the data directory (and the servers' stderr logs) and print where it is.
    #[arg(long)]
    pub keep: bool,
}

impl Args {
    /// The seed given, or one from the clock.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            now.as_secs() ^ u64::from(now.subsec_nanos()).rotate_left(32)
        })
    }
}
