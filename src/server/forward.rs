//! Forwarding to the leader: on a node that does not lead (on PostgreSQL, several
//! `offboard serve` nodes share one log and one of them writes), every request that
//! writes, every read of a side store (tokens, webhooks and their deliveries, consumer
//! positions) and the whole console is proxied to the leader's advertised URL; reads of
//! the projections and event streams are answered here.
//!
//! Why the whole console and not only its form posts: console sessions live in the
//! memory of the node that opened them (`console::session`), so a session opened here
//! would be unknown to the leader that decides its posts. Sessions follow the leader:
//! after a failover everyone signs in again, as after a restart.
//!
//! The proxy is reqwest (no redirects followed, no decompression: the leader's status,
//! headers and body go back as they are, the body streamed). It adds `Forwarded` and
//! `X-Forwarded-For` (RFC 7239 and its de-facto predecessor) and [`FORWARDED_BY`]: a
//! request that carries it and meets a node that does not lead either (an election
//! under way) is answered `not_leader` instead of travelling on.
//!
//! The mark is a loop guard, not a credential, so a client may send it and gain
//! nothing: it can only make a follower refuse what it would have forwarded. A leader
//! ignores it (the token is checked and the command decided as any other), a follower
//! never answers a marked write itself (not_leader, before the token is read), and the
//! reads a follower answers itself check their token whatever the headers say. Being
//! set by this module with `insert`, a client's value never survives a real hop.
//!
//! Failures, each a 503 with `Retry-After: 1`: `not_leader` (no leader known, or a
//! forwarded request met a follower), `leader_unreachable` (no connection to the
//! leader: nothing was sent), `outcome_unknown` (a write whose answer was lost on the
//! way: it may have been applied; retry with the same `Idempotency-Key`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tower::{Layer, Service};

use super::{read_your_writes, ApiError, AppState};
use crate::engine::Role;

/// Set on every request a node forwards (its value: the leader URL it was sent to): a
/// node that does not lead answers such a request `not_leader` rather than forward it
/// again.
pub const FORWARDED_BY: HeaderName = HeaderName::from_static("offboard-forwarded");

/// How long a connection to the leader may take before it counts as unreachable.
const CONNECT_PATIENCE: Duration = Duration::from_secs(2);

/// Longest silence from the leader while it answers (a partitioned leader must not hold
/// a request forever; the slowest command, a large sync, streams its progress).
pub(crate) const READ_PATIENCE: Duration = Duration::from_secs(60);

/// The console's pages and forms (everything outside `/v1`, SCIM and the operations
/// endpoints, except its static assets).
const CONSOLE: &[&str] = &["/people", "/support", "/audit", "/sign-in", "/sign-out"];

/// `/v1` reads answered from side stores rather than the projections.
const SIDE_STORE_READS: &[&str] = &["/v1/tokens", "/v1/webhooks", "/v1/consumers"];

/// Whether a node that does not lead sends `method path` to the leader.
pub fn goes_to_leader(method: &Method, path: &str) -> bool {
    let api = path.starts_with("/v1/") || path.starts_with("/scim/v2/");
    if !api {
        return path == "/" || CONSOLE.iter().any(|p| under(path, p));
    }
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    !reads || SIDE_STORE_READS.iter().any(|p| under(path, p))
}

/// `path` is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The labels of `offboard_forwarded_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ForwardLabels {
    /// `answered` (the leader's answer passed on, whatever its status), or the code
    /// this node answered with instead.
    outcome: &'static str,
}

/// The HTTP client to the leader, built on first use (a node that always leads never
/// needs one), and the count of requests sent on.
#[derive(Debug, Default)]
pub(crate) struct Forwarder {
    client: OnceLock<Result<reqwest::Client, String>>,
    pub(crate) counts: Family<ForwardLabels, Counter>,
}

impl Forwarder {
    fn count(&self, outcome: &'static str) {
        self.counts.get_or_create(&ForwardLabels { outcome }).inc();
    }

    fn client(&self) -> Result<&reqwest::Client, ApiError> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(CONNECT_PATIENCE)
                    .read_timeout(READ_PATIENCE)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| unreachable_leader(format!("the client to the leader cannot start: {e}")))
    }
}

