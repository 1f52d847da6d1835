//! Exit codes and the error shapes: usage (2), storage and a locked directory (3).

use crate::util::*;

#[test]
fn usage_errors_exit_2_with_the_json_error_shape() {
    let d = Dir::new();
    let e = d.fails(2, &["no-such-command"]);
    assert_eq!(e["code"], "usage");
    assert!(e["message"].is_string());
    assert_eq!(e["blockers"], serde_json::json!([]));
    let out = d.run(&["user", "add", "--email"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--email"));
    // Help and version are not errors.
    assert!(d.ok(&["--help"]).contains("transfer-all-buyers"));
    assert!(d.ok(&["--version"]).starts_with("offboard "));
}

#[test]
fn a_locked_data_directory_exits_3_naming_it() {
    let d = acme();
    let held = offboard::store::SledLog::open(d.data()).expect("the test holds the directory");
    let started = std::time::Instant::now();
    let e = d.fails(3, &["user", "list"]);
    assert!(started.elapsed().as_secs() < 20, "no hang");
    assert_eq!(e["code"], "data_dir_locked");
    let dir = d.data().display().to_string();
    assert!(e["message"].as_str().unwrap().contains(&dir), "{e}");
    let text = d.fails_human(3, &["verify"]);
    assert!(
        text.contains(&dir) && !text.contains("WouldBlock"),
        "{text}"
    );
    drop(held);
    d.ok(&["user", "list"]);
}

#[test]
fn a_data_directory_that_is_a_file_is_a_storage_error() {
    let d = Dir::new();
    let file = d.write("not-a-dir", "x");
    let out = std::process::Command::new(bin())
        .args(["--json", "--data", file.to_str().unwrap(), "verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "storage");
}

#[test]
fn offboard_data_names_the_directory() {
    let d = Dir::new();
    let out = std::process::Command::new(bin())
        .env("OFFBOARD_DATA", d.data())
        .env_remove("OFFBOARD_ACTOR")
        .args([
            "--json",
            "init",
            "--org",
            "Env",
            "--owner-email",
            OWNER,
            "--owner-first",
            "D",
            "--owner-last",
            "R",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(d.json(&["orgs"])["orgs"][0]["name"], "Env");
}
