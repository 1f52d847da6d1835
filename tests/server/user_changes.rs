//! `POST /v1/users/changes` (`apply_user_changes`, issue 17): a directory's changes to
//! users decided together — a change may name a user an earlier one invites — and
//! written together under one correlation id, or refused whole with nothing written;
//! and `POST /v1/users/import`, a directory export planned and sent as that command.

use serde_json::json;

use super::support::*;

#[tokio::test]
async fn an_import_over_the_api_is_one_command_with_one_correlation_id() {
    // Given: Sam, a manager.
    let w = world().await;
    w.hire("sam@truckpros.example", "manager").await;
    // When: Neo is invited, renamed and given Sam as manager in one request.
    let body = json!({"changes": [
        {"type": "invite_user", "email": "neo@truckpros.example", "first_name": "Neo", "last_name": "Ward"},
        {"type": "update_profile", "user": "neo@truckpros.example", "job_title": "Buyer"},
        {"type": "set_manager", "user": "neo@truckpros.example", "manager": "sam@truckpros.example"}
    ]});
    let done = w.post(&w.owner_token, "/v1/users/changes", body).await.ok();
    // Then: every event landed under the one correlation id the answer gives.
    assert_eq!(
        done["events"], 4,
        "invited, activated, profile, manager: {done}"
    );
    let correlation = done["correlation_id"].as_str().unwrap();
    let history = w
        .get(
            &w.owner_token,
            &format!("/v1/correlations/{correlation}/history"),
        )
        .await
        .ok();
    assert_eq!(history["events"].as_array().unwrap().len(), 4, "{history}");
    let neo = w
        .get(&w.owner_token, "/v1/users/neo@truckpros.example")
        .await
        .ok();
    assert_eq!(neo["job_title"], "Buyer");
    assert_eq!(neo["manager_email"], "sam@truckpros.example");
}

#[tokio::test]
async fn a_request_whose_third_change_is_refused_writes_nothing() {
    // Given: Sam, a manager.
    let w = world().await;
    w.hire("sam@truckpros.example", "manager").await;
    let position = w.engine.last_position();
    let users = w.get(&w.owner_token, "/v1/users").await.ok();
    // When: the third change takes Sam's email for Neo.
    let body = json!({"changes": [
        {"type": "invite_user", "email": "neo@truckpros.example", "first_name": "Neo", "last_name": "Ward"},
        {"type": "update_profile", "user": "sam@truckpros.example", "job_title": "Lead"},
        {"type": "update_profile", "user": "neo@truckpros.example", "email": "sam@truckpros.example"}
    ]});
    let refused = w.post(&w.owner_token, "/v1/users/changes", body).await;
    // Then: refused with the domain's code, and nothing written.
    refused.error(409, "email_taken");
    assert_eq!(w.engine.last_position(), position, "no event appended");
    assert_eq!(w.get(&w.owner_token, "/v1/users").await.ok(), users);
}