/// Layer: answers here what this node answers (a read once the position it asks for is
/// applied: [`read_your_writes::wait`]), sends the rest to the leader. A plain tower
/// layer, not `axum::middleware::from_fn`: a command on the leader (nearly every request
/// that is not a read) goes straight to the router's own future, where `from_fn` boxed
/// a future and a clone of the router for every request (`docs/performance.md`).
#[derive(Clone, Debug)]
pub(crate) struct NodesLayer(pub AppState);

impl<S> Layer<S> for NodesLayer {
    type Service = Nodes<S>;

    fn layer(&self, inner: S) -> Nodes<S> {
        Nodes {
            inner,
            state: self.0.clone(),
        }
    }
}

/// The service [`NodesLayer`] makes around the router.
#[derive(Clone, Debug)]
pub(crate) struct Nodes<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Nodes<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.answers_at_once(&request) {
            return Either::Left(self.inner.call(request));
        }
        // The clone is ready as the router always is; `self.inner` stays for the next.
        let (state, inner) = (self.state.clone(), self.inner.clone());
        Either::Right(Box::pin(
            async move { Ok(route(state, request, inner).await) },
        ))
    }
}

impl<S> Nodes<S> {
    /// Whether [`route`] would hand `request` to the router as it is: not a read (so no
    /// position to wait for), and either answered by any node or sent here to a leader
    /// that serves writes.
    fn answers_at_once(&self, request: &Request) -> bool {
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            return false;
        }
        if !goes_to_leader(request.method(), request.uri().path()) {
            return true;
        }
        self.state.engine().role().is_leader() && self.state.serves_writes()
    }
}

/// Where [`Nodes`] sends what it does not pass on at once.
async fn route<S>(state: AppState, request: Request, next: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    if !goes_to_leader(request.method(), request.uri().path()) {
        return read_your_writes::wait(&state, request, next).await;
    }
    let role = state.engine().role();
    if role.is_leader() {
        if state.serves_writes() {
            return read_your_writes::wait(&state, request, next).await;
        }
        return not_leader("this node is taking over as the leader: retry shortly");
    }
    if request.headers().contains_key(FORWARDED_BY) {
        state.forwarder().count("not_leader");
        return not_leader(
            "this request came with Offboard-Forwarded, so it is not sent on, and this node does not lead (a leader that just stepped down, or a client that set the header): retry shortly",
        );
    }
    let Some(leader) = role.leader().map(str::to_owned) else {
        state.forwarder().count("not_leader");
        return not_leader(match role {
            Role::CatchingUp { .. } => {
                "this node is catching up on the log and knows no leader yet: retry shortly, or ask another node"
            }
            _ => "this node is a follower and no leader is known yet (an election is under way): retry shortly",
        });
    };
    match proxy(&state, &leader, request).await {
        Ok(response) => {
            state.forwarder().count("answered");
            response
        }
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e.detail.message, "a request for the leader was not answered");
            let outcome = match e.code() {
                "outcome_unknown" => "outcome_unknown",
                _ => "leader_unreachable",
            };
            state.forwarder().count(outcome);
            soon(e)
        }
    }
}

/// Sends `request` to `leader` and returns its answer as it came.
async fn proxy(state: &AppState, leader: &str, request: Request) -> Result<Response, ApiError> {
    let client = state.forwarder().client()?;
    let (parts, body) = request.into_parts();
    let target = format!(
        "{}{}",
        leader.trim_end_matches('/'),
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let mut headers = end_to_end(&parts.headers);
    add_forwarded(&mut headers, peer, leader);
    let writes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let sending = client
        .request(parts.method, &target)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send();
    // A hung leader (a stopped process) holds a request until it wakes; once another
    // node leads, its answer no longer matters: the client hears it now, not after the
    // read patience (the hung one's writes are refused by the positions meanwhile).
    let sent = tokio::select! {
        sent = sending => sent,
        () = replaced(state, leader) => {
            let why = format!("the leader at {leader} was replaced while it held the request");
            return Err(if writes {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "outcome_unknown",
                    format!("{why}: it may or may not have been applied; retry with the same Idempotency-Key"),
                )
            } else {
                unreachable_leader(format!("{why}; retry shortly"))
            });
        }
    };
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) if e.is_connect() || !writes => {
            return Err(unreachable_leader(format!(
                "the leader at {leader} cannot be reached ({e}); retry shortly"
            )))
        }
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "outcome_unknown",
                format!(
                "the answer of the leader at {leader} was lost ({e}): the request may or may not \
                     have been applied; retry with the same Idempotency-Key"
            ),
            ))
        }
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = answer.status();
    *response.headers_mut() = end_to_end(answer.headers());
    *response.body_mut() = Body::from_stream(answer.bytes_stream());
    Ok(response)
}

