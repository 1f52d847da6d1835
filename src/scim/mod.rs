//! The SCIM 2.0 service provider (RFC 7643, RFC 7644) that `offboard serve` answers
//! under `/scim/v2`, so an identity provider (Okta, Microsoft Entra ID, …) provisions
//! the directory: Users (core schema and the enterprise extension's `manager`,
//! `department`, `employeeNumber`), Groups (offboard's groups), and the discovery
//! endpoints. Every write goes through the same commands and domain rules as the API,
//! as the token's principal (a `provisioner:NAME`, recorded as the actor).
//!
//! One idea per file: `error` (SCIM error bodies), `filter` (the filter grammar and
//! PATCH paths), `patch` (PatchOp), `attributes` (partial representations), `users`,
//! `groups`, `schema` (Schemas and ResourceTypes), `config` (ServiceProviderConfig).

mod attributes;
mod config;
mod error;
mod filter;
mod groups;
mod patch;
mod schema;
mod users;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use offboard_events::CorrelationId;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use attributes::Shape;
pub use error::ScimError;

use crate::server::{AppState, Caller};
use crate::CommandMeta;

/// Where the service provider lives.
pub const BASE: &str = "/scim/v2";

/// The media type of every SCIM answer (RFC 7644 §3.1).
pub const MEDIA_TYPE: &str = "application/scim+json";

/// The `/scim/v2` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(config::service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(schema::resource_types))
        .route("/scim/v2/ResourceTypes/{name}", get(schema::resource_type))
        .route("/scim/v2/Schemas", get(schema::schemas))
        .route("/scim/v2/Schemas/{id}", get(schema::schema))
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route(
            "/scim/v2/Users/{id}",
            get(users::read)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/scim/v2/Groups", get(groups::list).post(groups::create))
        .route(
            "/scim/v2/Groups/{id}",
            get(groups::read)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        // Searching every resource type at once (RFC 7644 §3.4.3) is not offered.
        .route("/scim/v2/.search", axum::routing::post(search_all))
        // Anything else under /scim/v2 is a SCIM 404, not the API's JSON 404.
        .route("/scim/v2/{*rest}", axum::routing::any(unknown))
}

async fn unknown() -> ScimError {
    ScimError::not_found("no such SCIM endpoint")
}

/// `POST /.search` at the root: `501` (RFC 7644 §3.12), as a search of every resource
/// type at once is not implemented; `GET /Users` and `GET /Groups` filter instead.
async fn search_all() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "searching every resource type at once is not supported: filter /Users or /Groups",
    )
}

/// A string attribute's value, trimmed; `None` when absent, not a string, or blank.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A time as SCIM's `dateTime` (RFC 7643 §2.3.5: `xsd:dateTime`), in UTC.
pub(crate) fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A SCIM answer: `status`, the JSON body as `application/scim+json`, and the resource's
/// version as `ETag` when it has one.
pub(crate) fn respond(status: StatusCode, body: &Value, etag: Option<&str>) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))],
        serde_json::to_vec(body).expect("JSON serializes"),
    )
        .into_response();
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// A resource answer: its `meta.version` is its ETag.
pub(crate) fn resource(status: StatusCode, body: &Value) -> Response {
    let version = body["meta"]["version"].as_str().map(str::to_owned);
    respond(status, body, version.as_deref())
}

/// A resource's version (`meta.version`, the `ETag`): a weak tag over its SCIM JSON
/// without `meta`, so it changes exactly when what the provider shows changes.
pub(crate) fn version_of(body: &Value) -> String {
    let bytes = serde_json::to_vec(body).expect("JSON serializes");
    let digest = Sha256::digest(&bytes);
    format!("W/\"{}\"", hex::encode(&digest[..8]))
}

/// `If-Match` (RFC 7644 §3.14): a write to a resource whose version is not one of the
/// header's answers `412` and changes nothing.
pub(crate) fn check_if_match(headers: &HeaderMap, current: &str) -> Result<(), ScimError> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ok = wanted
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == strip(current));
    if ok {
        Ok(())
    } else {
        Err(ScimError::precondition_failed())
    }
}

/// A `200` with the resource as `shape` asks (`attributes`, `excludedAttributes`); the
/// `ETag` is the whole resource's version.
pub(crate) fn partial(body: Value, shape: &Shape) -> Result<Response, ScimError> {
    let version = body["meta"]["version"].as_str().map(str::to_owned);
    Ok(respond(
        StatusCode::OK,
        &shape.apply(body)?,
        version.as_deref(),
    ))
}

