//! `bench [--scale S] [--only SCENARIO]…`: runs the benchmark scenarios (see `offboard::bench`) in a
//! temporary directory beside `--data` — or, with `--store postgres://…`, each in a new
//! database on that server — and prints their figures as a table, or one JSON document
//! with `--json`. Progress goes to stderr on a terminal only.

use std::io::IsTerminal;

use super::args::Global;
use super::error::CliError;
use super::output::Output;
use crate::bench::{self, BenchConfig, Scenario};

pub fn run(
    global: &Global,
    scale: f64,
    only: &[Scenario],
    out: &mut Output,
) -> Result<(), CliError> {
    if !(scale > 0.0 && scale <= 10.0) {
        return Err(CliError::invalid(format!(
            "--scale {scale} must be in (0, 10]"
        )));
    }
    let config = BenchConfig {
        scale,
        only: only.to_vec(),
        store: global.store.clone(),
        dir: global
            .data
            .as_ref()
            .and_then(|d| d.parent().map(|p| p.to_path_buf())),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let terminal = std::io::stderr().is_terminal();
    let report = runtime
        .block_on(bench::run(&config, &mut |step| {
            if terminal {
                eprintln!("… {step}");
            }
        }))
        .map_err(|e| CliError::invalid(e.to_string()))?;
    if out.is_json() {
        out.doc(&report)?;
    } else {
        out.line(bench::table(&report));
    }
    Ok(())
}
