//! `demo`: placeholder.
use super::args::Global;
use super::error::CliError;
use super::output::Output;

pub fn run(_global: &Global, _out: &mut Output) -> Result<(), CliError> {
    Ok(())
}
