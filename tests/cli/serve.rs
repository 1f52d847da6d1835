//! `offboard serve` as a real process on a loopback port, and `token create|list|revoke`
//! on the data directory: SIGTERM stops it gracefully with exit 0 and every acknowledged
//! command in the log; the directory is locked while it runs; a busy address exits 3.

use serde_json::json;

use crate::util::*;

#[test]
fn tokens_are_printed_once_listed_without_secrets_and_revoked() {
    let d = acme();
    let e = d.fails(2, &["token", "create"]);
    assert!(e["message"].as_str().unwrap().contains("--as"), "{e}");
    let created = d.json(&["token", "create", "--as", OWNER]);
    let secret = created["token"].as_str().unwrap();
    assert!(secret.starts_with("ofb_"));
    assert!(created["message"]
        .as_str()
        .unwrap()
        .contains("only this once"));
    let id = created["record"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["record"]["principal"]["kind"], "user");
    d.ok(&["principal", "add", "auditor", "audit-firm"]);
    let text = d.ok(&["token", "create", "--as", "auditor:audit-firm"]);
    assert!(text.lines().next().unwrap().starts_with("ofb_"), "{text}");
    assert_eq!(
        d.fails(1, &["token", "create", "--as", "nobody@acme.example"])["code"],
        "not_found"
    );

    let listed = d.json(&["token", "list"]);
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(secret), "never the secret");
    assert!(d
        .ok(&["token", "list"])
        .contains("auditor:audit-firm in \"Acme\""));
    let revoked = d.json(&["token", "revoke", &id]);
    assert_eq!(revoked["record"]["id"], id.as_str());
    assert!(revoked["record"]["revoked_at"].is_string());
    assert_eq!(
        d.fails(1, &["token", "revoke", "nope"])["code"],
        "invalid_input"
    );
}

#[test]
fn sigterm_stops_the_server_with_exit_0_keeping_every_acknowledged_command() {
    let d = acme();
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let held = d.fails(3, &["user", "list"]);
    assert_eq!(held["code"], "data_dir_locked");
    assert!(
        held["message"]
            .as_str()
            .unwrap()
            .contains(&d.data().display().to_string()),
        "{held}"
    );
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let email = format!("new{i}@acme.example");
        let (status, answer) = http(
            &server.url,
            "POST",
            "/v1/users",
            Some(&t),
            Some(&json!({"email": email, "first_name": "N", "last_name": "U", "active": true})),
        );
        assert_eq!(status, 201, "{answer}");
        acknowledged.push(email);
    }
    assert_eq!(server.terminate(), Some(0));
    let users = d.json(&["user", "list"]);
    for email in &acknowledged {
        assert!(
            users["users"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["email"] == email.as_str()),
            "{email} survived"
        );
    }
    d.ok(&["verify"]);
}

#[test]
fn an_address_in_use_exits_3_and_says_so() {
    let d = acme();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let e = d.fails(3, &["serve", "--addr", &addr]);
    assert!(
        e["message"].as_str().unwrap().contains("cannot listen"),
        "{e}"
    );
    // The directory was released: embedded commands work at once.
    d.ok(&["user", "list"]);
}

