//! Billed seats (R23): users that are invited, active or deactivated, now and as of any
//! past position or time.
//!
//! Only changes of the count are kept, so "as of" is a binary search over a list as
//! long as the number of seat changes, not a replay.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// From `position` (at `at`) on, the org was billed for `seats` seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatChange {
    pub position: u64,
    pub at: DateTime<Utc>,
    pub seats: u64,
}

/// The billed seat count of one org over time.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Billing {
    changes: Vec<SeatChange>,
}

impl Billing {
    /// Records the seat count after the event at `position`, if it changed.
    pub(crate) fn observe(&mut self, position: u64, at: DateTime<Utc>, seats: u64) {
        if seats != self.billed_seats() {
            self.changes.push(SeatChange {
                position,
                at,
                seats,
            });
        }
    }

    /// Seats billed now.
    pub fn billed_seats(&self) -> u64 {
        self.changes.last().map_or(0, |c| c.seats)
    }

    /// Seats billed right after the event at `position`.
    pub fn billed_seats_at_position(&self, position: u64) -> u64 {
        let after = self.changes.partition_point(|c| c.position <= position);
        self.seats_before(after)
    }

    /// Seats billed at `time` (counting every event that occurred at or before it).
    pub fn billed_seats_at_time(&self, time: DateTime<Utc>) -> u64 {
        let after = self.changes.partition_point(|c| c.at <= time);
        self.seats_before(after)
    }

    /// Every change of the count, in log order.
    pub fn changes(&self) -> &[SeatChange] {
        &self.changes
    }

    fn seats_before(&self, index: usize) -> u64 {
        index.checked_sub(1).map_or(0, |i| self.changes[i].seats)
    }
}
