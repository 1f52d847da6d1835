//! `201 Created` with a `Location` header: the answer of a command that creates
//! something the API can show (an invited user).

use aide::generate::GenContext;
use aide::openapi::{
    Header, HeaderStyle, MediaType, Operation, ParameterSchemaOrContent, ReferenceOr, Response,
    SchemaObject, StatusCode as DocStatus,
};
use aide::OperationOutput;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use schemars::JsonSchema;
use serde::Serialize;

/// `201`, `Location: location` and `body` as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created<T> {
    /// The new object's path, e.g. `/v1/users/{id}`.
    pub location: String,
    pub body: T,
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> axum::response::Response {
        (
            StatusCode::CREATED,
            [(header::LOCATION, self.location)],
            Json(self.body),
        )
            .into_response()
    }
}

impl<T: JsonSchema> OperationOutput for Created<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, _: &mut Operation) -> Option<Response> {
        let location = Header {
            description: Some("The new object's path.".to_owned()),
            style: HeaderStyle::Simple,
            required: true,
            deprecated: None,
            format: ParameterSchemaOrContent::Schema(SchemaObject {
                json_schema: ctx.schema.subschema_for::<String>(),
                example: None,
                external_docs: None,
            }),
            example: None,
            examples: Default::default(),
            extensions: Default::default(),
        };
        Some(Response {
            description: "Created: `Location` names the new object.".to_owned(),
            headers: [("Location".to_owned(), ReferenceOr::Item(location))]
                .into_iter()
                .collect(),
            content: [(
                "application/json".to_owned(),
                MediaType {
                    schema: Some(SchemaObject {
                        json_schema: ctx.schema.subschema_for::<T>(),
                        example: None,
                        external_docs: None,
                    }),
                    ..Default::default()
                },
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        })
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<DocStatus>, Response)> {
        Self::operation_response(ctx, operation)
            .map(|r| vec![(Some(DocStatus::Code(201)), r)])
            .unwrap_or_default()
    }
}
