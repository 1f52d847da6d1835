//! `resource add|import`, `owners`, `owner`, with `--as-of` by position and by time.

use std::time::Instant;

use crate::util::*;

#[test]
fn resource_add_registers_and_refuses_bad_keys() {
    let d = acme();
    let doc = d.json(&["resource", "add", "buyer:B-1", "lead:L-1", "--owner", PAT]);
    assert_eq!(doc["command"], "register_resources");
    assert_eq!(
        doc["envelopes"][0]["data"]["resources"],
        serde_json::json!(["buyer:B-1", "lead:L-1"])
    );
    assert_eq!(
        d.fails(1, &["resource", "add", "B-1", "--owner", PAT])["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(1, &["resource", "add", "Buyer:B-1", "--owner", PAT])["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(1, &["resource", "add", "buyer:B-1", "--owner", PAT])["code"],
        "already_exists"
    );
    assert_eq!(
        d.fails(
            1,
            &[
                "resource",
                "add",
                "buyer:B-2",
                "--owner",
                "who@acme.example"
            ]
        )["code"],
        "not_found"
    );
    assert_eq!(
        d.fails(2, &["resource", "add", "--owner", PAT])["code"],
        "usage"
    );
}

#[test]
fn import_reads_csv_and_both_json_line_forms() {
    let d = acme();
    let csv = d.write(
        "r.csv",
        &format!("kind,id,owner\nbuyer,B-1,{PAT}\nbuyer,B-2,{ANN}\nlead,L-1,{PAT}\n"),
    );
    let doc = d.json(&["resource", "import", csv.to_str().unwrap()]);
    assert_eq!(doc["imported"], 3);
    assert_eq!(doc["owners"].as_array().unwrap().len(), 2);
    let jsonl = d.write(
        "r.jsonl",
        &format!("{{\"kind\":\"deal\",\"id\":\"D-1\",\"owner\":\"{PAT}\"}}\n\n{{\"resource\":\"deal:D-2\",\"owner\":\"{BOB}\"}}\n"),
    );
    let text = d.ok(&["resource", "import", jsonl.to_str().unwrap()]);
    assert!(text.contains("Imported 2 resources for 2 owners"), "{text}");
    assert_eq!(d.json(&["owners"])["count"], 5);
}

#[test]
fn a_bad_import_file_writes_nothing() {
    let d = acme();
    let before = last_position(&d);
    let dup = d.write(
        "dup.csv",
        &format!("kind,id,owner\nbuyer,B-1,{PAT}\nbuyer,B-1,{ANN}\n"),
    );
    assert_eq!(
        d.fails(1, &["resource", "import", dup.to_str().unwrap()])["code"],
        "invalid_input"
    );
    let who = d.write(
        "who.csv",
        &format!("kind,id,owner\nbuyer,B-1,{PAT}\nbuyer,B-2,nobody@acme.example\n"),
    );
    assert_eq!(
        d.fails(1, &["resource", "import", who.to_str().unwrap()])["code"],
        "not_found"
    );
    let header = d.write("h.csv", "a,b,c\n1,2,3\n");
    let e = d.fails(1, &["resource", "import", header.to_str().unwrap()]);
    assert!(e["message"].as_str().unwrap().contains("kind,id,owner"));
    let bad = d.write("bad.jsonl", "{\"kind\":\"buyer\"}\n");
    assert_eq!(
        d.fails(1, &["resource", "import", bad.to_str().unwrap()])["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(1, &["resource", "import", "/no/such/file.csv"])["code"],
        "invalid_input"
    );
    d.ok(&["resource", "add", "buyer:B-9", "--owner", PAT]);
    let taken = d.write(
        "t.csv",
        &format!("kind,id,owner\nbuyer,B-8,{PAT}\nbuyer,B-9,{ANN}\n"),
    );
    assert_eq!(
        d.fails(1, &["resource", "import", taken.to_str().unwrap()])["code"],
        "already_exists"
    );
    assert_eq!(
        last_position(&d),
        before + 1,
        "only the one resource add was written"
    );
}

#[test]
fn an_import_refused_for_resources_another_owner_holds_counts_them_in_agreeing_words() {
    // Given buyer:B-8 and buyer:B-9, both Pat's,
    let d = acme();
    d.ok(&["resource", "add", "buyer:B-8", "buyer:B-9", "--owner", PAT]);
    // when a file gives one of them to Ann, then the refusal speaks of one resource
    // (before: "1 of the file's resources are"),
    let one = d.write(
        "one.csv",
        &format!("kind,id,owner\nbuyer,B-1,{ANN}\nbuyer,B-9,{ANN}\n"),
    );
    let e = d.fails(1, &["resource", "import", one.to_str().unwrap()]);
    assert_eq!(e["code"], "already_exists");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("1 of the file's resources is already registered to another owner"),
        "{message}"
    );
    // and when it gives both, of two.
    let two = d.write(
        "two.csv",
        &format!("kind,id,owner\nbuyer,B-8,{ANN}\nbuyer,B-9,{ANN}\n"),
    );
    let e = d.fails(1, &["resource", "import", two.to_str().unwrap()]);
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("2 of the file's resources are already registered to another owner"),
        "{message}"
    );
}

