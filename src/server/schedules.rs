//! Scheduled offboardings (R28) as `GET` endpoints: the list and one schedule. The
//! commands (schedule, move, cancel, run) are rows of the one command table
//! (`command_routes.rs`). Readable by whoever may read plans.

use aide::axum::routing::get_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::Json;
use offboard_events::ScheduleId;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::{Caller, Read};
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery};
use super::pages::{self, PageJson};
use super::AppState;
use crate::read::{ScheduleQuery, ScheduleView, SchedulesPage, SchedulesQuery};

/// A schedule named in the path.
#[derive(Debug, Deserialize, JsonSchema)]
struct SchedulePath {
    /// The schedule's id.
    id: ScheduleId,
}

async fn schedules(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SchedulesQuery>,
) -> Result<PageJson<SchedulesPage>, ApiError> {
    pages::page(&state, &caller, Read::Directory, query).await
}

async fn schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<SchedulePath>,
) -> Result<Json<ScheduleView>, ApiError> {
    let query = ScheduleQuery { id: Some(path.id) };
    pages::answer(&state, &caller, Read::Directory, query)
        .await
        .map(Json)
}

fn doc(
    summary: &'static str,
) -> impl for<'a> FnOnce(TransformOperation<'a>) -> TransformOperation<'a> {
    move |op: TransformOperation<'_>| op.summary(summary).tag("queries")
}

/// The schedule endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/v1/schedules",
            get_with(schedules, doc("Every scheduled offboarding, by time (R28)")),
        )
        .api_route(
            "/v1/schedules/{id}",
            get_with(
                schedule,
                doc("One scheduled offboarding: its runs, next run and any failure (R28)"),
            ),
        )
}
