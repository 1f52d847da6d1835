//! Client mode: the real binary with `--server URL --token T` against a real `offboard
//! serve` on a loopback port. Every endpoint family is driven through the CLI; the reads
//! are then run again embedded, once the server has stopped, and must print the same
//! documents and the same text; errors keep their codes, blockers and exit codes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::util::*;

/// Reads the client mode must answer exactly as the embedded mode does.
fn reads(purged: &str) -> Vec<Vec<&str>> {
    vec![
        vec!["user", "list"],
        vec!["user", "list", "--status", "purged"],
        vec!["user", "show", PAT],
        vec!["user", "show", purged],
        vec!["orgs"],
        vec!["policy"],
        vec!["principal", "list"],
        vec!["owners"],
        vec!["owners", "--kind", "buyer", "--owner", ANN],
        vec!["owner", "buyer:B-1"],
        vec!["plan", ANN],
        vec!["plan", ANN, "--template"],
        vec!["duty", "list"],
        vec!["distribution", "list"],
        vec!["label", "list"],
        vec!["credits", "show"],
        vec!["history", "--user", PAT],
        vec!["history", "--resource", "buyer:B-1"],
        vec!["history", "--org", "--since", "2000-01-01"],
        vec!["verify"],
    ]
}

fn with_json<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    all
}

