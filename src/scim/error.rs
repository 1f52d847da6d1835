//! SCIM errors (RFC 7644 §3.12): the `urn:ietf:params:scim:api:messages:2.0:Error` body
//! with `status` as a string, an optional `scimType` and a `detail`, served as
//! `application/scim+json`. Every API error of offboard maps onto one: a taken email or
//! external id is `409 uniqueness`, bad input `400 invalidValue`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::server::ApiError;

/// The SCIM error message schema.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error answer: the HTTP status, the `scimType` RFC 7644 defines for it (when
/// one fits) and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// `400 invalidValue`: a required attribute is missing or a value is wrong.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    /// `400 invalidSyntax`: the body is not the JSON a SCIM request is.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    /// `400 invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    /// `400 invalidPath` (a PATCH path that names nothing offboard keeps).
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    /// `409 uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    /// `404`, naming what was not found.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
    }

    /// `412`: the `If-Match` version is not the resource's.
    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the resource changed since that version (If-Match): read it again",
        )
    }
}

impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        let scim_type = match e.code() {
            "email_taken" | "external_id_taken" | "user_name_taken" | "already_exists" => {
                Some("uniqueness")
            }
            "invalid_input" => Some("invalidValue"),
            _ => None,
        };
        let status = if scim_type == Some("uniqueness") {
            StatusCode::CONFLICT
        } else if scim_type == Some("invalidValue") {
            StatusCode::BAD_REQUEST
        } else {
            e.status
        };
        Self::new(status, scim_type, e.detail.message)
    }
}

impl From<crate::AppendError> for ScimError {
    fn from(e: crate::AppendError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_str(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = t.into();
        }
        super::respond(self.status, &body, None)
    }
}
