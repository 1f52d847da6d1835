//! `offboard migrate`: a sled data directory copied into an empty PostgreSQL database —
//! positions, hashes, the command-id index, personal-data keys (wrapped by the KEK there),
//! tokens, consumers' and webhooks' records — and verified. The way back, PostgreSQL to
//! a data directory, is the online backup ([`Engine::backup`]), which writes one.
//!
//! It is a backup whose copy is a database: the same capture at one log position
//! ([`Engine::backup_point`]) and the same filling and verification
//! ([`super::backup::fill_copy`]), so the two can never copy different things.

use std::path::Path;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

use super::backup::{fill_copy, BackupError};
use super::Engine;
use crate::privacy::key_settings::KeySettings;
use crate::privacy::pg_shelf::PgShelf;
use crate::store::{redacted, LogStore, PostgresLog};

/// What `offboard migrate` copied.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct MigrateReport {
    /// Where the copy went, without its password.
    pub to: String,
    /// The last position copied (the whole log at the moment of the capture).
    pub position: u64,
    /// `POSITION:HASH` of the copy's verified chain head.
    pub head: String,
    /// Command-id index entries copied (retries answer the same on the copy).
    pub commands: u64,
    /// Personal-data keys copied (each wrapped by the KEK of the target).
    pub keys: u64,
    /// Records beside the log copied: tokens, consumers' positions, webhook book.
    pub records: u64,
}

impl Engine {
    /// Copies this engine's log and everything beside it into the PostgreSQL database at
    /// `url`, which must hold no offboard log yet (its schema is created if missing), with
    /// the keys wrapped by the KEK that `keys` names (else `local/offboard.kek`, created).
    /// Commands keep flowing meanwhile; the copy stands at the position captured when it
    /// started. **Durability: when it returns `Ok`, the whole copy is committed in the
    /// database and has verified; on `Err` the database may hold part of a copy**, which a
    /// second `migrate` refuses (`store_not_empty`): drop and create the database again.
    ///
    /// Errors: `store_not_empty` for a database with a log, `store_in_use` while another
    /// process writes to it, the KEK's codes, storage and verification faults.
    pub fn migrate_to_postgres(
        &self,
        url: &str,
        keys: &KeySettings,
        local: &Path,
    ) -> Result<MigrateReport, BackupError> {
        let log = PostgresLog::open(url)?;
        let fresh = PgShelf::is_new(log.pool())?;
        let head = log.head()?;
        let records = log.checkpoint_names("")?;
        if head.last_position > 0 || !records.is_empty() || !fresh {
            return Err(BackupError::StoreNotEmpty {
                store: redacted(url),
                position: head.last_position,
            });
        }
        let vault = Arc::new(keys.pg_vault(log.pool(), local, true)?);
        let point = self.backup_point()?;
        let store: Arc<dyn LogStore> = Arc::new(log);
        let commands = fill_copy(self, &point, store, vault)?;
        Ok(MigrateReport {
            to: redacted(url),
            position: point.head().position,
            head: point.head().to_string(),
            commands,
            keys: point.key_count(),
            records: point.record_count(),
        })
    }
}
