//! What the scenarios measured and found, for the summary line and the exit code.

use std::time::Duration;

/// Figures and violations, accumulated over the run.
#[derive(Debug, Default)]
pub struct Report {
    /// Each leader kill's time until another node answered as the leader.
    pub failovers: Vec<Duration>,
    /// Each partition's time until another node answered as the leader.
    pub partitions: Vec<Duration>,
    /// Each PostgreSQL restart's time until a node answered as the leader again.
    pub pg_restarts: Vec<Duration>,
    /// Each far-behind follower's replay rate, events per second.
    pub replay_rates: Vec<f64>,
    /// Every violation, described.
    pub violations: Vec<String>,
}

impl Report {
    /// Records a violation (printed at once, so a long run shows it when it happens).
    pub fn violation(&mut self, what: String) {
        eprintln!("  violation: {what}");
        self.violations.push(what);
    }

    /// `what` took `took`; a violation past `limit`.
    pub fn within(&mut self, what: &str, took: Duration, limit: Duration) {
        if took > limit {
            self.violation(format!("{what} took {took:.1?}, more than {limit:?}"));
        }
    }
}

/// The largest of `figures` in milliseconds, or `-` when there are none.
pub fn max_ms(figures: &[Duration]) -> String {
    figures
        .iter()
        .max()
        .map_or_else(|| "-".to_owned(), |d| d.as_millis().to_string())
}
