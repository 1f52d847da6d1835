//! The `offboard` binary: parses flags, runs one command on the engine, maps the outcome
//! to an exit code (0 ok, 1 rejected or invalid, 2 usage, 3 storage).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use offboard::Engine;

#[derive(Debug, Parser)]
#[command(name = "offboard", version, about = "Event-sourced offboarding engine")]
struct Cli {
    /// The data directory (sled).
    #[arg(
        long,
        global = true,
        env = "OFFBOARD_DATA",
        default_value = "./offboard-data"
    )]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Walk the hash chain and report the first bad position.
    Verify,
    /// Print events as JSON lines, in order.
    Events {
        /// First position to print.
        #[arg(long, default_value_t = 1)]
        from: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let engine = match Engine::open(&cli.data) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("offboard: {e}");
            return ExitCode::from(3);
        }
    };
    match cli.command {
        Command::Verify => match engine.verify(&mut |_| {}) {
            Ok(report) => {
                println!(
                    "log intact: {} events, head {}",
                    report.events, report.head_hash
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("offboard: {e}");
                ExitCode::from(1)
            }
        },
        Command::Events { from } => match engine.read_range(from, u64::MAX) {
            Ok(events) => {
                for e in events {
                    println!(
                        "{}",
                        serde_json::to_string(&e).expect("an envelope always serializes")
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("offboard: {e}");
                ExitCode::from(3)
            }
        },
    }
}
