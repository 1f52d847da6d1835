//! Administration of the served data directory: `POST /v1/admin/backup` writes a
//! consistent copy of it (`Engine::backup`) into a directory on the server's machine
//! while commands keep flowing. Owner token only.

use std::path::PathBuf;

use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::engine::{BackupError, BackupReport, BackupTarget};

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::NotEmpty { .. } | BackupError::StoreNotEmpty { .. } => {
                ApiError::new(StatusCode::CONFLICT, e.code(), e.to_string())
            }
            BackupError::Invalid(why) => ApiError::unprocessable("invalid_input", why),
            BackupError::Storage(e) => e.into(),
            BackupError::Read(e) => e.into(),
            BackupError::Verify(e) => e.into(),
        }
    }
}

/// Where the copy goes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupBody {
    /// An absolute path on the server's machine: a new or empty directory (an existing
    /// non-empty one is refused, 409 `directory_not_empty`).
    dir: String,
}

/// Writes the copy; answers once every file of it is fsynced and it has verified.
async fn backup(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BackupBody>,
) -> Result<Json<BackupReport>, ApiError> {
    caller
        .owner_of(&state.engine().state())
        .map_err(|_| ApiError::forbidden("only an organization's owner may back up the server"))?;
    let dir = PathBuf::from(&body.dir);
    if !dir.is_absolute() {
        return Err(ApiError::unprocessable(
            "invalid_input",
            format!(
                "dir must be an absolute path on the server's machine ({:?} is relative)",
                body.dir
            ),
        ));
    }
    let shared = state.clone();
    let report = state
        .blocking(move || {
            let engine = shared.engine();
            let target = BackupTarget::claim(&dir, engine.data_dir())?;
            // The token book changes under its own lock: held around the capture, so the
            // book and its count are read whole (the order the token API takes them in).
            let point = shared.tokens().with(|_| engine.backup_point())?;
            target.fill(engine, point)
        })
        .await??;
    Ok(Json(report))
}

/// The admin endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/v1/admin/backup",
        post_with(backup, |op| {
            op.summary("Write a consistent copy of the served data directory (owner)")
                .description(
                    "Copies the log up to one position with the personal-data keys, tokens and \
                     consumer positions consistent with it, as a fresh data directory at `dir` \
                     on the server's machine, while commands keep flowing. Answers once every \
                     file of the copy is fsynced and the copy has verified. The copy holds the \
                     whole data directory, every organization in it.",
                )
                .tag("admin")
        }),
    )
}