#[test]
fn import_is_fast_and_splits_into_commands_of_ten_thousand() {
    let d = acme();
    let n = 50_000;
    let mut csv = String::from("kind,id,owner\n");
    for i in 0..n {
        let owner = if i % 2 == 0 { PAT } else { ANN };
        csv.push_str(&format!("buyer,B-{i:06},{owner}\n"));
    }
    let f = d.write("big.csv", &csv);
    let started = Instant::now();
    let doc = d.json(&["resource", "import", f.to_str().unwrap()]);
    let took = started.elapsed();
    assert_eq!(doc["imported"], n);
    assert_eq!(doc["commands"], 6, "25,000 per owner in chunks of 10,000");
    assert!(took.as_secs() < 30, "50,000 rows took {took:?} in debug");
    let owners = d.json(&["owners", "--owner", ANN, "--kind", "buyer"]);
    assert_eq!(owners["count"], n / 2);
}

#[test]
fn owners_and_owner_answer_now_and_as_of_a_position_or_time() {
    let d = acme_with_buyers(4);
    let registered = last_position(&d);
    d.ok(&["transfer-all-buyers", PAT, "--to", ANN]);
    let now = d.json(&["owners", "--kind", "buyer"]);
    assert_eq!(now["count"], 4);
    assert!(now["as_of"].is_null());
    assert!(now["next"].is_null());
    assert!(now["owners"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["owner_email"] == ANN));
    let then = d.json(&["owners", "--as-of", &registered.to_string()]);
    assert_eq!(then["as_of"], registered);
    assert!(then["owners"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["owner_email"] == PAT));
    assert_eq!(then["owners"][0]["kind"], "buyer");
    assert_eq!(then["owners"][0]["resource"], "buyer:B-1");
    // Before anything existed, and by date.
    assert_eq!(d.json(&["owners", "--as-of", "1"])["count"], 0);
    assert_eq!(d.json(&["owners", "--as-of", "2000-01-01"])["count"], 0);
    assert_eq!(d.json(&["owners", "--as-of", "2999-12-31"])["count"], 4);
    assert_eq!(d.json(&["owners", "--owner", PAT])["count"], 0);
    assert_eq!(
        d.fails(1, &["owners", "--as-of", "last tuesday"])["code"],
        "invalid_input"
    );
    let text = d.ok(&["owners", "--kind", "buyer"]);
    assert!(
        text.contains("buyer:B-1") && text.contains("4 resources"),
        "{text}"
    );

    let one = d.json(&["owner", "buyer:B-2"]);
    assert_eq!(one["owner_email"], ANN);
    let history = one["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["owner_email"], PAT);
    assert_eq!(history[1]["previous_email"], PAT);
    assert_eq!(history[1]["actor"]["kind"], "user");
    assert!(history[1]["correlation_id"].is_string());
    let past = d.json(&["owner", "buyer:B-2", "--as-of", &registered.to_string()]);
    assert_eq!(past["owner_email"], PAT);
    let before = d.json(&["owner", "buyer:B-2", "--as-of", "1"]);
    assert!(before["owner"].is_null() && before["owner_email"].is_null());
    assert_eq!(d.fails(1, &["owner", "buyer:B-99"])["code"], "not_found");
    assert_eq!(d.fails(1, &["owner", "nonsense"])["code"], "invalid_input");
    assert!(d
        .ok(&["owner", "buyer:B-2"])
        .contains("Every owner it had (2)"));
}

#[test]
fn import_names_every_bad_row_with_its_line_and_writes_nothing() {
    // Given a file with a bad kind (line 3), a repeat (4), an unknown owner (5) and a
    // short row (6),
    let d = acme();
    let before = last_position(&d);
    let f = d.write(
        "bad.csv",
        &format!(
            "kind,id,owner\nbuyer,B-1,{PAT}\nBuyer,B-2,{PAT}\nbuyer,B-1,{ANN}\nlead,L-1,who@acme.example\nlead,L-2\n"
        ),
    );
    // when it is imported, then each is named by line and nothing is written.
    let e = d.fails(1, &["resource", "import", f.to_str().unwrap()]);
    assert_eq!(e["code"], "invalid_input");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("has 4 bad rows"), "{message}");
    for line in [
        "line 3: resource kind",
        "line 4: buyer:B-1 is listed twice (first on line 2)",
        "line 5: no user",
        "line 6: 2 fields",
    ] {
        assert!(message.contains(line), "{line:?} missing from {message}");
    }
    assert_eq!(last_position(&d), before);
    // Only unknown owners: not_found, every one named.
    let f = d.write(
        "who.csv",
        "kind,id,owner\nbuyer,B-1,x@acme.example\nbuyer,B-2,y@acme.example\n",
    );
    let e = d.fails(1, &["resource", "import", f.to_str().unwrap()]);
    assert_eq!(e["code"], "not_found");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("line 3: no user \"y@acme.example\""));
}

