//! How a node finds the key-encryption key of a store on PostgreSQL, and the backup
//! retention its purge answers state: `--kek-file` / `OFFBOARD_KEK_FILE`, else
//! `OFFBOARD_KEK`, else `DATA/offboard.kek` — created for a new store, so a first `init`
//! works without ceremony, and refused (`kek_missing`) for a store whose keys are already
//! wrapped, so a node without the KEK never reads anyone as erased.

use std::path::{Path, PathBuf};

use super::kek::{Kek, KekError};
use super::pg_shelf::PgShelf;
use super::remnants::BackupRetention;
use super::KeyVault;
use crate::store::{private_file, PgPool, StoreError};

/// The KEK's file in a node's local directory when no setting names one.
pub const DEFAULT_KEK_FILE: &str = "offboard.kek";

/// How a store on PostgreSQL finds its KEK and states its backup window.
#[derive(Clone, Debug, Default)]
pub struct KeySettings {
    /// `--kek-file`; when `None`, `OFFBOARD_KEK_FILE`, then `OFFBOARD_KEK`.
    pub kek_file: Option<PathBuf>,
    /// `--backup-retention`; when `None`, `OFFBOARD_BACKUP_RETENTION`.
    pub backup_retention: Option<BackupRetention>,
}

impl KeySettings {
    /// The KEK these settings name, else `local/offboard.kek`: read if it is there,
    /// created (0600) if not and the store is `new` (no key wrapped yet), with a warning
    /// saying to copy it to every node. Errors: `kek_missing` for a store whose keys are
    /// wrapped already when no KEK is found, `kek_invalid` for one that cannot be a KEK.
    pub fn kek_for(&self, local: &Path, new: bool) -> Result<Kek, KekError> {
        if let Some(kek) = Kek::from_settings(self.kek_file.as_deref())? {
            return Ok(kek);
        }
        let default = local.join(DEFAULT_KEK_FILE);
        if default.exists() {
            return Kek::from_file(&default);
        }
        if !new {
            return Err(KekError::Missing {
                default: default.display().to_string(),
            });
        }
        private_file::create_dir_all(local).map_err(|e| KekError::Unusable {
            from: default.display().to_string(),
            problem: format!("its folder cannot be created: {e}"),
        })?;
        let kek = Kek::create_file(&default)?;
        tracing::warn!(
            "offboard: created the key-encryption key {} (id {}) for this new store: every node needs a copy (--kek-file), kept apart from the database's backups",
            default.display(),
            kek.id()
        );
        Ok(kek)
    }

    /// The key vault of the PostgreSQL store on `pool`: its KEK found as
    /// [`KeySettings::kek_for`] says (created in `local` only when `may_create` and the
    /// store has no KEK yet), checked against the store's, with the backup window given.
    /// **Durability: when it returns `Ok`, a new store's KEK id is committed.**
    ///
    /// Errors: `kek_missing`, `kek_invalid`, `kek_wrong`, and the database's.
    pub fn pg_vault(
        &self,
        pool: &PgPool,
        local: &Path,
        may_create: bool,
    ) -> Result<KeyVault, StoreError> {
        let new = may_create && PgShelf::is_new(pool)?;
        let kek = self.kek_for(local, new)?;
        let shelf = PgShelf::open(pool.clone(), kek, self.retention()?)?;
        KeyVault::on_shelf(Box::new(shelf))
    }

    /// The retention given, else the environment's. Errors: `storage` naming a value
    /// in the environment that is not a duration.
    pub fn retention(&self) -> Result<Option<BackupRetention>, StoreError> {
        match &self.backup_retention {
            Some(r) => Ok(Some(r.clone())),
            None => BackupRetention::from_env().map_err(StoreError::Io),
        }
    }
}
