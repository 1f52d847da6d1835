//! `offboard serve [--addr ADDR] [--anchor FILE [--anchor-every SECS]] [--cors-origin
//! ORIGIN]...`: opens the data
//! directory, listens, announces the address it listens on (port 0 picks a free one), and
//! serves the HTTP API until SIGINT or SIGTERM; then it stops gracefully and releases the
//! directory. A directory another process holds, or an address in use, is a storage error
//! (exit 3). With `--anchor`, the chain head is appended to FILE as it moves (see
//! [`crate::anchor`]), and a log that does not hold the last head FILE recorded is not
//! served (`integrity_broken`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use super::error::CliError;
use super::output::Output;
use crate::anchor::{self, AnchorLine, HeadRecord};
use crate::engine::Options;
use crate::privacy::key_settings::KeySettings;
use crate::server::tokens::TokenBook;
use crate::server::{self, ServeError, ServerOptions};
use crate::store::{Location, LogStore, StoreError};
use crate::Engine;

/// Where and how often `serve --anchor` records the chain head.
#[derive(Clone, Copy, Debug)]
pub struct Anchor<'a> {
    pub file: &'a Path,
    pub every: Duration,
}

/// Where `serve` listens, and the URL other nodes reach it at while it leads (on
/// PostgreSQL; default `http://` + the address bound).
#[derive(Clone, Copy, Debug)]
pub struct Listen<'a> {
    pub addr: SocketAddr,
    pub advertise: Option<&'a str>,
}

/// Runs the server on the log at `location` until a shutdown signal; browsers from `cors_origins` (each
/// checked by `conventions::parse_origin`) may call it.
pub fn run(
    location: &Location,
    keys: &KeySettings,
    listen: Listen<'_>,
    anchor: Option<Anchor<'_>>,
    cors_origins: &[axum::http::HeaderValue],
    webhooks: crate::webhooks::WebhookOptions,
    out: &mut Output,
) -> Result<(), CliError> {
    server::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let addr = listen.addr;
    let bind_error = |e: std::io::Error| {
        serve_error(ServeError::Bind {
            addr,
            error: e.to_string(),
        })
    };
    // Bound first, so the advertised URL names the real port (port 0 picks one), but
    // listening only once the log is open: meanwhile a client's connection is refused
    // (it tries another node) rather than left hanging through a long replay.
    let socket = {
        let _runtime = rt.enter();
        bind_only(addr).map_err(bind_error)?
    };
    let bound = socket.local_addr()?;
    let url = default_advertise(bound);
    let advertise = listen.advertise.unwrap_or(&url);
    let engine = Engine::open_node(location, Options::default(), keys, Some(advertise))?;
    let listener = {
        let _runtime = rt.enter();
        socket.listen(1024).map_err(bind_error)?
    };
    // A missing or damaged token book (or webhook book) is named before the address is
    // announced, so a supervisor never sees a server start that then answers every
    // token with 401 or cannot deliver.
    if TokenBook::load(engine.store().as_ref())?.is_empty() {
        // The console's sign-in links are not tokens: say what a link does not open.
        tracing::warn!(
            "offboard: {}; until then the API and `--server` clients answer 401 (console \
             sign-in links from `offboard console-link` work without one)",
            crate::server::NO_TOKENS_ISSUED
        );
    }
    crate::webhooks::Hub::load(&engine)?;
    let anchoring = match anchor {
        Some(anchor) => Some(Anchoring::start(&rt, &engine, anchor)?),
        None => None,
    };
    if out.is_json() {
        let mut doc = json!({ "ok": true, "listening": url, "data_dir": location.local_dir() });
        if let Location::Postgres { .. } = location {
            doc["store"] = json!(location.to_string());
            doc["advertise"] = json!(advertise);
            doc["role"] = json!(engine.role());
        }
        out.doc(&doc)?;
    } else {
        out.line(format!(
            "Serving {location} on {url} (API description: {url}/v1/openapi.json). Ctrl-C or SIGTERM stops it."
        ));
        if let Location::Postgres { .. } = location {
            out.line(role_line(&engine.role(), advertise));
        }
    }
    let served = rt
        .block_on(server::serve_listener(
            engine,
            listener,
            ServerOptions {
                cors_origins: cors_origins.to_vec(),
                webhooks,
                ..ServerOptions::default()
            },
            server::shutdown_signal(),
        ))
        .map_err(serve_error);
    // The engine has shut down: the head recorded now is the last one there will be.
    let anchored = anchoring.map_or(Ok(()), |a| rt.block_on(a.finish()));
    // A storage call stuck on a dead disk must not keep the process alive: dropping the
    // runtime would wait for it forever.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    served?;
    anchored
}

