//! `/healthz`, `/livez` and `/readyz`, unauthenticated, for load balancers and
//! orchestrators.
//!
//! `/healthz` and `/livez` (the same check under the two usual names) answer 200 while
//! the process serves HTTP at all. `/readyz` answers 200 while the log is open, the
//! writer runs and the engine accepts writes, and 503 with the error body — a stable code
//! (`unavailable`: storage failed and what the log holds is known only after a restart,
//! or the writer stopped; `log_corrupt`: a read met a damaged log; `shutting_down`) and
//! the reason — once it does not. Reads keep answering either way.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{ApiError, AppState};

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
    if !state.engine().writer_running() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not accepting writes: the writer has stopped",
        )
        .into_response();
    }
    match state.engine().refusal() {
        None => Json(json!({ "ready": true, "position": state.engine().last_position() }))
            .into_response(),
        Some(refusal) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            refusal.code,
            format!("not accepting writes: {}", refusal.reason),
        )
        .into_response(),
    }
}
