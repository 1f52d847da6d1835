//! `offboard backup DIR`: a consistent copy of the data directory, written as a fresh
//! data directory (`Engine::backup`). On a directory it owns, the CLI writes it itself;
//! a directory a server holds is backed up by that server (`--server URL backup DIR`,
//! `POST /v1/admin/backup`), since sled lets one process open a directory.

use std::path::Path;

use serde_json::json;

use super::error::{CliError, EXIT_REJECTED};
use super::output::Output;
use super::Ctx;
use crate::engine::{BackupError, BackupReport, Engine, Options};
use crate::privacy::key_settings::KeySettings;
use crate::store::{Location, StoreError};

impl From<BackupError> for CliError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::NotEmpty { .. } | BackupError::StoreNotEmpty { .. } => {
                CliError::new(e.code(), e.to_string(), EXIT_REJECTED)
            }
            BackupError::Invalid(why) => CliError::invalid(why),
            BackupError::Storage(e) => e.into(),
            BackupError::Read(e) => e.into(),
            BackupError::Verify(e) => e.into(),
        }
    }
}

/// `backup DIR` on the data directory `data`, opened here. A directory held by another
/// process (a server) is `data_dir_locked`, saying how to back it up through the server.
pub fn embedded(
    at: &Location,
    keys: &KeySettings,
    target: &Path,
    out: &mut Output,
) -> Result<(), CliError> {
    let engine = Engine::open_at_keyed(at, Options::default(), keys).map_err(|e| match CliError::from(e) {
        locked if locked.code == StoreError::Locked { dir: Default::default() }.code() => {
            CliError::storage(
                &locked.code,
                format!(
                    "{} is in use by another offboard process, most likely `offboard serve` (sled lets one process open a directory): ask that server for the copy with `offboard --server URL --token OWNER_TOKEN backup {}` (an absolute path on the server's machine)",
                    at,
                    std::path::absolute(target)
                        .unwrap_or_else(|_| target.to_path_buf())
                        .display()
                ),
            )
        }
        other => other,
    })?;
    let report = engine.backup(target)?;
    engine.shutdown();
    print(out, &report)
}

/// `--server URL backup DIR`: the server writes the copy (`POST /v1/admin/backup`).
pub fn remote(cx: &mut Ctx, target: &Path) -> Result<(), CliError> {
    let Some(remote) = cx.remote() else {
        return Err(CliError::usage("backup opens its own data directory"));
    };
    if !target.is_absolute() {
        return Err(CliError::usage(format!(
            "with --server, DIR is a path on the server's machine: give it absolute ({} is relative)",
            target.display()
        )));
    }
    let dir = target
        .to_str()
        .ok_or_else(|| CliError::invalid(format!("{} is not valid UTF-8", target.display())))?;
    let report: BackupReport = remote.post("/v1/admin/backup", &json!({ "dir": dir }))?;
    print(cx.out, &report)
}

fn print(out: &mut Output, report: &BackupReport) -> Result<(), CliError> {
    let bytes: u64 = report.files.iter().map(|f| f.bytes).sum();
    let message = format!(
        "Backed up positions 1..={} (head {}) to {}: {} files, {bytes} bytes, {} personal-data keys; the copy verifies (check it any time with `offboard --data {} verify`).",
        report.position,
        report.head,
        report.dir,
        report.files.len(),
        report.keys,
        report.dir
    );
    if out.is_json() {
        let mut doc = serde_json::to_value(report).expect("a report serializes");
        doc["ok"] = json!(true);
        doc["message"] = json!(message);
        out.doc(&doc)?;
    } else {
        out.line(message);
    }
    Ok(())
}
