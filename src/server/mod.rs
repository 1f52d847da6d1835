//! The HTTP server: sled lets one process own a data directory, so a deployment is one
//! `offboard serve` owning the log while administrators, support, auditors and
//! downstream systems talk to it; on PostgreSQL several nodes serve one log, one of
//! them the leader ([`forward`]: what a follower sends on to it; [`read_your_writes`]:
//! `min_position`; [`leading`]: what runs only on the leader).
//!
//! - [`app`] builds the router (every `/v1` endpoint, the OpenAPI document generated from
//!   the handlers' types, the operations endpoints `/healthz`, `/livez`, `/readyz` and
//!   `/metrics`, body limit, one log line per request, the HTTP conventions of
//!   `conventions.rs`); tests drive it with `tower::ServiceExt::oneshot`, no socket
//!   needed.
//! - [`serve`] / [`serve_listener`] run it until a shutdown future completes, then stop
//!   gracefully: event streams end, in-flight commands get their answers, the writer
//!   finishes its group and the engine closes.
//! - [`tokens`] is the library API behind `offboard token …`, [`links`] the one behind
//!   `offboard console-link` (one-time console sign-in links); [`client`] is what a CLI
//!   pointed at a server (`--server`, `--token`) talks through.

mod admin;
mod auth;
pub mod client;
mod command_docs;
pub mod command_routes;
mod commands;
pub mod consumers;
pub mod conventions;
mod created;
mod error;
mod etag;
mod extract;
mod forward;
mod health;
mod leading;
mod link_api;
pub mod links;
mod listings;
mod metrics;
mod openapi;
mod pages;
pub(crate) mod queries;
pub mod read_your_writes;
mod refs;
mod schedules;
mod serve;
mod stream;
mod strict_json;
mod sync;
mod token_api;
pub mod tokens;
mod user_import;
mod views;
mod webhooks;

use std::sync::{Arc, Mutex, MutexGuard};

use aide::axum::ApiRouter;
use aide::openapi::{Info, OpenApi, SecurityScheme};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use auth::NO_TOKENS_ISSUED;
pub use auth::{Caller, Read};
pub use error::{ApiError, BlockerView, ErrorBody, ErrorDetail};
pub use forward::{goes_to_leader, FORWARDED_BY};
pub use leading::TOKEN_REFRESH;
pub use refs::UserRef;
pub use serve::{init_tracing, serve, serve_listener, serve_shared, shutdown_signal, ServeError};
pub use stream::Format;
pub use token_api::TokensPage;
pub use views::*;
pub use webhooks::WebhooksPage;

use crate::store::StoreError;
use crate::Engine;
use links::LinkCache;
use tokens::TokenCache;

/// Request bodies above this answer 413. Large enough for a full resource import
/// (`MAX_REGISTER` keys of up to 200 characters would not fit, but real keys are short).
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Tunables of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Origins browsers may call the API from (CORS), each `scheme://host[:port]` or `*`
    /// (see [`conventions::parse_origin`]); empty (the default): no CORS headers.
    pub cors_origins: Vec<HeaderValue>,
    /// The HTTP conventions (request ids, compression, ETag, the 401/429/503 headers,
    /// CORS, HTTP metrics); `true` by default. `false` only to measure what they cost
    /// (`offboard bench --only http`).
    pub conventions: bool,
    /// How webhooks are delivered and which URLs they may reach.
    pub webhooks: crate::webhooks::WebhookOptions,
    /// How long a read asking for `min_position` waits for this node to apply it
    /// before answering `position_not_reached` ([`read_your_writes`]); 5 s by default.
    pub position_patience: std::time::Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            cors_origins: Vec::new(),
            conventions: true,
            webhooks: crate::webhooks::WebhookOptions::default(),
            position_patience: std::time::Duration::from_secs(5),
        }
    }
}

/// What every handler shares: the engine, the tokens, and the shutdown signal.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    engine: Arc<Engine>,
    tokens: TokenCache,
    links: LinkCache,
    /// Serializes consumer acks (each is read, compare, write).
    acks: Mutex<()>,
    /// `true` once the server is stopping: event streams end.
    stop: watch::Sender<bool>,
    options: ServerOptions,
    metrics: metrics::ServerMetrics,
    webhooks: Arc<crate::webhooks::Hub>,
    /// The client to the leader, for requests a follower does not answer itself.
    forwarder: forward::Forwarder,
    /// Whether this node, while it leads, has read its side stores since it took over
    /// ([`leading`]): until then it refuses writes (`not_leader`).
    leading_ready: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// State over `engine`, loading its tokens.
    pub fn new(engine: Arc<Engine>) -> Result<Self, StoreError> {
        Self::with_options(engine, ServerOptions::default())
    }

    pub fn with_options(engine: Arc<Engine>, options: ServerOptions) -> Result<Self, StoreError> {
        let tokens = TokenCache::load(engine.store().as_ref())?;
        let links = LinkCache::load(engine.store().as_ref())?;
        let webhooks = Arc::new(crate::webhooks::Hub::load(&engine)?);
        let forwarder = forward::Forwarder::default();
        let metrics = metrics::ServerMetrics::new(&engine, &webhooks, &forwarder);
        Ok(Self(Arc::new(Inner {
            metrics,
            webhooks,
            engine,
            tokens,
            links,
            acks: Mutex::new(()),
            stop: watch::Sender::new(false),
            options,
            forwarder,
            leading_ready: std::sync::atomic::AtomicBool::new(true),
        })))
    }

    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    pub fn engine_arc(&self) -> Arc<Engine> {
        Arc::clone(&self.0.engine)
    }

    /// Ends every event stream (the first step of a graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.0.stop.send_replace(true);
    }

    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.0.stop.subscribe()
    }

    pub(crate) fn tokens(&self) -> &TokenCache {
        &self.0.tokens
    }

    /// The console's one-time sign-in links.
    pub(crate) fn links(&self) -> &LinkCache {
        &self.0.links
    }

    /// The webhook subscriptions (shared with the delivery tasks).
    pub fn webhooks(&self) -> &Arc<crate::webhooks::Hub> {
        &self.0.webhooks
    }

    pub(crate) fn options(&self) -> &ServerOptions {
        &self.0.options
    }

    /// Whether this node serves writes: it leads and has read its side stores since it
    /// took over.
    pub(crate) fn serves_writes(&self) -> bool {
        self.engine().role().is_leader()
            && self
                .0
                .leading_ready
                .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn set_leading_ready(&self, ready: bool) {
        self.0
            .leading_ready
            .store(ready, std::sync::atomic::Ordering::Release);
    }

    pub(crate) fn forwarder(&self) -> &forward::Forwarder {
        &self.0.forwarder
    }

    pub(crate) fn ack_lock(&self) -> MutexGuard<'_, ()> {
        self.0.acks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs storage reads off the async workers.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        tokio::task::spawn_blocking(f).await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the read did not finish: {e}"),
            )
        })
    }
}

