//! Runs the real `offboard` binary in a temporary data directory (ripgrep's
//! `tests/util.rs`): every test gets its own directory and a clean environment.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_offboard")
}

/// A temporary data directory and the commands run in it.
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

    /// A command for the binary with `--data` set and no OFFBOARD_* from outside.
    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--data").arg(self.data());
        c.env_remove("OFFBOARD_DATA").env_remove("OFFBOARD_ACTOR");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("the binary runs")
    }

    /// Runs `args`, expects exit 0, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
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
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {text}"))
    }

    /// Runs `args` with `--json`, expects exit code `exit`, returns the `error` object.
    pub fn fails(&self, exit: i32, args: &[&str]) -> Value {
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
    pub fn fails_human(&self, exit: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(exit), "offboard {args:?}");
        String::from_utf8(out.stderr).unwrap()
    }

    /// Every event of the org, as `events` prints them.
    pub fn events(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["events"];
        all.extend_from_slice(args);
        self.ok(&all)
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
            .collect()
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
