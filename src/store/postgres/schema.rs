//! The schema, created on first open and upgraded on later ones by versioned migrations
//! (`refinery`): `migrations/V<n>__<what>.sql`, applied in order, each once, each in its
//! own transaction, recorded in `refinery_schema_history`. A migration, once released, is
//! never edited: a change is a new file. They run on [`Quiet`], so the check for that
//! table logs no NOTICE at each start.

use super::pool::{PgError, PgPool};
use super::quiet_migrations::Quiet;
use crate::store::StoreError;

refinery::embed_migrations!("src/store/postgres/migrations");

/// Applies every migration the database has not had yet. Run by the writer, under its
/// lock, so two processes never migrate at once. **Durability: when it returns `Ok`,
/// every migration is committed.**
///
/// Errors: `storage` naming the migration that failed (nothing of it is applied).
pub fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let target = pool.target().clone();
    pool.run(move |mut client| async move {
        run_migrations(&mut client).await.map_err(|e| {
            PgError::Store(StoreError::Io(format!(
                "PostgreSQL at {target}: the schema migration failed: {e}"
            )))
        })
    })
}

/// Applies every migration `client`'s database has not had yet, on the quiet client
/// (no NOTICE for the history table that already exists). [`migrate`] on one
/// connection, for those holding one (and tests that listen for notices).
/// **Durability: when it returns `Ok`, every migration is committed.**
pub async fn run_migrations(client: &mut tokio_postgres::Client) -> Result<(), refinery::Error> {
    migrations::runner()
        .run_async(&mut Quiet(client))
        .await
        .map(|_| ())
}

/// Whether the database has every migration this build knows (a follower waits for the
/// node that took the writer lock to apply them).
///
/// Errors: `storage` or `store_unreachable` from the database.
pub fn is_current(pool: &PgPool) -> Result<bool, StoreError> {
    let latest = migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .max()
        .unwrap_or(0);
    pool.run(move |client| async move {
        let exists: bool = client
            .query_one(
                "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
                &[],
            )
            .await?
            .get(0);
        if !exists {
            return Ok(false);
        }
        let applied: Option<i32> = client
            .query_one("SELECT max(version) FROM refinery_schema_history", &[])
            .await?
            .get(0);
        Ok(applied.is_some_and(|v| v >= latest))
    })
}
