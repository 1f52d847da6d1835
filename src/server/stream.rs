//! The event stream, `GET /v1/events`, as Server-Sent Events, and named consumers'
//! checkpoints.
//!
//! A connection keeps one cursor, the next position to send. It reads the log from the
//! cursor up to the last durable position in batches, sends what belongs to the caller's
//! org, and when it has caught up waits for the writer's commit signal
//! ([`crate::Engine::subscribe`], a `watch` of the last durable position), then reads
//! again. Catch-up and live are the same loop over the durable log, so nothing is sent
//! twice or skipped, in order. Nothing is buffered beyond one batch: the stream is pulled
//! as the socket drains, so a slow consumer only falls behind in the log and the writer
//! never waits for it. Each SSE `id:` is the event's position: a reconnect with
//! `Last-Event-ID` resumes right after it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;

use aide::axum::routing::{get_with, post_with};
use aide::axum::ApiRouter;
use aide::generate::GenContext;
use aide::openapi::{MediaType, Operation, Response, SchemaObject, StatusCode as DocStatus};
use aide::{OperationInput, OperationOutput};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Json;
use futures_util::Stream;
use indexmap::IndexMap;
use offboard_events::{Envelope, OrgId};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::watch;
use uuid::Uuid;

use super::auth::{Caller, Read};
use super::consumers::{self, ConsumerCheckpoint, ConsumerPath};
use super::error::{ApiError, ErrorBody};
use super::extract::{header_parameter, ApiJson, ApiPath, ApiQuery};
use super::views::EnvelopeJson;
use super::AppState;
use crate::cloudevents::to_cloudevent;

/// Positions read from the log at a time: bounds what one connection holds in memory.
const BATCH: u64 = 256;

/// The wire format of the stream's `data:` lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The envelope's own JSON (the `offboard-events` contract).
    #[default]
    Envelope,
    /// CloudEvents 1.0, structured JSON.
    Cloudevents,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// First position to send (default 1; at most one past the log's end, else 422).
    /// `Last-Event-ID` and a consumer's checkpoint take precedence.
    from: Option<u64>,
    #[serde(default)]
    format: Format,
    /// A named consumer: without `Last-Event-ID`, resume right after its checkpoint.
    #[schemars(regex(pattern = consumers::NAME_PATTERN))]
    consumer: Option<String>,
    /// `false`: stop once caught up with what was durable when the request came.
    /// Default `true`: keep sending live events.
    follow: Option<bool>,
}

/// The `Last-Event-ID` header: the last position the client received.
#[derive(Debug)]
pub struct LastEventId(Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get("last-event-id") {
            None => Ok(Self(None)),
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|p| Self(Some(p)))
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be a position")),
        }
    }
}

impl OperationInput for LastEventId {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        header_parameter::<u64>(
            ctx,
            operation,
            "Last-Event-ID",
            "The last position received: the stream resumes right after it. A position past the log's end is refused (422 invalid_input), as an ack past it is.",
        );
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>>;

/// The schema of one Server-Sent Event as it arrives (tools such as Schemathesis check each
/// event against it): `id` the position, `event` (`message`, or `error` when a storage
/// failure ends the stream), and `data` a JSON text holding the envelope, or with
/// `format=cloudevents` a CloudEvent (structured mode, the CloudEvents 1.0 required
/// attributes plus offboard's extensions).
fn sse_event_schema(envelope: schemars::Schema) -> schemars::Schema {
    let cloudevent = schemars::json_schema!({
        "type": "object",
        "properties": {
            "specversion": { "const": "1.0" },
            "id": { "type": "string", "minLength": 1 },
            "source": { "type": "string", "minLength": 1 },
            "type": { "type": "string", "pattern": "^offboard\\.[A-Za-z]+\\.v[0-9]+$" },
            "subject": { "type": "string" },
            "time": { "type": "string", "format": "date-time" },
            "datacontenttype": { "const": "application/json" },
            "data": { "type": "object" },
            "position": { "type": "integer", "minimum": 1 },
            "correlationid": { "type": "string", "format": "uuid" },
            "causationid": { "type": "string", "format": "uuid" },
        },
        "required": ["specversion", "id", "source", "type", "data", "position"],
    });
    schemars::json_schema!({
        "type": "object",
        "properties": {
            "id": { "type": "string", "pattern": "^[0-9]+$" },
            "event": { "type": "string", "enum": ["message", "error"] },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": { "anyOf": [envelope, cloudevent] },
            },
            "retry": { "type": "integer" },
        },
        "required": ["data"],
    })
}

