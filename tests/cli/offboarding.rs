//! `plan`, `transfer-all-buyers`, `transfer`, `transfer-account`, `offboard --plan`,
//! `deactivate`, `reactivate`, `delete`, `--on-behalf-of`.

use serde_json::json;

use crate::util::*;

#[test]
fn plan_is_read_only_and_lists_every_blocker() {
    let d = acme_with_buyers(3);
    d.ok(&["duty", "assign", "dealer_trade_contact", PAT, "--new"]);
    d.ok(&[
        "distribution",
        "add",
        "North",
        "--kind",
        "rotation",
        "--member",
        &format!("{ANN}=1"),
        "--backup",
        PAT,
    ]);
    d.ok(&[
        "distribution",
        "add",
        "Web",
        "--kind",
        "automation",
        "--member",
        &format!("{PAT}=2,{BOB}=2"),
    ]);
    let before = last_position(&d);
    let plan = d.json(&["plan", PAT]);
    assert_eq!(plan["email"], PAT);
    assert_eq!(plan["resources"], json!({"buyer": 3}));
    assert_eq!(plan["duties"], json!(["dealer_trade_contact"]));
    assert_eq!(plan["distributions"].as_array().unwrap().len(), 2);
    let web = plan["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Web")
        .unwrap();
    assert_eq!(web["suggested"][0]["weight"], 4);
    let codes: Vec<&str> = plan["blockers"]["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["owns_resources", "holds_duty", "distribution_backup"]
    );
    assert_eq!(plan["blockers"]["deactivate"], json!([]));
    let text = d.ok(&["plan", PAT]);
    assert!(
        text.contains("3 buyers") && text.contains("delete: blocked"),
        "{text}"
    );
    assert_eq!(last_position(&d), before, "plan writes nothing");

    // The template is an editable plan file: everything to Pat's manager.
    let template: serde_json::Value =
        serde_json::from_str(&d.ok(&["plan", PAT, "--template"])).unwrap();
    assert_eq!(template["default_to"], SAM);
    assert_eq!(template["resources"]["buyer"]["to"], json!([SAM]));
    assert_eq!(template["distributions"]["Web"][0]["user"], BOB);
    let file = d.write("plan.json", &template.to_string());
    d.ok(&[
        "offboard",
        PAT,
        "--plan",
        file.to_str().unwrap(),
        "--then",
        "delete",
        "--confirm",
        "CONFIRM",
    ]);
    assert_eq!(
        d.json(&["user", "list", "--status", "deleted"])["users"][0]["email"],
        PAT
    );
}

