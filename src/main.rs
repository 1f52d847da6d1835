//! The `offboard` binary: parses the command line, runs it (`offboard::cli::run`), and
//! maps the outcome to an exit code: 0 ok, 1 rejected or invalid input, 2 usage,
//! 3 storage. Under `--json` every error is one JSON document on stdout.

use std::process::ExitCode;

use clap::Parser;
use offboard::cli::{self, Cli, CliError};

/// mimalloc instead of the system allocator. A replay decodes envelopes on one thread
/// and frees them on that thread in batches, after the other thread applied them; glibc
/// spent about 40 % of the decoding thread in `malloc`/`free` consolidating those
/// batches (measured with `perf`: a million-event replay took 1.35-1.43 s, 0.80 s with
/// mimalloc). Built with `no_thp`, so mimalloc does not ask for transparent huge pages
/// itself: on a kernel whose THP setting is `madvise` (this project's machine) that kept
/// ~60 MiB off the bench's peak RSS (268-278 MiB with, 200-207 without). On a kernel set
/// to `always`, `MIMALLOC_ALLOW_THP=0` in the environment does the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let json = std::env::args_os().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            if json {
                let text = e.to_string();
                let usage = CliError::usage(text.trim().trim_start_matches("error: "));
                println!("{}", usage.to_json());
            } else {
                let _ = e.print();
            }
            return ExitCode::from(cli::error::EXIT_USAGE);
        }
    };
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of a pipe (`| head`) stopped reading: it has what it wanted.
        Err(e) if e.code == cli::error::BROKEN_PIPE => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!("{}", e.to_json());
            } else {
                eprintln!("offboard: {}", e.to_human());
            }
            ExitCode::from(e.exit)
        }
    }
}