/// An SSE response: `id:` the position, `data:` one event as JSON.
pub struct EventStream(HttpResponse);

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl IntoResponse for EventStream {
    fn into_response(self) -> HttpResponse {
        self.0
    }
}

impl OperationOutput for EventStream {
    type Inner = EnvelopeJson;

    fn operation_response(ctx: &mut GenContext, _: &mut Operation) -> Option<Response> {
        Some(Response {
            description: "Server-Sent Events: each `id:` is a position, each `data:` one event (an envelope, or a CloudEvent with format=cloudevents). A storage failure ends the stream with an `event: error` whose data is the error body.".to_owned(),
            content: IndexMap::from_iter([(
                "text/event-stream".to_owned(),
                MediaType {
                    schema: Some(SchemaObject {
                        json_schema: sse_event_schema(ctx.schema.subschema_for::<EnvelopeJson>()),
                        example: None,
                        external_docs: None,
                    }),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        })
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<DocStatus>, Response)> {
        Self::operation_response(ctx, operation)
            .map(|r| vec![(Some(DocStatus::Code(200)), r)])
            .unwrap_or_default()
    }
}

/// One connection's cursor in the log.
struct Tail {
    state: AppState,
    org: OrgId,
    format: Format,
    /// The next position to read.
    next: u64,
    /// The last position to send (`follow=false`).
    until: Option<u64>,
    committed: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
    ready: VecDeque<Envelope>,
    done: bool,
    /// The caller's token: a stream ends once it is revoked (checked before each read).
    token: Uuid,
}

impl Tail {
    async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(self.frame(&e));
            }
            if self.done || *self.stop.borrow() || self.until.is_some_and(|u| self.next > u) {
                return None;
            }
            if self.revoked() {
                self.done = true;
                let e = ApiError::unauthorized("the token of this stream was revoked");
                let body = ErrorBody { error: e.detail };
                return Some(
                    SseEvent::default()
                        .event("error")
                        .data(serde_json::to_string(&body).expect("errors serialize")),
                );
            }
            let durable = *self.committed.borrow_and_update();
            let end = durable
                .min(self.until.unwrap_or(u64::MAX))
                .min(self.next.saturating_add(BATCH - 1));
            if self.next <= end {
                let engine = self.state.engine_arc();
                let from = self.next;
                let read = self
                    .state
                    .blocking(move || engine.read_range(from, end))
                    .await;
                match read.and_then(|r| r.map_err(ApiError::from)) {
                    Ok(events) => {
                        self.next = end + 1;
                        let org = self.org;
                        self.ready
                            .extend(events.into_iter().filter(|e| e.org_id == org));
                    }
                    Err(e) => {
                        self.done = true;
                        let body = ErrorBody { error: e.detail };
                        return Some(
                            SseEvent::default()
                                .event("error")
                                .data(serde_json::to_string(&body).expect("errors serialize")),
                        );
                    }
                }
                continue;
            }
            tokio::select! {
                changed = self.committed.changed() => if changed.is_err() { return None },
                _ = self.stop.changed() => return None,
            }
        }
    }

    /// Whether the stream's token was revoked (or is gone) since it opened; a follower
    /// learns of a revocation when it reloads its token book (about every second).
    fn revoked(&self) -> bool {
        self.state
            .tokens()
            .with(|book| book.get(self.token).is_none_or(|t| t.revoked()))
    }

    fn frame(&self, e: &Envelope) -> SseEvent {
        let data = match self.format {
            Format::Envelope => serde_json::to_string(e),
            Format::Cloudevents => serde_json::to_string(&to_cloudevent(e)),
        }
        .expect("an event always serializes");
        SseEvent::default().id(e.position.to_string()).data(data)
    }
}

async fn events(
    State(state): State<AppState>,
    caller: Caller,
    LastEventId(last_event_id): LastEventId,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<EventStream, ApiError> {
    caller.may_read(&state.engine().state(), Read::History)?;
    let checkpoint = match &query.consumer {
        Some(name) => {
            consumers::check_name(name).map_err(ApiError::bad_request)?;
            consumers::load(state.engine().store().as_ref(), caller.org_id, name)?.position
        }
        None => 0,
    };
    let durable = state.engine().last_position();
    let next = match last_event_id {
        Some(last) if last > durable => return Err(past_the_end("Last-Event-ID", last, durable)),
        Some(last) => last + 1,
        None if checkpoint > 0 => checkpoint + 1,
        None => match query.from.unwrap_or(1).max(1) {
            // `from` is the first position to send: the next one to be written is fine.
            from if from > durable + 1 => return Err(past_the_end("from", from, durable)),
            from => from,
        },
    };
    let until = (!query.follow.unwrap_or(true)).then(|| state.engine().last_position());
    let tail = Tail {
        org: caller.org_id,
        format: query.format,
        next,
        until,
        committed: state.engine().subscribe(),
        stop: state.stopping(),
        ready: VecDeque::new(),
        done: false,
        token: caller.token_id,
        state,
    };
    let stream = futures_util::stream::unfold(tail, |mut tail| async move {
        tail.next_event().await.map(|e| (Ok(e), tail))
    });
    Ok(EventStream(
        Sse::new(Box::pin(stream) as Events)
            .keep_alive(KeepAlive::default())
            .into_response(),
    ))
}

/// 422 `invalid_input`, the one answer for a position past the log's end wherever a
/// client names one it has seen (an ack, `Last-Event-ID`, `from`): accepting it would skip
/// the positions up to it once the log gets there.
fn past_the_end(what: &str, position: u64, last: u64) -> ApiError {
    ApiError::unprocessable(
        "invalid_input",
        format!("{what} names position {position}, past the log's end at {last}: no client can have received it, and accepting it would skip the positions up to it"),
    )
}

async fn consumer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ConsumerPath>,
) -> Result<Json<ConsumerCheckpoint>, ApiError> {
    caller.may_read(&state.engine().state(), Read::History)?;
    consumers::check_name(&path.name).map_err(ApiError::bad_request)?;
    Ok(Json(consumers::load(
        state.engine().store().as_ref(),
        caller.org_id,
        &path.name,
    )?))
}

/// The last position the consumer has processed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    position: u64,
}

