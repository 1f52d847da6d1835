//! The log on PostgreSQL: the same [`LogStore`](super::LogStore) contract as sled, for
//! deployments that already run PostgreSQL (its replication, its backups).
//!
//! [`PgPool`] is the connection pool and the bridge from synchronous callers to the async
//! driver; [`schema`] creates and upgrades the tables by versioned migrations;
//! [`PostgresLog`] is the store, and [`WriterLock`] the session-level advisory lock that
//! admits one writer per database.

mod cluster;
mod error;
mod lock;
mod log;
mod pool;
mod quiet_migrations;
pub mod schema;
mod stale_holder;

pub use cluster::{leader_address, publish_leader, wait_for_earlier_writers, HeadWatch};
pub use error::Target;
pub use lock::{Candidate, WriterLock, WRITER_LOCK_KEY};
pub use log::PostgresLog;
pub use pool::{PgError, PgPool};
pub use stale_holder::{HEARTBEAT, STALE_AFTER};
