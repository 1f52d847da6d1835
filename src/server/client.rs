//! A client of the server, for a CLI pointed at one (`--server URL`, `--token TOKEN`)
//! instead of a data directory: JSON requests answered with the API's values or its
//! error body, and the event stream as parsed Server-Sent Events. Reads after a command
//! ask for its position (`Offboard-Min-Position`), so a CLI pointed at a follower sees
//! what it just did; a 503 that says nothing was done and a second will tell (an
//! election: `not_leader`, `leader_unreachable`, `position_not_reached`) is sent again
//! after its `Retry-After` (at most 2 s), up to 7 times; so is a command whose outcome is
//! unknown (`outcome_unknown`, a dropped connection), under the same Idempotency-Key.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::error::{ErrorBody, ErrorDetail};
use super::stream::Format;

/// Why a request through the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error: `error.code` says what (as the API documents).
    #[error("{} ({}): {}", .status, .error.code, .error.message)]
    Api { status: u16, error: ErrorDetail },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The server answered something that is not the API's JSON.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl ClientError {
    /// The API's error code, or `unavailable` / `invalid_response` for transport trouble.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Api { error, .. } => &error.code,
            ClientError::Transport(_) => "unavailable",
            ClientError::Decode(_) => "invalid_response",
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The last error in `e`'s chain of sources (`e` itself if it has none): for an HTTP
/// client's error, the one that names why (connection refused, no such host, a TLS
/// failure) where the outer ones say only that a request failed.
pub(crate) fn innermost<'a>(
    mut e: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    while let Some(next) = e.source() {
        e = next;
    }
    e
}

/// reqwest's own message ("error sending request for url (…)") hides why: the
/// innermost cause names it.
fn transport(e: reqwest::Error) -> ClientError {
    let cause = innermost(&e);
    let why = match (e.is_timeout(), e.is_connect()) {
        (true, true) => format!("no connection within {} s", CONNECT_PATIENCE.as_secs()),
        (true, false) => {
            "no answer in time: the server took the connection but stayed silent".to_owned()
        }
        _ => cause.to_string(),
    };
    ClientError::Transport(match e.url() {
        Some(url) => format!("{why} ({url})"),
        None => why,
    })
}

/// Headers of a command request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOptions {
    /// The command id (`Idempotency-Key`): a retry with the same key is answered with the
    /// first result.
    pub idempotency_key: Option<String>,
    /// R6: the deactivated user an admin acts for.
    pub on_behalf_of: Option<String>,
}

/// What to stream from `GET /v1/events`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventsRequest {
    pub from: Option<u64>,
    /// Resume right after this position (sent as `Last-Event-ID`).
    pub last_event_id: Option<u64>,
    pub consumer: Option<String>,
    pub format: Format,
    /// Keep streaming live events (`--follow`) instead of stopping once caught up.
    pub follow: bool,
}

/// One Server-Sent Event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseMessage {
    /// The `id:` (a position for this API).
    pub id: Option<String>,
    /// The `event:` name; `None` for ordinary events, `error` for a stream failure.
    pub event: Option<String>,
    pub data: String,
}

impl SseMessage {
    /// The position in `id:`.
    pub fn position(&self) -> Option<u64> {
        self.id.as_deref().and_then(|id| id.parse().ok())
    }
}

/// A stream of events from one connection.
pub type SseStream = Pin<Box<dyn Stream<Item = Result<SseMessage, ClientError>> + Send>>;

/// A connection to one server as one principal.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    /// The last position a command of this client appended: later reads ask the node
    /// for it (`Offboard-Min-Position`), so they see the write on a follower too.
    written: Arc<AtomicU64>,
}

/// How long connecting to the server may take before it counts as unreachable.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// Longest silence from the server while it answers: a follower's when it forwards to
/// the leader (60 s). A server that accepts connections but never answers (a frozen
/// process, the wrong service) is `unavailable` after this instead of a hang; event
/// streams send a keep-alive every 15 s, and the slowest command streams its progress.
const READ_PATIENCE: Duration = super::forward::READ_PATIENCE;

