//! The client the migrations run on: refinery's own for `tokio-postgres`, except that
//! its `CREATE TABLE IF NOT EXISTS refinery_schema_history`, sent on every takeover,
//! runs with `SET LOCAL client_min_messages = warning`. PostgreSQL answers that
//! statement with a NOTICE whenever the table exists (every start but the first), and
//! the driver logs every NOTICE. Only that statement's transaction is quieted: a
//! migration's own notices, and every other statement's, are logged as before.

use async_trait::async_trait;
use refinery_core::traits::r#async::{AsyncMigrate, AsyncQuery, AsyncTransaction};
use refinery_core::Migration;
use tokio_postgres::Client;

/// A client whose migrations-table check sends no NOTICE.
pub(super) struct Quiet<'a>(pub &'a mut Client);

#[async_trait]
impl AsyncTransaction for Quiet<'_> {
    type Error = tokio_postgres::Error;

    async fn execute<'a, T: Iterator<Item = &'a str> + Send>(
        &mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        AsyncTransaction::execute(self.0, queries).await
    }
}

#[async_trait]
impl AsyncQuery<Vec<Migration>> for Quiet<'_> {
    async fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        AsyncQuery::query(self.0, query).await
    }
}

impl AsyncMigrate for Quiet<'_> {
    fn assert_migrations_table_query(migration_table_name: &str) -> String {
        // Sent alone in its own transaction (refinery's `execute`), so SET LOCAL ends
        // with it.
        format!(
            "SET LOCAL client_min_messages = warning; {}",
            <Client as AsyncMigrate>::assert_migrations_table_query(migration_table_name)
        )
    }
}