/// What a node on PostgreSQL is when it starts, in a sentence.
fn role_line(role: &crate::engine::Role, advertise: &str) -> String {
    use crate::engine::Role;
    match role {
        Role::Leader => format!("This node leads (other nodes forward commands to {advertise})."),
        Role::Follower {
            leader: Some(leader),
            ..
        } => format!("This node follows the leader at {leader}: it forwards commands there."),
        Role::Follower { leader: None, .. } => {
            "This node follows; no leader is known yet (an election is under way).".to_owned()
        }
        Role::CatchingUp {
            position, target, ..
        } => {
            format!("This node is catching up on the log (position {position} of {target}).")
        }
    }
}

/// A socket bound to `addr` (reusable at once after a previous server's exit, as
/// `TcpListener::bind` makes it), not yet listening.
fn bind_only(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// The task appending anchor lines while the server runs.
struct Anchoring {
    file: PathBuf,
    store: Arc<dyn LogStore>,
    committed: watch::Receiver<u64>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Anchoring {
    /// Checks that the log holds the last head FILE recorded (the anchor is a durable
    /// claim too: a log that lost what it names must not be served), appends the head
    /// at start (so a bad FILE fails `serve` at once), then starts the task that appends
    /// it every `anchor.every` when it moved.
    fn start(
        rt: &tokio::runtime::Runtime,
        engine: &Engine,
        anchor: Anchor<'_>,
    ) -> Result<Self, CliError> {
        let file = anchor.file.to_path_buf();
        if file.exists() {
            let lines = anchor::read_lines(&file).map_err(CliError::invalid)?;
            if let Some((number, last)) = lines.last() {
                if let Err(mismatch) = anchor::check(engine.store().as_ref(), &last.head)? {
                    let what = format!("{}, line {number},", file.display());
                    return Err(mismatch.to_error(&what, &last.head).into());
                }
            }
        }
        let store = Arc::clone(engine.store());
        let committed = engine.subscribe();
        let mut last = record(&file, store.as_ref(), *committed.borrow())?;
        let (stop, mut stopped) = watch::channel(false);
        let task = rt.spawn({
            let (file, store, committed) = (file.clone(), Arc::clone(&store), committed.clone());
            async move {
                let mut tick = tokio::time::interval(anchor.every);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stopped.changed() => return,
                    }
                    let position = *committed.borrow();
                    if position == last {
                        continue;
                    }
                    let (file, store) = (file.clone(), Arc::clone(&store));
                    let written = tokio::task::spawn_blocking(move || {
                        record(&file, store.as_ref(), position)
                    })
                    .await;
                    match written {
                        Ok(Ok(_)) => last = position,
                        Ok(Err(e)) => {
                            tracing::error!(error = %e.message, "anchor line not written")
                        }
                        Err(e) => tracing::error!(error = %e, "anchor line not written"),
                    }
                }
            }
        });
        Ok(Self {
            file,
            store,
            committed,
            stop,
            task,
        })
    }

    /// Stops the task and appends the final head.
    async fn finish(self) -> Result<(), CliError> {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let position = *self.committed.borrow();
        record(&self.file, self.store.as_ref(), position).map(|_| ())
    }
}

/// Appends the head at the durable `position` to `file`; returns the position.
fn record(file: &Path, store: &dyn LogStore, position: u64) -> Result<u64, CliError> {
    let hash = anchor::hash_at(store, position)?.ok_or_else(|| {
        StoreError::Corrupt(format!("position {position} is durable but not stored"))
    })?;
    let line = AnchorLine {
        at: chrono::Utc::now(),
        head: HeadRecord { position, hash },
    };
    anchor::append_line(file, &line).map_err(|e| {
        CliError::storage(
            "io",
            format!("cannot append to the anchor file {}: {e}", file.display()),
        )
    })?;
    Ok(position)
}

fn serve_error(e: ServeError) -> CliError {
    match e {
        ServeError::Storage(s) => s.into(),
        other => CliError::storage(other.code(), other.to_string()),
    }
}

/// The URL the other nodes reach this one at when `--advertise` is not given: the
/// address it listens on, except that an address meaning every interface (`0.0.0.0`,
/// `[::]`), which no other machine can connect to (and which on this one means
/// itself), becomes this machine's host name.
fn default_advertise(bound: std::net::SocketAddr) -> String {
    if bound.ip().is_unspecified() {
        let host = gethostname::gethostname();
        if let Some(host) = host.to_str().filter(|h| !h.is_empty()) {
            return format!("http://{host}:{}", bound.port());
        }
    }
    format!("http://{bound}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_advertised_url_names_the_host_when_every_interface_is_bound() {
        // Given a specific address, When nothing is advertised, Then it is the URL
        assert_eq!(
            default_advertise("127.0.0.1:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        // Given every interface (v4 or v6), Then the host name with the port
        for any in ["0.0.0.0:8080", "[::]:8080"] {
            let url = default_advertise(any.parse().unwrap());
            let host = gethostname::gethostname().into_string().unwrap();
            assert_eq!(url, format!("http://{host}:8080"), "{any}");
        }
    }
}
