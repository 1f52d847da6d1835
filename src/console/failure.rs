//! What the console shows when something fails: the domain's message and every blocker
//! with its count, as a page a person can act on (never a stack, never a code alone;
//! the stable code is there too, for support).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::templates;
use crate::read::ReadFailure;
use crate::server::{ApiError, BlockerView};

/// A failure as the console shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    #[serde(skip)]
    pub status: StatusCode,
    /// Stable snake_case code, as the API answers it (`owns_resources`, `csrf_failed`, …).
    pub code: String,
    pub message: String,
    pub blockers: Vec<BlockerView>,
}

impl Failure {
    /// 401: no session, or one that ended.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Your session has ended. Sign in again.",
        )
    }

    /// 403: a form that did not come from this session's pages.
    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "This form was not sent from your console session (or the session changed). \
             Reload the page and try again.",
        )
    }

    /// 400: a form missing a field or holding a bad value.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            blockers: Vec::new(),
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status,
            code: e.detail.code,
            message: e.detail.message,
            blockers: e.detail.blockers,
        }
    }
}

impl From<ReadFailure> for Failure {
    fn from(e: ReadFailure) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::AppendError> for Failure {
    fn from(e: crate::AppendError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = self.status;
        let body = templates::render(
            "failure.html",
            minijinja::context! { failure => self, title => "Something went wrong" },
        );
        (status, Html(body)).into_response()
    }
}