#[test]
fn every_endpoint_family_through_the_cli_answers_as_embedded() {
    let d = acme_with_buyers(4);
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let c = server.client(&d, &t);

    // Organization, directory and groups.
    assert_eq!(
        c.json(&["principal", "add", "auditor", "audit-firm"])["command"],
        "register_principal"
    );
    let zoe = c.json(&[
        "user",
        "add",
        "--email",
        "zoe@acme.example",
        "--first",
        "Zoe",
        "--last",
        "Quinn",
        "--manager",
        SAM,
        "--inactive",
    ]);
    assert_eq!(zoe["command"], "invite_user");
    assert_eq!(zoe["envelopes"].as_array().unwrap().len(), 1);
    let zoe_id = zoe["user_id"].as_str().unwrap().to_owned();
    let activated = c.ok(&["user", "activate", "zoe@acme.example"]);
    assert!(
        activated.contains("zoe@acme.example is active."),
        "{activated}"
    );
    c.ok(&["user", "role", &zoe_id, "manager"]);
    c.ok(&["user", "manager", "zoe@acme.example", "none"]);
    c.ok(&["group", "add", "east", "--owner", ANN]);
    c.ok(&["group", "join", "east", BOB]);
    c.ok(&["resource", "add", "lead:L-1", "lead:L-2", "--owner", PAT]);

    // Routing and credits.
    c.ok(&["duty", "assign", "dealer_trade_contact", PAT, "--new"]);
    c.ok(&[
        "distribution",
        "add",
        "North rotation",
        "--kind",
        "rotation",
        "--member",
        &format!("{ANN}=1,{BOB}=1"),
        "--backup",
        PAT,
    ]);
    c.ok(&["distribution", "backup", "North rotation", SAM]);
    c.ok(&["label", "add", "Hot", "--member", PAT]);
    c.ok(&["credits", "add", "100"]);
    c.ok(&["credits", "grant", PAT, "10"]);
    c.ok(&["credits", "use", PAT, "2"]);
    c.ok(&["credits", "transfer", PAT, "pool", "3"]);
    let policy = c.json(&["policy", "--retention-days", "45"]);
    assert_eq!(policy["policy"]["retention_days"], 45);

    // A refused delete lists every blocker, exit 1.
    let refused = c.fails(1, &["delete", PAT, "--confirm", "CONFIRM"]);
    assert_eq!(refused["code"], "owns_resources");
    assert!(
        refused["blockers"].as_array().unwrap().len() >= 3,
        "{refused}"
    );

    // Offboarding: look, move, then the whole plan as one command.
    let before = c.json(&["owner", "buyer:B-1"])["history"][0]["position"]
        .as_u64()
        .unwrap();
    let moved = c.json(&["transfer-all-buyers", PAT, "--to", &format!("{ANN},{BOB}")]);
    assert!(
        moved["message"]
            .as_str()
            .unwrap()
            .starts_with("Moved 4 buyers from pat@acme.example"),
        "{moved}"
    );
    let operation = moved["correlation_id"].as_str().unwrap().to_owned();
    c.ok(&["transfer", PAT, "--resource", "lead:L-1", "--to", ANN]);
    let template = c.ok(&["plan", PAT, "--template"]);
    let plan: Value = serde_json::from_str(&template).unwrap();
    assert_eq!(plan["default_to"], SAM, "the manager takes over");
    let file = d.write("plan.json", &template);
    let offboarded = c.json(&[
        "offboard",
        PAT,
        "--plan",
        file.to_str().unwrap(),
        "--then",
        "deactivate",
    ]);
    assert_eq!(offboarded["command"], "offboard");
    assert_eq!(offboarded["then"], "deactivate");
    c.ok(&["reactivate", PAT]);
    let as_of = c.json(&["owner", "buyer:B-1", "--as-of", &before.to_string()]);
    assert_eq!(as_of["owner_email"], PAT);
    assert_eq!(as_of["as_of"], before);
    let owners_then = c.json(&["owners", "--as-of", &before.to_string()]);
    assert_eq!(owners_then["count"], 4);
    let by_operation = c.json(&["history", "--correlation", &operation]);
    assert_eq!(by_operation["count"], 3);

    // Account transfer with delete, restore, and delete and purge of another user.
    c.ok(&[
        "transfer-account",
        BOB,
        "--to",
        ANN,
        "--then",
        "delete",
        "--confirm",
        "CONFIRM",
    ]);
    let restored = c.json(&["restore", BOB, "--reactivate"]);
    assert_eq!(restored["command"], "restore_user");
    c.ok(&["user", "role", "zoe@acme.example", "member"]);
    c.ok(&["delete", "zoe@acme.example", "--confirm", "CONFIRM"]);
    c.ok(&["purge", "zoe@acme.example", "--confirm", "CONFIRM"]);

    // The reads and a refusal, in both formats, then the same embedded once the server
    // is gone.
    let reads = reads(&zoe_id);
    let remote: Vec<(String, String)> = reads
        .iter()
        .map(|args| (c.ok(&with_json(args)), c.ok(args)))
        .collect();
    let remote_events = c.events(&[]);
    let cloudevents = c.events(&["--format", "cloudevents", "--from", "3"]);
    assert_eq!(cloudevents[0]["specversion"], "1.0");
    assert_eq!(cloudevents[0]["position"], 3);
    let refusal = c.fails(1, &["delete", ANN, "--confirm", "CONFIRM"]);
    assert_eq!(refusal["code"], "owns_resources");
    let refusal_text = c.run(&["delete", ANN, "--confirm", "CONFIRM"]);
    assert_eq!(refusal_text.status.code(), Some(1));

    assert_eq!(server.terminate(), Some(0));
    for (args, (json_doc, text)) in reads.iter().zip(&remote) {
        let expected: Value = serde_json::from_str(&d.ok(&with_json(args))).unwrap();
        let got: Value = serde_json::from_str(json_doc).unwrap();
        assert_eq!(got, expected, "--json {args:?}");
        assert_eq!(text, &d.ok(args), "{args:?}");
    }
    assert_eq!(remote_events, d.events(&[]));
    assert_eq!(
        refusal,
        d.fails(1, &["delete", ANN, "--confirm", "CONFIRM"]),
        "the same error document"
    );
    assert_eq!(
        String::from_utf8_lossy(&refusal_text.stderr),
        d.fails_human(1, &["delete", ANN, "--confirm", "CONFIRM"]),
        "the same error for people"
    );
}

