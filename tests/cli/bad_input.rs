//! Issue 15 §5, "bad input never corrupts state": every reproduction of the issue, run
//! through the real binary. Each bad input is refused with its code and appends nothing;
//! an interrupted `resource import` can be run again to finish it.

use serde_json::Value;

use crate::util::*;

/// 2^53 − 1: the most credits a figure may hold (`offboard::domain::MAX_CREDITS`).
const MAX_CREDITS: u64 = 9_007_199_254_740_991;

/// Given `d`, when `args` is refused with exit 1, then its code is `code` and nothing
/// was appended; the error comes back for further checks.
fn refused(d: &Dir, code: &str, args: &[&str]) -> Value {
    let before = last_position(d);
    let e = d.fails(1, args);
    assert_eq!(e["code"], code, "{args:?}: {e}");
    assert_eq!(last_position(d), before, "{args:?} appended events");
    e
}

#[test]
fn credits_past_the_maximum_are_refused_and_no_credit_vanishes() {
    // Given Acme with 10 credits in the pool.
    let d = acme();
    d.ok(&["credits", "add", "10"]);
    // When a command names more than any figure may hold, then it is refused.
    refused(
        &d,
        "invalid_input",
        &["credits", "add", "18446744073709551615"],
    );
    let e = refused(
        &d,
        "invalid_input",
        &["credits", "add", &MAX_CREDITS.to_string()],
    );
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("the pool would exceed"), "{message}");
    assert!(
        message.contains("at most 9007199254740981 more"),
        "{message}"
    );
    // When the pool is filled to the maximum, then one more credit is refused too...
    d.ok(&["credits", "add", &(MAX_CREDITS - 10).to_string()]);
    refused(&d, "invalid_input", &["credits", "add", "1"]);
    // ... also while some of it sits with a user: the org's credits are what count.
    d.ok(&["credits", "grant", ANN, "7"]);
    refused(&d, "invalid_input", &["credits", "add", "1"]);
    // Then every credit is still there.
    let shown = d.json(&["credits", "show"]);
    assert_eq!(shown["pool"], MAX_CREDITS - 7);
    assert_eq!(shown["users"][0]["balance"], 7);
}

#[test]
fn weights_past_the_maximum_are_refused_and_the_suggested_rebalance_is_accepted() {
    // Given Acme, when a rotation's weights add up past the maximum, then it is refused.
    let d = acme();
    let huge = format!("{ANN}=4294967295,{BOB}=4294967295");
    let e = refused(
        &d,
        "invalid_input",
        &[
            "distribution",
            "add",
            "Huge",
            "--kind",
            "rotation",
            "--member",
            &huge,
        ],
    );
    assert!(e["message"].as_str().unwrap().contains("at most 1000000"));
    // Given a rotation at the maximum, when Ann leaves, then the plan suggests Bob and
    // Pat share the whole total, and deleting Ann applies exactly that.
    let big = format!("{ANN}=999998,{BOB}=1,{PAT}=1");
    d.ok(&[
        "distribution",
        "add",
        "Big",
        "--kind",
        "rotation",
        "--member",
        &big,
    ]);
    let plan = d.json(&["plan", ANN]);
    let suggested = &plan["distributions"][0]["suggested"];
    let weights: Vec<u64> = suggested
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(weights, vec![500_000, 500_000]);
    d.ok(&["delete", ANN, "--confirm", "CONFIRM"]);
    let list = d.json(&["distribution", "list"]);
    let members = &list["distributions"][0]["members"];
    assert_eq!(members[0]["weight"], 500_000);
    assert_eq!(members[1]["weight"], 500_000);
}

