//! The operation page: everything one correlation id did, in log order and in plain
//! words, with a Revert button for those allowed (the domain's `RevertOffboarding`
//! decides whether it can be reverted and what comes back).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use offboard_events::CorrelationId;

use super::act;
use super::csrf::Posted;
use super::failure::Failure;
use super::page::{self, Frame};
use super::session::Signed;
use super::timeline::Row;
use crate::domain::Command;
use crate::read::{HistoryQuery, HistorySelector, Limit, Query, Scope};
use crate::server::{AppState, Read};

/// `GET /audit/operations/{correlation_id}`.
pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    show(&state, &signed, &id, None, None, StatusCode::OK).await
}

/// `POST /audit/operations/{correlation_id}/revert`: gives back what the operation
/// moved away (one `RevertOffboarding` command).
pub async fn revert(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Posted,
) -> Response {
    let done = match correlation(&id) {
        Ok(correlation_id) => {
            act::execute(&state, &form, Command::RevertOffboarding { correlation_id }).await
        }
        Err(f) => Err(f),
    };
    match done {
        Ok(appended) => {
            let notice = format!(
                "Reverted ({} events recorded, operation {}).",
                appended.count(),
                appended.correlation_id
            );
            show(
                &state,
                &form.signed,
                &id,
                Some(notice),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(f) => {
            let status = f.status;
            show(&state, &form.signed, &id, None, Some(f), status).await
        }
    }
}

fn correlation(id: &str) -> Result<CorrelationId, Failure> {
    id.parse()
        .map_err(|e| Failure::invalid(format!("operation {id:?}: {e}")))
}

async fn show(
    state: &AppState,
    signed: &Signed,
    id: &str,
    notice: Option<String>,
    failure: Option<Failure>,
    status: StatusCode,
) -> Response {
    let rows = match read(state, signed, id).await {
        Ok(rows) => rows,
        Err(f) => return f.into_response(),
    };
    let frame = Frame::new(signed, "Operation", "audit");
    let body = page::render(
        "operation.html",
        &frame,
        minijinja::context! { id, rows, notice, failure },
    );
    (status, Html(body)).into_response()
}

async fn read(state: &AppState, signed: &Signed, id: &str) -> Result<Vec<Row>, Failure> {
    signed
        .caller
        .may_read(&state.engine().state(), Read::History)?;
    let query = HistoryQuery {
        selector: HistorySelector::Correlation(correlation(id)?),
        limit: Limit::max(),
        ..HistoryQuery::default()
    };
    let engine = state.engine_arc();
    let org = signed.caller.org_id;
    let page = state
        .blocking(move || query.answer(&Scope::new(&engine, org)))
        .await??;
    let projections = state.engine().state();
    let org = signed.caller.org(&projections)?;
    Ok(page.events.iter().map(|e| Row::of(org, &e.0)).collect())
}
