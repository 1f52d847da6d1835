//! Client mode: with `--server URL` (env `OFFBOARD_SERVER`) and `--token TOKEN` (env
//! `OFFBOARD_TOKEN`) the CLI opens no data directory; every command goes through
//! [`crate::server::client::Client`] to the server's API, acting as the token's principal
//! in the token's org, and prints what the embedded mode prints.
//!
//! [`Remote`] is the connection: the API's answers as typed values, its errors as the
//! CLI's ([`error`]: 4xx exit 1 with the API's code, 503 and transport exit 3), domain
//! commands submitted under a fresh `Idempotency-Key` (`requests`), the event stream
//! (`tail`), and the names and ids of the org (`directory`).

mod directory;
pub mod requests;

use std::cell::RefCell;
use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use offboard_events::{CommandId, CorrelationId, Envelope, UserId};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::runtime::Runtime;

use super::args::{EventFormat, Global};
use super::error::{CliError, EXIT_REJECTED, EXIT_STORAGE};
use super::reader::Reader;
use crate::domain::Command;
use crate::engine::Appended;
use crate::read::{HistoryQuery, HistorySelector};
use crate::server::client::{Client, ClientError, CommandOptions, EventsRequest};
use crate::server::tokens::TokenRecord;
use crate::server::{CommandResult, ErrorBody, Format, TokensPage, WebhooksPage, WhoAmI};
use crate::webhooks::Subscription;
use directory::Directory;

/// How long `events --follow` waits before reconnecting after the stream ended or broke.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// A server the CLI talks to, as one principal.
pub struct Remote {
    url: String,
    client: Client,
    rt: Runtime,
    whoami: WhoAmI,
    directory: RefCell<Directory>,
}

impl Remote {
    /// The server's address, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("org", &self.whoami.org_name)
            .field("principal", &self.whoami.principal)
            .finish_non_exhaustive()
    }
}

/// The CLI error for a failed request to the server at `url`.
pub fn error(url: &str, e: ClientError) -> CliError {
    match e {
        ClientError::Api { status, error } => {
            let exit = if status >= 500 {
                EXIT_STORAGE
            } else {
                EXIT_REJECTED
            };
            let mut out = CliError::new(&error.code, error.message, exit);
            out.blockers = error.blockers;
            out
        }
        ClientError::Transport(why) => CliError::storage(
            "unavailable",
            format!("cannot reach the offboard server at {url}: {why}"),
        ),
        ClientError::Decode(why) => CliError::storage(
            "invalid_response",
            format!("the server at {url} answered something unexpected: {why}"),
        ),
    }
}

