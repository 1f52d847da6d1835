//! `history`, `events` (JSON lines and CloudEvents), `verify`, `rebuild`, `export`,
//! `import-log`.

use crate::util::*;

#[test]
fn history_of_a_user_a_resource_an_operation_and_the_org() {
    let d = acme_with_buyers(2);
    let moved = d.json(&["transfer-all-buyers", PAT, "--to", ANN]);
    let correlation = moved["correlation_id"].as_str().unwrap();

    let user = d.json(&["history", "--user", PAT]);
    let types: Vec<&str> = user["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "UserInvited",
            "UserActivated",
            "ResourcesRegistered",
            "OffboardingStarted",
            "ResourcesTransferred",
            "OffboardingCompleted"
        ]
    );
    assert_eq!(user["count"], 6);

    let resource = d.json(&["history", "--resource", "buyer:B-1"]);
    assert_eq!(resource["count"], 2);
    // In words, the record's own move: whom B-1 went to, not the whole operation.
    let said = d.ok(&["history", "--resource", "buyer:B-1"]);
    let moved =
        format!("Moved buyer:B-1 from {PAT} to {ANN} (with 1 other record in the same event).");
    assert!(said.contains(&moved), "{said}");
    let op = d.json(&["history", "--correlation", correlation]);
    assert_eq!(op["count"], 3);
    assert!(op["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["correlation_id"] == correlation));

    let all = d.json(&["history", "--org"]);
    assert_eq!(all["count"], last_position(&d));
    assert_eq!(d.json(&["history"])["count"], all["count"]);
    assert_eq!(
        d.json(&["history", "--org", "--until", "2000-01-01"])["count"],
        0
    );
    assert_eq!(
        d.json(&[
            "history",
            "--since",
            "2000-01-01",
            "--until",
            "2999-01-01T00:00:00Z"
        ])["count"],
        all["count"]
    );
    assert_eq!(
        d.json(&["history", "--user", PAT, "--since", "2999-01-01"])["count"],
        0
    );

    let text = d.ok(&["history", "--user", PAT]);
    assert!(
        text.contains("Moved 2 buyers from pat@acme.example to ann@acme.example."),
        "{text}"
    );
    assert!(text.contains(OWNER), "actors are shown by email: {text}");

    assert_eq!(
        d.fails(1, &["history", "--since", "soon"])["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(1, &["history", "--correlation", "nope"])["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(
            1,
            &[
                "history",
                "--correlation",
                "00000000-0000-0000-0000-000000000000"
            ]
        )["code"],
        "not_found"
    );
    assert_eq!(
        d.fails(1, &["history", "--resource", "buyer:none"])["code"],
        "not_found"
    );
    assert_eq!(
        d.fails(2, &["history", "--user", PAT, "--resource", "buyer:B-1"])["code"],
        "usage"
    );
}

#[test]
fn events_are_json_lines_in_order_or_cloudevents() {
    let d = acme_with_buyers(1);
    let all = d.events(&[]);
    assert_eq!(all.len() as u64, last_position(&d));
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e["position"], i as u64 + 1);
        for field in [
            "org_id",
            "stream_id",
            "stream_version",
            "event_id",
            "event_type",
            "schema_version",
            "occurred_at",
            "actor",
            "command_id",
            "correlation_id",
            "causation_id",
            "data",
            "prev_hash",
            "hash",
        ] {
            assert!(e.get(field).is_some(), "{field} missing");
        }
    }
    assert_eq!(all[1]["prev_hash"], all[0]["hash"]);
    let tail = d.events(&["--from", "3"]);
    assert_eq!(tail[0]["position"], 3);
    assert_eq!(
        d.ok(&["--json", "events", "--from", "3"]).lines().count(),
        tail.len(),
        "--json changes nothing"
    );

    let ce = d.events(&["--format", "cloudevents"]);
    assert_eq!(ce.len(), all.len());
    let first = &ce[0];
    assert_eq!(first["specversion"], "1.0");
    assert_eq!(first["id"], all[0]["event_id"]);
    assert_eq!(
        first["source"],
        format!("/orgs/{}", all[0]["org_id"].as_str().unwrap())
    );
    assert_eq!(first["type"], "offboard.OrganizationCreated.v1");
    assert_eq!(first["subject"], all[0]["stream_id"]);
    assert_eq!(first["datacontenttype"], "application/json");
    assert_eq!(first["data"], all[0]["data"]);
    assert_eq!(first["position"], 1);
    assert_eq!(first["correlationid"], all[0]["correlation_id"]);
    assert_eq!(first["causationid"], all[0]["causation_id"]);
    assert_eq!(ce[1]["type"], "offboard.UserInvited.v2");

    // Each org sees only its own events (R1).
    d.ok(&[
        "init",
        "--org",
        "Other",
        "--owner-email",
        OWNER,
        "--owner-first",
        "D",
        "--owner-last",
        "R",
    ]);
    let other = d.events(&["--org", "Other"]);
    assert_eq!(other.len(), 3);
    assert!(other[0]["position"].as_u64().unwrap() > all.len() as u64);
    // An empty directory prints nothing (a missing one is `not_found`: see habits.rs).
    let empty = Dir::new();
    std::fs::create_dir(empty.data()).unwrap();
    assert_eq!(empty.ok(&["events"]), "");
}

