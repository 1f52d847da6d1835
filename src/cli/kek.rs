//! `offboard kek create PATH`: a new key-encryption key for a store on PostgreSQL, written
//! once (0600) and never over an existing file. It needs no data directory and no server.
//! `offboard kek rotate --to PATH`: every wrapped key of the store moved to that KEK
//! (`privacy::kek_rotation`). And the key settings every command opening such a store
//! passes on.

use std::path::Path;

use serde_json::json;

use super::args::Global;
use super::error::CliError;
use super::output::Output;
use crate::privacy::kek::{Kek, KekError};
use crate::privacy::kek_rotation;
use crate::privacy::key_settings::KeySettings;
use crate::store::{Location, PgPool, StoreError};

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

/// Rewraps every key of the PostgreSQL store at `location` from the KEK `keys` names to
/// the one at `to`. **Durability: when it returns `Ok`, every key is committed under the
/// new KEK; on an error nothing changed.** Exit 2 on a data directory (it has no KEK),
/// exit 3 with `store_in_use` while a node has the store open, `kek_wrong` when the
/// current KEK is not the store's, `key_damaged` naming a row it does not open.
pub fn rotate(
    location: &Location,
    keys: &KeySettings,
    to: &Path,
    out: &mut Output,
) -> Result<(), CliError> {
    let Location::Postgres { url, local } = location else {
        return Err(CliError::usage(
            "a data directory keeps its keys as files, under no key-encryption key: kek rotate is for a store on PostgreSQL (--store postgres://…)",
        ));
    };
    let kek_error = |e: KekError| CliError::from(StoreError::from(e));
    let old = keys.kek_for(local, false).map_err(kek_error)?;
    let new = Kek::from_file(to).map_err(kek_error)?;
    if old.id() == new.id() {
        return Err(CliError::usage(format!(
            "{} is the store's current KEK (id {}): give a new one (offboard kek create PATH)",
            to.display(),
            new.id()
        )));
    }
    let pool = PgPool::connect(url)?;
    let done = kek_rotation::rotate(&pool, &old, &new)?;
    out.line(format!(
        "Rewrapped {} user keys, {} checkpoint keys and {} other keys from KEK {} to KEK {} in one transaction. Give {} to every node (--kek-file or OFFBOARD_KEK_FILE) before starting them; keep the old KEK as long as backups taken before need it.",
        done.user_keys, done.checkpoint_keys, done.records, done.from, done.to, to.display()
    ));
    out.doc(&serde_json::to_value(&done).map_err(|e| CliError::storage("io", e.to_string()))?)?;
    Ok(())
}
