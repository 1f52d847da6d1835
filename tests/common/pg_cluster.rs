//! A throwaway PostgreSQL cluster for a test binary, and a fresh database per test.
//!
//! Once per binary: find `initdb` (on PATH, else the newest `/usr/lib/postgresql/*/bin`),
//! `initdb` into a temporary directory, start it with `pg_ctl` on a free loopback port
//! (its unix socket in the same directory). A watcher process stops the cluster
//! (`pg_ctl stop -m immediate`) and removes the directory when the binary exits, even
//! after a panic. When PostgreSQL is not installed, [`database`] returns `None` with a
//! printed reason, unless `OFFBOARD_REQUIRE_POSTGRES=1` (CI), where it fails.
//! PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user.
//! The failover harness (`examples/failover_rounds`) includes this file too: it starts
//! its own [`Cluster`], restarts it under load and stops it at the end.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A running cluster: its programs' directory, its temporary directory (data, socket,
/// server log) and its loopback port.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The URL of a new, empty database of this binary's cluster, or `None` (with the reason
/// printed) when PostgreSQL is not installed and not required.
pub fn database() -> Option<String> {
    let cluster = match CLUSTER.get_or_init(Cluster::start) {
        Ok(cluster) => cluster,
        Err(why) if required() => panic!("OFFBOARD_REQUIRE_POSTGRES=1, but {why}"),
        Err(why) => {
            eprintln!("skipping the PostgreSQL half: {why}");
            return None;
        }
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Some(cluster.create_database(&name).unwrap())
}

/// Whether this run must test PostgreSQL (CI sets it).
pub fn required() -> bool {
    std::env::var("OFFBOARD_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

impl Cluster {
    /// `postgresql://postgres@127.0.0.1:PORT/db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates the empty database `name` (a plain identifier); its URL. Blocking: call
    /// it outside an async runtime.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let admin = offboard::store::PgPool::connect(&self.url("postgres"))
            .map_err(|e| format!("connecting to the cluster: {e}"))?;
        let sql = format!("CREATE DATABASE {name}");
        admin
            .run(move |client| async move {
                client.batch_execute(&sql).await?;
                Ok(())
            })
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        Ok(self.url(name))
    }

    /// `pg_ctl restart -m fast`: every session is ended (rolled back), the server stops
    /// and starts again on the same port; returns once it accepts connections.
    pub fn restart_fast(&self) -> Result<(), String> {
        run(pg(&self.bin, "pg_ctl")
            .args(["restart", "-w", "-t", "60", "-m", "fast", "-D"])
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log")))
    }

    /// `pg_ctl stop -m fast`, then removes its directory (the watcher would do both
    /// once this process exits; this does it now).
    pub fn stop(&self) -> Result<(), String> {
        let stopped = run(pg(&self.bin, "pg_ctl")
            .args(["stop", "-w", "-m", "fast", "-D"])
            .arg(self.dir.join("data")));
        let _ = std::fs::remove_dir_all(&self.dir);
        stopped
    }

    /// `initdb` into a new temporary directory and `pg_ctl start` on a free loopback
    /// port, with a watcher that stops it when this process exits.
    pub fn start() -> Result<Cluster, String> {
        start()
    }
}

fn start() -> Result<Cluster, String> {
    let bin = find_bin()
        .ok_or("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin)")?;
    let dir = tempfile::Builder::new()
        .prefix("offboard-pg-")
        .tempdir()
        .map_err(|e| format!("no temporary directory: {e}"))?
        .keep();
    if as_root() {
        run(Command::new("chown").args(["postgres:"]).arg(&dir))?;
    }
    let data = dir.join("data");
    run(pg(&bin, "initdb")
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "-D",
        ])
        .arg(&data))?;
    watch_for_exit(&bin, &dir);
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400",
            dir.display()
        );
        let started = run(pg(&bin, "pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-o", &options]));
        match started {
            Ok(()) => return Ok(Cluster { bin, dir, port }),
            Err(why) => last = why,
        }
    }
    Err(format!("the test cluster did not start: {last}"))
}

/// A watcher that outlives this process by a second: it stops the cluster and removes
/// its directory once this process is gone, however it ended.
fn watch_for_exit(bin: &Path, dir: &Path) {
    let pg_ctl = bin.join("pg_ctl");
    let as_postgres = if as_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {as_postgres}{pg_ctl} stop -m immediate -D {dir}/data >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        pg_ctl = pg_ctl.display(),
        dir = dir.display(),
    );
    // Never waited for: it must outlive this process, whose exit is what it waits for.
    #[allow(clippy::zombie_processes)]
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the cluster's watcher starts");
}

fn find_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| d.join("initdb").is_file()) {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|bin| {
        let version = bin
            .parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str());
        version.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    versions.pop()
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// `program` of `bin`, run as `postgres` when this process is root.
fn pg(bin: &Path, program: &str) -> Command {
    if as_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
