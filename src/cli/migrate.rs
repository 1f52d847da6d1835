//! `offboard migrate`: the whole log copied between the two stores and verified —
//! `--from-data DIR --to postgres://…` into an empty database
//! (`Engine::migrate_to_postgres`), `--from postgres://… --to-data DIR` into a new data
//! directory (the online backup, which writes one). Positions, hashes, the command-id
//! index, personal-data keys, tokens, consumers' and webhooks' records all travel.

use std::path::Path;

use serde_json::json;

use super::args::Global;
use super::error::CliError;
use super::output::Output;
use super::{backup, data_dir, kek};
use crate::engine::{Engine, MigrateReport, Options};
use crate::store::{is_postgres_url, Location};

/// Where `migrate` copies from and to, as given.
#[derive(Debug)]
pub struct Route<'a> {
    pub from_data: Option<&'a Path>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub to_data: Option<&'a Path>,
}

/// Runs one migration. **Durability: when it returns `Ok`, the copy is committed (a
/// database) or fsynced (a directory) and has verified; the source is never written.**
pub fn run(global: &Global, route: Route, out: &mut Output) -> Result<(), CliError> {
    let keys = kek::key_settings(global);
    match route {
        Route {
            from: Some(url),
            to_data: Some(dir),
            ..
        } => {
            let at = Location::choose(Some(url), data_dir(global))?;
            backup::embedded(&at, &keys, dir, out)
        }
        Route {
            from: None,
            to: Some(url),
            from_data,
            ..
        } => {
            if !is_postgres_url(url) {
                return Err(CliError::usage(format!(
                    "--to {} is not a postgres:// or postgresql:// URL (to copy into a directory, use --to-data, or `offboard backup DIR`)",
                    crate::store::redacted(url)
                )));
            }
            let dir = from_data.map_or_else(|| data_dir(global), Path::to_path_buf);
            if !dir.is_dir() {
                return Err(CliError::not_found(format!(
                    "{} is not a data directory (give the one to copy with --from-data DIR)",
                    dir.display()
                )));
            }
            let engine = Engine::open_at_keyed(&Location::Dir(dir), Options::default(), &keys)?;
            let copied = engine.migrate_to_postgres(url, &keys, &data_dir(global));
            engine.shutdown();
            print(out, &copied?)
        }
        _ => Err(CliError::usage(
            "migrate copies --from-data DIR (or --data) --to postgres://…, or --from postgres://… --to-data DIR",
        )),
    }
}

fn print(out: &mut Output, report: &MigrateReport) -> Result<(), CliError> {
    let message = format!(
        "Copied positions 1..={} (head {}) to {}: {} command ids, {} personal-data keys, {} records beside the log; the copy verifies (check it any time with `offboard --store URL verify`).",
        report.position, report.head, report.to, report.commands, report.keys, report.records
    );
    if out.is_json() {
        let mut doc = serde_json::to_value(report).map_err(|e| CliError::invalid(e.to_string()))?;
        doc["ok"] = json!(true);
        doc["command"] = json!("migrate");
        doc["message"] = json!(message);
        out.doc(&doc)?;
    } else {
        out.line(message);
    }
    Ok(())
}
