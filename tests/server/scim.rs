//! SCIM 2.0 at `/scim/v2` through the router: the request bodies Okta's and Microsoft
//! Entra ID's documentation show (create, update, deactivate, reactivate, delete, with
//! Entra's `"op":"Replace"` and `"value":"False"`), filters and paging, SCIM errors,
//! ETags, discovery, and a deprovisioning that hands everything to the manager in one
//! operation that support can restore.

use offboard::domain::Command;
use offboard_events::PrincipalKind;
use serde_json::{json, Value};

use super::support::*;

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The world, with the provisioner `okta` registered and its token.
async fn provisioned(name: &str) -> (World, String) {
    let w = world().await;
    as_user(
        &w.engine,
        w.org,
        w.owner,
        Command::RegisterPrincipal {
            kind: PrincipalKind::Provisioner,
            name: name.into(),
        },
    )
    .await;
    let token = w.token_for(&format!("provisioner:{name}")).await;
    (w, token)
}

async fn scim(w: &World, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
    w.send(
        method,
        &format!("/scim/v2{path}"),
        Some(token),
        body,
        &[("content-type", "application/scim+json")],
    )
    .await
}

#[track_caller]
fn scim_error(a: &Answer, status: u16, scim_type: Option<&str>) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    assert_eq!(
        a.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(a.body["status"], status.to_string());
    assert_eq!(a.body["scimType"].as_str(), scim_type, "{}", a.text);
}

#[tokio::test]
async fn okta_creates_finds_updates_deactivates_and_reactivates_a_user() {
    let (w, okta) = provisioned("okta").await;
    // Okta's documented create (the password and locale are ignored).
    let create = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    let created = scim(&w, &okta, "POST", "/Users", Some(create.clone())).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.location.as_deref(),
        Some(format!("/scim/v2/Users/{id}").as_str())
    );
    assert_eq!(created.body["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(created.body["active"], true);
    assert!(created.body["meta"]["version"]
        .as_str()
        .unwrap()
        .starts_with("W/\""));

    // The provisioner is the actor of what it caused, and the API shows the external id.
    let user = w.get(&w.owner_token, &format!("/v1/users/{id}")).await.ok();
    assert_eq!(user["external_id"], "00ujl29u0le5T6Aj10h7");
    let history = w
        .get(&w.owner_token, &format!("/v1/users/{id}/history"))
        .await
        .ok();
    assert_eq!(
        history["events"][0]["actor"],
        json!({"kind": "provisioner", "name": "okta"})
    );

    // Okta's lookup before a create: filter on userName, paged.
    let found = scim(
        &w,
        &okta,
        "GET",
        "/Users?filter=userName%20eq%20%22TEST.USER%40okta.local%22&startIndex=1&count=100",
        None,
    )
    .await
    .ok();
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());
    // A second create of the same userName is 409 uniqueness.
    let again = scim(&w, &okta, "POST", "/Users", Some(create)).await;
    scim_error(&again, 409, Some("uniqueness"));

    // Okta's update is a PUT of the whole user.
    let mut put = created.body.clone();
    put["name"]["familyName"] = "Userton".into();
    put["title"] = "Buyer".into();
    let updated = scim(&w, &okta, "PUT", &format!("/Users/{id}"), Some(put))
        .await
        .ok();
    assert_eq!(updated["name"]["familyName"], "Userton");
    assert_eq!(updated["title"], "Buyer");
    assert_ne!(updated["meta"]["version"], created.body["meta"]["version"]);

    // Okta deactivates with a PATCH replace without path, and reactivates the same way.
    let off =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let done = scim(&w, &okta, "PATCH", &format!("/Users/{id}"), Some(off))
        .await
        .ok();
    assert_eq!(done["active"], false);
    let status = w.get(&w.owner_token, &format!("/v1/users/{id}")).await.ok()["status"].clone();
    assert_eq!(status, "deactivated");
    let on =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": true}}]});
    let done = scim(&w, &okta, "PATCH", &format!("/Users/{id}"), Some(on))
        .await
        .ok();
    assert_eq!(done["active"], true);
}