impl Client {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: Option<&str>) -> Result<Self, ClientError> {
        Self::with_read_patience(base, token, READ_PATIENCE)
    }

    /// [`Client::new`], giving up on a server silent for `read` instead of
    /// [`READ_PATIENCE`].
    pub fn with_read_patience(
        base: &str,
        token: Option<&str>,
        read: Duration,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_PATIENCE)
            .read_timeout(read)
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            http,
            written: Arc::default(),
        })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        let written = self.written.load(Ordering::Acquire);
        if method == Method::GET && written > 0 {
            request = request.header("Offboard-Min-Position", written);
        }
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET path` (with its query string), answered with the JSON value.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        patiently(false, || self.request(Method::GET, path)).await
    }

    /// `DELETE path`, answered with the JSON value (removing a webhook subscription).
    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        answer(
            self.request(Method::DELETE, path)
                .send()
                .await
                .map_err(transport)?,
        )
        .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.command(path, body, &CommandOptions::default()).await
    }

    /// `POST path` with a JSON body and command headers.
    pub async fn command(
        &self,
        path: &str,
        body: &Value,
        options: &CommandOptions,
    ) -> Result<Value, ClientError> {
        let request = || {
            let mut request = self.request(Method::POST, path).json(body);
            if let Some(key) = &options.idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(user) = &options.on_behalf_of {
                request = request.header("On-Behalf-Of", user);
            }
            request
        };
        let keyed = options.idempotency_key.is_some();
        let answered = patiently(keyed, request).await.map_err(|e| match (e, &options.idempotency_key) {
            (ClientError::Api { status, mut error }, Some(key)) if error.code == "outcome_unknown" => {
                error.message = format!(
                    "{} (it was sent with Idempotency-Key {key}: the same key again is answered from the log if it was stored)",
                    error.message
                );
                ClientError::Api { status, error }
            }
            (e, _) => e,
        })?;
        if let Some(last) = answered["positions"]["last"].as_u64() {
            self.written.fetch_max(last, Ordering::AcqRel);
        }
        Ok(answered)
    }

    /// `POST /v1/resources/sync{query}` with `body` streamed (JSON lines or CSV),
    /// answered with the JSON value (the sync's report).
    pub async fn sync(&self, query: &str, body: reqwest::Body) -> Result<Value, ClientError> {
        let request = self
            .request(Method::POST, &format!("/v1/resources/sync{query}"))
            .header("Content-Type", "application/x-ndjson")
            .body(body);
        answer(request.send().await.map_err(transport)?).await
    }

    /// `POST /v1/users/import{query}` with a directory export as `body` (JSON lines or
    /// CSV), answered with the JSON value (the import's report). Durable on the server
    /// when it returns `Ok` (unless a dry run). Under an `Idempotency-Key`, it is sent
    /// again as a command is when its outcome is unknown (an election, a dropped
    /// connection): the body is held in memory, so each attempt sends all of it.
    pub async fn import_users(
        &self,
        query: &str,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, ClientError> {
        let body = bytes::Bytes::from(body);
        let path = format!("/v1/users/import{query}");
        let request = || {
            let request = self
                .request(Method::POST, &path)
                .header("Content-Type", "application/x-ndjson")
                .body(body.clone());
            match idempotency_key {
                Some(key) => request.header("Idempotency-Key", key),
                None => request,
            }
        };
        patiently(idempotency_key.is_some(), request).await
    }

    /// Opens the event stream. The connection ends when the server stops (or, without
    /// `follow`, once caught up); reconnect with `last_event_id` set to the last
    /// position received to resume exactly after it.
    pub async fn events(&self, request: &EventsRequest) -> Result<SseStream, ClientError> {
        let mut query = vec![format!("follow={}", request.follow)];
        if let Some(from) = request.from {
            query.push(format!("from={from}"));
        }
        if let Some(consumer) = &request.consumer {
            query.push(format!("consumer={}", encode_segment(consumer)));
        }
        if request.format == Format::Cloudevents {
            query.push("format=cloudevents".to_owned());
        }
        let mut http = self
            .request(Method::GET, &format!("/v1/events?{}", query.join("&")))
            .header("Accept", "text/event-stream");
        if let Some(last) = request.last_event_id {
            http = http.header("Last-Event-ID", last.to_string());
        }
        let response = http.send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(api_error(response).await);
        }
        Ok(sse(response.bytes_stream()))
    }
}

/// How many times a request answered with a passing 503 is sent in all.
const ATTEMPTS: u32 = 8;

/// The 503 codes that say nothing was done and a second will tell (several nodes: an
/// election under way, the leader out of reach, a follower behind the position asked).
const PASSING: &[&str] = &["not_leader", "leader_unreachable", "position_not_reached"];

/// Sends the request `build` makes, again after its `Retry-After` (at most 2 s) while
/// the answer is a [`PASSING`] 503, up to [`ATTEMPTS`] times. A `keyed` request (a
/// command under its Idempotency-Key) is also sent again when its outcome is unknown —
/// `outcome_unknown`, or the connection dropped before the answer: the same key is
/// answered from the log if the first one was stored, and runs it if it was not.
async fn patiently(
    keyed: bool,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Value, ClientError> {
    let mut attempt = 1;
    loop {
        let again = attempt < ATTEMPTS;
        let response = match build().send().await {
            Ok(response) => response,
            // Not a refused connection: nothing was sent then, and no server may be there.
            Err(e) if keyed && again && !e.is_builder() && !e.is_connect() => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => return Err(transport(e)),
        };
        let wait = retry_after(&response);
        match answer(response).await {
            Err(ClientError::Api { status: 503, error })
                if again
                    && (PASSING.contains(&error.code.as_str())
                        || (keyed && error.code == "outcome_unknown")) =>
            {
                attempt += 1;
                tokio::time::sleep(wait).await;
            }
            answered => return answered,
        }
    }
}

/// The answer's `Retry-After` in seconds, capped at 2 s (1 s when absent).
fn retry_after(response: &reqwest::Response) -> std::time::Duration {
    let seconds = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1);
    std::time::Duration::from_secs(seconds.min(2))
}

async fn api_error(response: reqwest::Response) -> ClientError {
    let status = response.status().as_u16();
    match response.json::<ErrorBody>().await {
        Ok(body) => ClientError::Api {
            status,
            error: body.error,
        },
        Err(e) => ClientError::Decode(format!("status {status} without an error body: {e}")),
    }
}

async fn answer(response: reqwest::Response) -> Result<Value, ClientError> {
    if response.status() == StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    if !response.status().is_success() {
        return Err(api_error(response).await);
    }
    response
        .json::<Value>()
        .await
        .map_err(|e| ClientError::Decode(e.to_string()))
}

/// Percent-encodes one path segment or query value (ids, emails, names with spaces).
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses a byte stream as Server-Sent Events (the subset this API sends: `id`, `event`,
/// `data`, comments).
fn sse(
    bytes: impl Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send + 'static,
) -> SseStream {
    struct Parser<S> {
        bytes: Pin<Box<S>>,
        buffer: Vec<u8>,
        current: SseMessage,
        has_data: bool,
        ready: VecDeque<SseMessage>,
    }
    let parser = Parser {
        bytes: Box::pin(bytes),
        buffer: Vec::new(),
        current: SseMessage::default(),
        has_data: false,
        ready: VecDeque::new(),
    };
    Box::pin(futures_util::stream::unfold(parser, |mut p| async move {
        loop {
            if let Some(message) = p.ready.pop_front() {
                return Some((Ok(message), p));
            }
            match p.bytes.next().await {
                None => return None,
                Some(Err(e)) => return Some((Err(transport(e)), p)),
                Some(Ok(chunk)) => {
                    p.buffer.extend_from_slice(&chunk);
                    while let Some(end) = p.buffer.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = p.buffer.drain(..=end).collect();
                        let line = String::from_utf8_lossy(&line);
                        let line = line.trim_end_matches(['\n', '\r']);
                        if line.is_empty() {
                            if p.has_data {
                                p.ready.push_back(std::mem::take(&mut p.current));
                            }
                            p.current = SseMessage::default();
                            p.has_data = false;
                            continue;
                        }
                        if line.starts_with(':') {
                            continue;
                        }
                        let (field, value) = line.split_once(':').unwrap_or((line, ""));
                        let value = value.strip_prefix(' ').unwrap_or(value);
                        match field {
                            "id" => p.current.id = Some(value.to_owned()),
                            "event" => p.current.event = Some(value.to_owned()),
                            "data" => {
                                if p.has_data {
                                    p.current.data.push('\n');
                                }
                                p.current.data.push_str(value);
                                p.has_data = true;
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_emails_readable_and_encode_the_rest() {
        assert_eq!(encode_segment("ann@x.example"), "ann@x.example");
        assert_eq!(encode_segment("North rotation"), "North%20rotation");
        assert_eq!(encode_segment("a/b?c"), "a%2Fb%3Fc");
    }

    #[tokio::test]
    async fn a_server_that_takes_the_connection_and_stays_silent_is_unavailable_not_a_hang() {
        // Given a port whose listener accepts connections and never answers
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let held = std::thread::spawn(move || listener.accept().map(|(conn, _)| conn));
        // When a client with a short read patience asks it something
        let client =
            Client::with_read_patience(&url, Some("ofb_x"), Duration::from_millis(300)).unwrap();
        let asked = tokio::time::timeout(Duration::from_secs(10), client.get("/v1/whoami")).await;
        // Then it gives up, saying the server stayed silent
        let error = asked.expect("the client waited for good").unwrap_err();
        assert_eq!(error.code(), "unavailable");
        assert!(error.to_string().contains("stayed silent"), "{error}");
        drop(held);
    }

    #[tokio::test]
    async fn parses_events_split_across_chunks_and_skips_comments() {
        let chunks: Vec<Result<bytes::Bytes, reqwest::Error>> = vec![
            Ok(bytes::Bytes::from_static(b": keep-alive\n\nid: 1\nda")),
            Ok(bytes::Bytes::from_static(
                b"ta: {\"a\":1}\n\nid: 2\r\nevent: error\r\ndata: x\r\n\r\n",
            )),
        ];
        let messages: Vec<SseMessage> = sse(futures_util::stream::iter(chunks))
            .map(|m| m.unwrap())
            .collect()
            .await;
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].position(), Some(1));
        assert_eq!(messages[0].data, "{\"a\":1}");
        assert_eq!(messages[1].event.as_deref(), Some("error"));
    }
}