#[test]
fn import_reads_spreadsheet_headers_and_prints_where_it_landed() {
    let d = acme();
    let f = d.write(
        "sheet.csv",
        &format!(
            "Resource Type,Resource ID,Owner Email,Notes\nbuyer,B-1,{PAT},vip\nbuyer,B-2,{ANN},\n"
        ),
    );
    let before = last_position(&d);
    let text = d.ok(&["resource", "import", f.to_str().unwrap()]);
    assert!(text.contains("Imported 2 resources for 2 owners"), "{text}");
    assert!(
        text.contains(&format!("· positions {}–{}", before + 1, before + 2)),
        "{text}"
    );
    // The printed correlation ids (one per owner's command) find the import's events.
    let ids = text
        .split("correlation ids ")
        .nth(1)
        .and_then(|rest| rest.split(" · ").next())
        .expect("the correlation ids");
    let found: String = ids
        .split(", ")
        .map(|id| d.json(&["history", "--correlation", id.trim()]).to_string())
        .collect();
    assert!(
        found.contains("buyer:B-1") && found.contains("buyer:B-2"),
        "{found}"
    );
    let f = d.write("upper.csv", &format!("KIND,ID,OWNER\nlead,L-1,{PAT}\n"));
    let doc = d.json(&["resource", "import", f.to_str().unwrap()]);
    assert_eq!(doc["imported"], 1);
    assert_eq!(doc["correlation_ids"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["positions"],
        serde_json::json!({"first": before + 3, "last": before + 3})
    );
}
