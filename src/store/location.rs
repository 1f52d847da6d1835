//! Where a log lives: a data directory (sled, the embedded default) or a PostgreSQL
//! database, chosen by `--store URL` (env `OFFBOARD_STORE`) beside `--data`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::StoreError;

/// A log's place, as the CLI and `Engine::open_at` take it.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A data directory: the sled log, its key vault and its checkpoint files.
    Dir(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`) holding the log and
    /// the checkpoints and the wrapped personal-data keys; `local` is the node's own
    /// directory (the default key-encryption key, `local/offboard.kek`).
    Postgres { url: String, local: PathBuf },
}

impl Location {
    /// `store` when given (a PostgreSQL URL), else the data directory `data`; `data` is
    /// the PostgreSQL store's local directory.
    ///
    /// Errors: `store_url_invalid` for a `--store` that is not a `postgres://` or
    /// `postgresql://` URL.
    pub fn choose(store: Option<&str>, data: PathBuf) -> Result<Self, StoreError> {
        match store {
            None => Ok(Location::Dir(data)),
            Some(url) if is_postgres_url(url) => Ok(Location::Postgres {
                url: url.to_owned(),
                local: data,
            }),
            Some(other) => Err(StoreError::BadUrl {
                why: format!(
                    "{:?} is not a postgres:// or postgresql:// URL (for a data directory, use --data)",
                    redacted(other)
                ),
            }),
        }
    }

    /// The data directory of a sled log; `None` for PostgreSQL.
    pub fn data_dir(&self) -> Option<&Path> {
        match self {
            Location::Dir(dir) => Some(dir),
            Location::Postgres { .. } => None,
        }
    }

    /// The directory for files beside the log: the data directory, or PostgreSQL's
    /// `local` directory.
    pub fn local_dir(&self) -> &Path {
        match self {
            Location::Dir(dir) => dir,
            Location::Postgres { local, .. } => local,
        }
    }
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Never prints a password.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            Location::Postgres { url, local } => f
                .debug_struct("Postgres")
                .field("url", &redacted(url))
                .field("local", local)
                .finish(),
        }
    }
}

/// The directory, or the redacted URL.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Dir(dir) => write!(f, "{}", dir.display()),
            Location::Postgres { url, .. } => f.write_str(&redacted(url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows_in_a_location() {
        let at = Location::choose(
            Some("postgres://app:s3cret@db.example:5433/offboard"),
            "./keys".into(),
        )
        .unwrap();
        assert_eq!(
            at.to_string(),
            "postgres://app:***@db.example:5433/offboard"
        );
        assert!(!format!("{at:?}").contains("s3cret"));
    }

    #[test]
    fn no_store_is_the_data_directory_and_another_scheme_is_refused() {
        let dir = Location::choose(None, "./d".into()).unwrap();
        assert_eq!(dir.data_dir(), Some(Path::new("./d")));
        let err = Location::choose(Some("mysql://x@y/z"), "./d".into()).unwrap_err();
        assert_eq!(err.code(), "store_url_invalid");
    }
}