impl Remote {
    /// Connects to the server at `url` with `token` and asks who the token acts as.
    /// `--org`, when given, must name the token's org: the token decides it.
    pub fn connect(url: &str, token: Option<&str>, global: &Global) -> Result<Self, CliError> {
        let url = url.trim().trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(CliError::usage(format!(
                "--server takes the server's URL, e.g. http://127.0.0.1:8080 (not {url:?})"
            )));
        }
        let token = token.map(str::trim).filter(|t| !t.is_empty());
        if token.is_none() {
            return Err(CliError::usage(
                "client mode needs a token: --token TOKEN or OFFBOARD_TOKEN (see `offboard token create`)",
            ));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = Client::new(&url, token).map_err(|e| error(&url, e))?;
        let answer = rt
            .block_on(client.get("/v1/whoami"))
            .map_err(|e| error(&url, e))?;
        let whoami: WhoAmI = decode(&url, answer)?;
        if let Some(org) = global
            .org
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            let same = org.eq_ignore_ascii_case(&whoami.org_name)
                || org.parse::<offboard_events::OrgId>().ok() == Some(whoami.org_id);
            if !same {
                return Err(CliError::usage(format!(
                    "in client mode the token decides the organization: this token works in {:?}, not {org:?}",
                    whoami.org_name
                )));
            }
        }
        Ok(Self {
            url,
            client,
            rt,
            whoami,
            directory: RefCell::new(Directory::default()),
        })
    }

    /// Who the token acts as, in which org.
    pub fn whoami(&self) -> &WhoAmI {
        &self.whoami
    }

    fn fail(&self, e: ClientError) -> CliError {
        error(&self.url, e)
    }

    /// `GET path` (with its query), as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let answer = self
            .rt
            .block_on(self.client.get(path))
            .map_err(|e| self.fail(e))?;
        decode(&self.url, answer)
    }

    /// `DELETE path`, as `T`.
    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let answer = self
            .rt
            .block_on(self.client.delete(path))
            .map_err(|e| self.fail(e))?;
        decode(&self.url, answer)
    }

    /// `POST path` with `body`, as `T` (requests that are not domain commands: tokens).
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, CliError> {
        let answer = self
            .rt
            .block_on(self.client.post(path, body))
            .map_err(|e| self.fail(e))?;
        decode(&self.url, answer)
    }

    /// Streams the export `file` (`-`: stdin) to `POST /v1/resources/sync`, 64 KiB at a
    /// time, and reads back the report. Durable on the server when it returns `Ok`.
    pub fn sync(
        &self,
        file: &std::path::Path,
        kinds: &[String],
        dry_run: bool,
    ) -> Result<crate::sync::SyncReport, CliError> {
        use std::io::Read;
        let source: Box<dyn Read + Send> = if super::input::is_stdin(file) {
            Box::new(std::io::stdin())
        } else {
            let opened = std::fs::File::open(file).map_err(|e| {
                CliError::invalid(format!("cannot read {}: {e}", super::input::name(file)))
            })?;
            Box::new(opened)
        };
        // A blocking read per chunk is fine here: this runtime serves this one request.
        let chunks = futures_util::stream::unfold(Some(source), |source| async move {
            let mut source = source?;
            let mut chunk = vec![0u8; 64 * 1024];
            match source.read(&mut chunk) {
                Ok(0) => None,
                Ok(n) => {
                    chunk.truncate(n);
                    Some((Ok(bytes::Bytes::from(chunk)), Some(source)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        let mut query = format!("?dry_run={dry_run}");
        if !kinds.is_empty() {
            query.push_str(&format!("&kind={}", kinds.join(",")));
        }
        let answer = self
            .rt
            .block_on(self.client.sync(&query, reqwest::Body::wrap_stream(chunks)))
            .map_err(|e| self.fail(e))?;
        decode(&self.url, answer)
    }

    /// Sends the directory export `file` (`-`: stdin) to `POST /v1/users/import` and
    /// reads back the report, under one `Idempotency-Key` for every attempt (resent while
    /// an election is under way or the outcome is unknown, as [`Remote::submit`] does).
    /// Every change is durable on the server when it returns `Ok`.
    pub fn import_users(
        &self,
        file: &std::path::Path,
        dry_run: bool,
    ) -> Result<crate::sync::users::ImportReport, CliError> {
        use std::io::Read;
        let mut body = Vec::new();
        super::input::open(file)?
            .read_to_end(&mut body)
            .map_err(|e| {
                CliError::invalid(format!("cannot read {}: {e}", super::input::name(file)))
            })?;
        let answer = self
            .rt
            .block_on(self.client.import_users(
                &format!("?dry_run={dry_run}"),
                body,
                Some(&CommandId::new().to_string()),
            ))
            .map_err(|e| self.fail(e))?;
        let mut report: crate::sync::users::ImportReport = decode(&self.url, answer)?;
        // The server read "the body"; the user sent a file.
        if let Some(rest) = report.message.strip_prefix("the body") {
            report.message = format!("{}{rest}", super::input::name(file));
        }
        Ok(report)
    }

    /// Sends `command` to its endpoint under a new command id (the `Idempotency-Key`),
    /// `on_behalf_of` as the `On-Behalf-Of` header. Durable on the server when it
    /// returns `Ok`; also returns the server's answer (an invitation's `user_id`).
    pub fn submit(
        &self,
        command: &Command,
        on_behalf_of: Option<UserId>,
    ) -> Result<(Appended, Value), CliError> {
        let request = requests::request(command)?;
        let options = CommandOptions {
            idempotency_key: Some(CommandId::new().to_string()),
            on_behalf_of: on_behalf_of.map(|u| u.to_string()),
        };
        let answer = self
            .rt
            .block_on(self.client.command(&request.path, &request.body, &options))
            .map_err(|e| self.fail(e))?;
        let result: CommandResult = decode(&self.url, answer.clone())?;
        let appended = Appended {
            command_id: result.command_id,
            correlation_id: result.correlation_id,
            positions: result.positions.map(|p| (p.first, p.last)),
            duplicate: result.duplicate,
        };
        Ok((appended, answer))
    }

    /// The events `appended` names, read back from its operation's history. A token
    /// that may not read histories (members, managers) gets none: the command is done
    /// all the same.
    pub fn events_of(&self, appended: &Appended) -> Vec<Envelope> {
        let Some((first, last)) = appended.positions else {
            return Vec::new();
        };
        self.operation(appended.correlation_id)
            .map(|events| {
                events
                    .into_iter()
                    .filter(|e| (first..=last).contains(&e.position))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every token of the token's org (every page of `GET /v1/tokens`).
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, CliError> {
        self.every_page("/v1/tokens?limit=1000", |page: TokensPage| {
            (page.tokens, page.next)
        })
    }

    /// Every webhook subscription of the org (every page).
    pub fn webhooks(&self) -> Result<Vec<Subscription>, CliError> {
        self.every_page("/v1/webhooks?limit=1000", |page: WebhooksPage| {
            (page.webhooks, page.next)
        })
    }

    /// Every item of a paged list from `url` on, following each page's `next`; `split`
    /// takes a page apart into its items and its `next`.
    fn every_page<P: DeserializeOwned, T>(
        &self,
        url: &str,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, CliError> {
        let mut all = Vec::new();
        let mut url = url.to_owned();
        loop {
            let (items, next) = split(self.get(&url)?);
            all.extend(items);
            match next {
                Some(next) => url = next,
                None => return Ok(all),
            }
        }
    }

    /// Every event one operation wrote (every page).
    pub fn operation(&self, id: CorrelationId) -> Result<Vec<Envelope>, CliError> {
        let query = HistoryQuery::new(HistorySelector::Correlation(id));
        let events = Reader::remote(self).all(query, |p| p.events)?;
        Ok(events.into_iter().map(|e| e.0).collect())
    }

    /// `events [--from POS] [--format …] [--follow]`: prints the `data:` of every event
    /// of the stream, one per line. With `follow`, a stream that ends or breaks is
    /// reopened with `Last-Event-ID` = the last position printed, until interrupted.
    pub fn tail(&self, from: u64, format: EventFormat, follow: bool) -> Result<(), CliError> {
        let format = match format {
            EventFormat::Json => Format::Envelope,
            EventFormat::Cloudevents => Format::Cloudevents,
        };
        let mut last: Option<u64> = None;
        let mut warned = false;
        loop {
            let request = EventsRequest {
                from: Some(from.max(1)),
                last_event_id: last,
                consumer: None,
                format,
                follow,
            };
            let broke = match self.rt.block_on(self.client.events(&request)) {
                Ok(mut stream) => loop {
                    match self.rt.block_on(stream.next()) {
                        None => break None,
                        Some(Ok(message)) if message.event.as_deref() == Some("error") => {
                            return Err(stream_error(&message.data));
                        }
                        Some(Ok(message)) => {
                            let mut stdout = std::io::stdout().lock();
                            stdout.write_all(message.data.as_bytes())?;
                            stdout.write_all(b"\n")?;
                            stdout.flush()?;
                            if let Some(p) = message.position() {
                                last = Some(p);
                            }
                            warned = false;
                        }
                        Some(Err(e)) => break Some(self.fail(e)),
                    }
                },
                Err(e @ ClientError::Transport(_)) if follow => Some(self.fail(e)),
                Err(e) => return Err(self.fail(e)),
            };
            match (follow, broke) {
                (false, None) => return Ok(()),
                (false, Some(e)) => return Err(e),
                (true, Some(e)) if !warned => {
                    eprintln!("offboard: {}; reconnecting until interrupted", e.message);
                    warned = true;
                }
                (true, _) => {}
            }
            std::thread::sleep(RECONNECT_PAUSE);
        }
    }
}

/// The error an `event: error` of the stream carries.
fn stream_error(data: &str) -> CliError {
    match serde_json::from_str::<ErrorBody>(data) {
        Ok(body) => {
            let mut e = CliError::storage(&body.error.code, body.error.message);
            e.blockers = body.error.blockers;
            e
        }
        Err(_) => CliError::storage("storage", format!("the event stream failed: {data}")),
    }
}

fn decode<T: DeserializeOwned>(url: &str, value: Value) -> Result<T, CliError> {
    serde_json::from_value(value).map_err(|e| error(url, ClientError::Decode(e.to_string())))
}