async fn ack(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ConsumerPath>,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Json<ConsumerCheckpoint>, ApiError> {
    caller.may_read(&state.engine().state(), Read::History)?;
    consumers::check_name(&path.name).map_err(ApiError::bad_request)?;
    let last = state.engine().last_position();
    if body.position > last {
        return Err(past_the_end("the ack", body.position, last));
    }
    let inner = state.clone();
    let org = caller.org_id;
    let now = state.engine().clock().now();
    let checkpoint = state
        .blocking(move || {
            let _one_at_a_time = inner.ack_lock();
            consumers::ack(
                inner.engine().store().as_ref(),
                org,
                &path.name,
                body.position,
                now,
            )
        })
        .await??;
    Ok(Json(checkpoint))
}

/// The stream and consumer endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/v1/events",
            get_with(events, |op| {
                op.summary(
                    "The org's events as Server-Sent Events: catch-up from a position, then live",
                )
                .tag("events")
            }),
        )
        .api_route(
            "/v1/consumers/{name}",
            get_with(consumer, |op| {
                op.summary("A named consumer's checkpoint").tag("events")
            }),
        )
        .api_route(
            "/v1/consumers/{name}/ack",
            post_with(ack, |op| {
                op.summary("Move a named consumer's checkpoint forward")
                    .tag("events")
            }),
        )
}
