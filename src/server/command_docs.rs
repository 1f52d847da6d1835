//! The OpenAPI operation of each command route, from the route table and the wire
//! command's own JSON Schema: summary, `operationId`, the path's parameters (typed as
//! the fields they fill) and the request body, named `{OperationId}Request` — the
//! command's variant of `Command<UserRef>` without its `type` tag and path fields.

use aide::generate::{in_context, GenContext};
use aide::openapi::{MediaType, Parameter, PathStyle, ReferenceOr, RequestBody, SchemaObject};
use aide::transform::TransformOperation;
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

use super::command_routes::{template_params, Route};
use super::extract::parameter_data;
use crate::domain::{Command, UserRef};

/// The transform documenting `route` on its operation.
pub fn doc(route: Route) -> impl for<'a> FnOnce(TransformOperation<'a>) -> TransformOperation<'a> {
    move |op| document(op, &route)
}

fn document<'a>(op: TransformOperation<'a>, route: &Route) -> TransformOperation<'a> {
    let mut op = op
        .summary(route.summary)
        .id(route.operation_id)
        .tag("commands");
    let operation = op.inner_mut();
    in_context(|ctx| {
        let mut body = variant(ctx, route.kind.tag());
        for (param, field) in template_params(route.path).zip(route.path_fields) {
            let schema = take_property(&mut body, field);
            operation
                .parameters
                .push(ReferenceOr::Item(path_parameter(param, field, schema)));
        }
        take_property(&mut body, "type");
        let required = body
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        if !required {
            // OpenAPI 3.0 validators refuse an empty `required` list.
            body.remove("required");
        }
        let name = format!("{}Request", upper_first(route.operation_id));
        let reference = format!("{}{name}", ctx.schema.settings().definitions_path);
        ctx.schema
            .definitions_mut()
            .insert(name, Value::Object(body));
        operation.request_body = Some(ReferenceOr::Item(RequestBody {
            description: (!required)
                .then(|| "May be left out: every field is optional or in the path.".to_owned()),
            content: [(
                "application/json".to_owned(),
                MediaType {
                    schema: Some(SchemaObject {
                        json_schema: Schema::try_from(json!({ "$ref": reference }))
                            .expect("a $ref is a schema"),
                        example: None,
                        external_docs: None,
                    }),
                    ..Default::default()
                },
            )]
            .into_iter()
            .collect(),
            required,
            extensions: Default::default(),
        }));
    });
    op
}

/// The schema of the `Command<UserRef>` variant tagged `tag`, as an object schema.
fn variant(ctx: &mut GenContext, tag: &str) -> Map<String, Value> {
    let whole = Command::<UserRef>::json_schema(&mut ctx.schema);
    let variants = whole
        .get("oneOf")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let found = variants.into_iter().find(|v| {
        v.pointer("/properties/type/const").and_then(Value::as_str) == Some(tag)
            || v.pointer("/properties/type/enum/0").and_then(Value::as_str) == Some(tag)
    });
    match found {
        Some(Value::Object(schema)) => schema,
        _ => panic!("the Command schema has no variant {tag:?}"),
    }
}

/// Removes `field` from `schema`'s properties and required list; its schema.
fn take_property(schema: &mut Map<String, Value>, field: &str) -> Value {
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|r| r != field);
    }
    schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .and_then(|p| p.remove(field))
        .unwrap_or_else(|| json!({ "type": "string" }))
}

fn path_parameter(param: &str, field: &str, schema: Value) -> Parameter {
    let description = match field {
        "user" | "from" | "owner" => "The user: id or email.".to_owned(),
        "correlation_id" => "The operation's correlation id.".to_owned(),
        other => format!("The {other}'s name."),
    };
    let schema = Schema::try_from(schema).unwrap_or_else(|_| Schema::default());
    Parameter::Path {
        parameter_data: parameter_data(param, &description, true, schema),
        style: PathStyle::Simple,
    }
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