#[tokio::test]
async fn an_import_over_the_api_answers_as_the_cli_and_a_refusal_writes_nothing() {
    // Given: Sam, a manager.
    let w = world().await;
    w.hire("sam@truckpros.example", "manager").await;
    // When: a JSON array of rows invites Neo (managed by Sam) and retitles Sam.
    let rows = json!([
        {"email": "neo@truckpros.example", "first": "Neo", "last": "Ward", "manager": "sam@truckpros.example"},
        {"email": "sam@truckpros.example", "title": "Lead"}
    ]);
    let done = w
        .post(&w.owner_token, "/v1/users/import", rows.clone())
        .await
        .ok();
    // Then: the CLI's `--json` document, and every change landed.
    assert_eq!(done["command"], "import_users", "{done}");
    assert_eq!(
        (&done["ok"], &done["dry_run"], &done["rows"]),
        (&json!(true), &json!(false), &json!(2))
    );
    assert_eq!(
        done["changes"],
        json!({"invite": 1, "update_profile": 1, "set_manager": 1})
    );
    assert_eq!(done["events"], 4, "invited, activated, profile, manager");
    let neo = w
        .get(&w.owner_token, "/v1/users/neo@truckpros.example")
        .await
        .ok();
    assert_eq!(neo["manager_email"], "sam@truckpros.example");
    // And: the same rows again write nothing.
    let again = w.post(&w.owner_token, "/v1/users/import", rows).await.ok();
    assert_eq!(again["events"], 0);

    // Given: JSON lines whose third change takes Neo's email as Sam's user name.
    let position = w.engine.last_position();
    let users = w.get(&w.owner_token, "/v1/users").await.ok();
    let lines = "{\"email\":\"ivy@truckpros.example\",\"first\":\"Ivy\",\"last\":\"Ng\"}\n\
                 {\"email\":\"neo@truckpros.example\",\"title\":\"Buyer\"}\n\
                 {\"email\":\"sam@truckpros.example\",\"user_name\":\"neo@truckpros.example\"}\n";
    // When: it is imported.
    let refused = w
        .send("POST", "/v1/users/import", Some(&w.owner_token), None, &[])
        .await;
    assert_eq!(
        refused.status.as_u16(),
        422,
        "an empty body: {}",
        refused.text
    );
    let body = Some(lines.to_owned());
    let refused = send(
        &w.app,
        "POST",
        "/v1/users/import",
        Some(&w.owner_token),
        body,
        &[],
    )
    .await;
    // Then: refused with the domain's code, nothing written.
    refused.error(409, "user_name_taken");
    assert_eq!(w.engine.last_position(), position, "no event appended");
    assert_eq!(w.get(&w.owner_token, "/v1/users").await.ok(), users);
}

#[tokio::test]
async fn each_change_keeps_its_own_authority_a_provisioner_may_not_touch_the_owner() {
    // Given: a provisioner serving the org.
    let w = world().await;
    let register = offboard::domain::Command::RegisterPrincipal {
        kind: offboard_events::PrincipalKind::Provisioner,
        name: "okta".into(),
    };
    as_user(&w.engine, w.org, w.owner, register).await;
    let okta = w.token_for("provisioner:okta").await;
    let position = w.engine.last_position();
    // When: it sends an invitation it may make, then a change of the owner's profile.
    let body = json!({"changes": [
        {"type": "invite_user", "email": "neo@truckpros.example", "first_name": "Neo", "last_name": "Ward"},
        {"type": "update_profile", "user": w.owner.to_string(), "job_title": "Taken over"}
    ]});
    let refused = w.post(&okta, "/v1/users/changes", body).await;
    // Then: forbidden as the second change alone would be, and the invitation is not
    // written either.
    let error = refused.error(403, "forbidden");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("change 2 of 2 (update_profile)"),
        "{message}"
    );
    assert_eq!(w.engine.last_position(), position, "no event appended");
}

#[tokio::test]
async fn an_import_resent_under_its_idempotency_key_answers_duplicate_with_the_first_positions() {
    // Given: an import written under Idempotency-Key "hr-sync-7".
    let w = world().await;
    let rows = json!([
        {"email": "neo@truckpros.example", "first": "Neo", "last": "Ward"},
        {"email": "ivy@truckpros.example", "first": "Ivy", "last": "Ng"}
    ]);
    const KEY: &[(&str, &str)] = &[("idempotency-key", "hr-sync-7")];
    let import = |headers: &'static [(&'static str, &'static str)]| {
        let (w, rows) = (&w, rows.clone());
        async move {
            w.send(
                "POST",
                "/v1/users/import",
                Some(&w.owner_token),
                Some(rows),
                headers,
            )
            .await
            .ok()
        }
    };
    let first = import(KEY).await;
    assert_eq!(first["duplicate"], false, "{first}");
    let position = w.engine.last_position();
    // When: the same request is sent again under the same key.
    let again = import(KEY).await;
    // Then: the first request's answer, marked a duplicate, and nothing new written.
    assert_eq!(again["duplicate"], true, "{again}");
    for field in ["positions", "correlation_id", "events"] {
        assert_eq!(again[field], first[field], "{field}: {again}");
    }
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{again}"
    );
    assert_eq!(w.engine.last_position(), position);
    // And: under no key, the directory already agrees: nothing to change.
    let unkeyed = import(&[]).await;
    assert_eq!(
        (
            &unkeyed["duplicate"],
            &unkeyed["positions"],
            &unkeyed["events"]
        ),
        (&json!(false), &json!(null), &json!(0)),
        "{unkeyed}"
    );
}
