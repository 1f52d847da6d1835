//! `schedule`, `schedule list|show|move|cancel` and `run-due` on the real binary (R28),
//! `serve` running due schedules at start-up and on time, and the deactivation handover
//! (R26) as `deactivate`, `plan`, `duty list` and
//! `distribution list` show it.

use serde_json::json;

use crate::util::*;

/// An RFC 3339 time `secs` seconds from now, with an offset.
fn in_secs(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .to_rfc3339()
}

#[test]
fn a_schedule_runs_once_through_run_due_and_shows_in_the_list() {
    let d = acme_with_buyers(2);
    let plan = d.write("plan.json", &format!(r#"{{"default_to": "{ANN}"}}"#));
    let doc = d.json(&[
        "schedule",
        PAT,
        "--at",
        &in_secs(2),
        "--plan",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(doc["command"], "schedule_offboarding");
    let id = doc["envelopes"][0]["data"]["schedule_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Before its time: nothing runs.
    let early = d.json(&["run-due"]);
    assert_eq!(early["runs"], json!([]));
    let list = d.json(&["schedule", "list"]);
    assert_eq!(list["schedules"][0]["status"], "pending");
    assert_eq!(list["schedules"][0]["email"], PAT);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // When due: it runs, under the schedule id as its command id.
    let ran = d.json(&["run-due"]);
    assert_eq!(ran["runs"][0]["outcome"], "completed", "{ran}");
    assert_eq!(ran["runs"][0]["command_id"], id.as_str());
    assert_eq!(d.json(&["run-due"])["runs"], json!([]));
    let shown = d.json(&["schedule", "show", &id[..8]]);
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["next_run"], json!(null));
    let pat = d.json(&["user", "show", PAT]);
    assert_eq!(pat["status"], "deactivated");
    let text = d.ok(&["schedule", "list"]);
    assert!(text.contains("completed") && text.contains(PAT), "{text}");
    // The plan shows the user's schedules.
    let plan = d.json(&["plan", PAT]);
    assert_eq!(plan["schedules"][0]["id"], id.as_str());
    assert_eq!(plan["schedules"][0]["status"], "completed");
}

#[test]
fn a_stale_plan_still_deactivates_and_the_failure_shows_in_plan_and_list() {
    let d = acme_with_buyers(1);
    let plan = d.write("plan.json", &format!(r#"{{"default_to": "{ANN}"}}"#));
    d.ok(&[
        "schedule",
        PAT,
        "--at",
        &in_secs(2),
        "--plan",
        plan.to_str().unwrap(),
    ]);
    // The recipient leaves before the day.
    d.ok(&["deactivate", ANN]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let ran = d.json(&["run-due"]);
    assert_eq!(ran["runs"][0]["outcome"], "failed", "{ran}");
    assert_eq!(d.json(&["user", "show", PAT])["status"], "deactivated");
    let list = d.json(&["schedule", "list"]);
    let failure = &list["schedules"][0]["failure"];
    assert_eq!(failure["code"], "invalid_input");
    assert_eq!(failure["deactivated"], true);
    let text = d.ok(&["plan", PAT]);
    assert!(text.contains("failed") && text.contains(ANN), "{text}");
    let history = d.ok(&["history", "--user", PAT]);
    assert!(history.contains("ScheduleFailed"), "{history}");
}

#[test]
fn move_and_cancel_by_prefix_and_bad_times_are_refused() {
    let d = acme();
    // A wall time without an offset, or a past one: invalid_input, nothing written.
    let before = last_position(&d);
    let e = d.fails(1, &["schedule", PAT, "--at", "2030-01-01T09:00:00"]);
    assert_eq!(e["code"], "invalid_input");
    let e = d.fails(1, &["schedule", PAT, "--at", "2020-01-01"]);
    assert_eq!(e["code"], "invalid_input");
    let e = d.fails(
        1,
        &["schedule", PAT, "--at", "2030-01-01", "--then", "delete"],
    );
    assert_eq!(e["code"], "confirmation_required");
    assert_eq!(last_position(&d), before);
    // A date in the org's time zone.
    d.ok(&["policy", "--time-zone", "Europe/Berlin"]);
    let doc = d.json(&["schedule", PAT, "--at", "2030-07-01"]);
    let data = &doc["envelopes"][0]["data"];
    assert_eq!(data["at"], "2030-06-30T22:00:00Z");
    let id = data["schedule_id"].as_str().unwrap().to_owned();
    d.ok(&["schedule", "move", &id[..8], "--at", "2030-08-01T09:00:00Z"]);
    assert_eq!(
        d.json(&["schedule", "show", &id])["at"],
        "2030-08-01T09:00:00Z"
    );
    d.ok(&["schedule", "cancel", &id]);
    assert_eq!(d.json(&["schedule", "show", &id])["status"], "cancelled");
    let e = d.fails(1, &["schedule", "cancel", &id]);
    assert_eq!(e["code"], "invalid_state");
    // `schedule` alone is a usage error.
    d.fails_human(2, &["schedule"]);
}

#[test]
fn deactivate_says_what_it_leaves_with_nobody_and_lists_mark_it() {
    let d = acme();
    d.ok(&[
        "distribution",
        "add",
        "Website leads",
        "--kind",
        "rotation",
        "--member",
        &format!("{PAT}=1"),
    ]);
    d.ok(&["duty", "assign", "default_lead_owner", PAT, "--new"]);
    let plan = d.json(&["plan", PAT]);
    let codes: Vec<&str> = plan["unattended"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["sole_member", "holds_duty"]);
    let text = d.ok(&["deactivate", PAT]);
    assert!(
        text.contains("leaves work with nobody") && text.contains("default lead owner"),
        "{text}"
    );
    assert!(d.ok(&["duty", "list"]).contains("[deactivated]"));
    assert!(d
        .ok(&["distribution", "list"])
        .contains("[deactivated: no new work]"));
    let duties = d.json(&["duty", "list"]);
    assert_eq!(duties["duties"][0]["holder_status"], "deactivated");
    // Under `block` the same deactivation is refused with every place.
    d.ok(&["reactivate", PAT]);
    d.ok(&["policy", "--deactivate-handover", "block"]);
    let e = d.fails(1, &["deactivate", PAT]);
    assert_eq!(e["code"], "sole_member");
    assert_eq!(e["blockers"].as_array().unwrap().len(), 2);
}

#[test]
fn serve_runs_a_schedule_missed_while_it_was_down_at_start_up_and_new_ones_on_time() {
    let d = acme_with_buyers(1);
    let owner = token(&d, OWNER);
    // Given: pat's deactivation was due while no server ran.
    d.ok(&["schedule", PAT, "--at", &in_secs(1)]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // When: the server starts. Then: it runs the missed schedule at once.
    let server = Server::start(&d);
    let client = server.client(&d, &owner);
    let until = |email: &str, status: &str| {
        let started = std::time::Instant::now();
        loop {
            let list = client.json(&["schedule", "list"]);
            let found = list["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["email"] == email && s["status"] == status);
            if found {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{email} never {status}: {list}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    until(PAT, "completed");
    assert_eq!(client.json(&["user", "show", PAT])["status"], "deactivated");
    // And: a schedule made through the API runs when its time comes.
    client.ok(&["schedule", BOB, "--at", &in_secs(2)]);
    until(BOB, "pending");
    until(BOB, "completed");
    assert_eq!(client.json(&["user", "show", BOB])["status"], "deactivated");
    assert_eq!(server.terminate(), Some(0));
}
