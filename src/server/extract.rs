//! axum's JSON, path and query extractors, answering their rejections in the API's
//! error shape (400 malformed, 413 too large, 415 not JSON) instead of plain text; the
//! path parameters endpoints share; and documenting an optional header.

use aide::generate::GenContext;
use aide::openapi::{
    HeaderStyle, Operation, Parameter, ParameterData, ParameterSchemaOrContent, ReferenceOr,
    SchemaObject,
};
use aide::OperationInput;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use offboard_events::CorrelationId;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::ApiError;
use super::refs::UserRef;

/// A user named in the path.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct UserPath {
    /// The user's id or email.
    pub user: UserRef,
}

/// A business operation (e.g. one offboarding) in the path.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CorrelationPath {
    pub correlation_id: CorrelationId,
}

/// Documents an optional request header of type `T`.
pub fn header_parameter<T: JsonSchema>(
    ctx: &mut GenContext,
    operation: &mut Operation,
    name: &str,
    description: &str,
) {
    let schema = ctx.schema.subschema_for::<T>();
    operation
        .parameters
        .push(ReferenceOr::Item(Parameter::Header {
            parameter_data: parameter_data(name, description, false, schema),
            style: HeaderStyle::Simple,
        }));
}

/// A parameter's name, description, whether it is required and its schema.
pub fn parameter_data(
    name: &str,
    description: &str,
    required: bool,
    json_schema: schemars::Schema,
) -> ParameterData {
    ParameterData {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required,
        format: ParameterSchemaOrContent::Schema(SchemaObject {
            json_schema,
            example: None,
            external_docs: None,
        }),
        extensions: Default::default(),
        deprecated: None,
        example: None,
        examples: Default::default(),
        explode: None,
    }
}

/// A JSON request body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// Path parameters.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

/// Query parameters.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

/// The API error for a rejected extraction: 413 and 415 keep their status, the rest is
/// `400 invalid_input` with axum's explanation.
pub(super) fn rejected(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "payload_too_large",
            "the request body is over the server's limit",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        _ => ApiError::bad_request(text),
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

pub(super) fn json_rejection(e: JsonRejection) -> ApiError {
    rejected(e.status(), e.body_text())
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Self(v))
            .map_err(|e: PathRejection| rejected(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e: QueryRejection| rejected(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

impl<T: JsonSchema> OperationInput for ApiJson<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Json::<T>::operation_input(ctx, operation);
    }
}

impl<T: JsonSchema> OperationInput for ApiPath<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Path::<T>::operation_input(ctx, operation);
    }
}

impl<T: JsonSchema> OperationInput for ApiQuery<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Query::<T>::operation_input(ctx, operation);
    }
}
