//! The single writer: a session-level advisory lock (`pg_try_advisory_lock`) taken on a
//! connection of its own and held for the store's life. A second process that opens the
//! same database for writing is refused with `store_in_use`; a process that dies loses
//! its session, and with it the lock, at once.
//!
//! The lock is advice between offboard processes, not a fence: what keeps a writer that
//! lost its session from overwriting is the events' primary key (`position_taken`).

use std::sync::Arc;
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
    session: Option<Arc<tokio_postgres::Client>>,
}

impl WriterLock {
    /// Waits up to `patience` for the lock to be free and takes it on `candidate`'s
    /// session; hands the candidate back while another session holds it (a follower asks
    /// again and again on the same session).
    ///
    /// Errors: `store_unreachable` when the session ended or does not answer.
    pub fn try_take(candidate: Candidate) -> Result<Result<Self, Candidate>, StoreError> {
        let Candidate { pool, session } = candidate;
        if session.is_closed() {
            return Err(StoreError::Unreachable {
                target: pool.target().to_string(),
                why: "the session asking for the writer lock ended".to_owned(),
            });
        }
        let (session, taken) = try_lock(&pool, session)?;
        Ok(if taken {
            Ok(Self {
                pool,
                session: Some(session),
            })
        } else {
            Err(Candidate { pool, session })
        })
    }

    /// Whether the lock's session is known to have ended (no round trip: the connection
    /// saw the server close it). `false` proves nothing; [`WriterLock::alive`] asks.
    pub fn lost(&self) -> bool {
        self.session.as_ref().is_none_or(|s| s.is_closed())
    }

    /// Whether the session holding the lock still answers within `patience`: when it does
    /// not, the lock may already be another node's (the server ends a session it cannot
    /// reach, and frees its locks).
    pub fn alive(&self, patience: Duration) -> bool {
        let Some(session) = &self.session else {
            return false;
        };
        if session.is_closed() {
            return false;
        }
        let session = Arc::clone(session);
        self.pool
            .block(async move {
                let probe = session.simple_query("SELECT 1");
                Ok(tokio::time::timeout(patience, probe).await)
            })
            .is_ok_and(|answer| answer.is_ok_and(|r| r.is_ok()))
    }

    /// Takes the lock on its own session, waiting up to 3 s (`LOCK_PATIENCE`) for a previous
    /// holder in this process to let go; still held after that is `store_in_use`.
    pub fn acquire(pool: &PgPool) -> Result<Self, StoreError> {
        let mut session = Arc::new(pool.dedicated()?);
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

/// A session of its own that asks for the writer lock ([`WriterLock::try_take`]).
#[derive(Debug)]
pub struct Candidate {
    pool: PgPool,
    session: Arc<tokio_postgres::Client>,
}

impl Candidate {
    /// Opens the session. Errors: `store_unreachable`.
    pub fn open(pool: &PgPool) -> Result<Self, StoreError> {
        Ok(Self {
            pool: pool.clone(),
            session: Arc::new(pool.dedicated()?),
        })
    }
}

/// One `pg_try_advisory_lock` on `session`, handed back with whether it was taken.
fn try_lock(
    pool: &PgPool,
    session: Arc<tokio_postgres::Client>,
) -> Result<(Arc<tokio_postgres::Client>, bool), StoreError> {
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
        // `drop` returns, so this process may reopen at once. A session that does not
        // answer within a second (a partition) is left to end on its own: the server
        // frees the lock when it notices.
        if let Some(session) = self.session.take() {
            let _ = self.pool.block(async move {
                let unlock = session.execute("SELECT pg_advisory_unlock($1)", &[&WRITER_LOCK_KEY]);
                let _ = tokio::time::timeout(Duration::from_secs(1), unlock).await;
                Ok(())
            });
        }
    }
}
