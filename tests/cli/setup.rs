//! `init`, `policy`, `principal`, `orgs`, `transfer-org`, and how `--org` and `--as`
//! are resolved.

use crate::util::*;

#[test]
fn init_creates_the_org_and_its_active_owner() {
    let d = Dir::new();
    let doc = d.json(&[
        "init",
        "--org",
        "Acme",
        "--owner-email",
        OWNER,
        "--owner-first",
        "Dana",
        "--owner-last",
        "Reyes",
        "--owner-title",
        "CEO",
    ]);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["command"], "create_organization");
    assert!(doc["org_id"].is_string() && doc["owner_id"].is_string());
    assert_eq!(doc["positions"], serde_json::json!({"first": 1, "last": 3}));
    assert_eq!(doc["events"], 3);
    let types: Vec<&str> = doc["envelopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["OrganizationCreated", "UserInvited", "UserActivated"]
    );
    assert_eq!(doc["envelopes"][0]["actor"]["kind"], "system");
    let users = d.json(&["user", "list"]);
    assert_eq!(users["users"][0]["role"], "owner");
    assert_eq!(users["users"][0]["status"], "active");
    assert_eq!(users["users"][0]["job_title"], "CEO");
    // The same name again is refused.
    let e = d.fails(
        1,
        &[
            "init",
            "--org",
            "acme",
            "--owner-email",
            "x@y.example",
            "--owner-first",
            "X",
            "--owner-last",
            "Y",
        ],
    );
    assert_eq!(e["code"], "already_exists");
    // Human output names the directory.
    let d2 = Dir::new();
    let text = d2.ok(&[
        "init",
        "--org",
        "Beta",
        "--owner-email",
        OWNER,
        "--owner-first",
        "Dana",
        "--owner-last",
        "Reyes",
    ]);
    assert!(text.contains("Created organization \"Beta\""), "{text}");
}

#[test]
fn init_without_a_name_is_a_usage_error() {
    let d = Dir::new();
    let e = d.fails(
        2,
        &[
            "init",
            "--owner-email",
            OWNER,
            "--owner-first",
            "D",
            "--owner-last",
            "R",
        ],
    );
    assert_eq!(e["code"], "usage");
}

#[test]
fn an_empty_directory_has_no_org_and_several_orgs_need_org() {
    let d = Dir::new();
    let e = d.fails(1, &["user", "list"]);
    assert_eq!(e["code"], "not_found");
    d.ok(&[
        "init",
        "--org",
        "Acme",
        "--owner-email",
        OWNER,
        "--owner-first",
        "D",
        "--owner-last",
        "R",
    ]);
    d.ok(&[
        "init",
        "--org",
        "Beta Corp",
        "--owner-email",
        OWNER,
        "--owner-first",
        "D",
        "--owner-last",
        "R",
    ]);
    let e = d.fails(2, &["user", "list"]);
    assert_eq!(e["code"], "usage");
    let m = e["message"].as_str().unwrap();
    assert!(m.contains("\"Acme\"") && m.contains("\"Beta Corp\""), "{m}");
    assert_eq!(
        d.fails(1, &["--org", "Gamma", "user", "list"])["code"],
        "not_found"
    );
    // By name (any case) or by id.
    assert_eq!(
        d.json(&["--org", "beta corp", "user", "list"])["users"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let orgs = d.json(&["orgs"]);
    assert_eq!(orgs["orgs"].as_array().unwrap().len(), 2);
    let id = orgs["orgs"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        d.json(&["--org", &id, "policy"])["policy"]["confirmation_phrase"],
        "CONFIRM"
    );
    assert!(d.ok(&["orgs"]).contains("Beta Corp"));
}

#[test]
fn policy_shows_and_changes_only_the_fields_given() {
    let d = acme();
    let p = d.json(&["policy"]);
    assert_eq!(p["policy"]["retention_days"], 30);
    assert!(d.ok(&["policy"]).contains("confirmation_phrase"));
    let doc = d.json(&[
        "policy",
        "--confirmation-phrase",
        "DELETE",
        "--retention-days",
        "14",
    ]);
    assert_eq!(doc["command"], "set_policy");
    assert_eq!(doc["policy"]["confirmation_phrase"], "DELETE");
    assert_eq!(doc["policy"]["deactivate_requires_demotion"], true);
    assert_eq!(d.json(&["policy"])["policy"]["retention_days"], 14);
    // Only the owner sets policy.
    let e = d.fails(1, &["--as", SAM, "policy", "--retention-days", "7"]);
    assert_eq!(e["code"], "forbidden");
    // The new phrase is the one a delete needs.
    assert_eq!(
        d.fails(1, &["delete", BOB, "--confirm", "CONFIRM"])["code"],
        "confirmation_required"
    );
    d.ok(&["delete", BOB, "--confirm", "DELETE"]);
}

#[test]
fn principals_serve_the_org_and_act_as_themselves() {
    let d = acme();
    let doc = d.json(&["principal", "add", "support", "sue"]);
    assert_eq!(doc["command"], "register_principal");
    d.ok(&["principal", "add", "auditor", "audra"]);
    let list = d.json(&["principal", "list"]);
    assert_eq!(list["principals"].as_array().unwrap().len(), 2);
    assert!(d.ok(&["principal", "list"]).contains("auditor:audra"));
    assert_eq!(
        d.fails(1, &["principal", "add", "support", "sue"])["code"],
        "already_exists"
    );
    // An auditor is read-only; support may not offboard.
    assert_eq!(
        d.fails(1, &["--as", "auditor:audra", "deactivate", PAT])["code"],
        "forbidden"
    );
    assert_eq!(
        d.fails(1, &["--as", "support:sue", "deactivate", PAT])["code"],
        "forbidden"
    );
    // OFFBOARD_ACTOR is --as from the environment.
    let out = d
        .command()
        .env("OFFBOARD_ACTOR", "auditor:audra")
        .args(["--json", "deactivate", PAT])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn transfer_org_hands_the_org_to_another_user() {
    let d = acme();
    let doc = d.json(&["transfer-org", ANN]);
    assert_eq!(doc["command"], "transfer_org_ownership");
    let ann = d.json(&["user", "show", ANN]);
    assert_eq!(ann["role"], "owner");
    assert_eq!(d.json(&["user", "show", OWNER])["role"], "admin");
    // Without --as, commands now act as the new owner.
    let e = d.fails(1, &["deactivate", ANN]);
    assert_eq!(e["code"], "forbidden");
}
