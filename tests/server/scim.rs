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
