//! `user add|list|show|role|manager|activate|update` and `group add|join|leave`.

use crate::util::*;

#[test]
fn user_add_with_every_flag_then_list_show_and_activate() {
    let d = acme();
    let doc = d.json(&[
        "user",
        "add",
        "--email",
        "Zoe@Acme.example",
        "--first",
        "Zoe",
        "--last",
        "Quinn",
        "--title",
        "Buyer",
        "--role",
        "manager",
        "--manager",
        SAM,
        "--inactive",
    ]);
    assert_eq!(doc["command"], "invite_user");
    let id = doc["user_id"].as_str().unwrap().to_owned();
    assert_eq!(
        doc["envelopes"].as_array().unwrap().len(),
        1,
        "invited only"
    );
    let e = d.fails(
        1,
        &[
            "--as",
            SAM,
            "user",
            "add",
            "--email",
            "y@acme.example",
            "--first",
            "Y",
            "--last",
            "Z",
            "--role",
            "manager",
        ],
    );
    assert_eq!(e["code"], "forbidden", "a manager cannot add a manager");

    let invited = d.json(&["user", "list", "--status", "invited"]);
    assert_eq!(invited["users"].as_array().unwrap().len(), 1);
    let zoe = &invited["users"][0];
    assert_eq!(zoe["email"], "Zoe@Acme.example");
    assert_eq!(zoe["job_title"], "Buyer");
    assert_eq!(zoe["role"], "manager");
    assert_eq!(zoe["manager_email"], SAM);
    // USER accepts an email (any case) or an id.
    assert_eq!(
        d.json(&["user", "show", "zoe@acme.example"])["id"],
        id.as_str()
    );
    assert_eq!(d.json(&["user", "show", &id])["email"], "Zoe@Acme.example");
    d.ok(&["user", "activate", "zoe@acme.example"]);
    assert_eq!(d.json(&["user", "show", &id])["status"], "active");
    assert_eq!(
        d.fails(1, &["user", "activate", &id])["code"],
        "invalid_state"
    );

    let all = d.ok(&["user", "list"]);
    assert!(
        all.contains("email") && all.contains("Zoe@Acme.example") && all.contains("6 users"),
        "{all}"
    );
    let show = d.ok(&["user", "show", PAT]);
    assert!(show.contains("manager") && show.contains(SAM), "{show}");
}

