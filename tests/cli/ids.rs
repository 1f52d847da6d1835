//! Ids are findable: history tables show correlation ids and a unique prefix of one is
//! enough, deleted users are listed with their ids, and a restore names the earlier
//! operation it did not undo.

use crate::util::*;

/// The correlation id the human output of a write printed.
fn correlation_of(text: &str) -> String {
    text.split("correlation id ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no correlation id in {text}"))
        .to_owned()
}

#[test]
fn history_shows_correlation_ids_and_a_unique_prefix_finds_one() {
    // Given a transfer of Pat's buyers,
    let d = acme_with_buyers(2);
    let text = d.ok(&["transfer-all-buyers", PAT, "--to", ANN]);
    let id = correlation_of(&text);
    // then Pat's history table shows its id,
    let history = d.ok(&["history", "--user", PAT]);
    assert!(history.contains("correlation id"), "{history}");
    assert!(history.contains(&id), "{history}");
    // and a prefix long enough to name one operation finds it, hyphens or not.
    let digits: String = id.chars().filter(|c| *c != '-').collect();
    let unique = (8..=32)
        .map(|n| &digits[..n])
        .find(|p| {
            let out = d.run(&["--json", "history", "--correlation", p]);
            out.status.success()
        })
        .expect("some prefix is unique");
    let doc = d.json(&["history", "--correlation", unique]);
    assert!(doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["correlation_id"] == id.as_str()));
    let upper = id[..13].to_uppercase();
    if unique.len() <= 12 {
        assert_eq!(
            d.json(&["history", "--correlation", &upper])["count"],
            doc["count"]
        );
    }
    // Too short, not hex, or matching nothing: a clear error.
    let e = d.fails(1, &["history", "--correlation", &digits[..7]]);
    assert_eq!(e["code"], "invalid_input");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("8 or more hex digits"));
    assert_eq!(
        d.fails(1, &["revert", "zzzzzzzzzz"])["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(1, &["history", "--correlation", "ffffffffff"])["code"],
        "not_found"
    );
    // Every command here ran within a minute: their ids share 8 digits (UUID v7 starts
    // with the time), so 8 alone is ambiguous and says so.
    let e = d.fails(1, &["history", "--correlation", &digits[..8]]);
    assert_eq!(e["code"], "invalid_input", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("give more digits"),
        "{e}"
    );
}

#[test]
fn deleted_users_are_listed_with_their_ids() {
    let d = acme();
    let pat_id = d.json(&["user", "show", PAT])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    d.ok(&["delete", PAT, "--confirm", "CONFIRM"]);
    let list = d.ok(&["user", "list", "--status", "deleted"]);
    assert!(list.lines().next().unwrap().ends_with("id"), "{list}");
    assert!(list.contains(&pat_id), "{list}");
    // The id is what restore takes; nothing earlier moved Pat's things.
    let doc = d.json(&["restore", &pat_id]);
    assert_eq!(doc["not_undone"], serde_json::json!([]), "{doc}");
}

#[test]
fn restore_names_the_earlier_operation_it_did_not_undo() {
    // Given Pat's B-1 moved to Ann by hand (operation A), then Pat's account handed to
    // Sam with a delete (operation B),
    let d = acme_with_buyers(2);
    let a = correlation_of(&d.ok(&["transfer", PAT, "--resource", "buyer:B-1", "--to", ANN]));
    d.ok(&[
        "transfer-account",
        PAT,
        "--to",
        SAM,
        "--then",
        "delete",
        "--confirm",
        "CONFIRM",
    ]);
    // when Pat is restored with their ownership, then B gives back B-2 and A is named
    // with the revert that undoes it;
    let text = d.ok(&["restore", PAT, "--return-ownership"]);
    assert!(text.contains(&format!("({a}) moved things away")), "{text}");
    assert!(text.contains(&format!("`offboard revert {a}`")), "{text}");
    let doc = d.json(&["owners", "--owner", PAT]);
    assert_eq!(doc["count"], 1);
    // and that revert gives back B-1.
    d.ok(&["revert", &a]);
    assert_eq!(d.json(&["owners", "--owner", PAT])["count"], 2);
}
