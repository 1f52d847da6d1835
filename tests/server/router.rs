//! Every endpoint through the router, without a socket: statuses 200, 400, 401, 403,
//! 404 (another org's objects), 409, 413 and 422, and the error shape.

use offboard::server::ServerOptions;
use serde_json::{json, Value};

use super::support::*;

/// Every documented path, with its method.
const ENDPOINTS: &[(&str, &str)] = &[
    ("post", "/v1/org/policy"),
    ("post", "/v1/org/transfer-ownership"),
    ("post", "/v1/org/principals"),
    ("post", "/v1/users"),
    ("post", "/v1/users/{user}/activate"),
    ("post", "/v1/users/{user}/profile"),
    ("post", "/v1/users/{user}/deprovision"),
    ("post", "/v1/users/{user}/role"),
    ("post", "/v1/users/{user}/manager"),
    ("post", "/v1/users/{user}/deactivate"),
    ("post", "/v1/users/{user}/reactivate"),
    ("post", "/v1/users/{user}/delete"),
    ("post", "/v1/users/{user}/restore"),
    ("post", "/v1/users/{user}/purge"),
    ("post", "/v1/users/{user}/resources"),
    ("post", "/v1/resources/retire"),
    ("post", "/v1/resources/sync-batch"),
    ("post", "/v1/users/changes"),
    ("post", "/v1/users/import"),
    ("post", "/v1/resources/sync"),
    ("post", "/v1/users/{user}/transfer-resources"),
    ("post", "/v1/users/{user}/transfer-all"),
    ("post", "/v1/users/{user}/transfer-roles"),
    ("post", "/v1/resources/roles/{role}/declare"),
    ("post", "/v1/resources/roles/{role}/set"),
    ("post", "/v1/resources/roles/{role}/unset"),
    ("post", "/v1/users/{user}/transfer-account"),
    ("post", "/v1/users/{user}/offboard"),
    ("post", "/v1/users/{user}/credits/grant"),
    ("post", "/v1/users/{user}/credits/use"),
    ("post", "/v1/groups"),
    ("post", "/v1/groups/{name}/join"),
    ("post", "/v1/groups/{name}/leave"),
    ("post", "/v1/groups/{name}/update"),
    ("post", "/v1/groups/{name}/delete"),
    ("post", "/v1/duties/{name}/assign"),
    ("post", "/v1/distributions"),
    ("post", "/v1/distributions/{name}/remove-member"),
    ("post", "/v1/distributions/{name}/members"),
    ("post", "/v1/distributions/{name}/backup"),
    ("post", "/v1/labels"),
    ("post", "/v1/labels/{name}/add"),
    ("post", "/v1/labels/{name}/remove"),
    ("post", "/v1/credits/pool"),
    ("post", "/v1/credits/transfer"),
    ("post", "/v1/offboardings/{correlation_id}/revert"),
    ("post", "/v1/purge-expired"),
    ("post", "/v1/users/{user}/schedule"),
    ("post", "/v1/schedules/{id}/move"),
    ("post", "/v1/schedules/{id}/cancel"),
    ("post", "/v1/schedules/{id}/run"),
    ("get", "/v1/whoami"),
    ("get", "/v1/org"),
    ("get", "/v1/users"),
    ("get", "/v1/users/{user}"),
    ("get", "/v1/users/{user}/plan"),
    ("get", "/v1/users/{user}/history"),
    ("get", "/v1/owners"),
    ("get", "/v1/position"),
    ("get", "/v1/duties"),
    ("get", "/v1/distributions"),
    ("get", "/v1/labels"),
    ("get", "/v1/credits"),
    ("get", "/v1/schedules"),
    ("get", "/v1/schedules/{id}"),
    ("get", "/v1/resources/{resource}/owner"),
    ("get", "/v1/resources/{resource}/history"),
    ("get", "/v1/resources/{resource}/events"),
    ("get", "/v1/resources/{resource}/roles"),
    ("get", "/v1/users/{user}/roles"),
    ("get", "/v1/correlations/{correlation_id}/history"),
    ("get", "/v1/history"),
    ("get", "/v1/verify"),
    ("get", "/v1/events"),
    ("get", "/v1/consumers/{name}"),
    ("post", "/v1/consumers/{name}/ack"),
    ("post", "/v1/tokens"),
    ("get", "/v1/tokens"),
    ("post", "/v1/tokens/{id}/revoke"),
    ("post", "/v1/console-links"),
    ("post", "/v1/admin/backup"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/webhooks/{id}"),
    ("delete", "/v1/webhooks/{id}"),
    ("post", "/v1/webhooks/{id}/pause"),
    ("post", "/v1/webhooks/{id}/resume"),
    ("post", "/v1/webhooks/{id}/rotate-secret"),
    ("get", "/v1/webhooks/{id}/deliveries"),
    ("post", "/v1/webhooks/{id}/replay"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_with_its_types_and_needs_no_token() {
    let w = world().await;
    let doc = w
        .send("GET", "/v1/openapi.json", None, None, &[])
        .await
        .ok();
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    for (method, path) in ENDPOINTS {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        if path.contains('{') {
            let params = op["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["in"] == "path"), "{path}");
        }
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, ENDPOINTS.len());
    let schemas = &doc["components"]["schemas"];
    for name in [
        "Envelope",
        "ErrorBody",
        "CommandResult",
        "PlanView",
        "InviteUserRequest",
        "Actor",
    ] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
    // Every command route: an operationId, a summary that cites no rule number, and a
    // named request body.
    let commands = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|p| p.get("post"))
        .filter(|op| op["tags"][0] == "commands");
    let mut ids = std::collections::BTreeSet::new();
    for op in commands {
        let id = op["operationId"].as_str().expect("an operationId");
        assert!(ids.insert(id.to_owned()), "{id} twice");
        let summary = op["summary"].as_str().unwrap();
        assert!(!summary.contains("(R"), "{id}: {summary}");
        let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap();
        assert!(body.ends_with("Request"), "{id}: {body}");
    }
    assert_eq!(ids.len(), 49, "{ids:?}");
    assert!(ids.contains("deactivateUser"));
    let deactivate = &doc["paths"]["/v1/users/{user}/deactivate"]["post"];
    for status in ["200", "401", "403", "404", "409", "413", "422", "503"] {
        assert!(deactivate["responses"][status].is_object(), "{status}");
    }
    let headers: Vec<&str> = deactivate["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(headers.contains(&"Idempotency-Key"), "{headers:?}");
    let events = &doc["paths"]["/v1/events"]["get"]["responses"]["200"]["content"];
    assert!(events["text/event-stream"].is_object());
    assert_eq!(doc["security"][0]["bearer"], json!([]));
}

#[tokio::test]
async fn no_token_a_bad_one_or_a_revoked_one_is_401() {
    let w = world().await;
    w.send("GET", "/v1/users", None, None, &[])
        .await
        .error(401, "unauthorized");
    w.get("ofb_not-a-token", "/v1/users")
        .await
        .error(401, "unauthorized");
    w.send(
        "GET",
        "/v1/users",
        None,
        None,
        &[("authorization", "Basic b2ZmOmJvYXJk")],
    )
    .await
    .error(401, "unauthorized");
    w.send(
        "POST",
        "/v1/credits/pool",
        None,
        Some(json!({"amount": 1})),
        &[],
    )
    .await
    .error(401, "unauthorized");
    let token = w.token_for("auditor:audit-firm").await;
    let me = w.get(&token, "/v1/whoami").await.ok();
    assert_eq!(
        me["principal"],
        json!({"kind": "auditor", "name": "audit-firm"})
    );
    assert_eq!(me["org_name"], "Truck Pros");
    let id = me["token_id"].as_str().unwrap();
    let revoked = w
        .post(&token, &format!("/v1/tokens/{id}/revoke"), json!({}))
        .await
        .ok();
    assert!(revoked["revoked_at"].is_string());
    w.get(&token, "/v1/whoami").await.error(401, "unauthorized");
    // Unknown routes answer in the same shape.
    w.get(&w.owner_token, "/v1/nothing-here")
        .await
        .error(404, "not_found");
}

#[tokio::test]
async fn directory_commands_and_reads_by_id_or_email() {
    let w = world().await;
    let answer = w
        .post(
            &w.owner_token,
            "/v1/users",
            json!({"email": "Ann@TruckPros.example", "first_name": "Ann", "last_name": "Lee",
                   "job_title": "Truck Pro", "active": false}),
        )
        .await;
    let location = answer.location.clone();
    let invited = answer.created();
    assert_eq!(invited["events"], 1);
    assert_eq!(invited["duplicate"], false);
    let ann = invited["user_id"].as_str().unwrap().to_owned();
    assert_eq!(location, Some(format!("/v1/users/{ann}")));
    assert_eq!(
        w.get(&w.owner_token, &location.unwrap()).await.ok()["id"],
        ann
    );
    let user = w
        .get(&w.owner_token, "/v1/users/ann@truckpros.example")
        .await
        .ok();
    assert_eq!(user["id"], ann);
    assert_eq!(user["status"], "invited");
    assert_eq!(user["job_title"], "Truck Pro");
    w.post(
        &w.owner_token,
        "/v1/users/ann@truckpros.example/activate",
        json!({}),
    )
    .await
    .ok();
    let sam = w.hire("sam@truckpros.example", "manager").await;
    w.post(
        &w.owner_token,
        &format!("/v1/users/{ann}/manager"),
        json!({"manager": "sam@truckpros.example"}),
    )
    .await
    .ok();
    w.post(
        &w.owner_token,
        &format!("/v1/users/{sam}/role"),
        json!({"role": "admin"}),
    )
    .await
    .ok();
    let users = w.get(&w.owner_token, "/v1/users").await.ok()["users"].clone();
    let by_email = |email: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"].as_str().unwrap().eq_ignore_ascii_case(email))
            .cloned()
            .unwrap()
    };
    assert_eq!(users.as_array().unwrap().len(), 3);
    assert_eq!(
        by_email("ann@truckpros.example")["manager"],
        sam.to_string()
    );
    assert_eq!(by_email("sam@truckpros.example")["role"], "admin");

    w.post(
        &w.owner_token,
        &format!("/v1/users/{ann}/deactivate"),
        json!({}),
    )
    .await
    .ok();
    let deactivated = w
        .get(&w.owner_token, "/v1/users?status=deactivated")
        .await
        .ok();
    assert_eq!(deactivated["users"][0]["id"], ann);
    w.post(
        &w.owner_token,
        &format!("/v1/users/{ann}/reactivate"),
        json!({}),
    )
    .await
    .ok();

    w.post(
        &w.owner_token,
        "/v1/org/policy",
        json!({"confirmation_phrase": "DELETE", "retention_days": 14}),
    )
    .await
    .ok();
    let org = w.get(&w.owner_token, "/v1/org").await.ok();
    assert_eq!(org["policy"]["confirmation_phrase"], "DELETE");
    assert_eq!(org["policy"]["retention_days"], 14);
    assert_eq!(org["policy"]["deactivate_requires_demotion"], true);
    assert_eq!(org["billed_seats"], 3);
    assert_eq!(org["principals"].as_array().unwrap().len(), 2);

    w.post(
        &w.owner_token,
        "/v1/org/principals",
        json!({"kind": "auditor", "name": "second-firm"}),
    )
    .await
    .ok();
    w.post(
        &w.owner_token,
        "/v1/org/transfer-ownership",
        json!({"to": "sam@truckpros.example"}),
    )
    .await
    .ok();
    let org = w.get(&w.owner_token, "/v1/org").await.ok();
    assert_eq!(org["owner"], sam.to_string());
    // Without `active`, a new user is active at once (as `offboard user add`).
    let zed = w
        .post(
            &w.owner_token,
            "/v1/users",
            json!({"email": "zed@truckpros.example", "first_name": "Zed", "last_name": "Z"}),
        )
        .await
        .created();
    assert_eq!(zed["events"], 2, "invited and activated");
}

#[tokio::test]
async fn not_allowed_is_403_for_members_auditors_and_deactivated_users() {
    let w = world().await;
    let ann = w.hire("ann@truckpros.example", "member").await;
    let bob = w.hire("bob@truckpros.example", "member").await;
    let ann_token = w.token_for("ann@truckpros.example").await;
    // R4: members change nobody.
    let body = w
        .post(
            &ann_token,
            &format!("/v1/users/{bob}/deactivate"),
            json!({}),
        )
        .await
        .error(403, "forbidden");
    assert!(body["error"]["blockers"].as_array().unwrap().is_empty());
    // A member reads the directory but not histories or the stream.
    w.get(&ann_token, "/v1/users").await.ok();
    w.get(&ann_token, &format!("/v1/users/{bob}/history"))
        .await
        .error(403, "forbidden");
    w.get(&ann_token, "/v1/events?follow=false")
        .await
        .error(403, "forbidden");
    w.get(&ann_token, "/v1/tokens")
        .await
        .error(403, "forbidden");
    // R5: auditors read everything and change nothing.
    w.get(&w.auditor_token, &format!("/v1/users/{bob}/history"))
        .await
        .ok();
    w.post(&w.auditor_token, "/v1/credits/pool", json!({"amount": 5}))
        .await
        .error(403, "forbidden");
    w.post(
        &w.support_token,
        &format!("/v1/users/{bob}/deactivate"),
        json!({}),
    )
    .await
    .error(403, "forbidden");
    w.post(
        &w.auditor_token,
        "/v1/tokens",
        json!({"principal": "ann@truckpros.example"}),
    )
    .await
    .error(403, "forbidden");
    // R8: a deactivated user cannot sign in.
    w.post(
        &w.owner_token,
        &format!("/v1/users/{ann}/deactivate"),
        json!({}),
    )
    .await
    .ok();
    w.get(&ann_token, "/v1/users").await.error(403, "forbidden");
    w.post(&ann_token, "/v1/credits/pool", json!({"amount": 5}))
        .await
        .error(403, "forbidden");
}

#[tokio::test]
async fn another_orgs_objects_are_404_never_403() {
    let w = world().await;
    let ann = w.hire("ann@truckpros.example", "member").await;
    w.post(
        &w.owner_token,
        &format!("/v1/users/{ann}/resources"),
        json!({"resources": ["buyer:B-1"]}),
    )
    .await
    .ok();
    let moved = w
        .post(
            &w.owner_token,
            &format!("/v1/users/{}/resources", w.owner),
            json!({"resources": ["buyer:B-2"]}),
        )
        .await
        .ok();
    let correlation = moved["correlation_id"].as_str().unwrap();
    let t = &w.other_token;
    for path in [
        format!("/v1/users/{ann}"),
        format!("/v1/users/{ann}/plan"),
        format!("/v1/users/{ann}/history"),
        "/v1/users/ann@truckpros.example".to_owned(),
        "/v1/resources/buyer:B-1/owner".to_owned(),
        "/v1/resources/buyer:B-1/history".to_owned(),
        format!("/v1/correlations/{correlation}/history"),
        format!("/v1/owners?owner={ann}"),
    ] {
        w.get(t, &path).await.error(404, "not_found");
    }
    for (path, body) in [
        (format!("/v1/users/{ann}/deactivate"), json!({})),
        (
            format!("/v1/users/{ann}/delete"),
            json!({"confirm": "CONFIRM"}),
        ),
        (
            format!("/v1/users/{ann}/credits/grant"),
            json!({"amount": 1}),
        ),
        (
            "/v1/users/ann@truckpros.example/activate".to_owned(),
            json!({}),
        ),
        (
            format!("/v1/users/{}/transfer-resources", w.other_owner),
            json!({"resources": ["buyer:B-1"], "to": ann.to_string()}),
        ),
    ] {
        w.post(t, &path, body).await.error(404, "not_found");
    }
    let my_users = w.get(t, "/v1/users").await.ok();
    assert_eq!(my_users["users"].as_array().unwrap().len(), 1);
    // The other org's stream carries only its own events.
    let answer = w.get(t, "/v1/events?follow=false").await;
    assert_eq!(answer.status, 200);
    for (_, _, e) in sse_events(&answer.text) {
        assert_eq!(e["org_id"], w.other_org.to_string());
    }
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_result_and_another_command_under_it_is_409() {
    let w = world().await;
    let send = |amount: u64, key: &'static str| {
        let w = &w;
        async move {
            w.send(
                "POST",
                "/v1/credits/pool",
                Some(&w.owner_token),
                Some(json!({ "amount": amount })),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let first = send(10, "pool-topup-1").await.ok();
    let again = send(10, "pool-topup-1").await.ok();
    assert_eq!(again["positions"], first["positions"]);
    assert_eq!(again["command_id"], first["command_id"]);
    assert_eq!(again["duplicate"], true);
    send(20, "pool-topup-1").await.error(409, "conflict");
    let org = w.get(&w.owner_token, "/v1/org").await.ok();
    assert_eq!(org["credit_pool"], 10);
    let uuid = "0191d3c0-0000-7000-8000-000000000001";
    let keyed = send(1, uuid).await.ok();
    assert_eq!(keyed["command_id"], uuid);
    // A retry naming by email the user its first attempt deactivated and deleted gets
    // the first answer, though no listed user has that email any more.
    w.hire("del@truckpros.example", "member").await;
    let by_key = |path: &'static str, key: &'static str, body: Value| {
        let w = &w;
        async move {
            w.send(
                "POST",
                path,
                Some(&w.owner_token),
                Some(body),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let deactivate = "/v1/users/del@truckpros.example/deactivate";
    let delete = "/v1/users/del@truckpros.example/delete";
    by_key(deactivate, "del-1", json!({})).await.ok();
    let first = by_key(delete, "del-2", json!({"confirm": "CONFIRM"}))
        .await
        .ok();
    for (path, key, body) in [
        (delete, "del-2", json!({"confirm": "CONFIRM"})),
        (deactivate, "del-1", json!({})),
    ] {
        let again = by_key(path, key, body).await.ok();
        assert_eq!(again["duplicate"], true, "{key}: {again}");
    }
    let again = by_key(delete, "del-2", json!({"confirm": "CONFIRM"}))
        .await
        .ok();
    assert_eq!(again["positions"], first["positions"]);
    // A new command naming that email still finds no one.
    by_key(deactivate, "del-3", json!({}))
        .await
        .error(404, "not_found");
    // Taken names and emails are conflicts too.
    w.hire("ann@truckpros.example", "member").await;
    w.post(
        &w.owner_token,
        "/v1/users",
        json!({"email": "ANN@truckpros.example", "first_name": "A", "last_name": "B"}),
    )
    .await
    .error(409, "email_taken");
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_malformed_requests_400() {
    let w = world_with(ServerOptions {
        body_limit: 1024,
        ..ServerOptions::default()
    })
    .await;
    let huge: Vec<String> = (0..200).map(|i| format!("buyer:B-{i:05}")).collect();
    w.post(
        &w.owner_token,
        &format!("/v1/users/{}/resources", w.owner),
        json!({ "resources": huge }),
    )
    .await
    .error(413, "payload_too_large");
    let bad_json = w
        .send(
            "POST",
            "/v1/credits/pool",
            Some(&w.owner_token),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(bad_json.status, 400, "{}", bad_json.text);
    let raw = send(
        &w.app,
        "POST",
        "/v1/credits/pool",
        Some(&w.owner_token),
        Some("{\"amount\": ".to_owned()),
        &[],
    )
    .await;
    raw.error(400, "invalid_input");
    w.post(
        &w.owner_token,
        "/v1/credits/pool",
        json!({"amount": 1, "extra": true}),
    )
    .await
    .error(400, "invalid_input");
    w.post(
        &w.owner_token,
        &format!("/v1/users/{}/resources", w.owner),
        json!({"resources": ["no separator"]}),
    )
    .await
    .error(400, "invalid_input");
    w.post(
        &w.owner_token,
        "/v1/offboardings/not-a-uuid/revert",
        json!({}),
    )
    .await
    .error(400, "invalid_input");
    w.get(&w.owner_token, "/v1/users/nobody")
        .await
        .error(400, "invalid_input");
    // A command naming a user by text that is neither an id nor an email is malformed
    // (400), wherever it names the user; an email no user has is 404.
    let register = json!({"resources": ["task:t-1"]});
    w.post(
        &w.owner_token,
        "/v1/users/nobody/resources",
        register.clone(),
    )
    .await
    .error(400, "invalid_input");
    w.send(
        "POST",
        &format!("/v1/users/{}/resources", w.owner),
        Some(&w.owner_token),
        Some(register.clone()),
        &[("on-behalf-of", "nobody")],
    )
    .await
    .error(400, "invalid_input");
    w.post(
        &w.owner_token,
        "/v1/users/nobody@nowhere.example/resources",
        register,
    )
    .await
    .error(404, "not_found");
    w.send(
        "POST",
        "/v1/credits/pool",
        Some(&w.owner_token),
        None,
        &[("idempotency-key", "")],
    )
    .await
    .error(400, "invalid_input");
    let text = send(
        &w.app,
        "POST",
        "/v1/credits/pool",
        Some(&w.owner_token),
        Some("{\"amount\": 1}".to_owned()),
        &[("content-type", "text/plain")],
    )
    .await;
    assert_eq!(text.status, 415, "{}", text.text);
}

#[tokio::test]
async fn a_body_repeating_a_key_is_refused_and_writes_nothing() {
    // Given an org and its log's end
    let w = world().await;
    let before = w.engine.last_position();
    // When commands repeat a key, at the top or deeper (a tester saw the last one win:
    // a proxy reading the first would have seen another command than the one stored),
    for body in [
        r#"{"amount": 5, "amount": 6}"#,
        r#"{"amount": 1, "amount": 1}"#,
    ] {
        let answer = send(
            &w.app,
            "POST",
            "/v1/credits/pool",
            Some(&w.owner_token),
            Some(body.to_owned()),
            &[],
        )
        .await;
        // Then each is 400 invalid_input naming the key, and nothing is appended.
        let error = answer.error(400, "invalid_input");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("\"amount\" appears twice"), "{error}");
    }
    let import = send(
        &w.app,
        "POST",
        "/v1/users/import",
        Some(&w.owner_token),
        Some(r#"[{"email": "a@acme.example", "email": "b@acme.example", "first_name": "A", "last_name": "B"}]"#.to_owned()),
        &[],
    )
    .await;
    import.error(400, "invalid_input");
    assert_eq!(w.engine.last_position(), before);
}

/// Seed 000's dealership: pat holds buyers, is backup in a rotation and the dealer-trade
/// contact.
async fn dealership(w: &World) -> (String, String, String) {
    let pat = w.hire("pat@truckpros.example", "member").await.to_string();
    let ann = w.hire("ann@truckpros.example", "member").await.to_string();
    let bob = w.hire("bob@truckpros.example", "member").await.to_string();
    let buyers: Vec<String> = (0..4).map(|i| format!("buyer:B-{i}")).collect();
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/resources"),
        json!({ "resources": buyers }),
    )
    .await
    .ok();
    w.post(
        &w.owner_token,
        "/v1/distributions",
        json!({"name": "North rotation", "kind": "rotation",
               "members": [{"user": ann, "weight": 1}, {"user": "bob@truckpros.example", "weight": 1}],
               "backup": "pat@truckpros.example"}),
    )
    .await
    .ok();
    w.post(
        &w.owner_token,
        "/v1/duties/dealer_trade_contact/assign",
        json!({"to": pat}),
    )
    .await
    .ok();
    (pat, ann, bob)
}

#[tokio::test]
async fn domain_rejections_are_422_with_every_blocker() {
    let w = world().await;
    let (pat, ann, _) = dealership(&w).await;
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/delete"),
        json!({"confirm": "yes"}),
    )
    .await
    .error(422, "confirmation_required");
    let blocked = w
        .post(
            &w.owner_token,
            &format!("/v1/users/{pat}/delete"),
            json!({"confirm": "CONFIRM"}),
        )
        .await
        .error(422, "owns_resources");
    let blockers = blocked["error"]["blockers"].as_array().unwrap();
    let codes: Vec<&str> = blockers
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["owns_resources", "holds_duty", "distribution_backup"]
    );
    assert_eq!(blockers[0]["count"], 4);
    assert_eq!(blockers[0]["subject"], "buyer");
    w.post(
        &w.owner_token,
        &format!("/v1/users/{ann}/deactivate"),
        json!({}),
    )
    .await
    .ok();
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/transfer-all"),
        json!({"kind": "buyer", "to": [ann]}),
    )
    .await
    .error(422, "invalid_input");
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/credits/grant"),
        json!({"amount": 5}),
    )
    .await
    .error(422, "insufficient_credits");
}

#[tokio::test]
async fn transfers_owners_as_of_and_audit_histories() {
    let w = world().await;
    let (pat, ann, bob) = dealership(&w).await;
    let plan = w
        .get(&w.owner_token, &format!("/v1/users/{pat}/plan"))
        .await
        .ok();
    assert_eq!(plan["resources"]["buyer"], 4);
    assert_eq!(plan["duties"], json!(["dealer_trade_contact"]));
    assert_eq!(plan["distributions"][0]["backup"], true);
    assert_eq!(plan["blockers"]["delete"].as_array().unwrap().len(), 3);
    let before = w
        .get(&w.owner_token, "/v1/resources/buyer:B-0/owner")
        .await
        .ok();
    assert_eq!(before["owner"], pat);
    let moved = w
        .post(
            &w.owner_token,
            &format!("/v1/users/{pat}/transfer-all"),
            json!({"kind": "buyer", "to": [ann, "bob@truckpros.example"], "strategy": "round_robin"}),
        )
        .await
        .ok();
    assert_eq!(moved["events"], 3);
    let anns = w
        .get(
            &w.owner_token,
            "/v1/owners?kind=buyer&owner=ann@truckpros.example",
        )
        .await
        .ok();
    let ann_email = "ann@truckpros.example";
    assert_eq!(
        anns,
        json!({"as_of": null, "next": null, "owners": [
            {"resource": "buyer:B-0", "kind": "buyer", "owner": ann, "owner_email": ann_email},
            {"resource": "buyer:B-2", "kind": "buyer", "owner": ann, "owner_email": ann_email},
        ]})
    );
    let now = w
        .get(&w.owner_token, "/v1/resources/buyer:B-1/owner")
        .await
        .ok();
    assert_eq!(now["owner"], bob);
    let then = w
        .get(
            &w.owner_token,
            &format!(
                "/v1/resources/buyer:B-1/owner?position={}",
                before["position"]
            ),
        )
        .await
        .ok();
    assert_eq!(then["owner"], pat);
    let at = w
        .get(
            &w.owner_token,
            "/v1/resources/buyer:B-1/owner?at=2000-01-01T00:00:00Z",
        )
        .await
        .ok();
    assert_eq!(at["owner"], Value::Null);
    let history = w
        .get(&w.auditor_token, "/v1/resources/buyer:B-1/history")
        .await
        .ok();
    let owners: Vec<&str> = history["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners, [pat.as_str(), bob.as_str()]);
    let correlation = moved["correlation_id"].as_str().unwrap();
    let operation = w
        .get(
            &w.auditor_token,
            &format!("/v1/correlations/{correlation}/history"),
        )
        .await
        .ok();
    let types: Vec<&str> = operation["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "OffboardingStarted",
            "ResourcesTransferred",
            "OffboardingCompleted"
        ]
    );
    let pats = w
        .get(&w.support_token, "/v1/users/pat@truckpros.example/history")
        .await
        .ok();
    assert!(pats["events"].as_array().unwrap().len() >= 5);
    let timeline = w
        .get(&w.auditor_token, "/v1/history?since=2000-01-01T00:00:00Z")
        .await
        .ok();
    let all = timeline["events"].as_array().unwrap();
    assert!(all.iter().all(|e| e["org_id"] == w.org.to_string()));
    assert!(all
        .windows(2)
        .all(|p| p[0]["position"].as_u64() < p[1]["position"].as_u64()));
    let nothing = w
        .get(&w.auditor_token, "/v1/history?until=2000-01-01T00:00:00Z")
        .await
        .ok();
    assert_eq!(nothing, json!({"events": [], "next": null}));
    let verified = w.get(&w.auditor_token, "/v1/verify").await.ok();
    assert_eq!(verified["intact"], true);
    assert!(verified["events"].as_u64().unwrap() >= all.len() as u64);
    w.post(
        &w.owner_token,
        &format!("/v1/users/{ann}/transfer-resources"),
        json!({"resources": ["buyer:B-0"], "to": pat}),
    )
    .await
    .ok();
    // Reverting the transfer-all gives back what did not move again (R12).
    let reverted = w
        .post(
            &w.owner_token,
            &format!("/v1/offboardings/{correlation}/revert"),
            json!({}),
        )
        .await
        .ok();
    assert!(reverted["events"].as_u64().unwrap() >= 2);
    let pats = w
        .get(&w.owner_token, &format!("/v1/owners?owner={pat}"))
        .await
        .ok();
    assert_eq!(pats["owners"].as_array().unwrap().len(), 4);
    // As of the position before the transfer-all, Pat owned the four buyers again.
    let then = w
        .get(
            &w.owner_token,
            &format!("/v1/owners?kind=buyer&position={}", before["position"]),
        )
        .await
        .ok();
    assert_eq!(then["as_of"], before["position"]);
    assert_eq!(then["owners"].as_array().unwrap().len(), 4);
    assert!(then["owners"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["owner"] == pat));
    let long_ago = w
        .get(&w.owner_token, "/v1/owners?at=2000-01-01T00:00:00Z")
        .await
        .ok();
    assert_eq!(long_ago, json!({"as_of": 0, "owners": [], "next": null}));
    w.get(
        &w.owner_token,
        "/v1/owners?at=2000-01-01T00:00:00Z&position=1",
    )
    .await
    .error(400, "invalid_input");
    let last = w.get(&w.owner_token, "/v1/position").await.ok();
    assert!(last["position"].as_u64().unwrap() > before["position"].as_u64().unwrap());
    let at_start = w
        .get(&w.owner_token, "/v1/position?at=2000-01-01T00:00:00Z")
        .await
        .ok();
    assert_eq!(at_start, json!({"position": 0}));
    let users = w.get(&w.owner_token, "/v1/users").await.ok();
    let pat_view = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == pat);
    assert_eq!(pat_view.unwrap()["resources"], 4);
}

#[tokio::test]
async fn offboard_delete_restore_and_purge() {
    let w = world().await;
    let (pat, ann, bob) = dealership(&w).await;
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/offboard"),
        json!({
            "plan": {
                "resources": {"buyer": {"to": [ann, bob], "strategy": "even"}},
                "duties": {"dealer_trade_contact": "ann@truckpros.example"},
                "default_to": ann,
            },
            "then": "delete",
        }),
    )
    .await
    .error(422, "confirmation_required");
    let offboarded = w
        .post(
            &w.owner_token,
            &format!("/v1/users/{pat}/offboard"),
            json!({
                "plan": {
                    "resources": {"buyer": {"to": [ann, bob], "strategy": "even"}},
                    "duties": {"dealer_trade_contact": "ann@truckpros.example"},
                    "default_to": ann,
                },
                "then": "delete",
                "confirm": "CONFIRM",
            }),
        )
        .await
        .ok();
    assert!(offboarded["events"].as_u64().unwrap() >= 4);
    let listed = w.get(&w.owner_token, "/v1/users").await.ok();
    assert!(listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["id"] != pat.as_str()));
    let everyone = w
        .get(&w.owner_token, "/v1/users?include_deleted=true")
        .await
        .ok();
    assert!(everyone["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["status"] == "deleted"));
    // R12: support restores by email, with everything back.
    let restored = w
        .post(
            &w.support_token,
            "/v1/users/pat@truckpros.example/restore",
            json!({"return_ownership": true}),
        )
        .await
        .ok();
    assert!(restored["events"].as_u64().unwrap() >= 2);
    let pats = w
        .get(&w.owner_token, &format!("/v1/owners?owner={pat}"))
        .await
        .ok();
    assert_eq!(pats["owners"].as_array().unwrap().len(), 4);
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/reactivate"),
        json!({}),
    )
    .await
    .ok();
    // R16: everything to one user, then delete; R13: the owner purges.
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/transfer-account"),
        json!({"to": bob, "then": "delete", "confirm": "CONFIRM"}),
    )
    .await
    .ok();
    let purged = w
        .post(
            &w.owner_token,
            "/v1/users/pat@truckpros.example/purge",
            json!({"confirm": "CONFIRM"}),
        )
        .await
        .ok();
    // The purge answer says what may still hold the destroyed key (issue 21 §1).
    assert_eq!(purged["key_destruction"]["store"], "memory", "{purged}");
    assert!(
        purged["key_destruction"]["statement"].is_string(),
        "{purged}"
    );
    let user = w
        .get(&w.owner_token, &format!("/v1/users/{pat}"))
        .await
        .ok();
    assert_eq!(user["status"], "purged");
    assert_eq!(user["email"], "erased");
    w.post(
        &w.support_token,
        &format!("/v1/users/{pat}/restore"),
        json!({}),
    )
    .await
    .error(422, "purged");
    let swept = w
        .post(&w.owner_token, "/v1/purge-expired", json!({}))
        .await
        .ok();
    assert_eq!(swept["events"], 0);
    assert_eq!(swept["positions"], Value::Null);
    assert!(swept.get("key_destruction").is_none(), "{swept}");
}

#[tokio::test]
async fn groups_duties_distributions_labels_and_credits() {
    let w = world().await;
    let ann = w.hire("ann@truckpros.example", "member").await.to_string();
    let bob = w.hire("bob@truckpros.example", "member").await.to_string();
    let cid = w.hire("cid@truckpros.example", "member").await.to_string();
    let t = &w.owner_token;
    w.post(t, "/v1/groups", json!({"name": "east", "owner": ann}))
        .await
        .ok();
    w.post(t, "/v1/groups/east/join", json!({"user": bob}))
        .await
        .ok();
    let user = w.get(t, &format!("/v1/users/{bob}")).await.ok();
    assert_eq!(user["groups"], json!(["east"]));
    w.post(t, "/v1/groups/east/leave", json!({"user": bob}))
        .await
        .ok();
    w.post(
        t,
        "/v1/duties/billing_contact/assign",
        json!({"to": "cid@truckpros.example"}),
    )
    .await
    .ok();
    w.post(
        t,
        "/v1/distributions",
        json!({"name": "Web leads", "kind": "automation",
               "members": [{"user": ann, "weight": 2}, {"user": bob, "weight": 2}]}),
    )
    .await
    .ok();
    w.post(
        t,
        "/v1/distributions/Web%20leads/members",
        json!({"members": [{"user": ann, "weight": 1}, {"user": bob, "weight": 1}, {"user": cid, "weight": 2}]}),
    )
    .await
    .ok();
    w.post(
        t,
        "/v1/distributions/Web%20leads/backup",
        json!({"backup": cid}),
    )
    .await
    .ok();
    w.post(
        t,
        "/v1/distributions/Web%20leads/backup",
        json!({"backup": null}),
    )
    .await
    .ok();
    w.post(
        t,
        "/v1/distributions/Web%20leads/remove-member",
        json!({"user": "ann@truckpros.example"}),
    )
    .await
    .ok();
    let plan = w.get(t, &format!("/v1/users/{bob}/plan")).await.ok();
    assert_eq!(
        plan["distributions"][0]["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    w.post(t, "/v1/labels", json!({"name": "VIP", "members": [ann]}))
        .await
        .ok();
    w.post(t, "/v1/labels/VIP/add", json!({"user": bob}))
        .await
        .ok();
    w.post(
        t,
        "/v1/labels/VIP/remove",
        json!({"user": ann, "replacement": cid}),
    )
    .await
    .ok();
    let plan = w.get(t, &format!("/v1/users/{cid}/plan")).await.ok();
    assert_eq!(plan["labels"], json!(["VIP"]));
    assert_eq!(plan["duties"], json!(["billing_contact"]));
    w.post(t, "/v1/credits/pool", json!({"amount": 100}))
        .await
        .ok();
    w.post(
        t,
        &format!("/v1/users/{ann}/credits/grant"),
        json!({"amount": 30}),
    )
    .await
    .ok();
    w.post(
        t,
        &format!("/v1/users/{ann}/credits/use"),
        json!({"amount": 5}),
    )
    .await
    .ok();
    w.post(
        t,
        "/v1/credits/transfer",
        json!({"from": "ann@truckpros.example", "to": "pool", "amount": 25}),
    )
    .await
    .ok();
    let org = w.get(t, "/v1/org").await.ok();
    assert_eq!(org["credit_pool"], 95);
    let plan = w.get(t, &format!("/v1/users/{ann}/plan")).await.ok();
    assert_eq!(plan["credits_used"], 5);
    assert_eq!(plan["credit_balance"], 0);
    // The listings, readable by the auditor too.
    let a = &w.auditor_token;
    let duties = w.get(a, "/v1/duties").await.ok();
    assert_eq!(
        duties,
        json!({"duties": [{"duty": "billing_contact", "holder": cid, "holder_email": "cid@truckpros.example", "holder_status": "active"}], "next": null})
    );
    let distributions = w.get(a, "/v1/distributions").await.ok()["distributions"].clone();
    assert_eq!(distributions[0]["name"], "Web leads");
    assert_eq!(distributions[0]["kind"], "automation");
    assert_eq!(distributions[0]["backup"], Value::Null);
    assert_eq!(distributions[0]["members"].as_array().unwrap().len(), 2);
    let labels = w.get(a, "/v1/labels").await.ok()["labels"].clone();
    assert_eq!(labels[0]["name"], "VIP");
    assert_eq!(labels[0]["members"].as_array().unwrap().len(), 2);
    let credits = w.get(a, "/v1/credits").await.ok();
    assert_eq!(
        credits,
        json!({"pool": 95, "users": [{"user": ann, "email": "ann@truckpros.example", "balance": 0, "used": 5}], "next": null})
    );
}

#[tokio::test]
async fn the_owner_manages_tokens_over_the_api() {
    let w = world().await;
    let created = w
        .post(
            &w.owner_token,
            "/v1/tokens",
            json!({"principal": "support:helpdesk"}),
        )
        .await
        .ok();
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("ofb_"));
    let me = w.get(token, "/v1/whoami").await.ok();
    assert_eq!(me["principal"]["kind"], "support");
    let listed = w.get(&w.owner_token, "/v1/tokens").await.ok();
    let listed = listed["tokens"].as_array().unwrap();
    assert_eq!(listed.len(), 4);
    assert!(!listed.iter().any(|t| t.to_string().contains(token)));
    w.post(
        &w.owner_token,
        "/v1/tokens",
        json!({"principal": "auditor:nobody"}),
    )
    .await
    .error(404, "not_found");
    w.post(
        &w.owner_token,
        "/v1/tokens",
        json!({"principal": "owner@otherco.example"}),
    )
    .await
    .error(404, "not_found");
    let id = created["record"]["id"].as_str().unwrap();
    w.post(
        &w.other_token,
        &format!("/v1/tokens/{id}/revoke"),
        json!({}),
    )
    .await
    .error(404, "not_found");
    w.post(
        &w.owner_token,
        &format!("/v1/tokens/{id}/revoke"),
        json!({}),
    )
    .await
    .ok();
    w.get(token, "/v1/whoami").await.error(401, "unauthorized");
}

#[tokio::test]
async fn named_consumers_ack_forward_only() {
    let w = world().await;
    let fresh = w.get(&w.auditor_token, "/v1/consumers/crm-sync").await.ok();
    assert_eq!(fresh["position"], 0);
    let acked = w
        .post(
            &w.auditor_token,
            "/v1/consumers/crm-sync/ack",
            json!({"position": 3}),
        )
        .await
        .ok();
    assert_eq!(acked["position"], 3);
    let behind = w
        .post(
            &w.auditor_token,
            "/v1/consumers/crm-sync/ack",
            json!({"position": 1}),
        )
        .await
        .ok();
    assert_eq!(behind["position"], 3);
    w.post(
        &w.auditor_token,
        "/v1/consumers/crm-sync/ack",
        json!({"position": 1_000_000}),
    )
    .await
    .error(422, "invalid_input");
    w.get(&w.auditor_token, "/v1/consumers/no%20spaces")
        .await
        .error(400, "invalid_input");
    // Names are per org.
    let theirs = w.get(&w.other_token, "/v1/consumers/crm-sync").await.ok();
    assert_eq!(theirs["position"], 0);
    // A consumer resumes after its checkpoint.
    let answer = w
        .get(
            &w.auditor_token,
            "/v1/events?consumer=crm-sync&follow=false",
        )
        .await;
    let first = sse_events(&answer.text)[0].0.unwrap();
    assert!(first > 3);
}

#[tokio::test]
async fn the_stream_catches_up_in_order_for_the_callers_org_in_both_formats() {
    let w = world().await;
    w.hire("ann@truckpros.example", "member").await;
    let answer = w.get(&w.auditor_token, "/v1/events?follow=false").await;
    assert_eq!(answer.status, 200);
    let events = sse_events(&answer.text);
    assert!(events.len() >= 6, "{}", answer.text);
    let ids: Vec<u64> = events.iter().map(|(id, _, _)| id.unwrap()).collect();
    assert!(ids.windows(2).all(|p| p[0] < p[1]));
    for (id, _, e) in &events {
        assert_eq!(e["position"].as_u64(), *id);
        assert_eq!(e["org_id"], w.org.to_string());
    }
    let from = ids[2];
    let later = sse_events(
        &w.get(
            &w.auditor_token,
            &format!("/v1/events?follow=false&from={from}"),
        )
        .await
        .text,
    );
    assert_eq!(later[0].0, Some(from));
    let resumed = w
        .send(
            "GET",
            "/v1/events?follow=false",
            Some(&w.auditor_token),
            None,
            &[("last-event-id", &from.to_string())],
        )
        .await;
    assert_eq!(sse_events(&resumed.text)[0].0, Some(ids[3]));
    let cloud = w
        .get(
            &w.auditor_token,
            "/v1/events?follow=false&format=cloudevents",
        )
        .await;
    let cloud = sse_events(&cloud.text);
    assert_eq!(cloud.len(), events.len());
    assert_eq!(cloud[0].2["specversion"], "1.0");
    assert_eq!(cloud[0].2["source"], format!("/orgs/{}", w.org));
    assert_eq!(cloud[0].2["position"].as_u64(), cloud[0].0);
    w.send(
        "GET",
        "/v1/events",
        Some(&w.auditor_token),
        None,
        &[("last-event-id", "x")],
    )
    .await
    .error(400, "invalid_input");
}

#[tokio::test]
async fn a_resume_past_the_end_is_refused_as_an_ack_past_it_is() {
    // Given a log that ends at `last`,
    let w = world().await;
    let last = w.engine.last_position();
    let resume = |id: u64| {
        let w = &w;
        async move {
            w.send(
                "GET",
                "/v1/events?follow=false",
                Some(&w.auditor_token),
                None,
                &[("last-event-id", &id.to_string())],
            )
            .await
        }
    };
    // when a client resumes after a position the log never had (issue 15: on a 17-event
    // log, Last-Event-ID 19 was accepted and 18 and 19 were then skipped),
    let refused = resume(last + 2).await.error(422, "invalid_input");
    // then it is refused naming both positions, as an ack past the end is, with the same
    // status and code,
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("position {}", last + 2)),
        "{message}"
    );
    assert!(message.contains(&format!("end at {last}")), "{message}");
    w.post(
        &w.auditor_token,
        "/v1/consumers/crm-sync/ack",
        json!({"position": last + 2}),
    )
    .await
    .error(422, "invalid_input");
    w.get(
        &w.auditor_token,
        &format!("/v1/events?follow=false&from={}", last + 2),
    )
    .await
    .error(422, "invalid_input");
    // and a resume at the end itself is an empty catch-up, then live events arrive in full.
    let at_end = resume(last).await;
    assert_eq!(at_end.status, 200, "{}", at_end.text);
    assert!(sse_events(&at_end.text).is_empty(), "{}", at_end.text);
    w.hire("ann@truckpros.example", "member").await;
    let after = resume(last).await;
    assert_eq!(sse_events(&after.text)[0].0, Some(last + 1));
}

/// Everything this test binary logs (one global subscriber: per-thread ones miss
/// callsites that other tests' threads registered first).
fn captured_log() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOG: std::sync::OnceLock<&'static std::sync::Mutex<Vec<u8>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static std::sync::Mutex<Vec<u8>> = Box::leak(Box::default());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Captured(log))
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log
    })
}

