//! What crypto-shredding leaves behind: after a purge destroys a user's key, which copies
//! of it may still exist, and for how long. The purge answer (`key_destruction`, CLI and
//! API) says it in plain words rather than promising an erasure the store cannot give.
//!
//! The window comes from a setting, `--backup-retention DURATION` (env
//! `OFFBOARD_BACKUP_RETENTION`, e.g. `30d`): how long the operators keep the database's
//! backups and WAL archive. Unset, the answer says the window is unknown.

use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The environment variable of the backup retention (as `--backup-retention`).
pub const BACKUP_RETENTION_ENV: &str = "OFFBOARD_BACKUP_RETENTION";

/// How long the store's backups (and WAL archive, replicas' lag included) are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupRetention {
    /// As the operator wrote it (`30d`), for answers.
    pub text: String,
    pub duration: Duration,
}

impl BackupRetention {
    /// Reads `30d`, `2w`, `36h`, `1month` (humantime's units). Errors: what is wrong,
    /// in words, for `invalid_input`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let duration = humantime::parse_duration(text.trim()).map_err(|e| {
            format!("backup retention {text:?} is not a duration such as 30d, 2w or 36h: {e}")
        })?;
        Ok(Self {
            text: text.trim().to_owned(),
            duration,
        })
    }

    /// The retention in [`BACKUP_RETENTION_ENV`], if set. Errors as [`Self::parse`].
    pub fn from_env() -> Result<Option<Self>, String> {
        match std::env::var(BACKUP_RETENTION_ENV) {
            Ok(text) if !text.trim().is_empty() => Self::parse(&text).map(Some),
            _ => Ok(None),
        }
    }
}

/// What may still hold a purged user's key once it is destroyed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyRemnants {
    /// Where the key was kept: `files` (the data directory's `keys/`), `postgres` (a
    /// table row) or `memory`.
    pub store: String,
    /// In plain words: what is gone, what may still hold the key, and until when.
    pub statement: String,
    /// The configured backup retention (`--backup-retention`, e.g. `30d`); `null` when
    /// not configured, so the window is unknown.
    pub backup_retention: Option<String>,
    /// Until when a copy of the key may exist: the purge's time plus the retention;
    /// `null` when the retention is unknown.
    pub may_exist_until: Option<DateTime<Utc>>,
}

impl KeyRemnants {
    /// The remnants of a key destroyed at `at` from a shelf of kind `store`: `gone` says
    /// what was destroyed, `copies` what may keep it; the window is `retention` after `at`.
    pub fn after(
        store: &str,
        gone: &str,
        copies: &str,
        retention: Option<&BackupRetention>,
        at: DateTime<Utc>,
    ) -> Self {
        let until = retention
            .and_then(|r| chrono::Duration::from_std(r.duration).ok())
            .and_then(|d| at.checked_add_signed(d));
        let window = match (retention, until) {
            (Some(r), Some(until)) => format!(
                "{copies} for up to {} (the configured backup retention), so until {}.",
                r.text,
                until.format("%Y-%m-%d %H:%M UTC")
            ),
            _ => format!(
                "{copies} until they expire; how long is unknown here (set --backup-retention \
                 or OFFBOARD_BACKUP_RETENTION to the backups' retention)."
            ),
        };
        Self {
            store: store.to_owned(),
            statement: format!("{gone} {window}"),
            backup_retention: retention.map(|r| r.text.clone()),
            may_exist_until: until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_named_when_known_and_called_unknown_otherwise() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let thirty = BackupRetention::parse("30d").unwrap();
        let known = KeyRemnants::after(
            "postgres",
            "Deleted.",
            "Backups may keep it",
            Some(&thirty),
            at,
        );
        assert_eq!(known.backup_retention.as_deref(), Some("30d"));
        assert_eq!(
            known.may_exist_until.map(|t| t.to_rfc3339()),
            Some("2026-12-31T10:00:00+00:00".to_owned())
        );
        assert!(known.statement.contains("up to 30d"), "{}", known.statement);
        assert!(
            known.statement.contains("2026-12-31"),
            "{}",
            known.statement
        );
        let unknown = KeyRemnants::after("postgres", "Deleted.", "Backups may keep it", None, at);
        assert_eq!(unknown.may_exist_until, None);
        assert!(
            unknown.statement.contains("unknown"),
            "{}",
            unknown.statement
        );
        assert!(BackupRetention::parse("soon").is_err());
        assert_eq!(
            BackupRetention::parse("2w").unwrap().duration,
            Duration::from_secs(14 * 86_400)
        );
    }
}