/// A 201 answer for a new resource, with its `Location`.
pub(crate) fn created(body: &Value) -> Response {
    let mut response = resource(StatusCode::CREATED, body);
    if let Some(location) = body["meta"]["location"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// [`check_if_match`] against a resource's `meta.version`.
pub(crate) fn check_version(headers: &HeaderMap, resource: &Value) -> Result<(), ScimError> {
    check_if_match(headers, resource["meta"]["version"].as_str().unwrap_or(""))
}

/// What a `PUT` asks `current` to become: the body, once `If-Match` holds.
pub(crate) fn replaced(
    current: &Value,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ScimError> {
    check_version(headers, current)?;
    json_body(body)
}

/// What a `PATCH` makes of `current`, once `If-Match` holds.
pub(crate) fn patched(
    mut current: Value,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ScimError> {
    check_version(headers, &current)?;
    patch::apply(&mut current, &json_body(body)?)?;
    Ok(current)
}

/// Runs `commands` in order as the caller, under one correlation id. Each is durable when
/// it returns; a refusal stops the rest (what ran before it stays).
pub(crate) async fn run(
    state: &AppState,
    who: &Caller,
    commands: Vec<crate::domain::Command>,
) -> Result<(), ScimError> {
    let correlation = CorrelationId::new();
    for command in commands {
        state
            .engine()
            .execute(meta(who, correlation), command)
            .await?;
    }
    Ok(())
}

/// The request body as JSON (SCIM clients send `application/scim+json`, which axum's
/// `Json` refuses, so the body is read as bytes): `400 invalidSyntax` otherwise.
pub(crate) fn json_body(body: &Bytes) -> Result<Value, ScimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ScimError::invalid_syntax("the body must be a JSON object")),
        Err(e) => Err(ScimError::invalid_syntax(format!(
            "the body is not JSON: {e}"
        ))),
    }
}

/// The caller of a SCIM request, from the API's bearer token; a missing or unknown
/// token answers a SCIM `401`.
pub(crate) fn caller(caller: Result<Caller, crate::server::ApiError>) -> Result<Caller, ScimError> {
    caller.map_err(ScimError::from)
}

/// Metadata for one of a request's commands: the caller acts, and every command of one
/// request shares `correlation` (one operation in the history).
pub(crate) fn meta(caller: &Caller, correlation: CorrelationId) -> CommandMeta {
    CommandMeta {
        correlation_id: Some(correlation),
        ..CommandMeta::new(caller.org_id, caller.actor.clone())
    }
}

/// A page of a list (RFC 7644 §3.4.2.4): `startIndex` is 1-based, `count` at most
/// [`config::MAX_RESULTS`] (a larger one is clamped, a negative one is 0).
pub(crate) fn page(all: Vec<Value>, start_index: Option<i64>, count: Option<i64>) -> Value {
    let total = all.len();
    let start = start_index.unwrap_or(1).max(1) as usize;
    let count = count
        .unwrap_or(config::MAX_RESULTS as i64)
        .clamp(0, config::MAX_RESULTS as i64) as usize;
    let resources: Vec<Value> = all.into_iter().skip(start - 1).take(count).collect();
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// The query of a list: `filter`, `startIndex`, `count`, and the representation's
/// `attributes` or `excludedAttributes`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    // Not a flattened `Shape`: serde_urlencoded cannot read numbers through `flatten`.
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ListQuery {
    /// The resources that pass the filter (matched on their whole representation),
    /// paged, each shaped as asked.
    fn answer(&self, all: Vec<Value>) -> Result<Value, ScimError> {
        let kept = match &self.filter {
            Some(text) => {
                let f = filter::parse(text)?;
                all.into_iter().filter(|r| filter::matches(&f, r)).collect()
            }
            None => all,
        };
        let mut body = page(kept, self.start_index, self.count);
        let shape = Shape {
            attributes: self.attributes.clone(),
            excluded_attributes: self.excluded_attributes.clone(),
        };
        if let Some(resources) = body["Resources"].as_array_mut() {
            for r in resources.iter_mut() {
                *r = shape.apply(r.take())?;
            }
        }
        Ok(body)
    }
}
