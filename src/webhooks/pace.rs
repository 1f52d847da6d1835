//! Deliveries yield to commands: while commands keep the writer busy, every request the
//! delivery tasks send waits its turn under one shared rate ([`WebhookOptions::pace`],
//! deliveries a second for all subscriptions together); otherwise they go as fast as
//! their receivers answer.
//!
//! Why: on a machine of two cores, any CPU work beside the writer costs it throughput,
//! whatever its priority. Measured with `offboard bench --only throughput` beside two
//! busy loops at nice 19: 21,400 and 29,000 cmd/s against 27,300 and 32,500 without
//! them; ten subscriptions delivering 10,000–14,000 events/s cost the 64 clients 18–23 %
//! (`--only webhooks`, docs/performance.md). Lower priority ([`super::priority`]) does
//! not prevent it, a fixed cap would slow delivery on an idle machine, and so the cap
//! applies only while commands keep the writer busy: then subscriptions fall behind
//! (their lag is on `/metrics`) and catch up at full speed once commands slow down.
//!
//! Busy is read every [`SAMPLE`] from the writer's rests ([`Engine::writer_rested`]):
//! pacing starts once the writer was busy [`BUSY_SHARE`] of a sample and lasts until it
//! is busy less than [`CALM_SHARE`] of one (so one sample that dips, a checkpoint or a
//! pause of the clients, does not let ten subscriptions' backlog out at once); never on a
//! node that does not write. Until the first sample, deliveries are paced: delivery
//! starting beside a busy writer (`serve` restarted under load) does not first send a
//! tenth of a second of every backlog at full speed, and beside an idle one it loses a
//! tenth of a second at the pace.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{watch, Mutex};

use crate::Engine;

/// How often the writer's busy share is read.
pub const SAMPLE: Duration = Duration::from_millis(100);

/// The share of a sample the writer must be busy (a group being decided, written or
/// synced: the wait for the disk counts) for deliveries to be paced. Clients that send
/// back to back keep it busy, even one: 64 of them read 0.99–1.00, and one alone was
/// paced too (a tester measured that one client's rate: 1,450 cmd/s with deliveries
/// paced, 890 unpaced).
/// Commands arriving at a steady 5,000 a second in bursts every 10 ms read about 0.25.
pub const BUSY_SHARE: f64 = 0.9;

/// The share of a sample below which pacing ends. Under 64 clients a sample dips to
/// 0.78 now and then.
pub const CALM_SHARE: f64 = 0.5;

/// The pace of all deliveries, shared by the tasks.
#[derive(Debug)]
pub struct Pace {
    /// `None` when deliveries are never paced (`pace` 0).
    limiter: Option<DefaultDirectRateLimiter>,
    /// The line of tasks waiting for a turn (tokio's mutex is first come, first
    /// served): one waits on the limiter's timer, not every task every millisecond.
    line: Mutex<()>,
    /// `offboard_webhook_paced`: 1 while paced; the one record of whether it is.
    gauge: Gauge,
}