#[tokio::test]
async fn entra_creates_patches_with_its_quirks_and_deletes() {
    let (w, entra) = provisioned("entra").await;
    let manager = w.hire("sam@truckpros.example", "manager").await;
    // Entra's documented create, enterprise extension included.
    let create = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@testuser.com",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_ab6490ee@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        ENTERPRISE: {"department": "Sales", "employeeNumber": "701984"}
    });
    let created = scim(&w, &entra, "POST", "/Users", Some(create)).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body[ENTERPRISE]["department"], "Sales");
    assert_eq!(created.body[ENTERPRISE]["employeeNumber"], "701984");

    // Entra's lookups: externalId, and the work email's value path.
    for filter in [
        "externalId%20eq%20%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
        "emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22Test_User_ab6490ee%40testuser.com%22",
        "userName%20eq%20%22Test_User_ab6490ee%40testuser.com%22%20and%20active%20eq%20true",
    ] {
        let found = scim(&w, &entra, "GET", &format!("/Users?filter={filter}"), None)
            .await
            .ok();
        assert_eq!(found["totalResults"], 1, "{filter}");
    }

    // Entra's update: "Replace" with paths, the work email alone, the manager by id.
    let update = json!({"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updated@testuser.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager.to_string()}
    ]});
    let done = scim(&w, &entra, "PATCH", &format!("/Users/{id}"), Some(update))
        .await
        .ok();
    assert_eq!(done["userName"], "updated@testuser.com");
    assert_eq!(done["name"]["familyName"], "updatedFamilyName");
    assert_eq!(done[ENTERPRISE]["manager"]["value"], manager.to_string());

    // Entra's disable: "Replace" on the path active, with the string "False".
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let done = scim(&w, &entra, "PATCH", &format!("/Users/{id}"), Some(off))
        .await
        .ok();
    assert_eq!(done["active"], false);
    let on = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]});
    assert_eq!(
        scim(&w, &entra, "PATCH", &format!("/Users/{id}"), Some(on))
            .await
            .ok()["active"],
        true
    );

    // Delete: the default policy deactivates; a second delete is still 204.
    for _ in 0..2 {
        let gone = scim(&w, &entra, "DELETE", &format!("/Users/{id}"), None).await;
        assert_eq!(gone.status.as_u16(), 204, "{}", gone.text);
    }
    let status = w.get(&w.owner_token, &format!("/v1/users/{id}")).await.ok()["status"].clone();
    assert_eq!(status, "deactivated");
}

#[tokio::test]
async fn a_provisioner_cannot_touch_the_owner_and_errors_are_scim_errors() {
    let (w, okta) = provisioned("okta").await;
    let owner = w.owner.to_string();
    let off =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let refused = scim(&w, &okta, "PATCH", &format!("/Users/{owner}"), Some(off)).await;
    scim_error(&refused, 403, None);
    scim_error(
        &scim(&w, &okta, "GET", "/Users/nope", None).await,
        404,
        None,
    );
    scim_error(
        &scim(
            &w,
            &okta,
            "GET",
            "/Users?filter=userName%20zz%20%22x%22",
            None,
        )
        .await,
        400,
        Some("invalidFilter"),
    );
    scim_error(
        &scim(
            &w,
            &okta,
            "POST",
            "/Users",
            Some(json!({"name": {"givenName": "X"}})),
        )
        .await,
        400,
        Some("invalidValue"),
    );
    let no_token = w.send("GET", "/scim/v2/Users", None, None, &[]).await;
    scim_error(&no_token, 401, None);
    // A stale If-Match is 412 and changes nothing.
    let pat = w.hire("pat@truckpros.example", "member").await;
    let stale = w
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{pat}"),
            Some(&okta),
            Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "X"}]})),
            &[("content-type", "application/scim+json"), ("if-match", "W/\"0000\"")],
        )
        .await;
    scim_error(&stale, 412, None);
}

