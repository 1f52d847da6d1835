//! `GET /scim/v2/Schemas` and `/ResourceTypes` (RFC 7643 §6–7): the attributes offboard
//! keeps and how. Only attributes offboard stores and gives back as sent are writable;
//! `displayName` and `name.formatted` are derived from the names, so read-only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{caller, page, respond, ScimError, BASE};
use crate::server::{AppState, Caller, Read};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// One attribute definition (RFC 7643 §7).
fn attr(name: &str, kind: &str, required: bool, mutability: &str, uniqueness: &str) -> Value {
    // A write-only attribute is never returned (RFC 7643 §7).
    let returned = match mutability {
        "writeOnly" => "never",
        _ => "default",
    };
    json!({
        "name": name, "type": kind, "multiValued": false, "required": required,
        "caseExact": false, "mutability": mutability, "returned": returned,
        "uniqueness": uniqueness, "description": name
    })
}

fn text(name: &str) -> Value {
    attr(name, "string", false, "readWrite", "none")
}

/// `$ref`: a reference to a User (the manager, a group member).
fn user_ref() -> Value {
    json!({
        "name": "$ref", "type": "reference", "referenceTypes": ["User"],
        "multiValued": false, "required": false, "caseExact": true,
        "mutability": "readWrite", "returned": "default", "uniqueness": "none",
        "description": "The user's URI"
    })
}

fn user_schema() -> Value {
    let mut user_name = attr("userName", "string", true, "readWrite", "server");
    user_name["description"] =
        "The identity provider's unique name for the user (often the email); unique in the org."
            .into();
    // Required here although RFC 7643 makes it optional: offboard needs every user's
    // email (an email-shaped userName stands in for it when emails is absent).
    let emails = json!({
        "name": "emails", "type": "complex", "multiValued": true, "required": true,
        "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none",
        "description": "The user's email (the primary one, else the work one, else the first), unique in the org.",
        "subAttributes": [
            attr("value", "string", true, "readWrite", "none"),
            {"name": "type", "type": "string", "multiValued": false, "required": false,
             "caseExact": false, "canonicalValues": ["work"], "mutability": "readWrite",
             "returned": "default", "uniqueness": "none", "description": "work"},
            // offboard keeps one email, so `primary` is not returned; in a request it
            // picks the email among several.
            attr("primary", "boolean", false, "readOnly", "none"),
        ]
    });
    // Names and `active` are required here (RFC 7643 leaves them optional): every
    // offboard user has a first and a last name and a lifecycle state. A body without
    // them is still taken (names from displayName or the email, active true).
    let name = json!({
        "name": "name", "type": "complex", "multiValued": false, "required": true,
        "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none", "description": "The user's first and last names.",
        "subAttributes": [
            attr("givenName", "string", true, "readWrite", "none"),
            attr("familyName", "string", true, "readWrite", "none"),
        ]
    });
    // Read-only on a User (RFC 7643 §4.1.2): memberships change on the Group.
    let groups = json!({
        "name": "groups", "type": "complex", "multiValued": true, "required": false,
        "caseExact": false, "mutability": "readOnly", "returned": "default",
        "uniqueness": "none", "description": "The groups the user belongs to.",
        "subAttributes": [
            attr("value", "string", false, "readOnly", "none"),
            attr("display", "string", false, "readOnly", "none"),
            {"name": "$ref", "type": "reference", "referenceTypes": ["Group"],
             "multiValued": false, "required": false, "caseExact": true,
             "mutability": "readOnly", "returned": "default", "uniqueness": "none",
             "description": "The group's URI"},
        ]
    });
    let mut external_id = attr("externalId", "string", false, "readWrite", "server");
    external_id["caseExact"] = true.into();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER, "name": "User", "description": "A user of the organization's directory",
        "attributes": [
            user_name, name,
            attr("displayName", "string", false, "readOnly", "none"),
            text("title"), emails,
            attr("active", "boolean", true, "readWrite", "none"),
            groups,
            external_id,
        ],
        "meta": {"resourceType": "Schema", "location": format!("{BASE}/Schemas/{USER}")}
    })
}