#[test]
fn invisible_characters_and_unicode_spellings_do_not_make_a_second_user() {
    let d = acme();
    // Given ann@acme.example, when an email differs from hers only by an invisible or
    // bidi-control character, then it is refused.
    for sneaky in ["ann\u{200b}@acme.example", "ann\u{202e}@acme.example"] {
        let e = refused(
            &d,
            "invalid_input",
            &[
                "user", "add", "--email", sneaky, "--first", "Ann", "--last", "Two",
            ],
        );
        assert!(e["message"].as_str().unwrap().contains("invisible"), "{e}");
    }
    // Given élise typed composed, when she is added again decomposed or in capitals,
    // then the email is taken: one user.
    let composed = "\u{e9}lise@acme.example";
    d.ok(&[
        "user", "add", "--email", composed, "--first", "Élise", "--last", "Roy",
    ]);
    for same in ["e\u{301}lise@acme.example", "\u{c9}LISE@ACME.EXAMPLE"] {
        refused(
            &d,
            "email_taken",
            &[
                "user", "add", "--email", same, "--first", "Élise", "--last", "Two",
            ],
        );
        // And every spelling finds her, stored as typed in NFC.
        assert_eq!(d.json(&["user", "show", same])["email"], composed);
    }
    // Names refuse hidden characters anywhere: people, labels, distributions, orgs.
    refused(
        &d,
        "invalid_input",
        &[
            "user",
            "add",
            "--email",
            "cy@acme.example",
            "--first",
            "C\u{200d}y",
            "--last",
            "Li",
        ],
    );
    refused(
        &d,
        "invalid_input",
        &[
            "user",
            "add",
            "--email",
            "cy@acme.example",
            "--first",
            "Cy",
            "--last",
            "Li",
            "--title",
            "Boss\u{2066}",
        ],
    );
    refused(
        &d,
        "invalid_input",
        &["label", "add", "VIP\u{feff}", "--member", ANN],
    );
    refused(
        &d,
        "invalid_input",
        &[
            "distribution",
            "add",
            "North\u{202e}",
            "--kind",
            "rotation",
            "--member",
            &format!("{ANN}=1"),
        ],
    );
    refused(
        &d,
        "invalid_input",
        &[
            "init",
            "--org",
            "Acme\u{200b}",
            "--owner-email",
            "o@x.example",
            "--owner-first",
            "O",
            "--owner-last",
            "X",
        ],
    );
}

