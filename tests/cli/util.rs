//! Runs the real `offboard` binary in a temporary data directory (ripgrep's
//! `tests/util.rs`): every test gets its own directory and a clean environment.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_offboard")
}

/// A temporary data directory and the commands run in it.
/// Running the real binary and reading its answers: a data directory ([`Dir`]) and a
/// client of a running server ([`Client`]) differ only in how the command is built.
pub trait Offboard {
    /// The `offboard` command, ready for its arguments.
    fn command(&self) -> Command;

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("the binary runs")
    }

    /// Runs `args`, expects exit 0, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "offboard {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `args` with `--json`, expects exit 0, returns the one JSON document.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {text}"))
    }

    /// Runs `args` with `--json`, expects exit code `exit`, returns the `error` object.
    fn fails(&self, exit: i32, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(exit),
            "offboard {args:?}: expected exit {exit}\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: error is not JSON ({e}): {stdout}"));
        doc["error"].clone()
    }

    /// Runs `args` without `--json`, expects exit code `exit`, returns stderr.
    fn fails_human(&self, exit: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(exit), "offboard {args:?}");
        String::from_utf8(out.stderr).unwrap()
    }

    /// Every event of the org, as `events` prints them.
    fn events(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["events"];
        all.extend_from_slice(args);
        self.ok(&all)
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
            .collect()
    }
}

pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// The data directory (inside the temp dir, created by the binary on first use).
    pub fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// A file path next to the data directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Offboard for Dir {
    /// The binary with `--data` set and no OFFBOARD_* from outside.
    fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--data").arg(self.data());
        c.env_remove("OFFBOARD_DATA")
            .env_remove("OFFBOARD_ACTOR")
            .env_remove("OFFBOARD_SERVER")
            .env_remove("OFFBOARD_STORE")
            .env_remove("OFFBOARD_TOKEN");
        c
    }
}

pub const OWNER: &str = "dana@acme.example";
pub const SAM: &str = "sam@acme.example";
pub const PAT: &str = "pat@acme.example";
pub const ANN: &str = "ann@acme.example";
pub const BOB: &str = "bob@acme.example";

/// An org "Acme": owner Dana, manager Sam, members Pat (managed by Sam), Ann, Bob.
pub fn acme() -> Dir {
    let d = Dir::new();
    init_acme(&d);
    d.ok(&[
        "user", "add", "--email", SAM, "--first", "Sam", "--last", "Ortiz", "--role", "manager",
    ]);
    d.ok(&[
        "user",
        "add",
        "--email",
        PAT,
        "--first",
        "Pat",
        "--last",
        "Kim",
        "--manager",
        SAM,
    ]);
    d.ok(&[
        "user", "add", "--email", ANN, "--first", "Ann", "--last", "Lee",
    ]);
    d.ok(&[
        "user", "add", "--email", BOB, "--first", "Bob", "--last", "Diaz",
    ]);
    d
}

/// `init` of the org "Acme" owned by Dana Reyes, on `d`.
pub fn init_acme(d: &impl Offboard) {
    d.ok(&[
        "init",
        "--org",
        "Acme",
        "--owner-email",
        OWNER,
        "--owner-first",
        "Dana",
        "--owner-last",
        "Reyes",
    ]);
}

/// `acme()` where Pat owns buyers B-1..B-n.
pub fn acme_with_buyers(n: usize) -> Dir {
    let d = acme();
    let keys: Vec<String> = (1..=n).map(|i| format!("buyer:B-{i}")).collect();
    let mut args = vec!["resource", "add"];
    args.extend(keys.iter().map(String::as_str));
    args.extend(["--owner", PAT]);
    d.ok(&args);
    d
}

/// The position of the last event.
pub fn last_position(d: &Dir) -> u64 {
    d.json(&["verify"])["events"].as_u64().unwrap()
}

/// A token for `principal`, created on the data directory (before a server holds it).
pub fn token(d: &Dir, principal: &str) -> String {
    d.json(&["token", "create", "--as", principal])["token"]
        .as_str()
        .expect("the token")
        .to_owned()
}

/// How long a test waits for a server to start or stop before failing.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The real `offboard serve` on a directory and a free loopback port; killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where the server's log lines go.
    pub log: PathBuf,
}

impl Server {
    /// Starts `offboard serve --addr 127.0.0.1:0` on `d` and waits until it answers.
    pub fn start(d: &Dir) -> Self {
        Self::start_on(d, "127.0.0.1:0")
    }

    /// Starts `offboard serve --addr ADDR` on `d` and waits until it answers.
    pub fn start_on(d: &Dir, addr: &str) -> Self {
        Self::start_serving(d, &["--addr", addr])
    }

    /// Starts `offboard serve --addr 127.0.0.1:0 EXTRA...` on `d` and waits until it
    /// answers.
    pub fn start_with(d: &Dir, extra: &[&str]) -> Self {
        let mut args = vec!["--addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Self::start_serving(d, &args)
    }

    fn start_serving(d: &Dir, args: &[&str]) -> Self {
        let log = d.path("server.log");
        let mut child = d
            .command()
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .expect("a log file"),
            )
            .spawn()
            .expect("the server starts");
        // The first line names the address (port 0 picks a free one).
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Self {
            child: Some(child),
            url: String::new(),
            log,
        };
        let line = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no address from the server: {}", server.log_text()));
        server.url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}: {}", server.log_text()))
            .to_owned();
        let started = Instant::now();
        while http(&server.url, "GET", "/v1/openapi.json", None, None).0 != 200 {
            assert!(started.elapsed() < PATIENCE, "the server never answered");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// A command for the binary in client mode: `--server URL --token TOKEN`.
    pub fn client(&self, d: &Dir, token: &str) -> Client {
        Client {
            url: self.url.clone(),
            token: token.to_owned(),
            dir: d.tmp.path().to_path_buf(),
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let child = self.child.as_mut().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("waits") {
                self.child = None;
                return status.code();
            }
            assert!(started.elapsed() < PATIENCE, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The binary pointed at a server (`--server`, `--token`), run from a temp directory
/// with no data directory of its own.
pub struct Client {
    pub url: String,
    pub token: String,
    dir: PathBuf,
}

impl Offboard for Client {
    fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(&self.dir)
            .env_remove("OFFBOARD_DATA")
            .env_remove("OFFBOARD_ACTOR")
            .env_remove("OFFBOARD_SERVER")
            .env_remove("OFFBOARD_TOKEN")
            .args(["--server", &self.url, "--token", &self.token]);
        c
    }
}

/// One HTTP/1.0 request to `base` (`http://HOST:PORT`) on loopback: the status and the
/// JSON body (`Null` when there is none or it is not JSON). Status 0: no connection.
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    http_with(base, method, path, token, body, &[])
}

/// [`http`] with extra request headers (`name`, `value`).
pub fn http_with(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let host = base.trim_start_matches("http://");
    let Ok(mut stream) = TcpStream::connect(host) else {
        return (0, Value::Null);
    };
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, Value::Null);
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}
