//! `/healthz`, `/livez` and `/readyz`, unauthenticated, for load balancers and
//! orchestrators.
//!
//! `/healthz` and `/livez` (the same check under the two usual names) answer 200 while
//! the process serves HTTP at all. `/readyz` answers 200 with this node's role — the
//! leader (`{"ready":true,"role":"leader","position":N}`) while the log is open, the
//! writer runs and the engine accepts writes, or a follower
//! (`{"ready":true,"role":"follower","leader":URL,"lag":N,"position":N}`, `leader`
//! `null` during an election) — and 503 with the error body — a stable code
//! (`unavailable`: storage failed and what the log holds is known only after a restart,
//! or the writer stopped; `log_corrupt`: a read met a damaged log; `shutting_down`;
//! `catching_up`: a follower too far behind, with its position and target;
//! `store_unreachable`: PostgreSQL has not answered a leader's lock session for 1 s, or
//! a follower's reads of the log for 2 s — one catching up stays `catching_up`) and the
//! reason — once it is not ready. Reads keep answering either way.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::forward::soon;
use super::{ApiError, AppState};
use crate::engine::{Role, FOLLOWER_CONTACT, LEADER_CONTACT};

/// The three routes, outside `/v1` and its token check.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(live))
        .route("/livez", get(live))
        .route("/readyz", get(ready))
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

async fn ready(State(state): State<AppState>) -> Response {
    if *state.stopping().borrow() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is stopping",
        )
        .into_response();
    }
    let engine = state.engine();
    let role = engine.role();
    if role.is_leader() && !engine.writer_running() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not accepting writes: the writer has stopped",
        )
        .into_response();
    }
    if let Some(refusal) = engine.refusal() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            refusal.code,
            format!("not accepting writes: {}", refusal.reason),
        )
        .into_response();
    }
    if let Some(refusal) = out_of_touch(engine.store_contact_age(), &role) {
        return soon(refusal);
    }
    let position = engine.last_position();
    match role {
        Role::Leader => {
            Json(json!({ "ready": true, "role": "leader", "position": position })).into_response()
        }
        Role::Follower { leader, lag } => Json(json!({
            "ready": true,
            "role": "follower",
            "leader": leader,
            "lag": lag,
            "position": position,
        }))
        .into_response(),
        Role::CatchingUp {
            position, target, ..
        } => soon(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "catching_up",
            format!(
                "catching up on the log: at position {position} of {target} ({} behind); reads \
                 here would be stale",
                target.saturating_sub(position)
            ),
        )),
    }
}

/// 503 `store_unreachable` when the database has not answered this node for longer than
/// its role allows: a leader whose lock session went quiet may have lost the lock
/// already (its writes are fenced, but a load balancer would keep sending them), a
/// follower that cannot read the log serves views that stopped moving.
fn out_of_touch(age: Option<Duration>, role: &Role) -> Option<ApiError> {
    let age = age?;
    let (bound, what) = match role {
        Role::Leader => (LEADER_CONTACT, "this node's writer lock session"),
        Role::Follower { .. } => (FOLLOWER_CONTACT, "the log this node follows"),
        // Not ready anyway, and a chunk of a long replay may outlast the bound: the
        // answer stays `catching_up`, with its position and target.
        Role::CatchingUp { .. } => return None,
    };
    (age > bound).then(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unreachable",
            format!(
                "PostgreSQL has not answered for {} ms ({what}; at most {} ms allowed): \
                 this node may be cut off from the database, or (a follower) cannot apply \
                 what it reads — its log says why",
                age.as_millis(),
                bound.as_millis()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follower() -> Role {
        Role::Follower {
            leader: None,
            lag: 0,
        }
    }

    #[test]
    fn each_role_is_out_of_touch_past_its_own_bound() {
        let ms = Duration::from_millis;
        // A leader: 1 s; a follower: 2 s; on sled (no age) never.
        assert!(out_of_touch(Some(ms(900)), &Role::Leader).is_none());
        let late = out_of_touch(Some(ms(1_100)), &Role::Leader).unwrap();
        assert_eq!(late.code(), "store_unreachable");
        assert!(out_of_touch(Some(ms(1_100)), &follower()).is_none());
        assert!(out_of_touch(Some(ms(2_100)), &follower()).is_some());
        assert!(out_of_touch(None, &Role::Leader).is_none());
        // A node catching up keeps saying so, however long a chunk takes.
        let catching_up = Role::CatchingUp {
            position: 1,
            target: 50_000,
            leader: None,
        };
        assert!(out_of_touch(Some(ms(9_000)), &catching_up).is_none());
    }
}
