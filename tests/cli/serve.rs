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
        assert_eq!(status, 200, "{answer}");
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