struct Captured(&'static std::sync::Mutex<Vec<u8>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_log_line_per_request_with_the_principal_and_no_token_or_personal_data() {
    let captured = captured_log();
    let w = world().await;
    w.hire("ann.secret@truckpros.example", "member").await;
    w.get(&w.owner_token, "/v1/users/ann.secret@truckpros.example")
        .await
        .ok();
    w.get(
        &w.owner_token,
        "/v1/owners?owner=ann.secret@truckpros.example",
    )
    .await
    .ok();
    w.get("ofb_wrong-token", "/v1/users")
        .await
        .error(401, "unauthorized");
    let log = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
    let principal = format!("principal=user:{}", w.owner);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&principal)).collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines[1].contains("route=/v1/users/{user}"), "{log}");
    assert!(lines[1].contains("method=GET"), "{log}");
    assert!(lines[1].contains("status=200"), "{log}");
    assert!(lines[1].contains("latency_ms="), "{log}");
    assert!(lines[2].contains("route=/v1/owners "), "{log}");
    assert!(log.lines().any(|l| l.contains("status=401")), "{log}");
    for secret in [w.owner_token.as_str(), "ofb_", "ann.secret", "@truckpros"] {
        assert!(!log.contains(secret), "{secret} leaked: {log}");
    }
}

#[tokio::test]
async fn an_unknown_endpoint_is_404_pointing_to_the_document_once() {
    let w = world().await;
    let answer = w.get(&w.owner_token, "/v1/nothing").await;
    let body = answer.error(404, "not_found");
    assert_eq!(
        body["error"]["message"], "no such endpoint; see /v1/openapi.json",
        "{body}"
    );
}