#[test]
fn an_org_cannot_be_named_like_another_orgs_id() {
    // Given Acme, when an org is created under Acme's id as its name, then it is refused.
    let d = acme();
    let acme_id = d.json(&["orgs"])["orgs"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = refused(
        &d,
        "invalid_input",
        &[
            "init",
            "--org",
            &acme_id,
            "--owner-email",
            "eve@evil.example",
            "--owner-first",
            "Eve",
            "--owner-last",
            "Vil",
        ],
    );
    assert!(e["message"].as_str().unwrap().contains("UUID"), "{e}");
    // Then --org with that id still names Acme, the only org.
    assert_eq!(d.json(&["orgs"])["orgs"].as_array().unwrap().len(), 1);
    assert_eq!(
        d.json(&["--org", &acme_id, "user", "show", ANN])["email"],
        ANN
    );
}

#[test]
fn a_distribution_or_label_cannot_be_named_like_an_id_and_a_weight_past_u32_says_its_range() {
    // Given Acme with a rotation, when a new distribution or label is named with an id
    // (a tester named one after the rotation's id, and later commands took the new one),
    let d = acme();
    let member = format!("{ANN}=1");
    d.ok(&[
        "distribution",
        "add",
        "R5",
        "--kind",
        "rotation",
        "--member",
        &member,
    ]);
    let id = uuid::Uuid::new_v4().to_string();
    for args in [
        vec![
            "distribution",
            "add",
            id.as_str(),
            "--kind",
            "rotation",
            "--member",
            &member,
        ],
        vec!["label", "add", id.as_str()],
    ] {
        // then it is refused, appending nothing.
        let e = refused(&d, "invalid_input", &args);
        assert!(
            e["message"].as_str().unwrap().contains("reads as an id"),
            "{e}"
        );
    }
    // When a weight does not fit, then the message gives the range (it said "must be a
    // whole number" of 4294967296).
    let past = format!("{ANN}=4294967296");
    let e = refused(
        &d,
        "invalid_input",
        &[
            "distribution",
            "add",
            "Past",
            "--kind",
            "rotation",
            "--member",
            &past,
        ],
    );
    assert!(
        e["message"].as_str().unwrap().contains("from 1 to 1000000"),
        "{e}"
    );
}

#[test]
fn an_unknown_actor_is_not_found_for_reads_as_for_writes() {
    let d = acme();
    for nobody in ["nobody@nowhere.example", "support:ghost", "auditor:ghost"] {
        // When someone the org does not know reads, then not_found, as when they write.
        for args in [
            vec!["--as", nobody, "user", "list"],
            vec!["--as", nobody, "owners"],
            vec!["--as", nobody, "history", "--org"],
            vec!["--as", nobody, "orgs"],
            vec!["--as", nobody, "deactivate", PAT],
        ] {
            let e = refused(&d, "not_found", &args);
            assert!(e["message"].as_str().unwrap().contains(nobody), "{e}");
        }
    }
    // When --as is blank, then invalid_input for reads and writes: never the owner.
    for blank in ["", "  "] {
        for args in [
            vec!["--as", blank, "user", "list"],
            vec!["--as", blank, "policy", "--retention-days", "31"],
        ] {
            refused(&d, "invalid_input", &args);
        }
    }
    // Then known actors still read: a user by email, a registered principal.
    assert!(d.json(&["--as", SAM, "user", "list"])["users"].is_array());
    d.ok(&["principal", "add", "auditor", "audra"]);
    assert!(d.json(&["--as", "auditor:audra", "owners"])["owners"].is_array());
}

#[test]
fn invisible_characters_and_unicode_spellings_do_not_make_a_second_resource() {
    let d = acme();
    d.ok(&["resource", "add", "buyer:B-1", "--owner", ANN]);
    // Given buyer:B-1, when a key differs from it only by an invisible or bidi-control
    // character, typed as an argument or a row of an import, then it is refused.
    for sneaky in [
        "buyer:B\u{200b}-1",
        "buyer:B-1\u{202e}",
        "buyer:\u{2066}B-1",
    ] {
        let e = refused(
            &d,
            "invalid_input",
            &["resource", "add", sneaky, "--owner", ANN],
        );
        assert!(e["message"].as_str().unwrap().contains("invisible"), "{e}");
        let file = import_file(&d, &[(sneaky.trim_start_matches("buyer:"), ANN)]);
        let e = refused(&d, "invalid_input", &["resource", "import", &file]);
        assert!(e["message"].as_str().unwrap().contains("U+"), "{e}");
    }
    // Variation selectors print as nothing after a letter or digit: refused there, and
    // kept on a symbol (an emoji id).
    refused(
        &d,
        "invalid_input",
        &["resource", "add", "buyer:B-1\u{fe0f}", "--owner", ANN],
    );
    d.ok(&["resource", "add", "buyer:\u{2764}\u{fe0f}", "--owner", ANN]);
    // White space: around the id, and every run of it inside one (a no-break space
    // too), is one spelling, typed as an argument or a CSV cell.
    d.ok(&["resource", "add", "buyer: N-1 ", "--owner", ANN]);
    let file = import_file(&d, &[(" N-1", ANN), ("B\u{a0}-2", ANN)]);
    d.ok(&["resource", "import", &file]);
    refused(
        &d,
        "already_exists",
        &["resource", "add", "buyer:B -2", "--owner", ANN],
    );
    assert_eq!(d.json(&["owner", "buyer:N-1"])["resource"], "buyer:N-1");
    // Given buyer:Zoë typed composed, when it is added again decomposed, then it is the
    // same resource (already registered), and either spelling finds its owner.
    d.ok(&["resource", "add", "buyer:Zo\u{eb}", "--owner", ANN]);
    refused(
        &d,
        "already_exists",
        &["resource", "add", "buyer:Zoe\u{308}", "--owner", ANN],
    );
    let owner = d.json(&["owner", "buyer:Zoe\u{308}"]);
    assert_eq!(owner["resource"], "buyer:Zo\u{eb}", "{owner}");
}

/// A directory whose log holds `buyer:Zoë` decomposed and `buyer: N-1` spaced, as
/// earlier builds stored keys typed so: made by editing an export of this build and
/// re-hashing it from the registration on, then `import-log`.
fn legacy_spellings() -> Dir {
    let d = acme();
    d.ok(&["resource", "add", "buyer:Zo\u{eb}", "--owner", ANN]);
    d.ok(&["resource", "add", "buyer:N-1", "--owner", ANN]);
    let file = d.path("log.jsonl");
    d.ok(&["export", file.to_str().unwrap()]);
    let mut prev: Option<String> = None;
    let mut edited = String::new();
    let mut changed = false;
    for line in std::fs::read_to_string(&file).unwrap().lines() {
        let old = line.to_owned();
        let line = line
            .replace("buyer:Zo\u{eb}", "buyer:Zoe\u{308}")
            .replace("buyer:N-1", "buyer: N-1");
        changed |= line != old;
        let mut value: Value = serde_json::from_str(&line).unwrap();
        if let Some(prev) = &prev {
            value["prev_hash"] = Value::String(prev.clone());
        }
        if changed {
            value["hash"] = Value::String(offboard_events::canonical::envelope_hash(&value));
        }
        prev = Some(value["hash"].as_str().unwrap().to_owned());
        edited.push_str(&value.to_string());
        edited.push('\n');
    }
    let legacy = Dir::new();
    let forged = legacy.write("legacy.jsonl", &edited);
    std::fs::copy(d.path("log.jsonl.keys"), legacy.path("legacy.jsonl.keys")).ok();
    legacy.ok(&["import-log", forged.to_str().unwrap()]);
    legacy
}

#[test]
fn keys_an_earlier_build_spelled_otherwise_are_found_by_roles_and_sync_in_the_normal_spelling() {
    // Given buyer:Zoë stored decomposed and buyer: N-1 spaced, both Ann's,
    let d = legacy_spellings();
    let owners = d.json(&["owners", "--kind", "buyer"]).to_string();
    assert!(owners.contains("buyer:Zoe\u{308}"), "{owners}");
    // when a role is set on the normal spellings, then it is read back by them,
    d.ok(&[
        "resource",
        "role",
        "set",
        "buyer:Zo\u{eb}",
        "watcher",
        OWNER,
    ]);
    d.ok(&["resource", "role", "set", "buyer:N-1", "watcher", OWNER]);
    for key in ["buyer:Zo\u{eb}", "buyer:N-1"] {
        let roles = d.json(&["resource", "roles", key]);
        assert!(roles.to_string().contains("watcher"), "{key}: {roles}");
    }
    // and a sync file naming them in the normal spelling finds them: nothing to register
    // or retire, only the one move it asks for.
    let file = d.write(
        "sync.csv",
        &format!("kind,id,owner\nbuyer,Zo\u{eb},{ANN}\nbuyer, N-1,{OWNER}\n"),
    );
    let dry = d.json(&["resource", "sync", file.to_str().unwrap(), "--dry-run"]);
    let actions: Vec<&str> = dry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["move"], "{dry}");
    d.ok(&["resource", "sync", file.to_str().unwrap()]);
    assert_eq!(d.json(&["owner", "buyer:N-1"])["owner_email"], OWNER);
    assert!(d
        .json(&["owners", "--kind", "buyer"])
        .to_string()
        .contains("buyer: N-1"));
}

