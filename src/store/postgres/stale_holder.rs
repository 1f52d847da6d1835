//! A writer that hangs — a stopped process (SIGSTOP), a machine its hypervisor froze, a
//! deadlocked runtime — keeps its lock session open: the kernel still answers TCP for
//! it, so PostgreSQL never ends the session and no other node could ever lead (a
//! newcomer stopped a leader and saw no failover in 95 s). So the holder shows it is
//! alive: while it holds the lock, a task on the pool's runtime runs a trivial query on
//! the lock's session every [`HEARTBEAT`], and PostgreSQL notes when each ended
//! (`pg_stat_activity.state_change`). A node asking for the lock looks at the holder's
//! session: idle for longer than its `stale_after` ([`STALE_AFTER`] by default) is a
//! holder that stopped, and that session is ended (`pg_terminate_backend`), which frees
//! the lock. A holder that comes back finds its session gone and steps down; anything it
//! still tries to write is refused by the positions (`position_taken`).
//!
//! Ending another session needs the same role, or `pg_signal_backend`: nodes sharing
//! one role (as the README's layout does) have it; without it, a warning says so and a
//! hung holder still blocks until PostgreSQL ends its session.

use std::sync::Arc;
use std::time::Duration;

use super::error::from_pg;
use super::lock::WRITER_LOCK_KEY;
use super::pool::PgPool;
use crate::store::StoreError;

/// How often the holder shows it is alive.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// How long the holder's session may sit idle before a node asking for the lock ends it:
/// twenty missed heartbeats, far beyond a busy process's scheduling delays (the heartbeat
/// runs on the PostgreSQL client's own runtime), so only a holder that stopped is ended.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// The holder's heartbeat; stops when dropped.
#[derive(Debug)]
pub(crate) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    /// Starts the heartbeat on `session` (the lock's); it ends with the session.
    pub fn start(pool: &PgPool, session: Arc<tokio_postgres::Client>) -> Self {
        Self(pool.spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !session.is_closed() {
                every.tick().await;
                let _ = tokio::time::timeout(HEARTBEAT * 4, session.simple_query("SELECT 1")).await;
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What [`end_if_stale`] found of the lock's holder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Holder {
    /// Nobody holds the lock, or its holder's session was busy or idle for less than
    /// `stale_after` (or cannot be seen with this role).
    Alive,
    /// Its session (backend `pid`) had been idle for `idle_s` seconds and was ended.
    Ended { pid: i32, idle_s: f64 },
    /// Its session had been idle too long, but this role may not end it.
    NotAllowed { pid: i32, idle_s: f64 },
}

/// Looks at the session holding the writer lock, from `session`, and ends it when it has
/// been idle for longer than `stale_after`.
///
/// Errors: `store_unreachable` when `session` does not answer.
pub(crate) fn end_if_stale(
    pool: &PgPool,
    session: &Arc<tokio_postgres::Client>,
    stale_after: Duration,
) -> Result<Holder, StoreError> {
    // A bigint advisory key is held as (classid = high 32 bits, objid = low, objsubid 1),
    // per database: other databases on the server have writers of their own.
    let (high, low) = (WRITER_LOCK_KEY >> 32, WRITER_LOCK_KEY & 0xffff_ffff);
    let limit = stale_after.as_secs_f64();
    let (session, target) = (Arc::clone(session), pool.target().clone());
    pool.block(async move {
        let stale = session
            .query_opt(
                "SELECT a.pid, extract(epoch FROM now() - a.state_change)::float8 \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND l.classid::int8 = $1 AND l.objid::int8 = $2 AND a.state = 'idle' \
                 AND now() - a.state_change > make_interval(secs => $3)",
                &[&high, &low, &limit],
            )
            .await
            .map_err(|e| from_pg(e, &target))?;
        let Some(row) = stale else {
            return Ok(Holder::Alive);
        };
        let (pid, idle_s): (i32, f64) = (row.get(0), row.get(1));
        let ended = session
            .query_one("SELECT pg_terminate_backend($1)", &[&pid])
            .await;
        Ok(match ended {
            Ok(row) if row.get::<_, bool>(0) => Holder::Ended { pid, idle_s },
            Ok(_) => Holder::Alive,
            Err(_) => Holder::NotAllowed { pid, idle_s },
        })
    })
}