#[test]
fn transfer_all_buyers_to_several_colleagues_round_robin_or_even() {
    let d = acme_with_buyers(10);
    let doc = d.json(&[
        "--as",
        SAM,
        "transfer-all-buyers",
        PAT,
        "--to",
        &format!("{ANN},{BOB}"),
    ]);
    assert_eq!(doc["command"], "transfer_all");
    assert_eq!(
        doc["message"],
        "Moved 10 buyers from pat@acme.example to ann@acme.example (5) and bob@acme.example (5)."
    );
    let (first, last) = (
        doc["positions"]["first"].as_u64().unwrap(),
        doc["positions"]["last"].as_u64().unwrap(),
    );
    assert_eq!(last - first + 1, 3);
    assert_eq!(doc["events"], 3, "a count, as the API answers");
    assert_eq!(doc["envelopes"].as_array().unwrap().len(), 3);
    assert_eq!(doc["envelopes"][1]["event_type"], "ResourcesTransferred");
    assert_eq!(doc["envelopes"][1]["correlation_id"], doc["correlation_id"]);
    assert_eq!(d.json(&["owner", "buyer:B-1"])["owner_email"], ANN);
    assert_eq!(
        d.json(&["owner", "buyer:B-10"])["owner_email"],
        BOB,
        "B-10 sorts second"
    );
    // Nothing left: a second transfer has nothing to move.
    assert_eq!(
        d.fails(1, &["transfer-all-buyers", PAT, "--to", ANN])["code"],
        "nothing_to_transfer"
    );
    // Even: contiguous halves.
    d.ok(&[
        "transfer-all-buyers",
        ANN,
        "--to",
        &format!("{PAT},{SAM}"),
        "--strategy",
        "even",
    ]);
    let owners = d.json(&["owners", "--owner", PAT]);
    assert_eq!(owners["count"], 3);
    assert_eq!(
        d.fails(1, &["transfer-all-buyers", BOB, "--to", BOB])["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(1, &["--as", ANN, "transfer-all-buyers", BOB, "--to", PAT])["code"],
        "forbidden"
    );
    assert_eq!(
        d.fails(
            2,
            &[
                "transfer-all-buyers",
                BOB,
                "--to",
                PAT,
                "--strategy",
                "random"
            ]
        )["code"],
        "usage"
    );
}

#[test]
fn transfer_by_kind_or_chosen_resources() {
    let d = acme();
    d.ok(&[
        "resource", "add", "lead:L-1", "lead:L-2", "deal:D-1", "--owner", PAT,
    ]);
    let doc = d.json(&["transfer", PAT, "--kind", "lead", "--to", ANN]);
    assert_eq!(doc["command"], "transfer_all");
    let doc = d.json(&["transfer", PAT, "--resource", "deal:D-1", "--to", BOB]);
    assert_eq!(doc["command"], "transfer_resources");
    assert_eq!(d.json(&["owner", "deal:D-1"])["owner_email"], BOB);
    assert_eq!(
        d.fails(
            1,
            &[
                "transfer",
                ANN,
                "--resource",
                "lead:L-1,lead:L-2",
                "--to",
                &format!("{PAT},{BOB}")
            ]
        )["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(1, &["transfer", ANN, "--resource", "deal:D-1", "--to", PAT])["code"],
        "invalid_input"
    );
    assert_eq!(d.fails(2, &["transfer", ANN, "--to", PAT])["code"], "usage");
}

#[test]
fn transfer_account_moves_everything_then_deactivates() {
    let d = acme_with_buyers(2);
    d.ok(&["user", "role", PAT, "manager"]);
    d.ok(&["user", "manager", ANN, PAT]);
    d.ok(&["credits", "add", "10"]);
    d.ok(&["credits", "grant", PAT, "4"]);
    let doc = d.json(&["transfer-account", PAT, "--to", BOB, "--then", "deactivate"]);
    assert_eq!(doc["command"], "transfer_account");
    let msg = doc["message"].as_str().unwrap();
    assert!(
        msg.contains("Moved 2 buyers from pat@acme.example to bob@acme.example."),
        "{msg}"
    );
    assert!(
        msg.contains("ann@acme.example now reports to bob@acme.example."),
        "{msg}"
    );
    assert!(msg.contains("Moved 4 credits"), "{msg}");
    assert!(msg.contains("Deactivated pat@acme.example"), "{msg}");
    let pat = d.json(&["user", "show", PAT]);
    assert_eq!(
        (pat["status"].as_str(), pat["role"].as_str()),
        (Some("deactivated"), Some("member"))
    );
    assert_eq!(d.json(&["user", "show", BOB])["role"], "manager");
    // Deleting needs the phrase.
    assert_eq!(
        d.fails(
            1,
            &["transfer-account", BOB, "--to", ANN, "--then", "delete"]
        )["code"],
        "confirmation_required"
    );
}

#[test]
fn offboard_from_a_plan_file_with_emails_is_one_atomic_command() {
    let d = acme_with_buyers(4);
    d.ok(&["resource", "add", "lead:L-1", "--owner", PAT]);
    d.ok(&[
        "distribution",
        "add",
        "Solo",
        "--kind",
        "integration",
        "--member",
        &format!("{PAT}=3"),
    ]);
    d.ok(&["label", "add", "VIP", "--member", PAT]);
    d.ok(&["duty", "assign", "billing_contact", PAT, "--new"]);
    let plan = json!({
        "default_to": SAM,
        "resources": {"buyer": {"to": [ANN, BOB], "strategy": "even"}},
        "distributions": {"Solo": [{"user": BOB, "weight": 3}]},
        "labels": {"VIP": ANN},
        "duties": {"billing_contact": ANN},
    });
    let file = d.write("plan.json", &plan.to_string());
    let doc = d.json(&[
        "offboard",
        PAT,
        "--plan",
        file.to_str().unwrap(),
        "--then",
        "delete",
        "--confirm",
        "CONFIRM",
    ]);
    assert_eq!(doc["command"], "offboard");
    assert_eq!(doc["then"], "delete");
    assert_eq!(doc["plan"]["default_to"], SAM);
    let types: Vec<&str> = doc["envelopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"OffboardingStarted"));
    assert_eq!(types.last(), Some(&"OffboardingCompleted"));
    assert!(types.contains(&"UserDeleted"));
    assert!(doc["envelopes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["correlation_id"] == doc["correlation_id"]));
    assert_eq!(d.json(&["owner", "buyer:B-1"])["owner_email"], ANN);
    assert_eq!(d.json(&["owner", "buyer:B-4"])["owner_email"], BOB);
    assert_eq!(d.json(&["owner", "lead:L-1"])["owner_email"], SAM);
    let labels = d.json(&["label", "list"]);
    let members = labels["labels"][0]["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["email"], ANN);

    // Bad plan files: malformed, unknown user, a sole member with no replacement.
    let d = acme_with_buyers(1);
    let bad = d.write("bad.json", "{\"default_to\": 3}");
    assert_eq!(
        d.fails(1, &["offboard", PAT, "--plan", bad.to_str().unwrap()])["code"],
        "invalid_input"
    );
    let unknown = d.write("u.json", "{\"default_to\": \"ghost@acme.example\"}");
    assert_eq!(
        d.fails(1, &["offboard", PAT, "--plan", unknown.to_str().unwrap()])["code"],
        "not_found"
    );
    let typo = d.write("t.json", "{\"default_too\": \"ann@acme.example\"}");
    assert_eq!(
        d.fails(1, &["offboard", PAT, "--plan", typo.to_str().unwrap()])["code"],
        "invalid_input"
    );
    d.ok(&[
        "distribution",
        "add",
        "Solo",
        "--kind",
        "integration",
        "--member",
        &format!("{PAT}=1"),
    ]);
    let partial = d.write("p.json", &json!({"default_to": ANN}).to_string());
    let before = last_position(&d);
    assert_eq!(
        d.fails(1, &["offboard", PAT, "--plan", partial.to_str().unwrap()])["code"],
        "replacement_required"
    );
    assert_eq!(last_position(&d), before);
}

#[test]
fn offboard_without_a_terminal_or_plan_is_a_usage_error() {
    let d = acme_with_buyers(1);
    let e = d.fails(2, &["offboard", PAT]);
    assert_eq!(e["code"], "usage");
    assert!(e["message"].as_str().unwrap().contains("--plan"));
    let text = d.fails_human(2, &["offboard", PAT]);
    assert!(text.contains("--plan FILE"), "{text}");
}

#[test]
fn deactivate_reactivate_and_delete_with_every_blocker() {
    let d = acme_with_buyers(2);
    d.ok(&["user", "manager", ANN, PAT]);
    d.ok(&["duty", "assign", "dealer_trade_contact", PAT, "--new"]);
    let e = d.fails(1, &["delete", PAT, "--confirm", "CONFIRM"]);
    assert_eq!(e["code"], "owns_resources");
    let codes: Vec<&str> = e["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["owns_resources", "holds_duty", "manages_users"]);
    assert_eq!(e["blockers"][0]["count"], 2);
    assert_eq!(e["blockers"][0]["subject"], "buyer");
    let text = d.fails_human(1, &["delete", PAT, "--confirm", "CONFIRM"]);
    for b in [
        "owns 2 buyers",
        "is the dealer trade contact",
        "manages 1 user",
    ] {
        assert!(text.contains(b), "{b} missing from: {text}");
    }
    assert_eq!(
        d.fails(1, &["delete", BOB, "--confirm", "confirm"])["code"],
        "confirmation_required"
    );
    assert_eq!(d.fails(2, &["delete", BOB])["code"], "usage");

    let doc = d.json(&["deactivate", BOB]);
    assert_eq!(doc["command"], "deactivate_user");
    assert_eq!(d.fails(1, &["deactivate", BOB])["code"], "invalid_state");
    assert_eq!(
        d.fails(1, &["--as", BOB, "deactivate", ANN])["code"],
        "forbidden"
    );
    d.ok(&["reactivate", BOB]);
    assert_eq!(d.json(&["user", "show", BOB])["status"], "active");
    let doc = d.json(&["delete", BOB, "--confirm", "CONFIRM"]);
    assert_eq!(doc["command"], "delete_user");
    assert_eq!(d.fails(1, &["reactivate", BOB])["code"], "invalid_state");
    assert_eq!(
        d.fails(1, &["delete", BOB, "--confirm", "CONFIRM"])["code"],
        "not_found"
    );
    // The email is free again.
    d.ok(&[
        "user", "add", "--email", BOB, "--first", "Bob", "--last", "Two",
    ]);
    // The owner can be neither deactivated nor deleted.
    assert_eq!(
        d.fails(1, &["--as", SAM, "deactivate", OWNER])["code"],
        "forbidden"
    );
}

#[test]
fn an_admin_acts_on_behalf_of_a_deactivated_user() {
    let d = acme_with_buyers(2);
    d.ok(&[
        "user",
        "add",
        "--email",
        "jo@acme.example",
        "--first",
        "Jo",
        "--last",
        "Park",
        "--role",
        "admin",
    ]);
    d.ok(&["deactivate", PAT]);
    let doc = d.json(&[
        "--as",
        "jo@acme.example",
        "--on-behalf-of",
        PAT,
        "transfer",
        PAT,
        "--resource",
        "buyer:B-1",
        "--to",
        ANN,
    ]);
    let e = &doc["envelopes"][0];
    assert_eq!(e["event_type"], "ResourcesTransferred");
    assert_eq!(e["on_behalf_of"], d.json(&["user", "show", PAT])["id"]);
    assert_eq!(e["actor"]["kind"], "user");
    assert_eq!(
        d.fails(
            1,
            &[
                "--on-behalf-of",
                ANN,
                "transfer",
                ANN,
                "--kind",
                "buyer",
                "--to",
                BOB
            ]
        )["code"],
        "invalid_input"
    );
}
