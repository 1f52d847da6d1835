//! The HTTP side: commands with an `Idempotency-Key`, the views the checks compare, and
//! the event stream read back from a position (`follow=false`).

use std::time::Duration;

use offboard_events::Envelope;
use serde_json::Value;
use uuid::Uuid;

use super::ops::Op;

/// A request that takes longer than this is an unknown outcome, not a hang.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Reading the whole log back as one stream takes longer once it holds hundreds of
/// thousands of events (failover_rounds' far-behind scenario).
const STREAM_TIMEOUT: Duration = Duration::from_secs(600);

/// What a command's answer says.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 2xx: the body.
    Done(Value),
    /// 4xx: the status and the error's code: the command was refused, nothing written.
    Refused(u16, String),
    /// No answer at all (the server died, the connection dropped, the request timed
    /// out): it may or may not have been written.
    Unknown(String),
    /// 5xx: it may or may not have been written; with the `Retry-After` header, if any,
    /// and the body.
    ServerError {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
}

/// One server's address and the owner's token.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Http {
    /// A client for the server at `url`.
    pub fn new(url: &str, token: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .expect("a reqwest client builds");
        Self {
            client,
            url: url.to_owned(),
            token: token.to_owned(),
        }
    }

    /// The server's URL.
    #[allow(dead_code)] // failover_rounds only: it names the node that was slow
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `op` under the idempotency key `key`.
    pub async fn command(&self, op: &Op, key: Uuid) -> Answer {
        let sent = self
            .client
            .post(format!("{}{}", self.url, op.path()))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", key.to_string())
            .json(&op.body())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Answer::Unknown(format!("no answer: {e}")),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Answer::Unknown(format!("{status}, body cut: {e}")),
        };
        let json: Value = serde_json::from_slice(&body).unwrap_or_default();
        if status.is_success() {
            Answer::Done(json)
        } else if status.is_client_error() {
            let code = json["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Answer::Refused(status.as_u16(), code)
        } else {
            Answer::ServerError {
                status: status.as_u16(),
                retry_after,
                body: String::from_utf8_lossy(&body).into_owned(),
            }
        }
    }

    /// A query's JSON (2xx only).
    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let text = self.get_text(path, TIMEOUT).await?;
        serde_json::from_str(&text).map_err(|e| format!("GET {path}: not JSON: {e}"))
    }

    /// Every item of the list `field` over the pages of `GET path` (following `next`),
    /// with the last page (for the fields beside the list).
    pub async fn get_all(&self, path: &str, field: &str) -> Result<(Vec<Value>, Value), String> {
        let mut items = Vec::new();
        let mut url = format!("{path}?limit=1000");
        loop {
            let page = self.get(&url).await?;
            let list = page[field]
                .as_array()
                .ok_or_else(|| format!("GET {url}: no list {field:?}"))?;
            items.extend(list.iter().cloned());
            match page["next"].as_str() {
                Some(next) => url = next.to_owned(),
                None => return Ok((items, page)),
            }
        }
    }

    async fn get_text(&self, path: &str, timeout: Duration) -> Result<String, String> {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .timeout(timeout)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(format!("GET {path}: {status} {text}"))
        }
    }

    /// Every event from position `from` to the durable head, in the stream's order.
    pub async fn events_from(&self, from: u64) -> Result<Vec<Envelope>, String> {
        let path = format!("/v1/events?from={from}&follow=false");
        let text = self.get_text(&path, STREAM_TIMEOUT).await?;
        let mut events = Vec::new();
        let mut data = String::new();
        // SSE: `field: value` lines, an empty line ends an event; `:` lines are comments.
        for line in text.lines().chain(std::iter::once("")) {
            if let Some(value) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            } else if line.is_empty() && !data.is_empty() {
                let envelope = Envelope::from_json(data.as_bytes())
                    .map_err(|e| format!("{path}: an event does not decode: {e}"))?;
                events.push(envelope);
                data.clear();
            }
        }
        Ok(events)
    }
}
