//! The single writer: a session-level advisory lock (`pg_try_advisory_lock`) taken on a
//! connection of its own and held for the store's life. A second process that opens the
//! same database for writing is refused with `store_in_use`; a process that dies loses
//! its session, and with it the lock, at once.
//!
//! The lock is advice between offboard processes, not a fence: what keeps a writer that
//! lost its session from overwriting is the events' primary key (`position_taken`).

use std::time::{Duration, Instant};

use super::error::from_pg;
use super::pool::PgPool;
use crate::store::dir_lock::LOCK_PATIENCE;
use crate::store::StoreError;

/// The advisory lock's key: "offboard" in ASCII, so it reads as ours in `pg_locks`.
pub const WRITER_LOCK_KEY: i64 = 0x6f66_6662_6f61_7264;

/// The writer's hold on a database, released when dropped.
#[derive(Debug)]
pub struct WriterLock {
    pool: PgPool,
    session: Option<tokio_postgres::Client>,
}

impl WriterLock {
    /// Takes the lock on its own session, waiting up to 3 s (`LOCK_PATIENCE`) for a previous
    /// holder in this process to let go; still held after that is `store_in_use`.
    pub fn acquire(pool: &PgPool) -> Result<Self, StoreError> {
        let mut session = pool.dedicated()?;
        let started = Instant::now();
        loop {
            let (back, taken) = try_lock(pool, session)?;
            session = back;
            if taken {
                return Ok(Self {
                    pool: pool.clone(),
                    session: Some(session),
                });
            }
            if started.elapsed() >= LOCK_PATIENCE {
                return Err(StoreError::InUse {
                    target: pool.target().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One `pg_try_advisory_lock` on `session`, handed back with whether it was taken.
fn try_lock(
    pool: &PgPool,
    session: tokio_postgres::Client,
) -> Result<(tokio_postgres::Client, bool), StoreError> {
    let target = pool.target().clone();
    pool.block(async move {
        let row = session
            .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK_KEY])
            .await
            .map_err(|e| from_pg(e, &target))?;
        Ok((session, row.get::<_, bool>(0)))
    })
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Ending the session releases the lock; unlocking first makes it free by the time
        // `drop` returns, so this process may reopen at once.
        if let Some(session) = self.session.take() {
            let _ = self.pool.block(async move {
                let _ = session
                    .execute("SELECT pg_advisory_unlock($1)", &[&WRITER_LOCK_KEY])
                    .await;
                Ok(())
            });
        }
    }
}
