//! The engine's measurements, kept where they happen: the caller's wait for a command's
//! durable answer (`Engine::execute`, `Engine::append`), and the syncer's flushes. They
//! are `prometheus-client` handles — counters are atomics; a histogram's observation
//! takes its own uncontended lock, once per command or per flush, never the state's —
//! which `GET /metrics` registers and encodes (`server::metrics`). No label carries
//! personal data: a command's type tag and its outcome code only.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use super::append::{AppendError, Appended};
use crate::domain::CommandKind;

/// The labels of `offboard_commands_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    /// The command's type tag (`transfer_all`, `register_resources`…), or `append` for
    /// events appended as they are.
    pub command: &'static str,
    /// `ok`, `duplicate` (an idempotent retry answered from the log), or the error's
    /// stable code (`owns_resources`, `conflict`, `outcome_unknown`…).
    pub outcome: &'static str,
}

/// The engine's metric handles (cheap to clone: each is an `Arc` inside).
#[derive(Debug)]
pub struct EngineMetrics {
    commands: Family<CommandLabels, Counter>,
    ack_seconds: Histogram,
    flush_commands: Histogram,
    sync_seconds: Histogram,
}

impl Default for EngineMetrics {
    /// Every command kind's `ok` series starts at 0, so `/metrics` names each from the
    /// start and a rate over it reads 0 rather than nothing (Prometheus's advice for
    /// label values known in advance); error outcomes appear when they first happen.
    fn default() -> Self {
        let commands = Family::<CommandLabels, Counter>::default();
        for kind in <CommandKind as strum::IntoEnumIterator>::iter() {
            // Creating the series is the point; the read guard it returns is not needed.
            let _ = commands.get_or_create(&CommandLabels {
                command: kind.tag(),
                outcome: "ok",
            });
        }
        Self {
            commands,
            // 0.25 ms .. ~8 s: a healthy answer takes milliseconds, a stuck disk the
            // storage patience (5 s).
            ack_seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 16)),
            // 1 .. 2048 (`writer::MAX_GROUP`).
            flush_commands: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            // 0.1 ms .. ~6.5 s.
            sync_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 17)),
        }
    }
}

impl EngineMetrics {
    /// Counts one command's answer and observes how long its caller waited for it.
    pub(crate) fn answered(
        &self,
        command: &'static str,
        result: &Result<Appended, AppendError>,
        waited: Duration,
    ) {
        let outcome = match result {
            Ok(a) if a.duplicate => "duplicate",
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        self.commands
            .get_or_create(&CommandLabels { command, outcome })
            .inc();
        self.ack_seconds.observe(waited.as_secs_f64());
    }

    /// One successful flush (sync) of the log: how long it took and how many commands
    /// it made durable.
    pub(crate) fn flushed(&self, took: Duration, commands: usize) {
        self.sync_seconds.observe(took.as_secs_f64());
        self.flush_commands.observe(commands as f64);
    }

    /// Registers the handles in `registry` (whose prefix, `offboard`, starts every name):
    /// `offboard_commands_total{command,outcome}`, `offboard_command_ack_seconds`,
    /// `offboard_log_flush_commands` and `offboard_log_sync_seconds` (histograms).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "commands",
            "Commands answered, by type tag and outcome (ok, duplicate, or the error code)",
            self.commands.clone(),
        );
        registry.register_with_unit(
            "command_ack",
            "Time from a command's submission to its answer (durable for ok)",
            Unit::Seconds,
            self.ack_seconds.clone(),
        );
        registry.register(
            "log_flush_commands",
            "Commands made durable by one flush of the log (group commit size)",
            self.flush_commands.clone(),
        );
        registry.register_with_unit(
            "log_sync",
            "Time one flush of the log takes (sled's flush, then fdatasync)",
            Unit::Seconds,
            self.sync_seconds.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn every_command_kind_is_named_at_zero_before_any_command() {
        // Given fresh metrics, registered as `/metrics` registers them
        let metrics = EngineMetrics::default();
        let mut registry = Registry::with_prefix("offboard");
        metrics.register(&mut registry);
        // When they are encoded before any command
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        // Then each kind's ok series reads 0, and no error outcome is invented
        for kind in <CommandKind as strum::IntoEnumIterator>::iter() {
            let series = format!(
                "offboard_commands_total{{command=\"{}\",outcome=\"ok\"}} 0\n",
                kind.tag()
            );
            assert!(text.contains(&series), "{series} missing from:\n{text}");
        }
        assert!(!text.contains("outcome=\"conflict\""), "{text}");
    }
}