#[tokio::test]
async fn discovery_declares_what_is_built() {
    let (w, okta) = provisioned("okta").await;
    let config = scim(&w, &okta, "GET", "/ServiceProviderConfig", None)
        .await
        .ok();
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    assert_eq!(config["sort"]["supported"], false);
    assert_eq!(config["changePassword"]["supported"], false);
    let types = scim(&w, &okta, "GET", "/ResourceTypes", None).await.ok();
    assert_eq!(types["totalResults"], 2);
    let schemas = scim(&w, &okta, "GET", "/Schemas", None).await.ok();
    assert_eq!(schemas["totalResults"], 3);
    let user = scim(
        &w,
        &okta,
        "GET",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        None,
    )
    .await
    .ok();
    assert_eq!(user["name"], "User");
}

#[tokio::test]
async fn groups_are_created_listed_and_their_members_patched() {
    let (w, okta) = provisioned("okta").await;
    let pat = w.hire("pat@truckpros.example", "member").await;
    let ann = w.hire("ann@truckpros.example", "member").await;
    let created = scim(
        &w,
        &okta,
        "POST",
        "/Groups",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "east", "members": [{"value": pat.to_string()}]}),
        ),
    )
    .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["members"][0]["value"], pat.to_string());
    let patch = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": ann.to_string()}]},
        {"op": "remove", "path": format!("members[value eq \"{pat}\"]")}
    ]});
    let done = scim(&w, &okta, "PATCH", "/Groups/east", Some(patch))
        .await
        .ok();
    assert_eq!(done["members"].as_array().unwrap().len(), 1);
    assert_eq!(done["members"][0]["value"], ann.to_string());
    let listed = scim(
        &w,
        &okta,
        "GET",
        "/Groups?filter=displayName%20eq%20%22east%22",
        None,
    )
    .await
    .ok();
    assert_eq!(listed["totalResults"], 1);
}

