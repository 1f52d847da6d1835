//! `POST /v1/users/import`: a directory export (JSON lines, a JSON array of rows, or CSV
//! with a header) planned against the caller's directory as `offboard user import`
//! plans it ([`crate::sync::users`]), then sent as ONE `ApplyUserChanges` command:
//! written whole or not at all. Answers the CLI's `--json` document.

use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiQuery;
use super::refs::CommandHeaders;
use super::{AppState, UserView};
use crate::sync::rows::bad_rows_message;
use crate::sync::users::{plan_import, ImportError, ImportReport};
use crate::Appended;
use offboard_events::CommandId;

/// Largest body read (a directory of thousands of users is a few megabytes).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The import's options.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true`: check every row and have the domain decide the changes; write nothing.
    #[serde(default)]
    dry_run: bool,
}

/// The body as rows: a JSON array becomes JSON lines; anything else is read as it is.
fn rows_of(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    if body.trim_ascii_start().first() != Some(&b'[') {
        return Ok(body.to_vec());
    }
    let rows = match super::strict_json::from_slice(body) {
        Ok(Value::Array(rows)) => rows,
        Ok(_) => {
            return Err(ApiError::bad_request(
                "the body is not a JSON array of rows",
            ))
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "the body is not a JSON array of rows: {e}"
            )))
        }
    };
    let lines: Vec<String> = rows.iter().map(Value::to_string).collect();
    Ok(lines.join("\n").into_bytes())
}

/// Why the body cannot be imported, as the API answers it (`422`).
fn refused(e: ImportError) -> ApiError {
    match e {
        ImportError::Header(why) => {
            ApiError::unprocessable("invalid_input", format!("the body, line 1: {why}"))
        }
        ImportError::BadRows(mut bad) => {
            let (code, message) = bad_rows_message("the body", &mut bad, "nothing was written");
            ApiError::unprocessable(code, message)
        }
        ImportError::Empty => ApiError::unprocessable("invalid_input", "the body holds no users"),
    }
}

/// When the directory already agrees with the body: the first answer under this
/// request's Idempotency-Key (its command id), if a command was written under it — a
/// resent import then answers `duplicate: true` with the first one's positions, as any
/// resent command does, not "nothing to change". A key never used answers `None`.
async fn earlier(state: &AppState, id: CommandId) -> Result<Option<Appended>, ApiError> {
    let store = Arc::clone(state.engine().store());
    let record = state.blocking(move || store.command(id)).await??;
    Ok(record.map(|r| Appended {
        command_id: id,
        correlation_id: r.correlation_id,
        positions: r.positions,
        duplicate: true,
    }))
}

/// Plans the body against the directory, then (unless a dry run) writes the changes.
async fn import_users(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: Body,
) -> Result<Json<ImportReport>, ApiError> {
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| ApiError::bad_request(format!("the body could not be read: {e}")))?;
    let rows = rows_of(&body)?;
    let plan = {
        let projections = state.engine().state();
        let org = caller.org(&projections)?;
        let users = org.directory().listed().map(|u| UserView::of(org, u));
        plan_import(rows.as_slice(), users.collect())
    }
    .map_err(refused)?;
    let meta = headers.meta(&caller, None);
    let appended = match (&plan.command, query.dry_run) {
        (None, true) => None,
        (None, false) => earlier(&state, meta.command_id).await?,
        (Some(command), true) => state.engine().dry_run(&meta, command).map(|_| None)?,
        (Some(command), false) => Some(state.engine().execute(meta, command.clone()).await?),
    };
    Ok(Json(ImportReport::new(
        "the body",
        &plan,
        query.dry_run,
        appended.as_ref(),
    )))
}

/// The import endpoint.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/v1/users/import",
        post_with(import_users, |op| {
            op.summary("Make the directory agree with an HR or identity export, atomically")
                .description(
                    "The body (JSON lines or a JSON array of rows `{\"email\",\"first\",\
                     \"last\",\"title\",\"role\",\"manager\",\"external_id\",\"active\",\
                     \"user_name\"}`, or CSV with a header; only `email` is required) is \
                     compared with the directory: unknown users are invited, known ones \
                     (by external id, else email) get what differs. Any bad row is 422 \
                     naming every bad line; the changes are ONE `apply_user_changes` \
                     command, so a change the domain refuses writes nothing at all. \
                     `dry_run=true` decides and writes nothing. Answers \
                     `{ok, command, message, dry_run, rows, changes, events, correlation_id, \
                     positions, duplicate}` (the CLI's `--json`) once every change is \
                     durable; resent under the same Idempotency-Key it answers \
                     `duplicate: true` with the first positions; the same body again writes \
                     nothing.",
                )
                .tag("users")
        }),
    )
}
