//! `POST /v1/resources/sync`: a system of record's export as the request body (JSON
//! lines, or CSV with a header), streamed: the body is read row by row on a blocking
//! thread and compared with the views as it arrives, never held whole; then the
//! changes are sent as `SyncResources` batches under one correlation id
//! ([`crate::sync`]).

use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use axum::body::Body;
use axum::extract::State;
use axum::Json;
use futures_util::TryStreamExt;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiQuery;
use super::refs::CommandHeaders;
use super::AppState;
use crate::sync::rows::bad_rows_message;
use crate::sync::{plan_on, run, PlanError, SyncReport};

/// The sync's options.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncQuery {
    /// Only these kinds, comma-separated (`buyer,lead`); rows of others are ignored.
    /// Default: the kinds the body holds.
    // No `#[serde(default)]`: a missing Option is None anyway, and the attribute would
    // declare `default: null` on a string parameter (openapi-spec-validator refuses it).
    kind: Option<String>,
    /// `true`: answer the diff and write nothing.
    #[serde(default)]
    dry_run: bool,
}

impl SyncQuery {
    fn kinds(&self) -> Result<Vec<String>, ApiError> {
        let kinds: Vec<String> = self
            .kind
            .iter()
            .flat_map(|k| k.split(','))
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        match kinds
            .iter()
            .find(|k| !offboard_events::resource::is_valid_kind(k) || *k == "group")
        {
            Some(bad) => Err(ApiError::bad_request(format!(
                "kind {bad:?}: name resource kinds such as buyer (groups are not synced)"
            ))),
            None => Ok(kinds),
        }
    }
}

/// Compares the body with the views, then (unless a dry run) writes the changes.
async fn sync(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiQuery(query): ApiQuery<SyncQuery>,
    body: Body,
) -> Result<Json<SyncReport>, ApiError> {
    let kinds = query.kinds()?;
    let org = caller.org_id;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let shared = state.clone();
    let planned = state
        .blocking(move || {
            let input = std::io::BufReader::with_capacity(64 * 1024, reader);
            plan_on(shared.engine(), org, input, &kinds).map(|plan| (plan, kinds))
        })
        .await?;
    let (plan, kinds) = planned.map_err(|e| match e {
        PlanError::Header(why) => {
            ApiError::unprocessable("invalid_input", format!("the body, line 1: {why}"))
        }
        PlanError::BadRows(mut bad) => {
            let (code, message) = bad_rows_message("the body", &mut bad, "nothing was written");
            ApiError::unprocessable(code, message)
        }
        PlanError::NoOrg(id) => ApiError::not_found(format!("organization {id}")),
    })?;
    if plan.diff.rows == 0 && kinds.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_input",
            "the body holds no rows: it covers no kind, so nothing would change (name \
             ?kind=K to retire every record of kind K)",
        ));
    }
    let mut report = SyncReport::planned(&plan, query.dry_run);
    if !query.dry_run {
        let meta = headers.meta(&caller, None);
        run::apply(state.engine(), meta, &plan, &mut report).await?;
    }
    Ok(Json(report))
}

/// The sync endpoint.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/v1/resources/sync",
        post_with(sync, |op| {
            op.summary("Make the resources agree with a system of record's export (admins)")
                .description(
                    "The body (JSON lines `{\"kind\",\"id\",\"owner\"}` or \
                     `{\"resource\",\"owner\"}`, or CSV with a `kind,id,owner` header; owners \
                     by email, external id or user id) is the whole truth for the kinds it holds: new \
                     records are registered, records whose owner changed are moved (reason \
                     `sync`), records it no longer lists are retired. Streamed and compared \
                     row by row; any bad row is 422 naming every bad line, and nothing is \
                     written. `dry_run=true` answers the diff only. Answers once every \
                     change is durable; the same body again writes nothing.",
                )
                .tag("resources")
        }),
    )
}
