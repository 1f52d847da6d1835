//! `restore`, `revert`, `purge`, `purge-expired` through the real binary (R12, R13).

use crate::util::*;

/// Pat's ten buyers went to Ann and Bob by an account transfer that deleted Pat.
fn accidental_delete() -> (Dir, String) {
    let d = acme_with_buyers(10);
    let done = d.json(&[
        "transfer-account",
        PAT,
        "--to",
        ANN,
        "--then",
        "delete",
        "--confirm",
        "CONFIRM",
    ]);
    (d, done["correlation_id"].as_str().unwrap().to_owned())
}

#[test]
fn restore_with_return_ownership_brings_back_the_buyers() {
    let (d, _) = accidental_delete();
    assert_eq!(d.json(&["owner", "buyer:B-3"])["owner_email"], ANN);
    let doc = d.json(&["restore", PAT, "--return-ownership"]);
    assert_eq!(doc["command"], "restore_user");
    let events = doc["envelopes"].as_array().unwrap();
    assert_eq!(events[0]["event_type"], "UserRestored");
    assert_eq!(events[0]["data"]["status"], "deactivated");
    assert_eq!(
        events.last().unwrap()["data"]["returned"].as_u64().unwrap(),
        10
    );
    assert_eq!(d.json(&["owner", "buyer:B-3"])["owner_email"], PAT);
    let shown = d.json(&["user", "show", PAT]);
    assert_eq!(shown["status"], "deactivated", "{shown}");
    // A second restore: Pat is not deleted any more.
    assert_eq!(d.fails(1, &["restore", PAT])["code"], "invalid_state");
}

#[test]
fn restore_answers_email_taken_and_accepts_a_new_email() {
    let (d, _) = accidental_delete();
    let deleted = d.json(&["user", "list", "--status", "deleted"])["users"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    d.ok(&[
        "user", "add", "--email", PAT, "--first", "Pat", "--last", "Newcomer",
    ]);
    // PAT now names the newcomer; the deleted Pat is named by id.
    assert_eq!(d.fails(1, &["restore", &deleted])["code"], "email_taken");
    d.ok(&[
        "restore",
        &deleted,
        "--email",
        "pat.kim@acme.example",
        "--reactivate",
    ]);
    assert_eq!(
        d.json(&["user", "show", "pat.kim@acme.example"])["status"],
        "active"
    );
}

#[test]
fn only_the_owner_or_a_serving_support_agent_restores() {
    let (d, _) = accidental_delete();
    assert_eq!(
        d.fails(1, &["--as", SAM, "restore", PAT])["code"],
        "forbidden"
    );
    // A support agent the org has not registered is unknown to it (R5), as a stranger's
    // email is: not_found (issue 15), for this write as for any read.
    assert_eq!(
        d.fails(1, &["--as", "support:ivy", "restore", PAT])["code"],
        "not_found"
    );
    d.ok(&["principal", "add", "support", "ivy"]);
    d.ok(&["--as", "support:ivy", "restore", PAT, "--return-ownership"]);
    let history = d.json(&["history", "--user", PAT]);
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["actor"],
        serde_json::json!({"kind": "support", "name": "ivy"})
    );
}

#[test]
fn revert_gives_back_a_mistaken_transfer_all_buyers() {
    let d = acme_with_buyers(6);
    let moved = d.json(&["transfer-all-buyers", PAT, "--to", &format!("{ANN},{BOB}")]);
    let correlation = moved["correlation_id"].as_str().unwrap();
    let doc = d.json(&["revert", correlation]);
    assert_eq!(doc["command"], "revert_offboarding");
    assert_eq!(d.json(&["owners", "--owner", PAT])["count"], 6);
    assert_eq!(
        d.fails(1, &["revert", correlation])["code"],
        "nothing_to_transfer"
    );
    assert_eq!(
        d.fails(1, &["revert", "not-a-uuid"])["code"],
        "invalid_input"
    );
}

#[test]
fn purge_erases_personal_data_for_good_and_verify_still_passes() {
    let (d, _) = accidental_delete();
    assert_eq!(
        d.fails(1, &["purge", PAT, "--confirm", "yes"])["code"],
        "confirmation_required"
    );
    assert_eq!(
        d.fails(1, &["purge", ANN, "--confirm", "CONFIRM"])["code"],
        "invalid_state"
    );
    let deleted = d.json(&["user", "list", "--status", "deleted"])["users"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    d.ok(&["purge", PAT, "--confirm", "CONFIRM"]);
    assert_eq!(d.fails(1, &["restore", &deleted])["code"], "purged");
    assert_eq!(d.json(&["verify"])["ok"], true);
    let invited = d
        .events(&[])
        .into_iter()
        .find(|e| e["event_type"] == "UserInvited" && e["data"]["user_id"] == deleted.as_str())
        .unwrap();
    assert_eq!(invited["data"]["profile"]["email"], "erased");
    // Nothing in the data directory holds Pat's email in plain text.
    let mut stack = vec![d.data()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(PAT.len()).any(|w| w == PAT.as_bytes()),
                    "{PAT} in {}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn purge_expired_purges_nobody_inside_the_window() {
    let (d, _) = accidental_delete();
    let doc = d.json(&["purge-expired"]);
    assert_eq!(doc["command"], "purge_expired");
    assert_eq!(doc["envelopes"], serde_json::json!([]));
    assert_eq!(doc["events"], 0);
    assert_eq!(
        d.json(&["user", "list", "--status", "deleted"])["users"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
