//! When a PostgreSQL node last heard from its database, for `/readyz`: a leader whose
//! lock session has not answered lately may already have lost the lock (the database
//! frees it when it ends a session it cannot reach), and a follower that cannot read the
//! log serves views that silently stop moving. Either should leave the load balancer's
//! rotation well before the node itself notices (the leader gives its session 2 s).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Longest a leader's lock session may go without answering and `/readyz` still say
/// leader: its check every 500 ms (`node.rs`) plus 500 ms for a slow answer.
pub const LEADER_CONTACT: Duration = Duration::from_millis(1_000);

/// Longest a follower may go without reading the log's head and `/readyz` still answer
/// 200: a round of following reads it at least every 250 ms (its poll), so this is
/// several rounds missed.
pub const FOLLOWER_CONTACT: Duration = Duration::from_millis(2_000);

/// The last moment the node's database answered it (the lock session for a leader, a
/// read of the log's head for a follower). Shared by the node's thread and the server.
#[derive(Debug)]
pub struct StoreContact {
    epoch: Instant,
    /// Milliseconds from `epoch` to the last answer.
    last: AtomicU64,
}

impl StoreContact {
    /// Contact made now (the node has just opened on the database).
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// The database answered just now.
    pub fn seen(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long ago it last answered.
    pub fn age(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

impl Default for StoreContact {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_counts_from_the_last_answer() {
        let contact = StoreContact::new();
        std::thread::sleep(Duration::from_millis(30));
        assert!(contact.age() >= Duration::from_millis(30));
        contact.seen();
        assert!(contact.age() < Duration::from_millis(30));
    }
}