/// Done when (issue 17): a deprovisioning over SCIM of a user with buyers, a rotation
/// place, a duty, credits and reports leaves every one of them with the recipient, the
/// user unable to act, one correlation id in the history with the provisioner as actor,
/// and support's restore of that user returns everything.
#[tokio::test]
async fn deprovisioning_over_scim_hands_everything_to_the_manager_and_support_restores_it() {
    let (w, okta) = provisioned("okta").await;
    let sam = w.hire("sam@truckpros.example", "manager").await;
    let pat = w.hire("pat@truckpros.example", "member").await;
    let ann = w.hire("ann@truckpros.example", "member").await;
    let zed = w.hire("zed@truckpros.example", "member").await;
    let owner = |c| as_user(&w.engine, w.org, w.owner, c);
    owner(Command::SetManager {
        user: pat,
        manager: Some(sam),
    })
    .await;
    owner(Command::SetManager {
        user: zed,
        manager: Some(pat),
    })
    .await;
    owner(Command::RegisterResources {
        owner: pat,
        resources: vec!["buyer:B-1".parse().unwrap(), "buyer:B-2".parse().unwrap()],
    })
    .await;
    owner(Command::AssignDuty {
        duty: "dealer_trade_contact".into(),
        to: pat,
    })
    .await;
    owner(Command::CreateDistribution {
        name: "North rotation".into(),
        kind: offboard_events::DistributionKind::Rotation,
        members: vec![
            offboard_events::Member {
                user: pat,
                weight: 1,
            },
            offboard_events::Member {
                user: ann,
                weight: 1,
            },
        ],
        backup: None,
    })
    .await;
    owner(Command::AddCreditsToPool { amount: 10 }).await;
    owner(Command::GrantCredits {
        user: pat,
        amount: 4,
    })
    .await;
    let pat_token = w.token_for("pat@truckpros.example").await;
    w.post(
        &w.owner_token,
        "/v1/org/policy",
        json!({"deprovision": "offboard_to_manager", "deprovision_then": "delete"}),
    )
    .await
    .ok();

    let history_path = format!("/v1/users/{pat}/history?limit=500");
    let seen = w.get(&w.owner_token, &history_path).await.ok()["events"]
        .as_array()
        .unwrap()
        .len();

    // When the identity provider deletes Pat
    let gone = scim(&w, &okta, "DELETE", &format!("/Users/{pat}"), None).await;
    assert_eq!(gone.status.as_u16(), 204, "{}", gone.text);

    // Then everything is Sam's (the rotation place: Ann's), the credits in the pool
    let after = Holdings::read(&w, zed).await;
    assert!(
        after.buyer_owners.iter().all(|o| *o == sam.to_string()),
        "{after:?}"
    );
    assert_eq!(after.duty_holder, sam.to_string());
    assert_eq!(after.zed_manager, sam.to_string());
    assert_eq!(after.rotation, vec![ann.to_string()]);
    assert_eq!(after.pool, 10);
    // And Pat is gone and cannot act
    assert_eq!(
        scim(&w, &okta, "GET", &format!("/Users/{pat}"), None)
            .await
            .status
            .as_u16(),
        404
    );
    let refused = w.get(&pat_token, "/v1/users").await;
    assert!(refused.status.is_client_error(), "{}", refused.text);
    // And the history holds one operation, by the provisioner
    let history = w
        .get(
            &w.owner_token,
            &format!("/v1/users/{pat}/history?limit=500"),
        )
        .await
        .ok();
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let correlation = last["correlation_id"].as_str().unwrap().to_owned();
    let events: Vec<Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["correlation_id"] == correlation.as_str())
        .cloned()
        .collect();
    assert!(events.iter().any(|e| e["event_type"] == "UserDeleted"));
    assert!(events
        .iter()
        .any(|e| e["event_type"] == "ResourcesTransferred"));
    assert!(events
        .iter()
        .all(|e| e["actor"] == json!({"kind": "provisioner", "name": "okta"})));
    // And every event the delete wrote in Pat's history is of that one operation
    let written = &history["events"].as_array().unwrap()[seen..];
    assert!(!written.is_empty());
    assert!(
        written
            .iter()
            .all(|e| e["correlation_id"] == correlation.as_str()),
        "{written:?}"
    );

    // When support restores Pat with everything
    let support = w.support_token.clone();
    w.post(
        &support,
        &format!("/v1/users/{pat}/restore"),
        json!({"return_ownership": true, "reactivate": true}),
    )
    .await
    .ok();
    // Then the buyers, the duty, the report and the rotation place are Pat's again
    let back = Holdings::read(&w, zed).await;
    assert!(
        back.buyer_owners.iter().all(|o| *o == pat.to_string()),
        "{back:?}"
    );
    assert_eq!(back.duty_holder, pat.to_string());
    assert_eq!(back.zed_manager, pat.to_string());
    assert_eq!(back.rotation.len(), 2, "{back:?}");
    let pat_view = w
        .get(&w.owner_token, &format!("/v1/users/{pat}"))
        .await
        .ok();
    assert_eq!(pat_view["credit_balance"], 4);
}

/// What the deprovisioning scenario looks at, read through the API as the owner.
#[derive(Debug)]
struct Holdings {
    buyer_owners: Vec<String>,
    duty_holder: String,
    /// Zed's manager.
    zed_manager: String,
    /// The rotation's members.
    rotation: Vec<String>,
    pool: u64,
}

