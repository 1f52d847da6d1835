//! Whether the engine accepts writes. It stops, for good until a restart, when it can
//! no longer know what the log holds: a flush failed or did not finish (what reached the
//! disk is unknown), or a read met a damaged log. Reads keep answering from what is
//! known to be durable; `/readyz` reports the refusal.

use std::sync::RwLock;

use serde::Serialize;

/// Why the engine refuses writes: a stable code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// `unavailable` (storage failed: a flush failed or stalled) or `log_corrupt`
    /// (a read met damage).
    pub code: &'static str,
    pub reason: String,
}

impl Refusal {
    /// Storage failed in a way that leaves the log's contents unknown until a restart.
    pub fn storage(reason: impl Into<String>) -> Self {
        Self {
            code: "unavailable",
            reason: reason.into(),
        }
    }

    /// A read met a damaged log.
    pub fn corrupt(reason: impl Into<String>) -> Self {
        Self {
            code: "log_corrupt",
            reason: reason.into(),
        }
    }
}

/// Shared by the engine's readers, the writer and its pipeline stages.
#[derive(Debug, Default)]
pub(crate) struct Health {
    refusal: RwLock<Option<Refusal>>,
}

impl Health {
    /// Stops accepting writes. The first refusal is kept (it names the cause; later
    /// ones are its consequences) and said once, as a `tracing` warning.
    pub fn refuse(&self, refusal: Refusal) {
        let mut held = self.refusal.write().unwrap_or_else(|p| p.into_inner());
        if held.is_none() {
            tracing::warn!(
                "offboard: no longer accepting writes ({}): {}; reads go on, restart offboard once the cause is fixed",
                refusal.code, refusal.reason
            );
            *held = Some(refusal);
        }
    }

    /// Why writes are refused; `None` while they are accepted.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Accepts writes again: only for a node that stepped down or takes over as the
    /// leader, whose new writer starts from what the log holds, not from what the
    /// previous one knew.
    pub fn reset(&self) {
        *self.refusal.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn accepting(&self) -> bool {
        self.refusal().is_none()
    }
}
