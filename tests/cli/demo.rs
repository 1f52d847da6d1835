//! `demo`: runs on a fresh directory, plays every story, and its key facts hold.

use crate::util::*;

#[test]
fn the_demo_plays_every_story_and_the_log_verifies() {
    let d = Dir::new();
    let doc = d.json(&["demo"]);
    assert_eq!(doc["ok"], true);
    let facts = &doc["facts"];
    assert_eq!(facts["organizations"], 5);
    assert_eq!(facts["buyer"], "buyer:B-1003");
    assert_eq!(
        facts["buyer_owners"],
        serde_json::json!([
            "pat@truckpros.example",
            "ann@truckpros.example",
            "bob@truckpros.example",
            "ann@truckpros.example"
        ]),
        "transferred to Ann, moved to Bob by the accidental delete, returned by the restore"
    );
    let stories = doc["stories"].as_array().unwrap();
    assert_eq!(stories.len(), 7);
    let steps = |i: usize| stories[i]["steps"].as_array().unwrap().clone();

    // Story 1: ten buyers shared by two colleagues; the delete refused with both blockers.
    let transfer = steps(0)
        .into_iter()
        .find(|s| {
            s["command"]
                .as_str()
                .unwrap()
                .contains("transfer-all-buyers")
        })
        .unwrap();
    assert_eq!(transfer["output"]["message"], "Moved 10 buyers from pat@truckpros.example to ann@truckpros.example (5) and bob@truckpros.example (5).");
    let refused = steps(0).into_iter().find(|s| s["ok"] == false).unwrap();
    let codes: Vec<&str> = refused["error"]["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["holds_duty", "distribution_backup"]);
    // Story 2: demotion required, then the account transferred and deleted.
    assert!(steps(1)
        .iter()
        .any(|s| s["error"]["code"] == "demotion_required"));
    assert!(steps(1)
        .iter()
        .any(|s| s["output"]["command"] == "transfer_account"));
    // Story 3: billed seats drop after the delete.
    let seats: Vec<u64> = steps(2)
        .iter()
        .filter(|s| s["command"].as_str().unwrap().ends_with(" orgs"))
        .map(|s| {
            s["output"]["orgs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["name"] == "Harbor Mortgage")
                .unwrap()["billed_seats"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seats, [4, 3]);
    // Story 4: the guided walk typed CONFIRM and rebalanced the automation.
    let guided = steps(3)
        .into_iter()
        .find(|s| s.get("transcript").is_some())
        .unwrap();
    let transcript: Vec<&str> = guided["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(transcript
        .iter()
        .any(|l| l.contains("Type CONFIRM") && l.ends_with("CONFIRM")));
    assert!(transcript.iter().any(|l| l
        .contains("suggested without them: kai@dialwave.example (2), lina@dialwave.example (2)")));
    assert_eq!(guided["output"]["command"], "offboard");
    // Story 5: credits to the pool before deactivation.
    assert!(steps(4)
        .iter()
        .any(|s| s["error"]["code"] == "credits_balance"));
    assert!(steps(4).iter().any(|s| s["output"]["pool"] == 90));
    // Story 6: support restored Ann with her buyers back.
    let restore = steps(5)
        .into_iter()
        .find(|s| s["command"].as_str().unwrap().contains("restore"))
        .unwrap();
    assert_eq!(restore["output"]["command"], "restore_user");
    assert!(restore["command"]
        .as_str()
        .unwrap()
        .contains("--as support:casey"));
    let reverted = restore["output"]["envelopes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(reverted["event_type"], "OffboardingReverted");
    assert_eq!(reverted["data"]["skipped"], serde_json::json!([]));
    // Story 7: the verify step agrees with the facts.
    let verify = steps(6)
        .into_iter()
        .find(|s| s["command"].as_str().unwrap().ends_with("verify"))
        .unwrap();
    assert_eq!(verify["output"]["events"], facts["events"]);

    // The directory holds what the demo did: it can be explored afterwards.
    assert_eq!(doc["data_dir"], d.data().display().to_string());
    let owner = d.json(&["--org", "Truck Pros", "owner", "buyer:B-1003"]);
    assert_eq!(owner["owner_email"], "ann@truckpros.example");
}

#[test]
fn the_demo_narrates_in_plain_words_and_refuses_a_used_directory() {
    let d = Dir::new();
    let text = d.ok(&["demo"]);
    for expected in [
        "Story 1 of 7",
        "Restored ann@truckpros.example as active.",
        "Transfer All Buyers",
        "blocked because the user:",
        "Step 6 of 6",
        "Type CONFIRM to delete alex@dialwave.example: CONFIRM",
        "Moved 40 credits from casey@prospect.example to the pool.",
        "Log intact:",
    ] {
        assert!(text.contains(expected), "{expected:?} missing");
    }
    assert_eq!(d.fails(1, &["demo"])["code"], "invalid_input");
}