fn enterprise_schema() -> Value {
    let manager = json!({
        "name": "manager", "type": "complex", "multiValued": false, "required": false,
        "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none", "description": "The user's manager (a user's id).",
        "subAttributes": [
            {"name": "value", "type": "string", "multiValued": false, "required": false,
             "caseExact": true, "mutability": "readWrite", "returned": "default",
             "uniqueness": "none", "description": "The manager's id"},
            user_ref(),
        ]
    });
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE, "name": "EnterpriseUser", "description": "Enterprise User",
        "attributes": [text("employeeNumber"), text("department"), manager],
        "meta": {"resourceType": "Schema", "location": format!("{BASE}/Schemas/{ENTERPRISE}")}
    })
}

fn group_schema() -> Value {
    let members = json!({
        "name": "members", "type": "complex", "multiValued": true, "required": false,
        "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none", "description": "The group's members (users' ids).",
        "subAttributes": [
            {"name": "value", "type": "string", "multiValued": false, "required": false,
             "caseExact": true, "mutability": "immutable", "returned": "default",
             "uniqueness": "none", "description": "A user's id"},
            user_ref(),
        ]
    });
    let mut name = attr("displayName", "string", true, "readWrite", "server");
    name["description"] = "The group's name, unique in the org.".into();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP, "name": "Group", "description": "An offboard group",
        "attributes": [name, members],
        "meta": {"resourceType": "Schema", "location": format!("{BASE}/Schemas/{GROUP}")}
    })
}

fn resource_types_list() -> Vec<Value> {
    let kind = |name: &str, endpoint: &str, schema: &str, extensions: Value| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": name, "name": name, "endpoint": endpoint, "schema": schema,
            "schemaExtensions": extensions,
            "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/{name}")}
        })
    };
    vec![
        kind(
            "User",
            "/Users",
            USER,
            json!([{"schema": ENTERPRISE, "required": false}]),
        ),
        kind("Group", "/Groups", GROUP, json!([])),
    ]
}

fn checked(
    state: &AppState,
    who: Result<Caller, crate::server::ApiError>,
) -> Result<(), ScimError> {
    caller(who)?.may_read(&state.engine().state(), Read::Directory)?;
    Ok(())
}

pub async fn resource_types(
    State(state): State<AppState>,
    who: Result<Caller, crate::server::ApiError>,
) -> Result<Response, ScimError> {
    checked(&state, who)?;
    Ok(respond(
        StatusCode::OK,
        &page(resource_types_list(), None, None),
        None,
    ))
}

pub async fn resource_type(
    State(state): State<AppState>,
    who: Result<Caller, crate::server::ApiError>,
    Path(name): Path<String>,
) -> Result<Response, ScimError> {
    checked(&state, who)?;
    let found = resource_types_list()
        .into_iter()
        .find(|t| t["id"] == name.as_str())
        .ok_or_else(|| ScimError::not_found(format!("resource type {name:?}")))?;
    Ok(respond(StatusCode::OK, &found, None))
}

pub async fn schemas(
    State(state): State<AppState>,
    who: Result<Caller, crate::server::ApiError>,
) -> Result<Response, ScimError> {
    checked(&state, who)?;
    let all = vec![user_schema(), enterprise_schema(), group_schema()];
    Ok(respond(StatusCode::OK, &page(all, None, None), None))
}

pub async fn schema(
    State(state): State<AppState>,
    who: Result<Caller, crate::server::ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    checked(&state, who)?;
    let found = [user_schema(), enterprise_schema(), group_schema()]
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .ok_or_else(|| ScimError::not_found(format!("schema {id:?}")))?;
    Ok(respond(StatusCode::OK, &found, None))
}
