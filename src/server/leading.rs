//! What only the leader does, started and stopped as this node's role changes
//! (`Engine::roles`): webhook deliveries and the scheduler of timed offboardings run on
//! one node at a time. A node that takes over reads every side store again — the token
//! book, the console's sign-in links, the webhook subscriptions and their progress — and
//! only then serves writes (until it has, writes answer `not_leader`, `Retry-After: 1`);
//! a node that follows reads the token book again every [`TOKEN_REFRESH`], so a token
//! revoked on the leader stops opening this node within about that long.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::AppState;
use crate::engine::{Role, Scheduler, DEFAULT_TICK};
use crate::webhooks::{Deliveries, WebhookOptions};

/// How often a follower reads the token book again: the bound on how long a token
/// revoked on the leader still opens a follower (plus one read of the store).
pub const TOKEN_REFRESH: Duration = Duration::from_secs(1);

/// The task that runs the leader's duties while this node leads; [`Duties::stop`] ends
/// it and them.
#[derive(Debug)]
pub(crate) struct Duties {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The duties of a node while it leads.
struct Running {
    deliveries: Deliveries,
    scheduler: Scheduler,
}

impl Duties {
    /// Starts the duties now if this node leads (an error here fails `serve`, as it did
    /// when a single node always led), then follows the role.
    pub(crate) fn start(state: &AppState, webhooks: WebhookOptions) -> Result<Self, String> {
        let mut roles = state.engine().roles();
        let leads = roles.borrow_and_update().is_leader();
        state.set_leading_ready(leads);
        let running = if leads {
            Some(Running::start(state, webhooks)?)
        } else {
            None
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(follow(state.clone(), webhooks, running, roles, stopped));
        Ok(Self { stop, task })
    }

    /// Stops the duties and waits for them (deliveries save their progress).
    pub(crate) async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

impl Running {
    fn start(state: &AppState, webhooks: WebhookOptions) -> Result<Self, String> {
        let engine = state.engine_arc();
        let deliveries =
            Deliveries::start(Arc::clone(&engine), Arc::clone(state.webhooks()), webhooks)?;
        // R28: due schedules run at once (those missed while no node led), then every tick.
        let scheduler = Scheduler::start(&engine, DEFAULT_TICK);
        Ok(Self {
            deliveries,
            scheduler,
        })
    }

    async fn stop(self) {
        self.scheduler.stop().await;
        self.deliveries.stop().await;
    }
}

/// Follows the role until stopped: on promotion reload the side stores, then start the
/// duties; on stepping down stop them; while following, refresh the token book.
async fn follow(
    state: AppState,
    webhooks: WebhookOptions,
    mut running: Option<Running>,
    mut roles: watch::Receiver<Role>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut refresh = tokio::time::interval(TOKEN_REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            changed = roles.changed() => if changed.is_err() { break },
            _ = refresh.tick() => {
                // A node that leads without its duties (a take-over that failed) tries
                // again; a follower refreshes its token book. Either reads the store,
                // which may not answer (a database that stopped answering on an open
                // connection): a stop does not wait for it.
                if running.is_none() {
                    let leads = state.engine().role().is_leader();
                    tokio::select! {
                        taken = retry_or_refresh(&state, webhooks, leads) => running = taken,
                        _ = stopped.changed() => break,
                    }
                }
                continue;
            }
        }
        let role = roles.borrow_and_update().clone();
        running = step(&state, webhooks, running, &role).await;
    }
    if let Some(duties) = running {
        duties.stop().await;
    }
}

/// Brings the duties in line with `role`.
async fn step(
    state: &AppState,
    webhooks: WebhookOptions,
    running: Option<Running>,
    role: &Role,
) -> Option<Running> {
    match (running, role.is_leader()) {
        (Some(duties), false) => {
            state.set_leading_ready(false);
            tracing::info!(
                role = role.name(),
                "no longer the leader: webhook deliveries and the scheduler stop"
            );
            duties.stop().await;
            None
        }
        (None, true) => take_over(state, webhooks).await,
        (running, _) => running,
    }
}

/// Reads every side store again, then starts the duties and lets writes in.
async fn take_over(state: &AppState, webhooks: WebhookOptions) -> Option<Running> {
    let reading = state.clone();
    let reloaded = match state.blocking(move || reload_side_stores(&reading)).await {
        Ok(read) => read,
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = reloaded {
        // Serving writes over stale side stores could overwrite what the last leader
        // saved: writes stay refused; the next tick tries again.
        tracing::error!(error = %e, "leading, but the side stores could not be read: writes stay refused");
        return None;
    }
    state.set_leading_ready(true);
    tracing::info!(
        "now the leader: side stores read again; webhook deliveries and the scheduler start"
    );
    match Running::start(state, webhooks) {
        Ok(duties) => Some(duties),
        Err(e) => {
            tracing::error!(error = %e, "the leader's duties could not start");
            None
        }
    }
}

fn reload_side_stores(state: &AppState) -> Result<(), String> {
    let store = state.engine().store();
    state
        .tokens()
        .reload(store.as_ref())
        .map_err(|e| e.to_string())?;
    state
        .links()
        .reload(store.as_ref())
        .map_err(|e| e.to_string())?;
    state.webhooks().reload().map_err(|e| e.to_string())
}

/// A leader without its duties takes over again; a follower refreshes its token book.
async fn retry_or_refresh(
    state: &AppState,
    webhooks: WebhookOptions,
    leads: bool,
) -> Option<Running> {
    if leads {
        take_over(state, webhooks).await
    } else {
        refresh_tokens(state).await;
        None
    }
}

async fn refresh_tokens(state: &AppState) {
    let reading = state.clone();
    let read = state
        .blocking(move || reading.tokens().reload(reading.engine().store().as_ref()))
        .await;
    if let Ok(Err(e)) = read {
        tracing::warn!(error = %e, "the token book could not be read again");
    }
}