impl Holdings {
    async fn read(w: &World, zed: offboard_events::UserId) -> Self {
        let get = |path: String| async move { w.get(&w.owner_token, &path).await.ok() };
        let owners = get("/v1/owners?kind=buyer".into()).await;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let rotation = get("/v1/distributions".into()).await;
        Self {
            buyer_owners: owners["owners"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| text(&o["owner"]))
                .collect(),
            duty_holder: text(&get("/v1/duties".into()).await["duties"][0]["holder"]),
            zed_manager: text(&get(format!("/v1/users/{zed}")).await["manager"]),
            rotation: rotation["distributions"][0]["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| text(&m["user"]))
                .collect(),
            pool: get("/v1/credits".into()).await["pool"]
                .as_u64()
                .unwrap_or(u64::MAX),
        }
    }
}

/// RFC 7643 §4.1.1: `userName` is the provider's unique name for the person, not
/// necessarily an email. One that is not the email is kept beside it (the API shows
/// it), found by `userName eq`, unique; the email comes from `emails`.
#[tokio::test]
async fn a_user_name_that_is_not_an_email_is_kept_beside_the_email() {
    let (w, idp) = provisioned("idp").await;
    // Given a provider that names people by a login, not their email
    let create = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jdoe",
        "name": {"givenName": "John", "familyName": "Doe"},
        "emails": [
            {"value": "john@home.example", "type": "home"},
            {"value": "John.Doe@truckpros.example", "type": "work", "primary": true}
        ],
        "active": true
    });
    let created = scim(&w, &idp, "POST", "/Users", Some(create.clone())).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    // Then the user name and the primary email are both kept
    assert_eq!(created.body["userName"], "jdoe");
    assert_eq!(
        created.body["emails"],
        json!([{"value": "John.Doe@truckpros.example", "type": "work"}])
    );
    let user = w.get(&w.owner_token, &format!("/v1/users/{id}")).await.ok();
    assert_eq!(user["user_name"], "jdoe");
    assert_eq!(user["email"], "John.Doe@truckpros.example");
    // And `userName eq` finds the user by it, in any case, and not by the email
    let find = |name: &str| format!("/Users?filter=userName%20eq%20%22{name}%22");
    let found = scim(&w, &idp, "GET", &find("JDOE"), None).await.ok();
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());
    let by_email = scim(&w, &idp, "GET", &find("john.doe%40truckpros.example"), None)
        .await
        .ok();
    assert_eq!(by_email["totalResults"], 0);
    // And another user with that user name (another case) is 409 uniqueness
    let mut twin = create.clone();
    twin["userName"] = "JDoe".into();
    twin["emails"] = json!([{"value": "other@truckpros.example"}]);
    let again = scim(&w, &idp, "POST", "/Users", Some(twin)).await;
    scim_error(&again, 409, Some("uniqueness"));
    // And without any email, nor an email as userName, offboard says it needs one
    let no_email = json!({"userName": "nomail", "name": {"givenName": "N", "familyName": "M"}});
    let refused = scim(&w, &idp, "POST", "/Users", Some(no_email)).await;
    scim_error(&refused, 400, Some("invalidValue"));
    assert!(
        refused.body["detail"].as_str().unwrap().contains("email"),
        "{}",
        refused.text
    );
    // When the provider renames the login
    let rename = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "userName", "value": "john.doe"}
    ]});
    let done = scim(&w, &idp, "PATCH", &format!("/Users/{id}"), Some(rename))
        .await
        .ok();
    // Then the new one is shown and found, the old one is free, the email unchanged
    assert_eq!(done["userName"], "john.doe");
    assert_eq!(done["emails"][0]["value"], "John.Doe@truckpros.example");
    let old = scim(&w, &idp, "GET", &find("jdoe"), None).await.ok();
    assert_eq!(old["totalResults"], 0);
    // And a user name given as the email again is not kept twice: it is the email
    let back = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "userName", "value": "john.doe@truckpros.example"}
    ]});
    let done = scim(&w, &idp, "PATCH", &format!("/Users/{id}"), Some(back))
        .await
        .ok();
    assert_eq!(done["userName"], "John.Doe@truckpros.example");
    let user = w.get(&w.owner_token, &format!("/v1/users/{id}")).await.ok();
    assert_eq!(user["user_name"], "John.Doe@truckpros.example");
}

