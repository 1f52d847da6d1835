//! `POST /v1/console-links`: a one-time console sign-in link ([`super::links`]) minted
//! by the org's owner over the API, for a CLI in client mode (`offboard --server URL
//! --token T console-link --as USER`); the same rules as creating a token.

use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use axum::extract::State;
use axum::Json;
use chrono::Duration;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use super::links::{CreatedLink, DEFAULT_TTL, MAX_TTL};
use super::tokens::resolve_principal;
use super::AppState;

/// Who the link signs in, and for how long it works.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLinkBody {
    /// A user of the org (id or email), `support:NAME` or `auditor:NAME`.
    principal: String,
    /// Seconds the link works (1 to 86400; default 600).
    #[serde(default)]
    #[schemars(range(min = 1, max = 86400))]
    ttl_seconds: Option<u32>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewLinkBody>,
) -> Result<Json<CreatedLink>, ApiError> {
    let ttl = body
        .ttl_seconds
        .map_or(DEFAULT_TTL, |s| Duration::seconds(i64::from(s)));
    if ttl <= Duration::zero() || ttl > MAX_TTL {
        return Err(ApiError::unprocessable(
            "invalid_input",
            "ttl_seconds must be 1 to 86400",
        ));
    }
    let principal = {
        let projections = state.engine().state();
        let org = caller.owner_of(&projections)?;
        resolve_principal(org, &body.principal)?
    };
    let now = state.engine().clock().now();
    let store = state.engine().store().as_ref();
    let created = state
        .links()
        .issue(store, caller.org_id, principal, now, ttl)?;
    Ok(Json(created))
}

/// The link endpoint.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().api_route(
        "/v1/console-links",
        post_with(create, |op| {
            op.summary(
                "Create a one-time console sign-in link (owner); its secret is in this answer only",
            )
            .tag("tokens")
        }),
    )
}
