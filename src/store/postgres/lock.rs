//! The single writer: a session-level advisory lock (`pg_try_advisory_lock`) taken on a
//! connection of its own and held for the store's life. A second process that opens the
//! same database for writing is refused with `store_in_use`; a process that dies loses
//! its session, and with it the lock, at once.
//!
//! The lock is advice between offboard processes, not a fence: what keeps a writer that
//! lost its session from overwriting is the events' primary key (`position_taken`).
//! A holder that hangs with its session open is ended by the next node that asks
//! (`stale_holder.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::from_pg;
use super::pool::PgPool;
use super::stale_holder::{end_if_stale, Heartbeat, Holder, STALE_AFTER};
use crate::store::dir_lock::LOCK_PATIENCE;
use crate::store::StoreError;

/// The advisory lock's key: "offboard" in ASCII, so it reads as ours in `pg_locks`.
pub const WRITER_LOCK_KEY: i64 = 0x6f66_6662_6f61_7264;

/// The writer's hold on a database, released when dropped.
#[derive(Debug)]
pub struct WriterLock {
    pool: PgPool,
    session: Option<Arc<tokio_postgres::Client>>,
    /// Shows the lock's askers that this holder is alive (`stale_holder.rs`).
    heartbeat: Option<Heartbeat>,
}

impl WriterLock {
    /// Waits up to `patience` for the lock to be free and takes it on `candidate`'s
    /// session; hands the candidate back while another session holds it (a follower asks
    /// again and again on the same session).
    ///
    /// Errors: `store_unreachable` when the session ended or does not answer.
    ///
    /// While another session holds it, at most once a second the candidate also looks at
    /// that session, and ends it when it has been idle past the candidate's
    /// [`Candidate::stale_after`]: a holder that hung (`stale_holder.rs`).
    pub fn try_take(mut candidate: Candidate) -> Result<Result<Self, Candidate>, StoreError> {
        if candidate.session.is_closed() {
            return Err(StoreError::Unreachable {
                target: candidate.pool.target().to_string(),
                why: "the session asking for the writer lock ended".to_owned(),
            });
        }
        let (session, taken) = try_lock(&candidate.pool, candidate.session)?;
        if taken {
            return Ok(Ok(Self::held(candidate.pool, session)));
        }
        candidate.session = session;
        candidate.look_at_the_holder()?;
        Ok(Err(candidate))
    }

    /// The lock, held on `session`, with its heartbeat started.
    fn held(pool: PgPool, session: Arc<tokio_postgres::Client>) -> Self {
        let heartbeat = Heartbeat::start(&pool, Arc::clone(&session));
        Self {
            pool,
            session: Some(session),
            heartbeat: Some(heartbeat),
        }
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
                return Ok(Self::held(pool.clone(), session));
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
    stale_after: Duration,
    /// When the holder was last looked at.
    looked: Option<Instant>,
}

impl Candidate {
    /// Opens the session. Errors: `store_unreachable`.
    pub fn open(pool: &PgPool) -> Result<Self, StoreError> {
        Ok(Self {
            pool: pool.clone(),
            session: Arc::new(pool.dedicated()?),
            stale_after: STALE_AFTER,
            looked: None,
        })
    }

    /// How long the holder's session may sit idle before this candidate ends it
    /// ([`STALE_AFTER`] unless set; tests shorten it).
    pub fn stale_after(mut self, idle: Duration) -> Self {
        self.stale_after = idle;
        self
    }

    /// Ends the holder's session if it hung (at most one look a second).
    fn look_at_the_holder(&mut self) -> Result<(), StoreError> {
        if self
            .looked
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return Ok(());
        }
        self.looked = Some(Instant::now());
        match end_if_stale(&self.pool, &self.session, self.stale_after)? {
            Holder::Alive => {}
            Holder::Ended { pid, idle_s } => tracing::warn!(
                "offboard: the writer lock's holder (PostgreSQL backend {pid}) had not answered for {idle_s:.1} s: its session was ended so that another node can lead"
            ),
            Holder::NotAllowed { pid, idle_s } => tracing::warn!(
                "offboard: the writer lock's holder (PostgreSQL backend {pid}) has not answered for {idle_s:.1} s, but this role may not end its session (grant it pg_signal_backend): no node can lead until PostgreSQL ends it"
            ),
        }
        Ok(())
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
        self.heartbeat = None;
        if let Some(session) = self.session.take() {
            let _ = self.pool.block(async move {
                let unlock = session.execute("SELECT pg_advisory_unlock($1)", &[&WRITER_LOCK_KEY]);
                let _ = tokio::time::timeout(Duration::from_secs(1), unlock).await;
                Ok(())
            });
        }
    }
}