/// `active: false` disables (the provider may enable the user again, as Okta does);
/// `DELETE` runs the policy's follow-up, here a delete: then the user is `404`.
#[tokio::test]
async fn a_disabled_user_stays_to_be_enabled_again_and_a_delete_removes_them() {
    let (w, okta) = provisioned("okta").await;
    w.post(
        &w.owner_token,
        "/v1/org/policy",
        json!({"deprovision_then": "delete"}),
    )
    .await
    .ok();
    let pat = w.hire("pat@truckpros.example", "member").await;
    let path = format!("/Users/{pat}");
    let set = |active: bool| json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": active}}]});
    // When Okta deactivates Pat, under a policy that deletes on deprovisioning
    let off = scim(&w, &okta, "PATCH", &path, Some(set(false))).await.ok();
    // Then Pat is deactivated, not deleted, and can be reactivated
    assert_eq!(off["active"], false);
    let url = format!("/v1/users/{pat}");
    let status = || async { w.get(&w.owner_token, &url).await.ok()["status"].clone() };
    assert_eq!(status().await, "deactivated");
    let on = scim(&w, &okta, "PATCH", &path, Some(set(true))).await.ok();
    assert_eq!(on["active"], true);
    // When the provider deletes Pat: deleted, and gone for SCIM
    let gone = scim(&w, &okta, "DELETE", &path, None).await;
    assert_eq!(gone.status.as_u16(), 204, "{}", gone.text);
    assert_eq!(status().await, "deleted");
    scim_error(&scim(&w, &okta, "GET", &path, None).await, 404, None);
}

/// Re-provisioning a deleted user's email: `409 uniqueness` by default; under policy
/// `reprovision: restore` the same person comes back with what they owned, restored by
/// the provisioner, instead of a second user beside them.
#[tokio::test]
async fn a_deleted_users_email_provisioned_again_is_refused_or_restores_them_by_policy() {
    // Given Pat, owning a buyer, deleted by the identity provider (policy: the buyer
    // goes to the owner, then delete)
    let (w, okta) = provisioned("okta").await;
    let policy = |body: Value| w.post(&w.owner_token, "/v1/org/policy", body);
    let to_owner = format!("offboard_to:{}", w.owner);
    policy(json!({"deprovision": to_owner, "deprovision_then": "delete"}))
        .await
        .ok();
    let pat = w.hire("pat@truckpros.example", "member").await;
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/resources"),
        json!({ "resources": ["buyer:B-1"] }),
    )
    .await
    .ok();
    let gone = scim(&w, &okta, "DELETE", &format!("/Users/{pat}"), None).await;
    assert_eq!(gone.status.as_u16(), 204, "{}", gone.text);
    let user = w
        .get(&w.owner_token, &format!("/v1/users/{pat}"))
        .await
        .ok();
    assert_eq!(user["status"], "deleted");
    let create = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "pat@truckpros.example",
        "name": {"givenName": "Pat", "familyName": "Kim"},
        "emails": [{"value": "pat@truckpros.example", "type": "work", "primary": true}],
        "active": true
    });
    // When the provider creates Pat again under the default policy, Then 409, nothing
    let before = w.engine.last_position();
    let refused = scim(&w, &okta, "POST", "/Users", Some(create.clone())).await;
    scim_error(&refused, 409, Some("uniqueness"));
    assert!(
        refused.text.contains("--reprovision restore"),
        "{}",
        refused.text
    );
    assert_eq!(w.engine.last_position(), before);
    // When the policy says restore and the provider creates Pat again
    policy(json!({"reprovision": "restore"})).await.ok();
    let created = scim(&w, &okta, "POST", "/Users", Some(create)).await;
    // Then it is the same person, active, owning the buyer again, restored by okta
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["id"], pat.to_string());
    assert_eq!(created.body["active"], true);
    let owner = w
        .get(&w.owner_token, "/v1/resources/buyer:B-1/owner")
        .await
        .ok();
    assert_eq!(owner["owner"], pat.to_string(), "{owner}");
    let history = w
        .get(&w.owner_token, &format!("/v1/users/{pat}/history"))
        .await
        .ok();
    let restored = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "UserRestored")
        .expect("a UserRestored event");
    assert_eq!(restored["actor"]["kind"], "provisioner", "{restored}");
}