#[test]
fn a_key_refused_in_an_import_or_a_sync_is_named_by_its_line_and_nothing_is_written() {
    // Given Acme, and a file whose line 3 (of Bob's rows, after one of Ann's and before
    // one of Pat's) holds a key with an invisible character,
    let d = acme();
    let file = import_file(&d, &[("B-1", ANN), ("B\u{200b}-2", BOB), ("B-3", PAT)]);
    // when it is imported or synced (before: the error named the key but no line, and an
    // import's command for another owner could land first),
    for args in [
        ["resource", "import", file.as_str()],
        ["resource", "sync", file.as_str()],
    ] {
        // then it is refused like any other bad row: by its line, nothing written.
        let e = refused(&d, "invalid_input", &args);
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("has 1 bad row"), "{args:?}: {message}");
        assert!(message.contains("line 3: "), "{args:?}: {message}");
        assert!(message.contains("U+200B"), "{args:?}: {message}");
    }
    assert_eq!(d.fails(1, &["owner", "buyer:B-1"])["code"], "not_found");
}

fn import_file(d: &Dir, rows: &[(&str, &str)]) -> String {
    let mut csv = String::from("kind,id,owner\n");
    for (id, owner) in rows {
        csv.push_str(&format!("buyer,{id},{owner}\n"));
    }
    d.write("buyers.csv", &csv).to_str().unwrap().to_owned()
}