/// The OpenAPI document of every `/v1` endpoint, generated from the handlers' types.
pub fn openapi() -> OpenApi {
    build().1
}

/// The OpenAPI document as served at `/v1/openapi.json`: [`openapi`] completed by
/// [`openapi::polish`].
pub fn openapi_document() -> serde_json::Value {
    document(&build().1)
}

fn document(api: &OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(api).expect("the OpenAPI document serializes");
    openapi::polish(&mut doc);
    doc
}

fn build() -> (Router<AppState>, OpenApi) {
    let mut api = OpenApi {
        info: Info {
            title: "offboard".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: Some(
                "Event-sourced offboarding engine. Every request carries `Authorization: Bearer <token>`; \
                 the token's org and principal decide what it sees and may do.\n\n\
                 Several nodes (on PostgreSQL): any node takes any request; one node, the leader, \
                 decides commands, and the others forward writes to it and answer with its answer. \
                 Read-your-writes: every command's answer names its `position`; any GET accepts \
                 the query parameter `min_position=N` or the header `Offboard-Min-Position: N` and \
                 is answered once the node has applied position N, or after 5 s with 503 \
                 `position_not_reached` (`Retry-After: 1`). `/readyz` names the node's role."
                    .to_owned(),
            ),
            ..Info::default()
        },
        ..OpenApi::default()
    };
    let router = ApiRouter::new()
        .merge(commands::routes())
        .merge(queries::routes())
        .merge(listings::routes())
        .merge(stream::routes())
        .merge(token_api::routes())
        .merge(link_api::routes())
        .merge(admin::routes())
        .merge(sync::routes())
        .merge(user_import::routes())
        .merge(webhooks::routes())
        .merge(schedules::routes())
        .finish_api_with(&mut api, |doc| {
            doc.security_scheme(
                "bearer",
                SecurityScheme::Http {
                    scheme: "bearer".to_owned(),
                    bearer_format: Some("ofb_…".to_owned()),
                    description: Some(
                        "A token from `offboard token create` or POST /v1/tokens.".to_owned(),
                    ),
                    extensions: Default::default(),
                },
            )
            .security_requirement("bearer")
        });
    (router, api)
}

/// The router: every `/v1` endpoint, `/v1/openapi.json`, the operations endpoints
/// `/healthz`, `/livez`, `/readyz` and `/metrics` (no token needed for those five), the
/// web console at `/` ([`crate::console`]),
/// JSON 404s, the body limit (413), one `tracing` line per request, and the HTTP
/// conventions of [`conventions`] (unless [`ServerOptions::conventions`] is off).
pub fn app(state: AppState) -> Router {
    let (router, api) = build();
    let document = serde_json::to_vec_pretty(&document(&api)).expect("JSON serializes");
    let options = state.0.options.clone();
    let router = router
        .route(
            "/v1/openapi.json",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    document.clone(),
                )
            }),
        )
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(crate::scim::routes())
        .merge(crate::console::routes())
        .fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; see /v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(options.body_limit))
        .with_state(state.clone());
    let router = if options.conventions {
        conventions::metrics(router, state.0.metrics.http.clone())
    } else {
        router
    };
    let router = router.layer(
        TraceLayer::new_for_http()
            .make_span_with(request_span)
            .on_request(())
            .on_response(request_done)
            .on_body_chunk(())
            .on_eos(())
            .on_failure(()),
    );
    let router = nodes(router, state);
    if options.conventions {
        conventions::around(router, &options.cors_origins)
    } else {
        router
    }
}

/// What a node that does not lead adds, outside routing like the conventions (see
/// [`conventions::around`] for why): requests for the leader are forwarded to it
/// ([`forward`]), and the reads it answers itself wait for `min_position`
/// ([`read_your_writes`]).
fn nodes(router: Router, state: AppState) -> Router {
    let service = tower::Layer::layer(&forward::NodesLayer(state), router);
    Router::new().fallback_service(service)
}

/// One line per request: method, route template (never the raw path, which may hold an
/// email), status, latency and principal. Never a header, body or query string.
fn request_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(&conventions::REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %request_id,
        principal = tracing::field::Empty,
    )
}

fn request_done(response: &Response, latency: std::time::Duration, _: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "answered"
    );
}
