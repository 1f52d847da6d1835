//! R28: running scheduled offboardings. [`Engine::run_due`] submits every run due by
//! the engine's clock — what `offboard run-due` does once (cron) and [`Scheduler`] does
//! every tick inside `offboard serve`, starting at once, so a schedule missed while the
//! server was down runs at start-up.
//!
//! Exactly once in effect: a run's command id is its schedule id (the delete that may
//! follow has an id derived from it), so a run submitted twice — two ticks racing a
//! slow commit, a restart after a crash whose last group may or may not be durable —
//! answers the first result, and a run already in the log leaves the schedule with no
//! due run. The run is one atomic command: a crash mid-run leaves all of it or none.

use std::sync::{Arc, Weak};
use std::time::Duration;

use offboard_events::{Actor, CommandId, OrgId, ScheduleId, SchedulePhase};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{Appended, CommandMeta, Engine};
use crate::domain::Command;

/// How often `serve` looks for due runs.
pub const DEFAULT_TICK: Duration = Duration::from_secs(1);

/// One run the scheduler submitted, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScheduledRun {
    pub org_id: OrgId,
    pub schedule_id: ScheduleId,
    pub phase: SchedulePhase,
    /// The run's command id (the schedule id for the offboarding itself).
    pub command_id: CommandId,
    /// `completed`, `failed` (access was still removed; see the `ScheduleFailed` event),
    /// or the code of the error that kept it from running (it is tried again next time).
    pub outcome: String,
    /// What was appended (`duplicate` when it had already run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appended: Option<Appended>,
}

/// The command id of a schedule's run: the schedule id for the offboarding, and for the
/// delete that follows it a UUID from SHA-256 of the schedule id and `delete` (stable,
/// so a retried delete run is the same command).
pub fn run_command_id(schedule: ScheduleId, phase: SchedulePhase) -> CommandId {
    match phase {
        SchedulePhase::Offboard => CommandId(schedule.0),
        SchedulePhase::Delete => {
            let digest = Sha256::new()
                .chain_update(schedule.0.as_bytes())
                .chain_update(b"delete")
                .finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            CommandId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
        }
    }
}

impl Engine {
    /// Submits every schedule run due by the engine's clock, oldest first, as the system
    /// actor, and says what became of each. **Durability: each run reported `completed`
    /// or `failed` is on stable storage when this returns** (as [`Engine::execute`]).
    pub async fn run_due(&self) -> Vec<ScheduledRun> {
        let now = self.clock().now();
        let due: Vec<(OrgId, ScheduleId, SchedulePhase)> = {
            let state = self.state();
            state
                .orgs()
                .flat_map(|org| {
                    let id = org.id();
                    org.schedules()
                        .due(now)
                        .into_iter()
                        .map(move |(s, phase, _)| (id, s, phase))
                })
                .collect()
        };
        let mut out = Vec::with_capacity(due.len());
        for (org_id, schedule_id, phase) in due {
            let command_id = run_command_id(schedule_id, phase);
            let meta = CommandMeta {
                command_id,
                ..CommandMeta::new(org_id, Actor::System)
            };
            let result = self
                .execute(
                    meta,
                    Command::RunSchedule {
                        schedule: schedule_id,
                    },
                )
                .await;
            let (outcome, appended) = match result {
                Ok(appended) => (self.outcome(org_id, schedule_id), Some(appended)),
                Err(e) => (e.code().to_owned(), None),
            };
            out.push(ScheduledRun {
                org_id,
                schedule_id,
                phase,
                command_id,
                outcome,
                appended,
            });
        }
        out
    }

    /// `failed` if the schedule's last run failed, else `completed`.
    fn outcome(&self, org: OrgId, schedule: ScheduleId) -> String {
        let state = self.state();
        let failed = state
            .org(org)
            .and_then(|o| o.schedules().get(schedule))
            .is_some_and(|s| s.failure.is_some());
        if failed { "failed" } else { "completed" }.to_owned()
    }
}

/// The task `serve` runs: [`Engine::run_due`] at once, then every tick, until stopped.
/// It holds the engine only while a tick runs, so a shutdown is never kept waiting.
#[derive(Debug)]
pub struct Scheduler {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts the task on the current tokio runtime.
    pub fn start(engine: &Arc<Engine>, tick: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let engine: Weak<Engine> = Arc::downgrade(engine);
        let task = tokio::spawn(async move {
            loop {
                let Some(e) = engine.upgrade() else { return };
                for run in e.run_due().await {
                    match run.outcome.as_str() {
                        "completed" | "failed" => tracing::info!(
                            schedule = %run.schedule_id,
                            phase = run.phase.as_str(),
                            outcome = %run.outcome,
                            "scheduled offboarding ran"
                        ),
                        code => tracing::warn!(
                            schedule = %run.schedule_id,
                            phase = run.phase.as_str(),
                            code,
                            "scheduled offboarding could not run; trying again next tick"
                        ),
                    }
                }
                drop(e);
                tokio::select! {
                    _ = tokio::time::sleep(tick) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        Self { stop, task }
    }

    /// Stops the task after the tick in hand.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_offboarding_run_is_the_schedule_id_and_the_delete_run_is_stable() {
        let id = ScheduleId(Uuid::from_u128(7));
        assert_eq!(run_command_id(id, SchedulePhase::Offboard).0, id.0);
        let delete = run_command_id(id, SchedulePhase::Delete);
        assert_ne!(delete.0, id.0);
        assert_eq!(delete, run_command_id(id, SchedulePhase::Delete));
    }
}
