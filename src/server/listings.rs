//! Who gets new work and who holds credits, as reads: the duties (R17), distributions
//! (R18), labels (R19) and credit balances (R20) of the caller's org, in pages. Open to
//! everyone who may read the directory.

use aide::axum::routing::get_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;

use super::auth::{Caller, Read};
use super::error::ApiError;
use super::extract::ApiQuery;
use super::pages::{self, PageJson};
use super::views::CreditsView;
use super::AppState;
use crate::read::{
    CreditsQuery, DistributionsPage, DistributionsQuery, DutiesPage, DutiesQuery, LabelsPage,
    LabelsQuery,
};

async fn duties(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<DutiesQuery>,
) -> Result<PageJson<DutiesPage>, ApiError> {
    pages::page(&state, &caller, Read::Directory, query).await
}

async fn distributions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<DistributionsQuery>,
) -> Result<PageJson<DistributionsPage>, ApiError> {
    pages::page(&state, &caller, Read::Directory, query).await
}

async fn labels(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LabelsQuery>,
) -> Result<PageJson<LabelsPage>, ApiError> {
    pages::page(&state, &caller, Read::Directory, query).await
}

async fn credits(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CreditsQuery>,
) -> Result<PageJson<CreditsView>, ApiError> {
    pages::page(&state, &caller, Read::Directory, query).await
}

fn doc(
    summary: &'static str,
) -> impl for<'a> FnOnce(TransformOperation<'a>) -> TransformOperation<'a> {
    move |op: TransformOperation<'_>| op.summary(summary).tag("queries")
}

/// The listing endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/v1/duties",
            get_with(duties, doc("Every singleton duty and its holder (R17)")),
        )
        .api_route(
            "/v1/distributions",
            get_with(
                distributions,
                doc("Every lead rotation, automation and integration (R18)"),
            ),
        )
        .api_route(
            "/v1/labels",
            get_with(labels, doc("Every shared label and its members (R19)")),
        )
        .api_route(
            "/v1/credits",
            get_with(
                credits,
                doc("The pool and every user who holds or used credits (R20)"),
            ),
        )
}
