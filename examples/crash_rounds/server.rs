//! One `offboard serve` child process: started on the data directory with port 0, its
//! address read from its first line (`--json`: `{"listening": URL}`), ended with SIGKILL.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a start may take: opening replays the log's tail after the checkpoint.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running server.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// Starts `bin serve` on `data`, its stderr (the request log) going to `log`.
    pub fn start(bin: &Path, data: &Path, log: &Path) -> Result<Self, String> {
        Self::launch(bin, &[OsStr::new("--data"), data.as_os_str()], log)
    }

    /// Starts `bin GLOBAL... --json serve --addr 127.0.0.1:0` (`GLOBAL`: where the log
    /// is, e.g. `--data DIR --store URL`), its stderr going to `log`; returns once it
    /// announced its address.
    pub fn launch(bin: &Path, global: &[&OsStr], log: &Path) -> Result<Self, String> {
        let stderr = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(bin)
            .args(global)
            .args(["--json", "serve", "--addr", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // Read on a thread so a server that never announces itself cannot hang us.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(read.map(|_| line));
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(fail(child, log, &format!("reading its stdout: {e}"))),
            Err(_) => return Err(fail(child, log, "no address within the start timeout")),
        };
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        match doc["listening"].as_str() {
            Some(url) => Ok(Self {
                child,
                url: url.to_owned(),
            }),
            None => Err(fail(child, log, &format!("first line {line:?}"))),
        }
    }

    /// How it ended, if it has (`None` while it runs).
    #[allow(dead_code)] // failover_rounds only: its nodes must outlive PostgreSQL's restarts
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap the process.
    pub fn kill(self) {
        drop(self);
    }
}

/// A server is never left running: an early return from the harness kills it too.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills a server that did not start right and describes why, with its stderr's tail.
fn fail(mut child: Child, log: &Path, why: &str) -> String {
    let _ = child.kill();
    let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
    let stderr = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("serve did not start ({why}; {status}): {}", tail.join("\n"))
}