/// Resolves once this node knows another leader than `leader` (or leads itself); never
/// if the engine stops reporting roles.
async fn replaced(state: &AppState, leader: &str) {
    let mut roles = state.engine().roles();
    let gone = roles
        .wait_for(|role| role.is_leader() || role.leader().is_some_and(|now| now != leader))
        .await
        .is_err();
    if gone {
        std::future::pending::<()>().await;
    }
}

/// `headers` without the hop-by-hop ones (RFC 9110 §7.6.1: the fixed list and those
/// `Connection` names); `Host` is kept, so the leader sees the host the client asked.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let hop = matches!(
            name.as_str(),
            "connection"
                | "keep-alive"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "proxy-connection"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
        ) || named.iter().any(|n| n == name.as_str());
        if !hop {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Appends this hop to `Forwarded` and `X-Forwarded-For`, and marks the request
/// forwarded.
fn add_forwarded(headers: &mut HeaderMap, peer: Option<SocketAddr>, leader: &str) {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!(";host=\"{h}\""))
        .unwrap_or_default();
    let hop = match peer {
        Some(peer) => format!("for=\"{peer}\";proto=http{host}"),
        None => format!("for=unknown;proto=http{host}"),
    };
    append(headers, header::FORWARDED, &hop);
    if let Some(peer) = peer {
        append(
            headers,
            HeaderName::from_static("x-forwarded-for"),
            &peer.ip().to_string(),
        );
    }
    if let Ok(value) = HeaderValue::from_str(leader) {
        headers.insert(FORWARDED_BY, value);
    }
}

/// `name: …, value` (one header, comma-joined, as proxies extend these lists).
fn append(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    let joined = match headers.get(&name).and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before}, {value}"),
        None => value.to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&joined) {
        headers.insert(name, value);
    }
}

fn not_leader(message: &str) -> Response {
    soon(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_leader",
        message,
    ))
}

fn unreachable_leader(message: String) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "leader_unreachable",
        message,
    )
}

/// The error's answer, asking to come back in a second: an election or a lag passes
/// faster than the five seconds a failed disk is given.
pub(crate) fn soon(e: ApiError) -> Response {
    let mut response = e.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_side_stores_and_the_console_go_to_the_leader() {
        let leader = |m: Method, p: &str| goes_to_leader(&m, p);
        assert!(leader(Method::POST, "/v1/users"));
        assert!(leader(Method::DELETE, "/v1/webhooks/x"));
        assert!(leader(Method::PATCH, "/scim/v2/Users/x"));
        assert!(leader(Method::GET, "/v1/tokens"));
        assert!(leader(Method::GET, "/v1/webhooks/x/deliveries"));
        assert!(leader(Method::GET, "/v1/consumers/crm"));
        assert!(leader(Method::GET, "/"));
        assert!(leader(Method::POST, "/people/u/deactivate"));
        assert!(leader(Method::GET, "/sign-in"));
        for local in [
            "/v1/users",
            "/v1/events",
            "/v1/position",
            "/v1/tokensmith",
            "/scim/v2/Users",
            "/readyz",
            "/metrics",
            "/assets/console.css",
        ] {
            assert!(!leader(Method::GET, local), "{local}");
        }
    }

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("close, x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert("idempotency-key", HeaderValue::from_static("k"));
        let kept = end_to_end(&headers);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept["idempotency-key"], "k");
    }
}
