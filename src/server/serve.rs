//! Running the server on a socket and stopping it gracefully: when the shutdown future
//! completes, event streams end, the listener stops accepting, every in-flight request
//! (commands included) gets its answer, the leader's duties (webhook deliveries, the
//! scheduler: [`super::leading`]) stop, then the engine shuts down — the writer finishes
//! the group in hand (fsynced), saves its checkpoint, and the data directory is released.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::leading::Duties;
use super::{app, AppState, ServerOptions};
use crate::store::StoreError;
use crate::Engine;

/// How long to wait, after the last connection closed, for background reads that still
/// hold the engine.
const RELEASE_PATIENCE: Duration = Duration::from_secs(10);

/// Longest the engine's own shutdown (the writer's last groups, the checkpoint) may
/// take: on a full or stuck disk it gives up on the checkpoint rather than hang, and the
/// log is as durable as every acknowledged command already made it.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(8);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: SocketAddr, error: String },
    #[error("the server failed: {0}")]
    Io(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl ServeError {
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::Bind { .. } | ServeError::Io(_) => "io",
            ServeError::Storage(e) => e.code(),
        }
    }
}

/// `offboard serve --addr ADDR`: serves `engine` on `addr` until `shutdown` completes
/// (see [`shutdown_signal`]), then stops gracefully and shuts the engine down.
pub async fn serve(
    engine: Engine,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind {
            addr,
            error: e.to_string(),
        })?;
    serve_listener(engine, listener, ServerOptions::default(), shutdown).await
}

/// [`serve`] on a listener already bound (tests bind `127.0.0.1:0` and read the port).
pub async fn serve_listener(
    engine: Engine,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_shared(Arc::new(engine), listener, options, shutdown).await
}

/// [`serve_listener`] on an engine the caller keeps a handle to (tests change its role
/// while it serves). Shutting down waits for that handle to be dropped, up to 10 s.
pub async fn serve_shared(
    engine: Arc<Engine>,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    spawn_damage_scan(&engine);
    let webhook_options = options.webhooks;
    let state = AppState::with_options(Arc::clone(&engine), options)?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "offboard server listening");
    }
    // Webhook deliveries and the scheduler run while this node leads (always, on a data
    // directory).
    let duties = Duties::start(&state, webhook_options).map_err(ServeError::Io)?;
    let stopping = state.clone();
    let resigning = Arc::clone(&engine);
    // The peer's address, for the `Forwarded` header of requests sent on to the leader.
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    // Writes go out at once (TCP_NODELAY): an event stream writes one small frame per
    // event, and Nagle's algorithm could hold each one back while the previous is unacked.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: ending event streams, finishing requests");
            stopping.begin_shutdown();
            // One of several nodes hands the writer lock over now, not after the drain.
            let _ = tokio::task::spawn_blocking(move || resigning.resign()).await;
        })
        .await
        .map_err(|e| ServeError::Io(e.to_string()));
    duties.stop().await;
    close(engine).await;
    tracing::info!("offboard server stopped");
    served
}

/// Reads the whole log once in the background (`engine::scan_for_damage`): damage behind
/// the checkpoint stops writes before one builds on it, not when a read happens to meet it.
fn spawn_damage_scan(engine: &Arc<Engine>) {
    let engine = Arc::downgrade(engine);
    let spawned = std::thread::Builder::new()
        .name("offboard-scan".to_owned())
        .spawn(move || match crate::engine::scan_for_damage(&engine) {
            Ok(read) => tracing::info!(positions = read, "log read through: no damage met"),
            Err(e) => tracing::error!(error = %e, "damage met in the log; writes are refused"),
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the background pass over the log could not start");
    }
}

/// Shuts the engine down once nothing else holds it (the writer finishes and the data
/// directory is released); if a straggler still does after [`RELEASE_PATIENCE`], the
/// engine shuts down when that one lets go.
async fn close(mut engine: Arc<Engine>) {
    let started = tokio::time::Instant::now();
    loop {
        match Arc::try_unwrap(engine) {
            Ok(engine) => {
                let stopping = tokio::task::spawn_blocking(move || engine.shutdown());
                if tokio::time::timeout(SHUTDOWN_PATIENCE, stopping)
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        "the engine did not stop within {} s (is the disk full or stuck?); leaving it",
                        SHUTDOWN_PATIENCE.as_secs()
                    );
                }
                return;
            }
            Err(shared) if started.elapsed() < RELEASE_PATIENCE => {
                engine = shared;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(_) => {
                tracing::warn!("engine still in use after shutdown; it closes when released");
                return;
            }
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Logs to stderr, one line per request; `RUST_LOG` filters (default `info`, without
/// sled's own lines: [`crate::store::QUIET_SLED`]).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("info,{}", crate::store::QUIET_SLED))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(crate::cli::output::colour(&std::io::stderr()))
        .with_writer(std::io::stderr)
        // A line that cannot be written (stderr is a file on a full disk) is dropped:
        // reporting it is an `eprintln!`, which panics, and took every request with it.
        .log_internal_errors(false)
        .try_init();
}
