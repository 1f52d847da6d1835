//! Token management over the API, for the org's owner (and for anyone revoking their own
//! token): what `offboard token …` does on the data directory, for a CLI that talks to
//! a server.

use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use axum::extract::State;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::PageJson;
use super::tokens::{resolve_principal, CreatedToken, TokenError, TokenRecord};
use super::AppState;
use crate::read::page::{self, Cursor, Limit};

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NotFound(what) => ApiError::not_found(what),
            TokenError::Invalid(message) => ApiError::unprocessable("invalid_input", message),
            TokenError::Storage(e) => e.into(),
        }
    }
}

/// Who the new token acts as.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// A user of the org (id or email), `support:NAME` or `auditor:NAME`.
    principal: String,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<Json<CreatedToken>, ApiError> {
    let principal = {
        let projections = state.engine().state();
        let org = caller.owner_of(&projections)?;
        resolve_principal(org, &body.principal)?
    };
    let now = state.engine().clock().now();
    let created = state
        .tokens()
        .change(state.engine().store().as_ref(), |book| {
            book.issue(caller.org_id, principal, now)
        })?;
    Ok(Json(created))
}

/// `GET /v1/tokens`: a page of the org's tokens, oldest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokensQuery {
    #[serde(default, skip_serializing_if = "Limit::is_default")]
    pub limit: Limit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// One page of the org's tokens, by creation time then id (never a secret).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TokensPage {
    pub tokens: Vec<TokenRecord>,
    /// The next page's relative URL; `null` on the last page.
    pub next: Option<String>,
}

crate::read::page::paged!(TokensQuery);
crate::read::page::page_answer!(TokensPage);

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TokensQuery>,
) -> Result<PageJson<TokensPage>, ApiError> {
    caller.owner_of(&state.engine().state())?;
    let all = state.tokens().with(|book| book.list(Some(caller.org_id)));
    let (tokens, next) =
        page::oldest_first("/v1/tokens", "tokens", &query, all, |t: &TokenRecord| {
            (t.created_at, t.id)
        })?;
    Ok(PageJson(TokensPage { tokens, next }))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TokenPath {
    id: Uuid,
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<TokenPath>,
) -> Result<Json<TokenRecord>, ApiError> {
    let found = state
        .tokens()
        .with(|book| book.get(path.id).cloned())
        .filter(|t| t.org_id == caller.org_id)
        .ok_or_else(|| ApiError::not_found(format!("token {}", path.id)))?;
    if found.id != caller.token_id {
        caller.owner_of(&state.engine().state())?;
    }
    let now = state.engine().clock().now();
    let revoked = state
        .tokens()
        .change(state.engine().store().as_ref(), |book| {
            book.revoke(path.id, now)
        })?
        .ok_or_else(|| ApiError::not_found(format!("token {}", path.id)))?;
    Ok(Json(revoked))
}

/// The token endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/v1/tokens",
            post_with(create, |op| {
                op.summary("Create a token (owner); the secret is in this answer only")
                    .tag("tokens")
            })
            .get_with(list, |op| {
                op.summary("The org's tokens (owner)").tag("tokens")
            }),
        )
        .api_route(
            "/v1/tokens/{id}/revoke",
            post_with(revoke, |op| {
                op.summary("Revoke a token (owner, or the token itself)")
                    .tag("tokens")
            }),
        )
}