/// Groups: a display name that is not a key name gets a key made from it; the name and
/// external id change (`GroupChanged`, in the history) while the id stays; `DELETE`
/// takes the members out and retires the group.
#[tokio::test]
async fn groups_are_renamed_given_external_ids_and_deleted() {
    let (w, entra) = provisioned("entra").await;
    let pat = w.hire("pat@truckpros.example", "member").await;
    // Given Entra's group create, with its object id as externalId
    let create = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "East Region",
        "members": [{"value": pat.to_string()}]
    });
    let created = scim(&w, &entra, "POST", "/Groups", Some(create.clone())).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["id"], "east-region");
    assert_eq!(created.body["displayName"], "East Region");
    assert_eq!(
        created.body["externalId"],
        "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    );
    // And a second group with that name or external id is 409 uniqueness
    let again = scim(&w, &entra, "POST", "/Groups", Some(create)).await;
    scim_error(&again, 409, Some("uniqueness"));
    // When Entra renames it
    let rename = json!({"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "displayName", "value": "East"}
    ]});
    let renamed = scim(&w, &entra, "PATCH", "/Groups/east-region", Some(rename))
        .await
        .ok();
    // Then the id stays, the name is new, the members unchanged, and it is filtered by it
    assert_eq!(renamed["id"], "east-region");
    assert_eq!(renamed["displayName"], "East");
    assert_eq!(renamed["members"][0]["value"], pat.to_string());
    let listed = scim(
        &w,
        &entra,
        "GET",
        "/Groups?filter=displayName%20eq%20%22east%22",
        None,
    )
    .await
    .ok();
    assert_eq!(listed["totalResults"], 1);
    // And Pat's groups show its name
    let user = scim(&w, &entra, "GET", &format!("/Users/{pat}"), None)
        .await
        .ok();
    assert_eq!(user["groups"][0]["display"], "East");
    // And the owner's history records the change, by the provisioner
    let owner = w.owner;
    let history = w
        .get(
            &w.owner_token,
            &format!("/v1/users/{owner}/history?limit=500"),
        )
        .await
        .ok();
    let changed: Vec<&Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "GroupChanged")
        .collect();
    assert_eq!(changed.len(), 2, "created with its name, then renamed");
    assert_eq!(changed[1]["data"]["name"], "East");
    assert_eq!(
        changed[1]["actor"],
        json!({"kind": "provisioner", "name": "entra"})
    );
    // When Entra deletes the group
    let gone = scim(&w, &entra, "DELETE", "/Groups/east-region", None).await;
    assert_eq!(gone.status.as_u16(), 204, "{}", gone.text);
    // Then it is 404, Pat left it, and its name may be used again
    scim_error(
        &scim(&w, &entra, "GET", "/Groups/east-region", None).await,
        404,
        None,
    );
    let user = w
        .get(&w.owner_token, &format!("/v1/users/{pat}"))
        .await
        .ok();
    assert_eq!(user["groups"], json!([]));
    let history = w
        .get(&w.owner_token, &format!("/v1/users/{pat}/history"))
        .await
        .ok();
    assert!(history["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event_type"] == "UserLeftGroup"));
    let anew = json!({"displayName": "East Region"});
    let created = scim(&w, &entra, "POST", "/Groups", Some(anew)).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
}

