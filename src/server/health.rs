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
//! `catching_up`: a follower too far behind, with its position and target) and the
//! reason — once it is not ready. Reads keep answering either way.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::forward::soon;
use super::{ApiError, AppState};
use crate::engine::Role;

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