#[test]
fn verify_and_rebuild() {
    let d = acme_with_buyers(3);
    let v = d.json(&["verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["head_hash"].as_str().unwrap().len(), 64);
    assert!(d.ok(&["verify"]).starts_with("Log intact:"));
    let r = d.json(&["rebuild"]);
    assert_eq!(r["events"], v["events"]);
    assert!(d.ok(&["rebuild"]).contains("Rebuilt every view"));
    assert_eq!(d.json(&["owners"])["count"], 3);
}

#[test]
fn export_then_import_log_keeps_positions_and_hashes() {
    let d = acme_with_buyers(5);
    d.ok(&["transfer-all-buyers", PAT, "--to", &format!("{ANN},{BOB}")]);
    let file = d.path("log.jsonl");
    let doc = d.json(&["export", file.to_str().unwrap()]);
    let n = last_position(&d);
    assert_eq!(doc["events"], n);
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(exported.lines().count() as u64, n);
    assert_eq!(
        d.ok(&["export", "-"]),
        exported,
        "`-` writes the same to stdout"
    );

    let copy = Dir::new();
    let imported = copy.json(&["import-log", file.to_str().unwrap()]);
    assert_eq!(imported["events"], n);
    assert_eq!(imported["head_hash"], d.json(&["verify"])["head_hash"]);
    assert_eq!(copy.events(&[]), d.events(&[]));
    assert_eq!(
        copy.json(&["owner", "buyer:B-2"]),
        d.json(&["owner", "buyer:B-2"])
    );
    assert!(
        imported["keys"].as_u64().unwrap() > 0,
        "the personal-data keys came along"
    );
    // Without the keys file the copy verifies too, but reads every profile as erased.
    let bare_file = d.write("bare.jsonl", &exported);
    let bare = Dir::new();
    assert_eq!(
        bare.json(&["import-log", bare_file.to_str().unwrap()])["keys"],
        0
    );
    let invited = bare
        .events(&[])
        .into_iter()
        .find(|e| e["event_type"] == "UserInvited")
        .unwrap();
    assert_eq!(invited["data"]["profile"]["email"], "erased");
    // The new directory works on: commands append after the imported chain.
    copy.ok(&["deactivate", BOB]);
    assert_eq!(last_position(&copy), n + 1);

    // Only into an empty directory; damaged files are refused with the line.
    assert_eq!(
        copy.fails(1, &["import-log", file.to_str().unwrap()])["code"],
        "invalid_input"
    );
    // Personal data is sealed in the export, so tamper with plain metadata of line 2.
    let mut lines: Vec<String> = exported.lines().map(|l| format!("{l}\n")).collect();
    assert!(lines[1].contains("\"stream_version\":1"));
    lines[1] = lines[1].replacen("\"stream_version\":1", "\"stream_version\":7", 1);
    let tampered: String = lines.concat();
    let bad = d.write("bad.jsonl", &tampered);
    let e = Dir::new().fails(1, &["import-log", bad.to_str().unwrap()]);
    assert!(e["message"].as_str().unwrap().contains("line 2"), "{e}");
    // Even with every hash recomputed, a stream version that skips is refused: the
    // stream index counts on each event extending its stream by one.
    let mut chain: Vec<serde_json::Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    chain[1]["stream_version"] = 7.into();
    let mut prev = offboard_events::canonical::GENESIS_HASH.to_owned();
    for event in &mut chain {
        event["prev_hash"] = prev.clone().into();
        prev = offboard_events::canonical::envelope_hash(event);
        event["hash"] = prev.clone().into();
    }
    let rehashed: String = chain.iter().map(|e| format!("{e}\n")).collect();
    let skipping = d.write("skipping.jsonl", &rehashed);
    let e = Dir::new().fails(1, &["import-log", skipping.to_str().unwrap()]);
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("line 2") && message.contains("jumps from version 0 to 7"),
        "{e}"
    );
    let gap: String = exported.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let gapped = d.write("gap.jsonl", &gap);
    assert_eq!(
        Dir::new().fails(1, &["import-log", gapped.to_str().unwrap()])["code"],
        "invalid_input"
    );
}

#[test]
fn bench_runs_every_scenario_at_a_small_scale_and_prints_json() {
    let d = Dir::new();
    let doc = d.json(&["bench", "--scale", "0.002"]);
    let figures = doc["figures"].as_array().unwrap();
    assert!(figures
        .iter()
        .any(|f| f["figure"] == "TransferAllBuyers until durable"));
    assert!(figures
        .iter()
        .any(|f| f["figure"] == "group commit / baseline"));
    assert_eq!(doc["scale"], 0.002);
    assert_eq!(
        d.fails(1, &["bench", "--scale", "0"])["code"],
        "invalid_input"
    );
}

#[test]
fn bench_only_runs_the_chosen_scenario_group() {
    let d = Dir::new();
    let doc = d.json(&["bench", "--scale", "0.002", "--only", "throughput"]);
    let figures = doc["figures"].as_array().unwrap();
    assert!(!figures.is_empty());
    assert!(
        figures
            .iter()
            .all(|f| f["scenario"] == "64 clients, 1-resource transfers"),
        "{doc}"
    );
    assert_eq!(
        d.fails(2, &["bench", "--only", "everything"])["code"],
        "usage"
    );
}