#[test]
fn user_input_errors_are_exit_1_with_a_code() {
    let d = acme();
    assert_eq!(
        d.fails(1, &["user", "show", "nobody@acme.example"])["code"],
        "not_found"
    );
    assert_eq!(
        d.fails(1, &["user", "role", PAT, "boss"])["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(1, &["user", "list", "--status", "asleep"])["code"],
        "invalid_input"
    );
    let e = d.fails(
        1,
        &[
            "user",
            "add",
            "--email",
            "PAT@acme.example",
            "--first",
            "P",
            "--last",
            "K",
        ],
    );
    assert_eq!(e["code"], "email_taken");
    let e = d.fails(
        1,
        &[
            "user",
            "add",
            "--email",
            "not-an-email",
            "--first",
            "P",
            "--last",
            "K",
        ],
    );
    assert_eq!(e["code"], "invalid_input");
    let text = d.fails_human(1, &["user", "show", "nobody@acme.example"]);
    assert!(text.contains("nobody@acme.example"), "{text}");
}

#[test]
fn role_and_manager_changes() {
    let d = acme();
    let doc = d.json(&["user", "role", PAT, "manager"]);
    assert_eq!(doc["command"], "change_role");
    assert_eq!(doc["envelopes"][0]["data"]["to"], "manager");
    assert_eq!(
        d.fails(1, &["user", "role", BOB, "member"])["code"],
        "invalid_state"
    );
    assert_eq!(
        d.fails(1, &["--as", ANN, "user", "role", BOB, "manager"])["code"],
        "forbidden"
    );
    d.ok(&["user", "manager", ANN, PAT]);
    assert_eq!(d.json(&["user", "show", ANN])["manager_email"], PAT);
    assert_eq!(
        d.json(&["user", "show", PAT])["reports"],
        serde_json::json!([ANN])
    );
    d.ok(&["user", "manager", ANN, "none"]);
    let shown = d.json(&["user", "show", ANN]);
    assert!(shown["manager"].is_null() && shown["manager_email"].is_null());
}

#[test]
fn groups_are_created_joined_and_left() {
    let d = acme();
    let doc = d.json(&["group", "add", "north-office", "--owner", SAM]);
    assert_eq!(doc["command"], "create_group");
    d.ok(&["group", "join", "north-office", PAT]);
    assert_eq!(
        d.json(&["user", "show", PAT])["groups"],
        serde_json::json!(["north-office"])
    );
    assert_eq!(
        d.fails(1, &["group", "join", "north-office", PAT])["code"],
        "invalid_state"
    );
    d.ok(&["group", "leave", "north-office", PAT]);
    assert_eq!(
        d.json(&["user", "show", PAT])["groups"],
        serde_json::json!([])
    );
    assert_eq!(
        d.fails(1, &["group", "join", "south", PAT])["code"],
        "not_found"
    );
    assert_eq!(
        d.fails(1, &["group", "add", "North Office", "--owner", SAM])["code"],
        "invalid_input"
    );
    // The group is a resource its owner holds.
    assert_eq!(d.json(&["owner", "group:north-office"])["owner_email"], SAM);
}

#[test]
fn user_update_changes_the_fields_given_and_show_prints_the_external_id() {
    let d = acme();
    let doc = d.json(&[
        "user",
        "update",
        PAT,
        "--email",
        "pat.kim@acme.example",
        "--external-id",
        "00u1a2b3",
        "--title",
        "Buyer",
    ]);
    assert_eq!(doc["command"], "update_profile");
    assert_eq!(doc["envelopes"][0]["event_type"], "UserProfileChanged");
    let shown = d.json(&["user", "show", "pat.kim@acme.example"]);
    assert_eq!(shown["external_id"], "00u1a2b3");
    assert_eq!(shown["job_title"], "Buyer");
    assert_eq!(shown["first_name"], "Pat", "fields not given stay");
    assert!(d
        .ok(&["user", "show", "pat.kim@acme.example"])
        .contains("00u1a2b3"));
    let listed = d.json(&["user", "list"]);
    let pat = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "pat.kim@acme.example")
        .unwrap();
    assert_eq!(pat["external_id"], "00u1a2b3");

    // A taken external id or email is refused and appends nothing.
    let before = last_position(&d);
    let e = d.fails(1, &["user", "update", ANN, "--external-id", "00u1a2b3"]);
    assert_eq!(e["code"], "external_id_taken");
    let e = d.fails(
        1,
        &["user", "update", ANN, "--email", "PAT.KIM@acme.example"],
    );
    assert_eq!(e["code"], "email_taken");
    assert_eq!(last_position(&d), before);

    // `user add --external-id` sets it at once.
    d.ok(&[
        "user",
        "add",
        "--email",
        "zoe@acme.example",
        "--first",
        "Zoe",
        "--last",
        "Ng",
        "--external-id",
        "00u9",
    ]);
    assert_eq!(
        d.json(&["user", "show", "zoe@acme.example"])["external_id"],
        "00u9"
    );
}

#[test]
fn a_user_name_is_added_shown_updated_and_cleared() {
    let d = acme();
    // `user add --user-name` keeps the provider's name beside the email
    d.ok(&[
        "user",
        "add",
        "--email",
        "zoe@acme.example",
        "--first",
        "Zoe",
        "--last",
        "Ng",
        "--user-name",
        "zng",
    ]);
    let shown = d.json(&["user", "show", "zoe@acme.example"]);
    assert_eq!(shown["user_name"], "zng");
    assert!(d.ok(&["user", "show", "zoe@acme.example"]).contains("zng"));
    // Another user may not take it, in another case
    let before = last_position(&d);
    let e = d.fails(1, &["user", "update", PAT, "--user-name", "ZNG"]);
    assert_eq!(e["code"], "user_name_taken");
    assert_eq!(last_position(&d), before);
    // `--user-name ''` clears it: the user name is the email again
    d.ok(&["user", "update", "zoe@acme.example", "--user-name", ""]);
    let shown = d.json(&["user", "show", "zoe@acme.example"]);
    assert_eq!(shown["user_name"], "zoe@acme.example");
}

#[test]
fn group_update_renames_a_group_and_group_remove_retires_it() {
    let d = acme();
    d.ok(&["group", "add", "north", "--owner", SAM]);
    d.ok(&["group", "join", "north", PAT]);
    let doc = d.json(&[
        "group",
        "update",
        "north",
        "--name",
        "North office",
        "--external-id",
        "8aa1",
    ]);
    assert_eq!(doc["envelopes"][0]["event_type"], "GroupChanged");
    assert_eq!(doc["envelopes"][0]["data"]["name"], "North office");
    // Members still join by the key
    d.ok(&["group", "join", "north", ANN]);
    let doc = d.json(&["group", "remove", "north"]);
    let types: Vec<&str> = doc["envelopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["UserLeftGroup", "UserLeftGroup", "ResourcesRetired"]
    );
    assert_eq!(
        d.json(&["user", "show", PAT])["groups"],
        serde_json::json!([])
    );
    assert_eq!(
        d.fails(1, &["group", "join", "north", PAT])["code"],
        "not_found"
    );
}
