//! `user import FILE [--dry-run]`: the directory from an HR or identity export, planned
//! by [`crate::sync::users`] and sent as ONE `apply_user_changes` command, which the
//! domain decides change by change and writes whole or not at all. Through a server
//! the file goes to `POST /v1/users/import`, which does the same there.

use std::path::Path;

use super::error::{CliError, EXIT_REJECTED};
use super::{input, Ctx};
use crate::read::UsersQuery;
use crate::sync::rows::bad_rows_message;
use crate::sync::users::{plan_import, ImportError, ImportReport};

/// Reads, checks and (unless `dry_run`) carries out `file`; prints what it did. Every
/// change is durable when it returns `Ok`; none was written when it returns `Err`.
pub fn import(cx: &mut Ctx, file: &Path, dry_run: bool) -> Result<(), CliError> {
    let report = match cx.remote() {
        Some(remote) => remote.import_users(file, dry_run)?,
        None => import_here(cx, file, dry_run)?,
    };
    if cx.out.is_json() {
        cx.out.doc(&report)?;
    } else {
        cx.out.line(&report.message);
        if let (Some(id), Some(p)) = (report.correlation_id, report.positions) {
            cx.out.line(format!(
                "  correlation id {id} · positions {}–{}",
                p.first, p.last
            ));
        }
    }
    Ok(())
}

/// On the data directory: plans against the listed users, then sends the command (a
/// dry run has the domain decide it and writes nothing).
fn import_here(cx: &mut Ctx, file: &Path, dry_run: bool) -> Result<ImportReport, CliError> {
    let source = input::name(file);
    let users = cx.reader()?.all(UsersQuery::default(), |p| p.users)?;
    let plan = plan_import(input::open(file)?, users).map_err(|e| refused(&source, e))?;
    let appended = match (&plan.command, dry_run) {
        (None, _) => None,
        (Some(command), true) => {
            let meta = cx.meta()?;
            cx.engine()?.dry_run(&meta, command)?;
            None
        }
        (Some(command), false) => Some(cx.submit(command.clone())?),
    };
    Ok(ImportReport::new(
        &source,
        &plan,
        dry_run,
        appended.as_ref(),
    ))
}

/// Why `source` cannot be imported, as the CLI reports it.
fn refused(source: &str, e: ImportError) -> CliError {
    match e {
        ImportError::Header(why) => CliError::invalid(format!("{source}, line 1: {why}")),
        ImportError::BadRows(mut bad) => {
            let (code, message) = bad_rows_message(source, &mut bad, "nothing was written");
            CliError::new(code, message, EXIT_REJECTED)
        }
        ImportError::Empty => CliError::invalid(format!("{source} holds no users")),
    }
}
