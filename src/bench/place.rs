//! Where a benchmark's logs live: fresh data directories under one temporary directory
//! (sled, the embedded default), or fresh databases on one PostgreSQL server
//! (`offboard --store URL bench`), so every scenario starts from an empty log on either
//! store and the two can be put side by side.

use std::path::{Path, PathBuf};

use super::{fail, BenchError};
use crate::engine::Options;
use crate::store::postgres::PgPool;
use crate::store::Location;
use crate::Engine;

/// Prefix of the databases a PostgreSQL run creates (and drops again at the start of
/// the next run of the same scenario).
const DATABASE_PREFIX: &str = "offboard_bench_";

/// The stores a run's scenarios open their logs in.
#[derive(Debug)]
pub struct Place {
    /// A temporary directory: sled's data directories, or PostgreSQL's local directories
    /// and the scenarios' scratch files.
    base: PathBuf,
    postgres: Option<Server>,
}

/// The PostgreSQL server a run creates its databases on.
#[derive(Debug)]
struct Server {
    /// The URL given (`postgres://…/DB`); each scenario's database replaces `DB`.
    url: url::Url,
    admin: PgPool,
}

impl Place {
    /// Logs in data directories under `base`.
    pub fn sled(base: &Path) -> Self {
        Self {
            base: base.to_path_buf(),
            postgres: None,
        }
    }

    /// Logs in new databases on the server of `url` (whose own database is used only to
    /// create and drop them), local files under `base`.
    ///
    /// Errors: a URL that is not `postgres://`/`postgresql://` with a host, or a server
    /// that cannot be reached.
    pub fn postgres(base: &Path, url: &str) -> Result<Self, BenchError> {
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgres" | "postgresql") && u.has_host())
            .ok_or_else(|| fail("--store for bench must be a postgres://USER@HOST:PORT/DB URL"))?;
        let admin = PgPool::connect(url).map_err(fail)?;
        Ok(Self {
            base: base.to_path_buf(),
            postgres: Some(Server { url: parsed, admin }),
        })
    }

    /// `sled` or `PostgreSQL`, for the report.
    pub fn store(&self) -> &'static str {
        match self.postgres {
            None => "sled",
            Some(_) => "PostgreSQL",
        }
    }

    /// The PostgreSQL URL of the scenario `name`'s database (`None` on sled).
    pub fn postgres_url(&self, name: &str) -> Option<String> {
        self.postgres.as_ref().map(|server| {
            let mut url = server.url.clone();
            url.set_path(&database(name));
            url.to_string()
        })
    }

    /// A scratch path for the scenario `name` (an export file, a directory).
    pub fn path(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    /// An engine on a new, empty log named `name` (a database created for it on
    /// PostgreSQL, dropping what an earlier run left under that name).
    pub fn open(&self, name: &str, options: Options) -> Result<Engine, BenchError> {
        self.fresh_database(name)?;
        self.reopen(name, options)
    }

    /// On PostgreSQL, a new empty database for `name` (dropping what an earlier run left
    /// under that name) and its URL; `None` on sled.
    pub fn fresh_database(&self, name: &str) -> Result<Option<String>, BenchError> {
        let Some(server) = &self.postgres else {
            return Ok(None);
        };
        let quoted = format!("\"{}\"", database(name));
        server
            .admin
            .run(move |client| async move {
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
                    .await?;
                client
                    .batch_execute(&format!("CREATE DATABASE {quoted}"))
                    .await?;
                Ok(())
            })
            .map_err(fail)?;
        Ok(self.postgres_url(name))
    }

    /// An engine on the log `name` as an earlier [`Place::open`] left it.
    pub fn reopen(&self, name: &str, options: Options) -> Result<Engine, BenchError> {
        let location =
            Location::choose(self.postgres_url(name).as_deref(), self.path(name)).map_err(fail)?;
        Engine::open_at_with(&location, options).map_err(fail)
    }
}

/// The database of scenario `name`: a plain identifier (no quoting surprises).
fn database(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_lowercase(),
            false => '_',
        })
        .collect();
    format!("{DATABASE_PREFIX}{safe}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_name_becomes_a_plain_database_name() {
        assert_eq!(
            database("http-1-true"),
            "offboard_bench_http_1_true".to_owned()
        );
    }
}
