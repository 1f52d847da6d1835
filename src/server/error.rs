//! The one error shape of the API, `{"error":{"code","message","blockers"}}`, and how
//! every failure of the engine maps to a status: 400 malformed request, 401 no or bad
//! token, 403 not allowed, 404 not found (other orgs' things included, R1), 409 conflict,
//! 413 body too large, 422 refused by the domain, 503 storage: `outcome_unknown` when
//! the command may have been stored, any other code when nothing was written. Every 503
//! carries `Retry-After`.

use aide::generate::GenContext;
use aide::openapi::{MediaType, Operation, Response, SchemaObject, StatusCode as DocStatus};
use aide::OperationOutput;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Json;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::{Blocker, DomainError};
use crate::engine::ReadError;
use crate::integrity::VerifyError;
use crate::store::StoreError;
use crate::AppendError;

/// An API failure: the status and the body it is answered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: ErrorDetail,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and people (`message`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `not_found`, `forbidden`, `owns_resources`.
    pub code: String,
    pub message: String,
    /// Everything that blocks a delete or deactivate, with counts (R10); empty otherwise.
    #[serde(default)]
    pub blockers: Vec<BlockerView>,
}

/// One reason a delete or deactivate cannot go ahead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockerView {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub count: u64,
    pub message: String,
}

impl From<&Blocker> for BlockerView {
    fn from(b: &Blocker) -> Self {
        Self {
            code: b.code.to_owned(),
            subject: b.subject.clone(),
            count: b.count,
            message: b.message.clone(),
        }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                blockers: Vec::new(),
            },
        }
    }

    /// 400: the request cannot be understood (bad JSON, id, query or header).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// 401: no token, or one that is unknown or revoked.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the principal may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: not in the caller's org (or nowhere).
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 422: understood, but refused.
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn code(&self) -> &str {
        &self.detail.code
    }
}

/// The status a domain rejection answers with.
fn domain_status(e: &DomainError) -> StatusCode {
    match e {
        DomainError::NotFound(_) => StatusCode::NOT_FOUND,
        DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
        DomainError::AlreadyExists(_)
        | DomainError::EmailTaken(_)
        | DomainError::ExternalIdTaken(_)
        | DomainError::UserNameTaken(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let mut error = Self::new(domain_status(&e), e.code(), e.to_string());
        error.detail.blockers = e.blockers().iter().map(BlockerView::from).collect();
        error
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string())
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Storage(e) => e.into(),
            other => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                other.code(),
                other.to_string(),
            ),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Storage(e) => e.into(),
            other => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                other.code(),
                other.to_string(),
            ),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        let code = e.code();
        match e {
            AppendError::Rejected(e) => e.into(),
            AppendError::Storage(e) => e.into(),
            e @ (AppendError::Conflict { .. } | AppendError::CommandIdReused { .. }) => {
                Self::new(StatusCode::CONFLICT, code, e.to_string())
            }
            e @ AppendError::Invalid(_) => Self::new(StatusCode::BAD_REQUEST, code, e.to_string()),
            e @ (AppendError::Closed
            | AppendError::OutcomeUnknown(_)
            | AppendError::Refused(_)
            | AppendError::NotLeader { .. }) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string())
            }
        }
    }
}

/// Seconds a client should wait before retrying a 503 (a restart, or a disk that
/// fills up, are not undone faster).
pub const RETRY_AFTER_SECONDS: u32 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> HttpResponse {
        let unavailable = self.status == StatusCode::SERVICE_UNAVAILABLE;
        // An election passes faster than a restart or a full disk.
        let seconds = if self.detail.code == "not_leader" {
            1
        } else {
            RETRY_AFTER_SECONDS
        };
        let mut response = (self.status, Json(ErrorBody { error: self.detail })).into_response();
        if unavailable {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status, self.detail.code, self.detail.message
        )
    }
}

impl std::error::Error for ApiError {}

/// The statuses an endpoint may fail with, each documented with the error body.
const DOCUMENTED: &[(u16, &str)] = &[
    (400, "Malformed request: bad JSON, id, query parameter or header."),
    (401, "No bearer token, or an unknown or revoked one."),
    (403, "The token's principal may not do this (R4, R5)."),
    (404, "Not found in the token's organization (other orgs' objects included, R1)."),
    (409, "Conflict: an Idempotency-Key reused for another command, or a name or email already taken."),
    (413, "Request body over the server's limit."),
    (422, "Refused by the domain: the code says why; blockers list everything in the way."),
    (503, "`outcome_unknown`: the command may or may not have been stored (a flush failed, or a follower lost the leader's answer); retry with the same Idempotency-Key. `not_leader` (no leader known: an election is under way), `leader_unreachable`, `position_not_reached` (a read's `min_position` not applied within 5 s): retry after a second. Any other code (`unavailable`, `storage`, `log_corrupt`): nothing was written. Always with Retry-After."),
];

impl OperationOutput for ApiError {
    type Inner = ErrorBody;

    fn operation_response(ctx: &mut GenContext, _operation: &mut Operation) -> Option<Response> {
        Some(error_response(ctx, "An error."))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        _operation: &mut Operation,
    ) -> Vec<(Option<DocStatus>, Response)> {
        DOCUMENTED
            .iter()
            .map(|(code, what)| (Some(DocStatus::Code(*code)), error_response(ctx, what)))
            .collect()
    }
}

fn error_response(ctx: &mut GenContext, description: &str) -> Response {
    Response {
        description: description.to_owned(),
        content: IndexMap::from_iter([(
            "application/json".to_owned(),
            MediaType {
                schema: Some(SchemaObject {
                    json_schema: ctx.schema.subschema_for::<ErrorBody>(),
                    example: None,
                    external_docs: None,
                }),
                ..Default::default()
            },
        )]),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Blocker;

    #[test]
    fn blocked_deletes_are_422_with_every_blocker() {
        let e: ApiError = DomainError::Blocked {
            action: "delete",
            user: "pat".into(),
            blockers: vec![
                Blocker::new(
                    "owns_resources",
                    Some("buyer".into()),
                    3,
                    "owns 3 buyers".into(),
                ),
                Blocker::new("singleton_duty", None, 1, "holds 1 duty".into()),
            ],
        }
        .into();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.code(), "owns_resources");
        assert_eq!(e.detail.blockers.len(), 2);
    }

    #[test]
    fn other_orgs_things_are_not_found_and_taken_names_conflict() {
        let e: ApiError = DomainError::NotFound("user x".into()).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e: ApiError = DomainError::EmailTaken("a@b.example".into()).into();
        assert_eq!(e.status, StatusCode::CONFLICT);
        let e: ApiError = StoreError::Io("disk".into()).into();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn every_503_says_when_to_retry_and_an_unknown_outcome_is_named() {
        let e: ApiError = AppendError::OutcomeUnknown("flush failed".into()).into();
        assert_eq!(e.code(), "outcome_unknown");
        assert!(e
            .detail
            .message
            .contains("retry with the same Idempotency-Key"));
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let response = ApiError::from(StoreError::Io("disk".into())).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let response = ApiError::not_found("x").into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
