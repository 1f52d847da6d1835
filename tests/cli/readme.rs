//! The README's server section runs as written on a fresh directory: its shell blocks
//! are taken from the README, run in order in one `bash` in an empty temporary
//! directory with this build's `offboard` first on `PATH`, and every command must
//! succeed (curl with `--fail-with-body`: every HTTP answer must be 2xx). Only the port
//! changes, to a free one. Skipped, saying so, where bash, curl or jq is missing.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use crate::util::*;

/// The ```sh blocks between `## The server` and the next `## ` heading.
fn server_section_blocks(readme: &str) -> Vec<String> {
    let start = readme.find("\n## The server").expect("a server section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    let mut blocks = Vec::new();
    let mut lines = rest[..end].lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            blocks.push(block.join("\n"));
        }
    }
    blocks
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_readme_server_section_runs_as_written() {
    if let Some(missing) = ["bash", "curl", "jq", "timeout"]
        .into_iter()
        .find(|t| !have(t))
    {
        eprintln!("skipped: {missing} is not installed");
        return;
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("the README");
    let blocks = server_section_blocks(&readme);
    assert!(blocks.len() >= 3, "the server section's blocks: {blocks:?}");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // Ends the background server however the script ends; a curl cut off by its own
    // --max-time (28) or a `timeout` ending a follow (124) is the block's intent.
    let preamble = r#"
set -euo pipefail
trap 'kill ${SERVER_PID:-} 2>/dev/null || true' EXIT
curl() { local c=0; command curl --fail-with-body "$@" || c=$?; [ "$c" = 28 ] && c=0; echo; return "$c"; }
timeout() { local c=0; command timeout "$@" || c=$?; [ "$c" = 124 ] && c=0; return "$c"; }
"#;
    let script = format!("{preamble}\n{}\n", blocks.join("\n")).replace("8080", &port.to_string());
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(bin()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("OFFBOARD_DATA")
        .env_remove("OFFBOARD_ACTOR")
        .env_remove("OFFBOARD_SERVER")
        .env_remove("OFFBOARD_TOKEN")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's server section failed ({:?}):\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status.code()
    );
    // It did what it says: Pat's buyers moved and Pat was deleted over HTTP; Bob was
    // offboarded through the CLI in client mode.
    assert!(stdout.contains("\"duplicate\":false"), "{stdout}");
    assert!(stdout.contains("Deleted bob@truckpros.example"), "{stdout}");
}