#[test]
fn tokens_through_the_api_and_what_a_token_may_do() {
    let d = acme_with_buyers(2);
    let t = token(&d, OWNER);
    d.ok(&["principal", "add", "auditor", "audit-firm"]);
    let manager = token(&d, SAM);
    let server = Server::start(&d);
    let c = server.client(&d, &t);

    let created = c.json(&["token", "create", "--as", "auditor:audit-firm"]);
    let auditor = created["token"].as_str().unwrap().to_owned();
    let auditor_id = created["record"]["id"].as_str().unwrap().to_owned();
    let listed = c.json(&["token", "list"]);
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 3);
    assert!(c
        .ok(&["token", "list"])
        .contains("auditor:audit-firm in \"Acme\""));
    let a = server.client(&d, &auditor);
    assert_eq!(a.json(&["verify"])["ok"], true);
    assert_eq!(
        a.fails(1, &["deactivate", PAT])["code"],
        "forbidden",
        "auditors only read"
    );
    let revoked = c.json(&["token", "revoke", &auditor_id]);
    assert!(revoked["record"]["revoked_at"].is_string());
    assert_eq!(a.fails(1, &["user", "list"])["code"], "unauthorized");
    let bad = server.client(&d, "ofb_not-a-token");
    assert_eq!(bad.fails(1, &["user", "list"])["code"], "unauthorized");

    // A manager may move their report's buyers but not read histories: the command is
    // done, reported without its events.
    let m = server.client(&d, &manager);
    let moved = m.json(&["transfer-all-buyers", PAT, "--to", ANN]);
    assert_eq!(moved["command"], "transfer_all");
    assert_eq!(moved["envelopes"], json!([]));
    assert!(moved["events"].as_u64().unwrap() > 0, "{moved}");
    assert!(moved["positions"]["first"].is_u64(), "{moved}");
    assert!(moved["message"].as_str().unwrap().starts_with("Wrote "));
    assert_eq!(m.fails(1, &["history", "--org"])["code"], "forbidden");
    assert_eq!(
        c.json(&["owners", "--owner", ANN])["count"],
        2,
        "the move happened"
    );

    // R6 over the API: the owner moves a deactivated user's work on their behalf.
    c.ok(&["deactivate", ANN]);
    let moved = c.json(&[
        "--on-behalf-of",
        ANN,
        "transfer",
        ANN,
        "--resource",
        "buyer:B-1",
        "--to",
        BOB,
    ]);
    let ann_id = c.json(&["user", "show", ANN])["id"].clone();
    // A hand-picked transfer is one event.
    assert_eq!(moved["events"], 1, "{moved}");
    assert_eq!(moved["envelopes"][0]["event_type"], "ResourcesTransferred");
    assert_eq!(moved["envelopes"][0]["on_behalf_of"], ann_id, "{moved}");

    // The token decides the org and who acts; some commands are embedded-only.
    let e = c.fails(2, &["--as", BOB, "user", "list"]);
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("the token decides who acts"));
    let e = c.fails(2, &["--org", "Other", "user", "list"]);
    assert!(e["message"].as_str().unwrap().contains("\"Acme\""), "{e}");
    c.ok(&["--org", "acme", "user", "list"]);
    for args in [
        &[
            "init",
            "--owner-email",
            "x@y",
            "--owner-first",
            "X",
            "--owner-last",
            "Y",
        ][..],
        &["export", "-"],
        &["rebuild"],
        &["serve"],
    ] {
        let e = c.fails(2, args);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("data directory only"),
            "{args:?}: {e}"
        );
    }
    // Embedded, --follow makes no sense: nothing else can write meanwhile.
    drop(server);
    assert_eq!(d.fails(2, &["events", "--follow"])["code"], "usage");
}

