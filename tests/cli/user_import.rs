//! `user import` (issue 17 §2): new users invited, changed profiles, roles, managers and
//! activity updated, users matched by external id, bad rows reported with their lines
//! and nothing written, and the same file again writes nothing.

use crate::util::*;

#[test]
fn an_import_invites_updates_and_is_a_no_op_the_second_time() {
    let d = acme();
    d.ok(&["user", "update", BOB, "--external-id", "00u-bob"]);
    let file = d.write(
        "people.csv",
        &format!(
            "Email,First Name,Last Name,Job Title,Role,Manager,externalId,Active\n\
             {ANN},Ann,Lee-Smith,Buyer,manager,,00u-ann,true\n\
             neo@acme.example,Neo,Ward,,member,00u-ann,00u-neo,yes\n\
             robert@acme.example,Bob,Diaz,,,,00u-bob,false\n"
        ),
    );
    let file = file.to_str().unwrap();
    let before = last_position(&d);
    let dry = d.json(&["user", "import", file, "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["changes"]["invite"], 1);
    assert_eq!(
        dry["changes"]["update_profile"], 2,
        "Ann's name; Bob's email, by external id"
    );
    assert_eq!(last_position(&d), before, "a dry run writes nothing");

    let doc = d.json(&["user", "import", file]);
    assert_eq!(doc["command"], "import_users");
    let ann = d.json(&["user", "show", ANN]);
    assert_eq!(
        (&ann["last_name"], &ann["role"]),
        (&"Lee-Smith".into(), &"manager".into())
    );
    assert_eq!(ann["external_id"], "00u-ann");
    let neo = d.json(&["user", "show", "neo@acme.example"]);
    assert_eq!(
        neo["manager_email"], ANN,
        "the manager named by external id"
    );
    let bob = d.json(&["user", "show", "robert@acme.example"]);
    assert_eq!(bob["status"], "deactivated");

    let at = last_position(&d);
    let again = d.json(&["user", "import", file]);
    assert_eq!(again["events"], 0);
    assert_eq!(last_position(&d), at, "the same file again writes nothing");
}

#[test]
fn every_bad_user_row_is_reported_and_nothing_is_written() {
    let d = acme();
    let file = d.write(
        "bad.jsonl",
        &format!(
            "{{\"email\":\"x@acme.example\",\"first\":\"X\"}}\n\
             {{\"email\":\"{ANN}\",\"role\":\"boss\"}}\n\
             {{\"email\":\"{PAT}\",\"manager\":\"nobody@acme.example\"}}\n\
             {{\"email\":\"{BOB}\",\"role\":\"owner\"}}\n"
        ),
    );
    let before = last_position(&d);
    let error = d.fails(1, &["user", "import", file.to_str().unwrap()]);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("4 bad rows; nothing was written"),
        "{message}"
    );
    for line in ["line 1:", "line 2:", "line 3:", "line 4:"] {
        assert!(message.contains(line), "{line} in {message}");
    }
    assert_eq!(last_position(&d), before);
}
