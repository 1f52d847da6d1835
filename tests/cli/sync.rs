//! `resource sync` and `resource remove` (issue 17 §2) through the real binary: adds,
//! moves, retirements, no-ops, the dry run, bad rows, owners by external id, and the
//! same through a server (`POST /v1/resources/sync`, the file streamed).

use serde_json::Value;

use crate::util::*;

/// Given Pat owns B-1..B-4, when the CRM export says B-1 is still Pat's, B-2 is Ann's,
/// B-5 is new for Bob and B-3, B-4 are gone.
fn export(d: &Dir) -> String {
    let csv = format!(
        "Type,Record ID,Owner Email,Stage\nbuyer,B-1,{PAT},won\nbuyer,B-2,{ANN},open\nbuyer,B-5,{BOB},open\n"
    );
    d.write("crm.csv", &csv).to_str().unwrap().to_owned()
}

fn counts(doc: &Value) -> [u64; 4] {
    let c = &doc["kinds"]["buyer"];
    ["register", "move", "retire", "unchanged"].map(|a| c[a].as_u64().unwrap())
}

#[test]
fn a_dry_run_prints_the_diff_and_writes_nothing() {
    let d = acme_with_buyers(4);
    let file = export(&d);
    let before = last_position(&d);
    let doc = d.json(&["resource", "sync", &file, "--dry-run"]);
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["rows"], 3);
    assert_eq!(counts(&doc), [1, 1, 2, 1]);
    assert_eq!(doc["commands"], 0);
    assert_eq!(doc["positions"], Value::Null);
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 4);
    assert_eq!(changes[0]["resource"], "buyer:B-2");
    assert_eq!(
        (
            &changes[0]["action"],
            &changes[0]["from"],
            &changes[0]["to"],
            &changes[0]["line"]
        ),
        (
            &Value::from("move"),
            &Value::from(PAT),
            &Value::from(ANN),
            &Value::from(3)
        )
    );
    assert_eq!(last_position(&d), before, "a dry run writes nothing");
    let text = d.ok(&["resource", "sync", &file, "--dry-run"]);
    assert!(
        text.contains("1 to register, 1 to move, 2 to retire, 1 unchanged"),
        "{text}"
    );
    assert!(text.contains("Dry run: nothing was written"), "{text}");
}

