//! The chain's state on the Audit page: the head (last position and its hash) and, on
//! request, a full re-verification of the hash chain (`verify`, as `GET /v1/verify`).

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

use super::csrf::Posted;
use super::failure::Failure;
use super::page::{self, Frame};
use super::session::Signed;
use crate::server::{AppState, Read, VerifyView};

/// `GET /audit/chain`: the head.
pub async fn page(State(state): State<AppState>, signed: Signed) -> Response {
    show(&state, &signed, None).await
}

/// `POST /audit/chain`: walks the whole chain again and shows the outcome.
pub async fn verify(State(state): State<AppState>, form: Posted) -> Response {
    if let Err(e) = form
        .signed
        .caller
        .may_read(&state.engine().state(), Read::History)
    {
        return Failure::from(e).into_response();
    }
    match crate::server::queries::verified(&state).await {
        Ok(view) => show(&state, &form.signed, Some(view)).await,
        Err(e) => Failure::from(e).into_response(),
    }
}

async fn show(state: &AppState, signed: &Signed, verified: Option<VerifyView>) -> Response {
    if let Err(e) = signed
        .caller
        .may_read(&state.engine().state(), Read::History)
    {
        return Failure::from(e).into_response();
    }
    let head = match state.engine().head() {
        Ok(head) => head,
        Err(e) => return Failure::from(crate::server::ApiError::from(e)).into_response(),
    };
    let frame = Frame::new(signed, "Chain", "audit");
    Html(page::render(
        "chain.html",
        &frame,
        minijinja::context! { position => head.position, hash => head.hash, verified },
    ))
    .into_response()
}
