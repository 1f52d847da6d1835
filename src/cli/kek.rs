//! `offboard kek create PATH`: a new key-encryption key for a store on PostgreSQL, written
//! once (0600) and never over an existing file. It needs no data directory and no server.
//! And the key settings every command opening such a store passes on.

use std::path::Path;

use serde_json::json;

use super::args::Global;
use super::error::CliError;
use super::output::Output;
use crate::privacy::kek::{Kek, KekError};
use crate::privacy::key_settings::KeySettings;

/// How a store on PostgreSQL finds its KEK and states its backup window, from
/// `--kek-file` and `--backup-retention` (or their environment variables).
pub fn key_settings(global: &Global) -> KeySettings {
    KeySettings {
        kek_file: global.kek_file.clone(),
        backup_retention: global.backup_retention.clone(),
    }
}

/// Writes a new KEK to `path` and names it (its id, never its bytes). Exit 1 with
/// `kek_exists` when `path` is taken, exit 3 (`kek_invalid`) when it cannot be written.
pub fn create(path: &Path, out: &mut Output) -> Result<(), CliError> {
    let kek = Kek::create_file(path).map_err(|e| match e {
        KekError::Exists { .. } => CliError::new(e.code(), e.to_string(), 1),
        other => CliError::storage(other.code(), other.to_string()),
    })?;
    out.line(format!(
        "Wrote a new key-encryption key to {} (id {}). Give it to every node (--kek-file or \
         OFFBOARD_KEK_FILE) and keep a copy apart from the database's backups: without it, \
         no personal data stored on PostgreSQL can be read.",
        path.display(),
        kek.id()
    ));
    out.doc(&json!({ "path": path, "id": kek.id() }))?;
    Ok(())
}