impl Pace {
    /// A pace of `per_second` deliveries for all subscriptions while the writer is busy
    /// (0: never paced), bursts of a hundredth of a second, in force until the first
    /// [`Pace::observe`]; `gauge` shows when it applies.
    pub fn new(per_second: u32, gauge: Gauge) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(per_second / 100).unwrap_or(NonZeroU32::MIN);
            let period = Duration::from_secs(1) / rate.get();
            let quota = Quota::with_period(period)
                .unwrap_or_else(|| Quota::per_second(rate))
                .allow_burst(burst);
            RateLimiter::direct(quota)
        });
        gauge.set(i64::from(limiter.is_some()));
        Self {
            limiter,
            line: Mutex::new(()),
            gauge,
        }
    }

    /// Whether requests wait their turn now.
    pub fn is_paced(&self) -> bool {
        self.gauge.get() == 1
    }

    /// Paces deliveries from now on if the writer was busy `busy` of the last sample
    /// (a share, 0 to 1): from [`BUSY_SHARE`] on, and while paced down to [`CALM_SHARE`].
    pub fn observe(&self, busy: f64) {
        let threshold = if self.is_paced() {
            CALM_SHARE
        } else {
            BUSY_SHARE
        };
        let paced = self.limiter.is_some() && busy >= threshold;
        self.gauge.set(i64::from(paced));
    }

    /// Waits until one more request may go: at once unless paced. The wait is a tokio
    /// timer on the delivery runtime's own (lower-priority) threads: governor's own
    /// `until_ready` waits on a `futures-timer` thread at the process's priority, woken
    /// thousands of times a second while paced.
    pub async fn turn(&self) {
        let Some(limiter) = self.limiter.as_ref() else {
            return;
        };
        if !self.is_paced() {
            return;
        }
        let _in_line = self.line.lock().await;
        while self.is_paced() {
            match limiter.check() {
                Ok(()) => return,
                Err(later) => {
                    let wait = later.wait_time_from(limiter.clock().now());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// Reads how busy `engine`'s writer is every [`SAMPLE`] and tells `pace`, until `stop`.
pub async fn watch(pace: Arc<Pace>, engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    // The first sample a whole SAMPLE after the first reading (an interval's first tick
    // is at once, which would make it an instant's probe).
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + SAMPLE, SAMPLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (Instant::now(), engine.writer_rested());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let now = (Instant::now(), engine.writer_rested());
        pace.observe(busy_share(last, now));
        last = now;
    }
    pace.observe(0.0);
}

/// The share of the time between two readings `(when, rested)` the writer was busy:
/// 0 when it does not write at either.
fn busy_share(before: (Instant, Option<Duration>), after: (Instant, Option<Duration>)) -> f64 {
    let (Some(rested_before), Some(rested_after)) = (before.1, after.1) else {
        return 0.0;
    };
    let wall = after.0.saturating_duration_since(before.0).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    let rested = rested_after.saturating_sub(rested_before).as_secs_f64();
    (1.0 - rested / wall).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_share_is_the_time_the_writer_did_not_rest_and_nothing_without_a_writer() {
        let start = Instant::now();
        let later = start + Duration::from_millis(100);
        let at = |rested_ms| Some(Duration::from_millis(rested_ms));
        assert!((busy_share((start, at(50)), (later, at(60))) - 0.9).abs() < 1e-9);
        assert_eq!(busy_share((start, at(0)), (later, at(100))), 0.0);
        assert_eq!(busy_share((start, at(7)), (later, at(7))), 1.0);
        assert_eq!(busy_share((start, None), (later, at(7))), 0.0);
        assert_eq!(busy_share((start, at(7)), (start, at(7))), 0.0);
    }

    #[tokio::test]
    async fn paced_requests_go_at_the_pace_and_unpaced_ones_at_once() {
        // Given: a pace of 1,000 a second (bursts of 10), paced until the first sample.
        let pace = Pace::new(1_000, Gauge::default());
        assert!(pace.is_paced());
        // When: the writer was idle, Then: 500 turns take no time to speak of.
        pace.observe(0.2);
        let started = Instant::now();
        for _ in 0..500 {
            pace.turn().await;
        }
        assert!(started.elapsed() < Duration::from_millis(100));
        // When: it was busy, Then: 200 turns take about 0.2 s (less the one burst).
        pace.observe(0.7);
        assert!(!pace.is_paced(), "paced below the busy share");
        pace.observe(0.95);
        assert!(pace.is_paced());
        let started = Instant::now();
        for _ in 0..200 {
            pace.turn().await;
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(180), "{took:?}");
        // And: a sample that dips keeps the pace; a calm one ends it.
        pace.observe(0.7);
        assert!(pace.is_paced(), "a dip ended the pace");
        pace.observe(0.3);
        assert!(!pace.is_paced());
        // And: a pace of 0 never applies.
        let never = Pace::new(0, Gauge::default());
        never.observe(1.0);
        assert!(!never.is_paced());
    }
}
