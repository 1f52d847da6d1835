//! `duty`, `distribution`, `label` and `credits`.

use crate::util::*;

#[test]
fn duties_are_assigned_and_listed() {
    let d = acme();
    let doc = d.json(&["duty", "assign", "dealer_trade_contact", PAT, "--new"]);
    assert_eq!(doc["command"], "assign_duty");
    d.ok(&["duty", "assign", "billing_contact", ANN, "--new"]);
    let list = d.json(&["duty", "list"]);
    assert_eq!(list["duties"].as_array().unwrap().len(), 2);
    let text = d.ok(&["duty", "assign", "dealer_trade_contact", BOB]);
    assert!(
        text.contains("is now the dealer trade contact (was pat@acme.example)"),
        "{text}"
    );
    assert_eq!(
        d.fails(1, &["duty", "assign", "Dealer Trade", BOB, "--new"])["code"],
        "invalid_input"
    );
    assert!(d.ok(&["duty", "list"]).contains("billing_contact"));
}

#[test]
fn a_duty_name_no_duty_has_takes_new() {
    // Given a billing contact,
    let d = acme();
    d.ok(&["duty", "assign", "billing_contact", ANN, "--new"]);
    let before = last_position(&d);
    // when a typo of it is assigned without --new, then it is refused, naming the
    // duties there are, and nothing is written;
    let e = d.fails(1, &["duty", "assign", "biling_contact", BOB]);
    assert_eq!(e["code"], "not_found");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("there are billing_contact"), "{message}");
    assert!(message.contains("--new"), "{message}");
    assert_eq!(last_position(&d), before);
    // and the existing duty changes hands without it.
    d.ok(&["duty", "assign", "billing_contact", BOB]);
    assert_eq!(last_position(&d), before + 1);
}

#[test]
fn distributions_with_members_backup_and_rebalance() {
    let d = acme();
    let doc = d.json(&[
        "distribution",
        "add",
        "Website form",
        "--kind",
        "automation",
        "--member",
        &format!("{PAT}=2"),
        "--member",
        &format!("{ANN}=1,{BOB}=1"),
        "--backup",
        SAM,
    ]);
    assert_eq!(doc["command"], "create_distribution");
    assert_eq!(
        doc["envelopes"][0]["data"]["members"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let list = d.json(&["distribution", "list"]);
    let dist = &list["distributions"][0];
    assert_eq!(dist["kind"], "automation");
    assert_eq!(dist["backup_email"], SAM);
    assert_eq!(dist["members"][0]["weight"], 2);
    d.ok(&[
        "distribution",
        "members",
        "Website form",
        "--member",
        &format!("{ANN}=2,{BOB}=2"),
    ]);
    let e = d.fails(
        1,
        &[
            "distribution",
            "members",
            "Website form",
            "--member",
            &format!("{ANN}=1"),
        ],
    );
    assert_eq!(e["code"], "invalid_input", "the total must stay the same");
    d.ok(&["distribution", "backup", "Website form", "none"]);
    assert!(d.json(&["distribution", "list"])["distributions"][0]["backup"].is_null());
    assert_eq!(
        d.fails(
            1,
            &[
                "distribution",
                "add",
                "X",
                "--kind",
                "rotation",
                "--member",
                "pat"
            ]
        )["code"],
        "invalid_input"
    );
    assert_eq!(
        d.fails(
            2,
            &[
                "distribution",
                "add",
                "X",
                "--kind",
                "carousel",
                "--member",
                &format!("{PAT}=1")
            ]
        )["code"],
        "usage"
    );
    assert_eq!(
        d.fails(1, &["distribution", "backup", "Nope", BOB])["code"],
        "not_found"
    );
    assert!(d
        .ok(&["distribution", "list"])
        .contains("workflow automation"));
}

#[test]
fn labels_are_created_and_listed() {
    let d = acme();
    let doc = d.json(&[
        "label",
        "add",
        "Hot leads",
        "--member",
        &format!("{PAT},{ANN}"),
    ]);
    assert_eq!(doc["command"], "create_label");
    let list = d.json(&["label", "list"]);
    assert_eq!(list["labels"][0]["members"].as_array().unwrap().len(), 2);
    assert!(d.ok(&["label", "list"]).contains("Hot leads"));
    assert_eq!(
        d.fails(1, &["label", "add", "Hot leads"])["code"],
        "already_exists"
    );
}

#[test]
fn credits_grant_use_transfer_and_show() {
    let d = acme();
    assert_eq!(
        d.fails(1, &["credits", "grant", PAT, "10"])["code"],
        "insufficient_credits"
    );
    d.ok(&["credits", "add", "100"]);
    let doc = d.json(&["credits", "grant", PAT, "50"]);
    assert_eq!(doc["command"], "grant_credits");
    d.ok(&["credits", "use", PAT, "5"]);
    d.ok(&["credits", "transfer", PAT, ANN, "10"]);
    d.ok(&["credits", "transfer", PAT, "pool", "35"]);
    d.ok(&["credits", "transfer", "pool", BOB, "1"]);
    let show = d.json(&["credits", "show"]);
    assert_eq!(show["pool"], 84);
    let users = show["users"].as_array().unwrap();
    let pat = users.iter().find(|u| u["email"] == PAT).unwrap();
    assert_eq!(
        (pat["balance"].as_u64(), pat["used"].as_u64()),
        (Some(0), Some(5))
    );
    assert_eq!(
        d.fails(1, &["credits", "use", PAT, "1"])["code"],
        "insufficient_credits"
    );
    assert_eq!(d.fails(2, &["credits", "use", PAT, "-1"])["code"], "usage");
    assert!(d.ok(&["credits", "show"]).contains("Pool: 84 credits."));
}
