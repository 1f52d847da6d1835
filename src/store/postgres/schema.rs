//! The schema, created on first open and upgraded on later ones by versioned migrations
//! (`refinery`): `migrations/V<n>__<what>.sql`, applied in order, each once, each in its
//! own transaction, recorded in `refinery_schema_history`. A migration, once released, is
//! never edited: a change is a new file.

use super::pool::{PgError, PgPool};
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
        let client: &mut tokio_postgres::Client = &mut client;
        migrations::runner()
            .run_async(client)
            .await
            .map(|_| ())
            .map_err(|e| {
                PgError::Store(StoreError::Io(format!(
                    "PostgreSQL at {target}: the schema migration failed: {e}"
                )))
            })
    })
}