#[test]
fn a_sync_registers_moves_retires_and_the_same_file_again_writes_nothing() {
    let d = acme_with_buyers(4);
    let file = export(&d);
    let doc = d.json(&["resource", "sync", &file]);
    assert_eq!(doc["command"], "sync_resources");
    assert_eq!(counts(&doc), [1, 1, 2, 1]);
    assert_eq!(doc["commands"], 1);
    assert_eq!(
        doc["events"], 3,
        "one registration, one move, one retirement"
    );

    let owners = d.json(&["owners", "--kind", "buyer"]);
    let owned: Vec<(String, String)> = owners["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["resource"].as_str().unwrap().into(),
                o["owner_email"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [("buyer:B-1", PAT), ("buyer:B-2", ANN), ("buyer:B-5", BOB)];
    assert_eq!(owned, expected.map(|(r, o)| (r.to_owned(), o.to_owned())));

    // The move is a transfer with reason `sync`, visible in the resource's history.
    let history = d.json(&["history", "--resource", "buyer:B-2"]);
    let moved = &history["events"][1];
    assert_eq!(moved["event_type"], "ResourcesTransferred");
    assert_eq!(moved["data"]["reason"], "sync");
    assert_eq!(moved["correlation_id"], doc["correlation_id"]);
    // A retired record keeps its history and owns nothing.
    let owner = d.json(&["owner", "buyer:B-3"]);
    assert_eq!(owner["owner"], Value::Null);
    assert_eq!(owner["history"].as_array().unwrap().len(), 2);
    assert_eq!(owner["history"][1]["owner"], Value::Null);
    assert!(d.ok(&["owner", "buyer:B-3"]).contains("is retired"));

    let before = last_position(&d);
    let again = d.json(&["resource", "sync", &file]);
    assert_eq!(counts(&again), [0, 0, 0, 3]);
    assert_eq!(
        (again["commands"].as_u64(), again["events"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        last_position(&d),
        before,
        "an identical second run writes nothing"
    );
}

#[test]
fn only_the_kinds_named_are_synced_and_other_rows_are_ignored() {
    let d = acme_with_buyers(2);
    d.ok(&["resource", "add", "lead:L-1", "--owner", PAT]);
    let file = d.write(
        "crm.jsonl",
        &format!("{{\"resource\":\"lead:L-2\",\"owner\":\"{ANN}\"}}\n"),
    );
    let doc = d.json(&[
        "resource",
        "sync",
        file.to_str().unwrap(),
        "--kind",
        "buyer",
        "--dry-run",
    ]);
    assert_eq!(doc["ignored"], 1);
    assert_eq!(
        counts(&doc),
        [0, 0, 2, 0],
        "every buyer is missing from the file"
    );
    assert!(doc["kinds"].get("lead").is_none(), "leads are left alone");
}

#[test]
fn every_bad_row_is_reported_with_its_line_and_nothing_is_written() {
    let d = acme_with_buyers(2);
    let file = d.write(
        "bad.csv",
        &format!(
            "kind,id,owner\nbuyer,B-1,who@acme.example\nbuyer,B-1,{PAT}\nBuyer,B-9,{PAT}\nbuyer,B-2\ngroup,g,{PAT}\n"
        ),
    );
    let before = last_position(&d);
    let error = d.fails(1, &["resource", "sync", file.to_str().unwrap()]);
    assert_eq!(error["code"], "invalid_input");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("has 5 bad rows; nothing was written"),
        "{message}"
    );
    for line in [
        "line 2: no user",
        "line 3: buyer:B-1 is listed twice (first on line 2)",
        "line 4:",
        "line 5:",
        "line 6:",
    ] {
        assert!(message.contains(line), "{line} in {message}");
    }
    assert_eq!(last_position(&d), before);
    // A row that would move a record to a deactivated user is bad too.
    d.ok(&["deactivate", BOB]);
    let file = d.write(
        "deactivated.csv",
        &format!("kind,id,owner\nbuyer,B-1,{BOB}\nbuyer,B-2,{PAT}\n"),
    );
    let error = d.fails(1, &["resource", "sync", file.to_str().unwrap()]);
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("line 2: bob@acme.example is deactivated"));
    // An empty file covers no kind: refused rather than doing nothing silently.
    let empty = d.write("empty.jsonl", "\n");
    assert_eq!(
        d.fails(1, &["resource", "sync", empty.to_str().unwrap()])["code"],
        "invalid_input"
    );
    assert_eq!(
        last_position(&d),
        before + 1,
        "only the deactivation was written"
    );
}

#[test]
fn owners_are_named_by_email_external_id_or_id() {
    let d = acme_with_buyers(1);
    d.ok(&["user", "update", ANN, "--external-id", "00u1ann"]);
    let bob = d.json(&["user", "show", BOB])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = d.write(
        "crm.csv",
        &format!("resource,owner\nbuyer:B-1,00u1ann\nbuyer:B-2,{bob}\nbuyer:B-3,{PAT}\n"),
    );
    let doc = d.json(&["resource", "sync", file.to_str().unwrap()]);
    assert_eq!(counts(&doc), [2, 1, 0, 0]);
    let owner = |k: &str| {
        d.json(&["owner", k])["owner_email"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        [owner("buyer:B-1"), owner("buyer:B-2"), owner("buyer:B-3")],
        [ANN, BOB, PAT]
    );
}

#[test]
fn remove_retires_records_which_then_block_nothing_and_can_be_registered_again() {
    let d = acme_with_buyers(2);
    let doc = d.json(&["resource", "remove", "buyer:B-1", "buyer:B-2"]);
    assert_eq!(doc["command"], "retire_resources");
    assert_eq!(doc["envelopes"][0]["event_type"], "ResourcesRetired");
    assert_eq!(doc["envelopes"][0]["data"]["reason"], "removed");
    assert_eq!(d.json(&["owners"])["count"], 0);
    assert_eq!(
        d.fails(1, &["resource", "remove", "buyer:B-1"])["code"],
        "not_found"
    );
    assert_eq!(
        d.fails(1, &["resource", "remove", "group:x"])["code"],
        "invalid_input"
    );
    // Pat owns nothing now: the delete goes through.
    d.json(&["delete", PAT, "--confirm", "CONFIRM"]);
    d.ok(&["resource", "add", "buyer:B-1", "--owner", ANN]);
    let history = d.json(&["owner", "buyer:B-1"])["history"].clone();
    assert_eq!(
        history.as_array().unwrap().len(),
        3,
        "registered, retired, registered"
    );
    // A member may not retire someone else's records.
    assert_eq!(
        d.fails(1, &["--as", BOB, "resource", "remove", "buyer:B-1"])["code"],
        "forbidden"
    );
}

#[test]
fn through_a_server_the_file_is_streamed_and_answered_the_same() {
    let d = acme_with_buyers(4);
    let file = export(&d);
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let c = server.client(&d, &t);
    let dry = c.json(&["resource", "sync", &file, "--dry-run"]);
    assert_eq!(counts(&dry), [1, 1, 2, 1]);
    let doc = c.json(&["resource", "sync", &file]);
    assert_eq!(
        (doc["commands"].as_u64(), doc["events"].as_u64()),
        (Some(1), Some(3))
    );
    let again = c.json(&["resource", "sync", &file, "--kind", "buyer"]);
    assert_eq!(counts(&again), [0, 0, 0, 3]);
    let bad = d.write("bad.jsonl", "{\"resource\":\"buyer:B-1\"}\n");
    assert_eq!(
        c.fails(1, &["resource", "sync", bad.to_str().unwrap()])["code"],
        "invalid_input"
    );
    assert_eq!(
        c.json(&["resource", "remove", "buyer:B-5"])["command"],
        "retire_resources"
    );
}