/// `meta.created` and `meta.lastModified` are the times of the events that created and
/// last changed the user; `attributes` and `excludedAttributes` shape the answers.
#[tokio::test]
async fn meta_times_come_from_the_events_and_answers_are_shaped_as_asked() {
    use chrono::{DateTime, Utc};
    let (w, okta) = provisioned("okta").await;
    let pat = w.hire("pat@truckpros.example", "member").await;
    let path = format!("/Users/{pat}");
    let title = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "Buyer"}
    ]});
    scim(&w, &okta, "PATCH", &path, Some(title)).await.ok();
    let user = scim(&w, &okta, "GET", &path, None).await.ok();
    // Then created is the invitation's time, lastModified the profile change's
    let history = w
        .get(&w.owner_token, &format!("/v1/users/{pat}/history"))
        .await
        .ok();
    let events = history["events"].as_array().unwrap();
    let at = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let time_of = |kind: &str| {
        let e = events.iter().find(|e| e["event_type"] == kind).unwrap();
        at(&e["occurred_at"]).timestamp_millis()
    };
    let meta = &user["meta"];
    assert_eq!(
        at(&meta["created"]).timestamp_millis(),
        time_of("UserInvited")
    );
    let last = events.last().unwrap();
    assert_eq!(last["event_type"], "UserProfileChanged");
    assert_eq!(
        at(&meta["lastModified"]).timestamp_millis(),
        at(&last["occurred_at"]).timestamp_millis()
    );
    // When only userName is asked for: it, and what is always returned
    let only = scim(
        &w,
        &okta,
        "GET",
        &format!("{path}?attributes=userName"),
        None,
    )
    .await
    .ok();
    let mut keys: Vec<&str> = only
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["id", "meta", "schemas", "userName"]);
    // When emails and the title are excluded, in a list too
    let list = scim(
        &w,
        &okta,
        "GET",
        "/Users?excludedAttributes=emails,title&filter=title%20eq%20%22Buyer%22",
        None,
    )
    .await
    .ok();
    assert_eq!(list["totalResults"], 1, "the filter sees the whole user");
    let shown = &list["Resources"][0];
    assert!(shown.get("emails").is_none() && shown.get("title").is_none());
    assert_eq!(shown["userName"], "pat@truckpros.example");
    // And the root search of every resource type is not offered: 501
    let search = scim(&w, &okta, "POST", "/.search", Some(json!({}))).await;
    scim_error(&search, 501, None);
}

#[tokio::test]
async fn a_put_refused_halfway_changes_nothing() {
    // Given: Sam manages Neo, both provisioned.
    let (w, okta) = provisioned("okta").await;
    let sam = w.hire("sam@truckpros.example", "manager").await;
    let neo = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "neo@truckpros.example",
        "name": {"givenName": "Neo", "familyName": "Ward"},
        "active": true,
        ENTERPRISE: {"manager": {"value": sam.to_string()}}
    });
    let neo = scim(&w, &okta, "POST", "/Users", Some(neo)).await.created();
    let neo_id = neo["id"].as_str().unwrap().to_owned();
    let before = scim(&w, &okta, "GET", &format!("/Users/{sam}"), None)
        .await
        .ok();
    let position = w.engine.last_position();
    // When: a PUT renames Sam AND makes Neo Sam's manager (a loop the domain refuses
    // only once the rename is decided).
    let mut put = before.clone();
    put["name"]["familyName"] = "Renamed".into();
    put[ENTERPRISE] = json!({"manager": {"value": neo_id}});
    let refused = scim(&w, &okta, "PUT", &format!("/Users/{sam}"), Some(put)).await;
    // Then: it is refused, and nothing of it landed: no event, Sam as before.
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    assert_eq!(w.engine.last_position(), position, "no event appended");
    let after = scim(&w, &okta, "GET", &format!("/Users/{sam}"), None)
        .await
        .ok();
    assert_eq!(after, before, "the user is as before the request");
}
