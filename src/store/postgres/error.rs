//! Driver and pool errors as [`StoreError`]s naming the server (`host:port/database`),
//! never the password: a server that does not answer is `store_unreachable`, anything
//! else `storage`.

use std::fmt;

use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;

use crate::store::StoreError;

/// `host:port/database` of a server, as messages name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    /// The first host and port of `config` and its database (PostgreSQL's defaults when
    /// the URL leaves them out).
    pub fn of(config: &tokio_postgres::Config) -> Self {
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(dir)) => dir.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres");
        Target(format!("{host}:{port}/{db}"))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A driver error: `store_unreachable` when the connection could not be made or was
/// lost, or the login was refused; `storage` otherwise.
pub fn from_pg(e: tokio_postgres::Error, target: &Target) -> StoreError {
    let refused_login = e.code().is_some_and(|code| {
        *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            || *code == SqlState::INVALID_CATALOG_NAME
    });
    if refused_login || e.is_closed() || is_io(&e) {
        return StoreError::Unreachable {
            target: target.to_string(),
            why: reason(&e),
        };
    }
    StoreError::Io(format!("PostgreSQL at {target}: {}", reason(&e)))
}

/// A pool error: as [`from_pg`] for the driver's, `store_unreachable` for a timeout.
pub fn from_pool(e: deadpool_postgres::PoolError, target: &Target) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => from_pg(e, target),
        other => StoreError::Unreachable {
            target: target.to_string(),
            why: other.to_string(),
        },
    }
}

/// The server's own message when it sent one, else the driver's with its cause.
fn reason(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => db.message().to_owned(),
        (None, Some(source)) => format!("{e}: {source}"),
        (None, None) => e.to_string(),
    }
}

fn is_io(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}