#[test]
fn a_server_that_is_not_running_is_exit_3() {
    let d = Dir::new();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let out = d
        .command()
        .args([
            "--json", "--server", &url, "--token", "ofb_x", "user", "list",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "unavailable");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains(&url));
    // And it says why, not only that a request failed
    assert!(message.contains("refused"), "{message}");
    // OFFBOARD_SERVER and OFFBOARD_TOKEN are the flags' defaults.
    let out = d
        .command()
        .env("OFFBOARD_SERVER", &url)
        .env("OFFBOARD_TOKEN", "ofb_x")
        .args(["verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
    assert!(!d.data().exists(), "client mode opens no data directory");
}

/// Lines a running `events --follow` prints, as they come.
struct Follower {
    child: std::process::Child,
    lines: mpsc::Receiver<Value>,
}

impl Follower {
    fn start(c: &Client) -> Self {
        let mut child = c
            .command()
            .args(["events", "--follow"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(v) = serde_json::from_str(&line) else {
                    break;
                };
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next event, within the test's patience.
    fn next(&self) -> Value {
        self.lines
            .recv_timeout(PATIENCE)
            .expect("an event arrives while following")
    }

    /// Nothing more arrives for a moment.
    fn quiet(&self) -> bool {
        self.lines.recv_timeout(Duration::from_millis(300)).is_err()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn events_follow_prints_new_events_live_and_resumes_after_a_restart() {
    let d = acme();
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let c = server.client(&d, &t);
    let follower = Follower::start(&c);
    let mut seen: Vec<u64> = Vec::new();
    let caught_up = c.events(&[]).len();
    for _ in 0..caught_up {
        seen.push(follower.next()["position"].as_u64().unwrap());
    }
    c.ok(&["resource", "add", "buyer:B-1", "--owner", PAT]);
    let live = follower.next();
    assert_eq!(live["event_type"], "ResourcesRegistered");
    seen.push(live["position"].as_u64().unwrap());

    // The server stops and comes back on the same address: the follower reconnects
    // with Last-Event-ID and prints what it missed, once.
    assert_eq!(server.terminate(), Some(0));
    let server = Server::start_on(&d, &addr);
    let c = server.client(&d, &t);
    c.ok(&["resource", "add", "buyer:B-2", "--owner", PAT]);
    let resumed = follower.next();
    assert_eq!(resumed["data"]["resources"], json!(["buyer:B-2"]));
    seen.push(resumed["position"].as_u64().unwrap());
    assert!(follower.quiet(), "no duplicates");
    let expected: Vec<u64> = (1..=seen.len() as u64).collect();
    assert_eq!(seen, expected, "every position once, in order");
}

#[test]
fn the_guided_walk_runs_in_client_mode_too() {
    let d = acme_with_buyers(2);
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let mut command = server.client(&d, &t).command();
    command.args(["offboard", PAT]);
    let mut p = rexpect::session::spawn_command(command, Some(20_000)).expect("a pseudo-terminal");
    p.exp_string("Offboarding pat@acme.example").unwrap();
    p.exp_string(&format!("[{SAM}]")).unwrap();
    p.send_line("").unwrap();
    p.exp_string("2 buyers: who receives them?").unwrap();
    p.send_line(ANN).unwrap();
    p.exp_string("deactivate or delete?").unwrap();
    p.send_line("deactivate").unwrap();
    p.exp_string("Carry this out now?").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("Moved 2 buyers from pat@acme.example to ann@acme.example.")
        .unwrap();
    p.exp_string("Deactivated pat@acme.example").unwrap();
    p.exp_eof().unwrap();
    let c = server.client(&d, &t);
    assert_eq!(c.json(&["user", "show", PAT])["status"], "deactivated");
}

#[test]
fn a_retry_naming_by_email_the_user_its_first_attempt_deleted_gets_the_first_answer() {
    // Given a served directory where a deactivation and a deletion named Bob by email,
    // each under an Idempotency-Key,
    let d = acme();
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let send = |path: &str, key: &str, body: Value| {
        http_with(
            &server.url,
            "POST",
            path,
            Some(&t),
            Some(&body),
            &[("Idempotency-Key", key)],
        )
    };
    let deactivate = format!("/v1/users/{BOB}/deactivate");
    let delete = format!("/v1/users/{BOB}/delete");
    let (status, first_deactivate) = send(&deactivate, "bob-1", json!({}));
    assert_eq!(status, 200, "{first_deactivate}");
    let (status, first_delete) = send(&delete, "bob-2", json!({"confirm": "CONFIRM"}));
    assert_eq!(status, 200, "{first_delete}");
    // when both are sent again (no listed user has Bob's email any more),
    for (path, key, body, first) in [
        (
            &delete,
            "bob-2",
            json!({"confirm": "CONFIRM"}),
            &first_delete,
        ),
        (&deactivate, "bob-1", json!({}), &first_deactivate),
    ] {
        let (status, again) = send(path, key, body);
        // then each gets its first answer and appends nothing,
        assert_eq!(status, 200, "{key}: {again}");
        assert_eq!(again["duplicate"], true, "{key}: {again}");
        assert_eq!(again["positions"], first["positions"], "{key}");
    }
    // and a new command naming that email still finds no one.
    let (status, fresh) = send(&deactivate, "bob-3", json!({}));
    assert_eq!(status, 404, "{fresh}");
    assert_eq!(fresh["error"]["code"], "not_found");
}
