//! How long the writer has been at rest: waiting for a command with no group in flight.
//! Its complement is how busy commands keep it, which webhook delivery reads to yield to
//! commands when they keep the writer busy (`crate::webhooks::pace`).
//!
//! Kept in two atomics the writer moves at each rest's start and end, so a reader on
//! another thread sees a rest in progress too (a writer waiting an hour for its next
//! command has rested that hour, not nothing until the command comes). A version the
//! writer makes odd while it moves them (a sequence lock: one writer, readers retry)
//! lets a reader see both as they were between two moves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Not resting (the value of [`Rests::since`] between rests).
const BUSY: u64 = u64::MAX;

/// The writer's time at rest.
#[derive(Debug)]
pub struct Rests {
    /// Odd while the writer moves `since` and `ended`.
    version: AtomicU64,
    /// Nanoseconds from [`now`]'s start to the start of the rest in progress, or [`BUSY`].
    since: AtomicU64,
    /// Nanoseconds of the rests that ended.
    ended: AtomicU64,
}

impl Default for Rests {
    fn default() -> Self {
        Self {
            version: AtomicU64::new(0),
            since: AtomicU64::new(BUSY),
            ended: AtomicU64::new(0),
        }
    }
}

impl Rests {
    /// The writer starts waiting for a command with nothing in flight. Called by the
    /// writer's thread only.
    pub fn begin(&self) {
        self.moving(|| self.since.store(now(), Ordering::Release));
    }

    /// The writer has a command again. Called by the writer's thread only.
    pub fn end(&self) {
        self.moving(|| {
            let since = self.since.swap(BUSY, Ordering::AcqRel);
            if since != BUSY {
                let rest = now().saturating_sub(since);
                self.ended.fetch_add(rest, Ordering::AcqRel);
            }
        });
    }

    /// Runs `change` with the version odd.
    fn moving(&self, change: impl FnOnce()) {
        self.version.fetch_add(1, Ordering::AcqRel);
        change();
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The time at rest so far, the rest in progress included. Between two readings,
    /// the difference over the wall time between them is the share of that time the
    /// writer rested. A reading that overlaps a rest's start or end is taken again, so
    /// every rest counts once.
    pub fn rested(&self) -> Duration {
        loop {
            let version = self.version.load(Ordering::Acquire);
            if version % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let ended = self.ended.load(Ordering::Acquire);
            let since = self.since.load(Ordering::Acquire);
            if self.version.load(Ordering::Acquire) != version {
                continue;
            }
            let current = if since == BUSY {
                0
            } else {
                now().saturating_sub(since)
            };
            return Duration::from_nanos(ended.saturating_add(current));
        }
    }
}

/// Nanoseconds since the first call in this process (a monotonic clock).
fn now() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(BUSY - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rest_counts_while_it_lasts_and_after_it_ends_and_busy_time_does_not() {
        // Given: a writer that has never rested.
        let rests = Rests::default();
        assert_eq!(rests.rested(), Duration::ZERO);
        // When: it rests 20 ms, Then: the rest in progress is counted.
        rests.begin();
        std::thread::sleep(Duration::from_millis(20));
        let during = rests.rested();
        assert!(during >= Duration::from_millis(20), "{during:?}");
        // When: the rest ends and the writer is busy 20 ms, Then: that is not counted.
        rests.end();
        let after = rests.rested();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(rests.rested(), after);
        assert!(after >= during);
        // And: an end without a start (a command taken off the queue) adds nothing.
        rests.end();
        assert_eq!(rests.rested(), after);
    }
}