/// Unmounts a tmpfs when dropped (lazily, so a failing test never leaves it busy).
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn on_a_full_disk_every_request_is_answered_reads_go_on_and_sigterm_stops_within_10_s() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    // Given a data directory on a 20 MiB tmpfs, with the server's log (its stderr) on it
    // too (skipped where mounting is not allowed),
    let d = Dir::new();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=20m", "tmpfs"])
        .arg(d.tmp.path())
        .output();
    match mounted {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            eprintln!("SKIPPED: cannot mount a tmpfs here ({})", why.trim());
            return;
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot run mount ({e})");
            return;
        }
    }
    let _unmount = Mounted(d.tmp.path().to_path_buf());
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
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    // with the disk then filled up to its last MiB,
    let filler = d.path("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    while file.write_all(&[0x5Au8; 64 * 1024]).is_ok() {}
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(1024 * 1024)).unwrap();
    drop(file);
    // when 12 clients add users until they are refused,
    let clients: Vec<_> = (0..12)
        .map(|c| {
            let (url, t, log) = (server.url.clone(), t.clone(), server.log.clone());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0..2000 {
                    let email = format!("u{c}-{i}@acme.example");
                    let body = json!({"email": email, "first_name": "N", "last_name": "U", "active": true});
                    let (status, answer) = http(&url, "POST", "/v1/users", Some(&t), Some(&body));
                    // then every request is answered (status 0: no answer within 20 s),
                    if status == 0 {
                        let live = http(&url, "GET", "/livez", None, None);
                        let again = http(&url, "POST", "/v1/users", Some(&t), Some(&body));
                        panic!(
                            "a request went unanswered (livez now: {live:?}, again: {again:?}); the server's log:\n{}",
                            std::fs::read_to_string(&log).unwrap_or_default()
                        );
                    }
                    match status {
                        201 => acknowledged.push(email),
                        503 => {
                            let code = answer["error"]["code"].as_str().unwrap().to_owned();
                            assert!(
                                matches!(code.as_str(), "outcome_unknown" | "unavailable" | "storage"),
                                "{answer}"
                            );
                            break;
                        }
                        other => panic!("{other}: {answer}"),
                    }
                }
                acknowledged
            })
        })
        .collect();
    let acknowledged: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    // reads keep answering and /readyz answers with a stable code,
    let (status, users) = http(&server.url, "GET", "/v1/users", Some(&t), None);
    assert_eq!(status, 200, "{users}");
    let (status, ready) = http(&server.url, "GET", "/readyz", None, None);
    assert!(
        status == 200 || (status == 503 && ready["error"]["code"] == "unavailable"),
        "{status} {ready}"
    );
    // and SIGTERM stops the server within 10 s on the full disk.
    let started = Instant::now();
    let exit = server.terminate();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(exit.is_some(), "killed by a signal");
    // Once space is freed, the directory opens and holds every acknowledged user.
    std::fs::remove_file(&filler).unwrap();
    d.ok(&["verify"]);
    let users = d.json(&["user", "list"]);
    for email in &acknowledged {
        assert!(
            users["users"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["email"] == email.as_str()),
            "{email} was acknowledged and lost"
        );
    }
}

/// The path of a console link (`/sign-in/link?code=…`), without its address.
fn link_path(url: &str) -> &str {
    &url[url.find("/sign-in/link?code=").expect("a sign-in link")..]
}

#[test]
fn console_link_prints_a_one_time_url_that_opens_once_even_across_a_restart() {
    // Given an org, and a link minted on the directory before the server starts
    let d = acme();
    let e = d.fails(2, &["console-link"]);
    assert!(e["message"].as_str().unwrap().contains("--as"), "{e}");
    let before = d.json(&["console-link", "--as", OWNER, "--ttl", "5m"]);
    let url = before["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:8080/sign-in/link?code="),
        "{url}"
    );
    assert!(
        before["message"].as_str().unwrap().contains("once"),
        "{before}"
    );
    assert!(before["record"]["expires_at"].is_string());
    let text = d.ok(&["console-link", "--as", OWNER, "--url", "https://c.example/"]);
    assert!(
        text.starts_with("https://c.example/sign-in/link?code="),
        "{text}"
    );
    let e = d.fails(1, &["console-link", "--as", OWNER, "--ttl", "2d"]);
    assert_eq!(e["code"], "invalid_input", "{e}");
    assert_eq!(
        d.fails(1, &["console-link", "--as", "nobody@acme.example"])["code"],
        "not_found"
    );
    let owner_token = token(&d, OWNER);
    // When the server runs, Then the link opens a session once: a redirect, then 410
    let server = Server::start(&d);
    let (status, _) = http(&server.url, "GET", link_path(&url), None, None);
    assert_eq!(status, 303);
    let (status, _) = http(&server.url, "GET", link_path(&url), None, None);
    assert_eq!(status, 410);
    // And in client mode the owner mints links through the server, for its address
    let client = server.client(&d, &owner_token);
    let remote = client.json(&["console-link", "--as", OWNER, "--ttl", "90s"]);
    let remote_url = remote["url"].as_str().unwrap().to_owned();
    assert!(remote_url.starts_with(&server.url), "{remote_url}");
    let secret = remote_url.split("code=").nth(1).unwrap();
    let (status, _) = http(&server.url, "GET", "/v1/users", Some(secret), None);
    assert_eq!(status, 401, "a link is not an API token");
    let (status, _) = http(&server.url, "GET", link_path(&remote_url), None, None);
    assert_eq!(status, 303);
    // And after a restart both links stay used
    assert_eq!(server.terminate(), Some(0));
    let server = Server::start(&d);
    for used in [&url, &remote_url] {
        let (status, _) = http(&server.url, "GET", link_path(used), None, None);
        assert_eq!(status, 410, "{used}");
    }
}
