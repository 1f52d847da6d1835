//! `GET /metrics`: the Prometheus text format (0.0.4), unauthenticated on the API's own
//! port, through `prometheus-client` (the Prometheus project's Rust client).
//!
//! Counters and histograms are handles updated where things happen — the engine's
//! (`engine::metrics`: commands by type and outcome, ack latency, commands per flush,
//! sync latency), the webhooks' (`webhooks::metrics`: delivery attempts by outcome) and
//! the HTTP layer's ([`RecordLayer`]: requests by method, route template and status, and
//! their latency). Gauges are read at scrape time: the log position, this node's role
//! (`offboard_node_leader`, 1 or 0) and lag behind the log (`offboard_follower_lag_events`), the checkpoint's
//! position and age, each named consumer's lag, each webhook subscription's lag and
//! parked events. Labels never hold personal
//! data: command type tags, error codes, route templates (`/v1/users/{user}`, never the
//! raw path, which may hold an email), org ids and consumer names.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use pin_project_lite::pin_project;
use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use tower::{Layer, Service};

use super::{consumers, ApiError, AppState};
use crate::engine::Role;
use crate::Engine;

/// Every metric's name starts with this (and `_`).
const PREFIX: &str = "offboard";

/// The labels of `offboard_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The matched route template, or `unmatched` (a 404 of the fallback).
    route: String,
    status: u16,
}

/// The labels of `offboard_http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// The labels of `offboard_consumer_lag_events`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    org: String,
    consumer: String,
}

/// The HTTP layer's handles, cloned into the [`RecordLayer`] of each route.
#[derive(Clone, Debug)]
pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            // 0.25 ms .. ~8 s, like the engine's ack latency.
            duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
            }),
        }
    }
}

/// The registry of a server: the engine's handles and the HTTP layer's.
#[derive(Debug)]
pub(crate) struct ServerMetrics {
    registry: Registry,
    pub(crate) http: HttpMetrics,
}

impl ServerMetrics {
    pub(crate) fn new(
        engine: &Engine,
        webhooks: &crate::webhooks::Hub,
        forwarder: &super::forward::Forwarder,
    ) -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register(
            "forwarded_requests",
            "Requests a node that does not lead sent on to the leader, by outcome (answered, or the 503 code answered instead)",
            forwarder.counts.clone(),
        );
        engine.metrics().register(&mut registry);
        webhooks.metrics().register(&mut registry);
        let http = HttpMetrics::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            http.requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request (to its headers), by method and route template",
            Unit::Seconds,
            http.duration.clone(),
        );
        Self { registry, http }
    }
}

/// The `/metrics` route, outside `/v1` and its token check.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    let reading = state.clone();
    let text = state.blocking(move || render(&reading)).await?;
    let text = text.map_err(|e| ApiError::from(crate::store::StoreError::Io(e.to_string())))?;
    Ok(([(CONTENT_TYPE, prometheus_text::CONTENT_TYPE)], text).into_response())
}

/// The handles' values, then the gauges read now.
fn render(state: &AppState) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_text::encode(&mut text, &state.0.metrics.registry)?;
    prometheus_text::encode(&mut text, &gauges(state.engine()))?;
    let mut webhooks = Registry::with_prefix(PREFIX);
    let last = state.engine().last_position();
    crate::webhooks::metrics::register_gauges(state.webhooks(), last, &mut webhooks);
    prometheus_text::encode(&mut text, &webhooks)?;
    Ok(text)
}

