//! `offboard completions SHELL` and `offboard man [--dir DIR]`: the shell completion scripts
//! (`clap_complete`) and the man page (`clap_mangen`), both generated from the same clap
//! definition as the parser, so they cannot drift from it.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::args::Cli;
use super::error::CliError;

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    // Into memory first: `generate` panics on a write error, and `| head` closes the pipe.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "offboard", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// Writes the man page (section 1, roff) to stdout; with `dir`, writes `offboard.1` and
/// one page per subcommand (`offboard-user-add.1`, …) into it, creating it if missing.
/// Errors: the directory cannot be created or written (`io`).
pub fn man(dir: Option<&Path>) -> Result<(), CliError> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
        clap_mangen::generate_to(Cli::command(), dir)?;
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    out.flush()?;
    Ok(())
}
