//! How the server answers a query of the read layer ([`crate::read`]): it checks that
//! the caller may read it, answers it off the async workers, and sends the answer as
//! JSON with a `Link: <…>; rel="next"` header (RFC 8288) when a next page exists.

use aide::generate::GenContext;
use aide::openapi::{Operation, Response as ApiResponse, StatusCode as ApiStatus};
use aide::OperationOutput;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::Serialize;

use super::auth::{Caller, Read};
use super::error::ApiError;
use super::AppState;
use crate::read::{PageAnswer, Query, ReadFailure, Scope};

impl From<ReadFailure> for ApiError {
    fn from(e: ReadFailure) -> Self {
        match e {
            ReadFailure::Invalid(message) => ApiError::bad_request(message),
            ReadFailure::NotFound(what) => ApiError::not_found(what),
            ReadFailure::Read(e) => e.into(),
            ReadFailure::Domain(e) => e.into(),
        }
    }
}

/// A page of a list as JSON, with the `Link` header naming the next page.
#[derive(Debug)]
pub struct PageJson<T>(pub T);

impl<T: Serialize + PageAnswer> IntoResponse for PageJson<T> {
    fn into_response(self) -> Response {
        let link = self
            .0
            .next()
            .and_then(|next| HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).ok());
        let mut response = Json(self.0).into_response();
        if let Some(link) = link {
            response.headers_mut().insert(header::LINK, link);
        }
        response
    }
}

impl<T: JsonSchema> OperationOutput for PageJson<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<ApiResponse> {
        Json::<T>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<ApiStatus>, ApiResponse)> {
        Json::<T>::inferred_responses(ctx, operation)
    }
}

/// Answers `query` in the caller's org once the caller may read `what`.
pub async fn answer<Q: Query>(
    state: &AppState,
    caller: &Caller,
    what: Read,
    query: Q,
) -> Result<Q::Answer, ApiError> {
    caller.may_read(&state.engine().state(), what)?;
    let engine = state.engine_arc();
    let org = caller.org_id;
    let answer = state
        .blocking(move || query.answer(&Scope::new(&engine, org)))
        .await?;
    Ok(answer?)
}

/// [`answer`], as a page with its `Link` header.
pub async fn page<Q: Query>(
    state: &AppState,
    caller: &Caller,
    what: Read,
    query: Q,
) -> Result<PageJson<Q::Answer>, ApiError>
where
    Q::Answer: PageAnswer,
{
    answer(state, caller, what, query).await.map(PageJson)
}
