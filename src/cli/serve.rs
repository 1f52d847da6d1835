//! `offboard serve [--addr ADDR]`: opens the data directory, listens, announces the
//! address it listens on (port 0 picks a free one), and serves the HTTP API until SIGINT
//! or SIGTERM; then it stops gracefully and releases the directory. A directory another
//! process holds, or an address in use, is a storage error (exit 3).

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

use super::error::CliError;
use super::output::Output;
use crate::server::{self, ServeError, ServerOptions};
use crate::Engine;

/// Runs the server on `dir` until a shutdown signal.
pub fn run(dir: &Path, addr: SocketAddr, out: &mut Output) -> Result<(), CliError> {
    server::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let engine = Engine::open(dir)?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| {
            serve_error(ServeError::Bind {
                addr,
                error: e.to_string(),
            })
        })?;
    let bound = listener.local_addr()?;
    let url = format!("http://{bound}");
    if out.is_json() {
        out.doc(&json!({ "ok": true, "listening": url, "data_dir": dir }))?;
    } else {
        out.line(format!(
            "Serving {} on {url} (API description: {url}/v1/openapi.json). Ctrl-C or SIGTERM stops it.",
            dir.display()
        ));
    }
    let served = rt.block_on(server::serve_listener(
        engine,
        listener,
        ServerOptions::default(),
        server::shutdown_signal(),
    ));
    // A storage call stuck on a dead disk must not keep the process alive: dropping the
    // runtime would wait for it forever.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    served.map_err(serve_error)
}

fn serve_error(e: ServeError) -> CliError {
    match e {
        ServeError::Storage(s) => s.into(),
        other => CliError::storage(other.code(), other.to_string()),
    }
}
