//! The webhook endpoints, `/v1/webhooks…`, for the org's owner and admins: add (the
//! secret is in that answer only), list, show, pause, resume, rotate the secret, remove,
//! list deliveries, replay. The subscriptions themselves live in [`crate::webhooks`].

use aide::axum::routing::{get_with, post_with};
use aide::axum::ApiRouter;
use axum::extract::State;
use axum::Json;
use offboard_events::Actor;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::{Caller, Read};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::PageJson;
use super::AppState;
use crate::read::page::{self, Cursor, Limit};
use crate::webhooks::book::DEFAULT_OVERLAP;
use crate::webhooks::{
    DeliveryLog, NewSubscription, Subscription, SubscriptionDetail, WebhookError, WithSecret,
};

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            // ApiError::not_found says "not found" itself.
            WebhookError::NotFound(id) => ApiError::not_found(format!("webhook subscription {id}")),
            WebhookError::Invalid(message) => ApiError::unprocessable("invalid_input", message),
            WebhookError::Storage(e) => e.into(),
        }
    }
}

/// The caller, checked to be an active owner or admin of its org.
fn manager(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let refused =
        || ApiError::forbidden("webhooks are managed by the organization's owner and admins");
    // Users who may read histories are the owner and admins; any other refusal (a
    // member's) names webhooks, not histories. Other principals never manage them.
    let user = matches!(caller.actor, Actor::User { .. });
    match caller.may_read(&state.engine().state(), Read::History) {
        Ok(_) if user => Ok(()),
        Ok(_) => Err(refused()),
        Err(e) if user && e.status == axum::http::StatusCode::FORBIDDEN => Err(refused()),
        Err(e) => Err(e),
    }
}

/// Runs a (writing) hub call off the async workers, as the owner or an admin.
async fn managed<T: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    f: impl FnOnce(&crate::webhooks::Hub) -> Result<T, WebhookError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    manager(state, caller)?;
    let hub = std::sync::Arc::clone(state.webhooks());
    Ok(Json(state.blocking(move || f(&hub)).await??))
}

async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSubscription>,
) -> Result<Json<WithSecret>, ApiError> {
    let (org, options) = (caller.org_id, state.options().webhooks);
    let (after, now) = (state.engine().last_position(), state.engine().clock().now());
    managed(&state, &caller, move |hub| {
        hub.add(org, body, &options, after, now)
    })
    .await
}

/// `GET /v1/webhooks`: a page of the org's subscriptions, oldest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhooksQuery {
    #[serde(default, skip_serializing_if = "Limit::is_default")]
    pub limit: Limit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// One page of the org's webhook subscriptions, by creation time then id (never a
/// secret): `GET /v1/webhooks` and `webhook list --json` answer this shape.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct WebhooksPage {
    pub webhooks: Vec<Subscription>,
    /// The next page's relative URL; `null` on the last page.
    pub next: Option<String>,
}

crate::read::page::paged!(WebhooksQuery);
crate::read::page::page_answer!(WebhooksPage);

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<WebhooksQuery>,
) -> Result<PageJson<WebhooksPage>, ApiError> {
    manager(&state, &caller)?;
    let all = state.webhooks().list(caller.org_id);
    let (webhooks, next) = page::oldest_first(
        "/v1/webhooks",
        "webhooks",
        &query,
        all,
        |s: &Subscription| (s.created_at, s.id),
    )?;
    Ok(PageJson(WebhooksPage { webhooks, next }))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WebhookPath {
    id: Uuid,
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WebhookPath>,
) -> Result<Json<SubscriptionDetail>, ApiError> {
    manager(&state, &caller)?;
    let last = state.engine().last_position();
    Ok(Json(state.webhooks().show(caller.org_id, path.id, last)?))
}

async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WebhookPath>,
) -> Result<Json<Subscription>, ApiError> {
    let org = caller.org_id;
    managed(&state, &caller, move |hub| hub.pause(org, path.id)).await
}

async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WebhookPath>,
) -> Result<Json<Subscription>, ApiError> {
    let org = caller.org_id;
    managed(&state, &caller, move |hub| hub.resume(org, path.id)).await
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WebhookPath>,
) -> Result<Json<Subscription>, ApiError> {
    let org = caller.org_id;
    managed(&state, &caller, move |hub| hub.remove(org, path.id)).await
}

/// How long the previous secret keeps signing.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateQuery {
    /// Seconds both signatures are sent (default 86400, one day; 0 ends the old secret now).
    overlap_secs: Option<u32>,
}

async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WebhookPath>,
    ApiQuery(query): ApiQuery<RotateQuery>,
) -> Result<Json<WithSecret>, ApiError> {
    let org = caller.org_id;
    let overlap = query
        .overlap_secs
        .map_or(DEFAULT_OVERLAP, |s| chrono::Duration::seconds(s.into()));
    let now = state.engine().clock().now();
    managed(&state, &caller, move |hub| {
        hub.rotate_secret(org, path.id, overlap, now)
    })
    .await
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// `true`: only failed attempts (and the parked events).
    #[serde(default)]
    failed: bool,
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WebhookPath>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryLog>, ApiError> {
    manager(&state, &caller)?;
    Ok(Json(state.webhooks().deliveries(
        caller.org_id,
        path.id,
        query.failed,
    )?))
}

/// Where to deliver again from.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// The first position delivered again (1 to one past the log's end).
    from: u64,
}

async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<WebhookPath>,
    ApiJson(body): ApiJson<ReplayBody>,
) -> Result<Json<SubscriptionDetail>, ApiError> {
    let (org, last) = (caller.org_id, state.engine().last_position());
    managed(&state, &caller, move |hub| {
        hub.replay(org, path.id, body.from, last)
    })
    .await
}

/// The webhook endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/v1/webhooks",
            post_with(add, |op| {
                op.summary(
                    "Add a webhook subscription (owner, admins); the secret is in this answer only",
                )
                .tag("webhooks")
            })
            .get_with(list, |op| {
                op.summary("The org's webhook subscriptions")
                    .tag("webhooks")
            }),
        )
        .api_route(
            "/v1/webhooks/{id}",
            get_with(show, |op| {
                op.summary("A webhook subscription with its delivery progress")
                    .tag("webhooks")
            })
            .delete_with(remove, |op| {
                op.summary("Remove a webhook subscription").tag("webhooks")
            }),
        )
        .api_route(
            "/v1/webhooks/{id}/pause",
            post_with(pause, |op| op.summary("Pause delivery").tag("webhooks")),
        )
        .api_route(
            "/v1/webhooks/{id}/resume",
            post_with(resume, |op| op.summary("Resume delivery").tag("webhooks")),
        )
        .api_route(
            "/v1/webhooks/{id}/rotate-secret",
            post_with(rotate, |op| {
                op.summary("A new secret; the old one signs too during the overlap")
                    .tag("webhooks")
            }),
        )
        .api_route(
            "/v1/webhooks/{id}/deliveries",
            get_with(deliveries, |op| {
                op.summary("Recent delivery attempts and parked events")
                    .tag("webhooks")
            }),
        )
        .api_route(
            "/v1/webhooks/{id}/replay",
            post_with(replay, |op| {
                op.summary("Deliver again from a position (parked events included)")
                    .tag("webhooks")
            }),
        )
}
