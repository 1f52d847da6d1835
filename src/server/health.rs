//! `/livez` and `/readyz`, unauthenticated, for load balancers and orchestrators.
//!
//! `/livez` answers 200 while the process serves HTTP at all. `/readyz` answers 200 while
//! the engine accepts writes, and 503 with the error body — a stable code (`unavailable`:
//! storage failed and what the log holds is known only after a restart; `log_corrupt`: a
//! read met a damaged log; `shutting_down`) and the reason — once it refuses them. Reads
//! keep answering either way.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{ApiError, AppState};

/// The two routes, outside `/v1` and its token check.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/livez", get(|| async { Json(json!({ "live": true })) }))
        .route("/readyz", get(ready))
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
