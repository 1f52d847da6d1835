//! Record roles (R29) from the command line: `role declare`, `resource role set|unset`,
//! `resource roles`, `owner --role --as-of`, `user roles`, `transfer --role`, the plan and
//! the delete blockers — embedded, then the same through a server in client mode,
//! answering the same documents.

use serde_json::{json, Value};

use crate::util::*;

const SPECIALIST: &str = "servicing_specialist";

/// `acme()` where Ann owns deals D-9 and D-10; Pat is their servicing specialist and
/// Bob watches D-9 (watcher: multi-holder).
fn deals() -> Dir {
    let d = acme();
    d.ok(&["resource", "add", "deal:D-9", "deal:D-10", "--owner", ANN]);
    d.ok(&[
        "resource",
        "role",
        "set",
        "deal:D-9,deal:D-10",
        SPECIALIST,
        PAT,
    ]);
    d.ok(&["role", "declare", "watcher", "--multi"]);
    d.ok(&["resource", "role", "set", "deal:D-9", "watcher", BOB]);
    d
}

fn holders(doc: &Value, role: &str) -> Vec<String> {
    doc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["role"] == role)
        .flat_map(|r| r["holders"].as_array().unwrap().iter())
        .map(|h| h["email"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn roles_are_set_listed_travelled_in_time_transferred_and_block_a_delete() {
    let d = deals();
    let before = last_position(&d);
    // A single-holder role moves; the history says so in plain words.
    let moved = d.ok(&["resource", "role", "set", "deal:D-9", SPECIALIST, BOB]);
    assert!(
        moved.contains("Moved the servicing specialist role on deal:D-9 from pat@acme.example to bob@acme.example."),
        "{moved}"
    );
    let now = d.json(&["resource", "roles", "deal:D-9"]);
    assert_eq!(holders(&now, SPECIALIST), [BOB]);
    assert_eq!(holders(&now, "watcher"), [BOB]);
    // Who was the servicing specialist then?
    let then = d.json(&[
        "owner",
        "deal:D-9",
        "--role",
        SPECIALIST,
        "--as-of",
        &before.to_string(),
    ]);
    assert_eq!(holders(&then, SPECIALIST), [PAT]);
    assert_eq!(then["history"].as_array().unwrap().len(), 3);
    let history = d.ok(&["history", "--resource", "deal:D-9"]);
    assert!(history.contains("RecordRolesTransferred"), "{history}");
    // A record's history tells its own part of an event naming several records.
    assert!(
        history.contains(
            "pat@acme.example is now servicing specialist of deal:D-9 (with 1 other record in the same event)."
        ),
        "{history}"
    );

    // Pat's roles, the plan, and the delete they block.
    let mine = d.json(&["user", "roles", PAT]);
    assert_eq!(mine["counts"], json!({ SPECIALIST: 1 }));
    assert_eq!(
        mine["roles"],
        json!([{ "role": SPECIALIST, "resource": "deal:D-10" }])
    );
    assert_eq!(d.json(&["plan", PAT])["roles"], json!({ SPECIALIST: 1 }));
    d.ok(&["deactivate", PAT]);
    let refused = d.fails(1, &["delete", PAT, "--confirm", "CONFIRM"]);
    assert_eq!(refused["code"], "holds_roles");
    assert_eq!(refused["blockers"][0]["subject"], SPECIALIST);
    assert_eq!(refused["blockers"][0]["count"], 1);

    // Every deal where Pat is servicing specialist → Ann; then the delete goes through.
    d.ok(&["reactivate", PAT]);
    let transfer = d.json(&[
        "transfer", PAT, "--kind", "deal", "--role", SPECIALIST, "--to", ANN,
    ]);
    assert_eq!(transfer["command"], "transfer_record_roles");
    assert_eq!(d.json(&["user", "roles", PAT])["counts"], json!({}));
    d.ok(&["delete", PAT, "--confirm", "CONFIRM"]);

    // Bad input: an unknown record, the owner role, a usage error.
    fn set<'a>(key: &'a str, role: &'a str) -> Vec<&'a str> {
        vec!["resource", "role", "set", key, role, ANN]
    }
    assert_eq!(
        d.fails(1, &set("deal:D-404", "watcher"))["code"],
        "not_found"
    );
    assert_eq!(
        d.fails(1, &set("deal:D-9", "owner"))["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(2, &["role", "declare", "watcher", "--multi", "--single"])["code"],
        "usage"
    );
}

#[test]
fn through_a_server_the_role_commands_and_reads_answer_as_embedded() {
    let d = deals();
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let c = server.client(&d, &t);
    c.ok(&["resource", "role", "set", "deal:D-10", "watcher", ANN]);
    c.ok(&["resource", "role", "unset", "deal:D-9", "watcher", BOB]);
    let transferred = c.json(&["transfer", PAT, "--role", SPECIALIST, "--to", SAM]);
    assert_eq!(transferred["command"], "transfer_record_roles");
    let reads = [
        vec!["resource", "roles", "deal:D-9"],
        vec!["resource", "roles", "deal:D-10", "--role", "watcher"],
        vec!["user", "roles", SAM],
        vec!["plan", SAM],
    ];
    let remote: Vec<Value> = reads.iter().map(|r| c.json(r)).collect();
    assert_eq!(holders(&remote[0], SPECIALIST), [SAM]);
    assert_eq!(holders(&remote[1], "watcher"), [ANN]);
    assert_eq!(remote[2]["counts"], json!({ SPECIALIST: 2 }));
    assert_eq!(server.terminate(), Some(0));
    for (args, remote) in reads.iter().zip(remote) {
        assert_eq!(d.json(args), remote, "{args:?}");
    }
}

#[test]
fn a_sync_makes_role_columns_the_truth_for_the_records_it_lists() {
    let d = deals();
    let csv = d.write(
        "crm.csv",
        &format!(
            "kind,id,owner,role:{SPECIALIST},role:watcher\n\
             deal,D-9,{ANN},{BOB},{BOB};{SAM}\n\
             deal,D-10,{ANN},,\n"
        ),
    );
    let csv = csv.to_str().unwrap();
    let dry = d.json(&["resource", "sync", csv, "--dry-run"]);
    assert_eq!(dry["roles"], 3, "{dry}");
    d.ok(&["resource", "sync", csv]);
    let d9 = d.json(&["resource", "roles", "deal:D-9"]);
    assert_eq!(holders(&d9, SPECIALIST), [BOB]);
    let mut watchers = holders(&d9, "watcher");
    watchers.sort();
    assert_eq!(watchers, [BOB, SAM]);
    assert!(holders(&d.json(&["resource", "roles", "deal:D-10"]), SPECIALIST).is_empty());
    // The same file again changes nothing.
    assert_eq!(d.json(&["resource", "sync", csv])["commands"], 0);
    // Two holders of a single-holder role is a bad row; nothing is written.
    let bad = d.write(
        "bad.csv",
        &format!("kind,id,owner,role:{SPECIALIST}\ndeal,D-9,{ANN},{PAT};{SAM}\n"),
    );
    let refused = d.fails(1, &["resource", "sync", bad.to_str().unwrap()]);
    assert_eq!(refused["code"], "invalid_input");
}
