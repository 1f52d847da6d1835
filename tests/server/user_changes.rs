//! `POST /v1/users/changes` (`apply_user_changes`, issue 17): a directory's changes to
//! users decided together — a change may name a user an earlier one invites — and
//! written together under one correlation id, or refused whole with nothing written.

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