#[test]
fn an_interrupted_import_is_finished_by_running_it_again() {
    // Given an import of four buyers whose first command landed (B-1 and B-2 are Pat's)
    // before it was interrupted.
    let d = acme();
    let file = import_file(
        &d,
        &[("B-1", PAT), ("B-2", PAT), ("B-3", PAT), ("B-4", ANN)],
    );
    d.ok(&["resource", "add", "buyer:B-1", "buyer:B-2", "--owner", PAT]);
    // When the same file is run again, then the rest is imported, the two skipped.
    let doc = d.json(&["resource", "import", &file]);
    assert_eq!(
        (doc["imported"].as_u64(), doc["skipped"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(d.json(&["owners"])["count"], 4);
    // When run once more, then everything is skipped and nothing written.
    let before = last_position(&d);
    let text = d.ok(&["resource", "import", &file]);
    assert!(text.contains("Imported 0 resources"), "{text}");
    assert!(text.contains("Skipped 4 already registered"), "{text}");
    assert_eq!(last_position(&d), before);
    // When a row names another owner than the resource has, then already_exists names
    // it and nothing is imported, not even the new rows.
    let file = import_file(&d, &[("B-5", PAT), ("B-4", PAT)]);
    let e = refused(&d, "already_exists", &["resource", "import", &file]);
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("buyer:B-4") && message.contains("another owner"),
        "{message}"
    );
    assert_eq!(d.fails(1, &["owner", "buyer:B-5"])["code"], "not_found");
}

#[test]
fn an_interrupted_import_is_finished_in_client_mode_too() {
    // Given a served directory where the first of three rows was registered.
    let d = acme();
    let t = token(&d, OWNER);
    let file = import_file(&d, &[("B-1", PAT), ("B-2", PAT), ("B-3", ANN)]);
    d.ok(&["resource", "add", "buyer:B-1", "--owner", PAT]);
    let server = Server::start(&d);
    let c = server.client(&d, &t);
    // When the file is run again through the server, then it completes the import.
    let doc = c.json(&["resource", "import", &file]);
    assert_eq!(
        (doc["imported"].as_u64(), doc["skipped"].as_u64()),
        (Some(2), Some(1))
    );
    // And a row owned by someone else is refused before anything is sent.
    let file = import_file(&d, &[("B-4", PAT), ("B-3", PAT)]);
    let e = c.fails(1, &["resource", "import", &file]);
    assert_eq!(e["code"], "already_exists");
    assert!(e["message"].as_str().unwrap().contains("buyer:B-3"));
    assert_eq!(c.json(&["owners"])["count"], 3);
}