/// A registry of gauges built for one scrape: their values are read, not kept.
fn gauges(engine: &Engine) -> Registry {
    let mut registry = Registry::with_prefix(PREFIX);
    let position = engine.last_position();
    let gauge = |value: u64| {
        let g: Gauge = Gauge::default();
        g.set(i64::try_from(value).unwrap_or(i64::MAX));
        g
    };
    registry.register(
        "log_position",
        "The last durable position of the log",
        gauge(position),
    );
    let role = engine.role();
    registry.register(
        "node_leader",
        "1 while this node is the leader (decides commands), 0 while it follows or catches up",
        gauge(u64::from(role.is_leader())),
    );
    let lag = match role {
        Role::Leader => 0,
        Role::Follower { lag, .. } => lag,
        Role::CatchingUp {
            position, target, ..
        } => target.saturating_sub(position),
    };
    registry.register(
        "follower_lag_events",
        "Events the log holds that this node has not applied yet (0 on the leader)",
        gauge(lag),
    );
    let (checkpointed, age) = engine.checkpoint();
    registry.register(
        "checkpoint_position",
        "The position of the last checkpoint saved or loaded (start-up replays from it)",
        gauge(checkpointed),
    );
    let age_gauge: Gauge<f64, AtomicU64> = Gauge::default();
    age_gauge.set(age.as_secs_f64());
    registry.register_with_unit(
        "checkpoint_age",
        "Time since the last checkpoint was saved, or loaded when the server started",
        Unit::Seconds,
        age_gauge,
    );
    let lag = Family::<ConsumerLabels, Gauge>::default();
    match consumers::all(engine.store().as_ref()) {
        Ok(all) => {
            for (org, consumer) in all {
                lag.get_or_create(&ConsumerLabels {
                    org: org.to_string(),
                    consumer: consumer.name,
                })
                .set(i64::try_from(position.saturating_sub(consumer.position)).unwrap_or(i64::MAX));
            }
        }
        // One unreadable consumer file must not take the whole scrape down.
        Err(e) => tracing::warn!(error = %e, "consumer positions not read for /metrics"),
    }
    registry.register(
        "consumer_lag_events",
        "Positions of the log after a named consumer's acked position (every org's events count)",
        lag,
    );
    registry
}

/// Layer: counts each request by method, route template and status (as the route
/// answered it: a `304` of the ETag layer outside counts as the `200` it replaced), and
/// observes its latency. Written here rather than taken from a crate (`axum-prometheus`) because
/// those record into a process-wide recorder, while each server (each test's included)
/// keeps its own registry beside its own engine. A plain tower layer whose future wraps
/// the route's own, not `axum::middleware::from_fn`, which boxes a future and a clone of
/// the route for every request (`docs/performance.md`).
#[derive(Clone, Debug)]
pub(crate) struct RecordLayer(pub HttpMetrics);

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// The service [`RecordLayer`] makes around one route.
#[derive(Clone, Debug)]
pub(crate) struct Record<S> {
    inner: S,
    metrics: HttpMetrics,
}

impl<S, E> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response, Error = E>,
{
    type Response = Response;
    type Error = E;
    type Future = Recorded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str)
            .to_owned();
        let labels = RouteLabels {
            method: method_label(request.method()),
            route,
        };
        Recorded {
            answer: self.inner.call(request),
            labels: Some(labels),
            started: Instant::now(),
            metrics: self.metrics.clone(),
        }
    }
}

pin_project! {
    /// A route's answer, recorded when it is ready.
    pub(crate) struct Recorded<F> {
        #[pin]
        answer: F,
        labels: Option<RouteLabels>,
        started: Instant,
        metrics: HttpMetrics,
    }
}

impl<F, E> Future for Recorded<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = ready!(this.answer.poll(cx));
        if let (Ok(response), Some(labels)) = (&answer, this.labels.take()) {
            this.metrics
                .duration
                .get_or_create(&labels)
                .observe(this.started.elapsed().as_secs_f64());
            this.metrics
                .requests
                .get_or_create(&RequestLabels {
                    method: labels.method,
                    route: labels.route,
                    status: response.status().as_u16(),
                })
                .inc();
        }
        Poll::Ready(answer)
    }
}

/// A method as a label: any method outside the standard nine is `other`, so a client
/// inventing methods cannot grow the label sets without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}
