//! The seed stories of the domain (seeds 000–004), their main steps driven over a real
//! socket through the HTTP API as the principals of each story would: one test per
//! seed, each on its own server and data directory.

use offboard::server::client::{Client, ClientError, CommandOptions};
use offboard::server::tokens;
use offboard::Engine;
use serde_json::{json, Value};

use super::support::*;

/// One principal's view of the server.
struct As(Client);

impl As {
    async fn get(&self, path: &str) -> Value {
        self.0
            .get(path)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.0
            .post(path, &body)
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// A refused command: its status and error.
    async fn refused(&self, path: &str, body: Value) -> (u16, ClientError) {
        let error = self
            .0
            .post(path, &body)
            .await
            .expect_err("the command should be refused");
        (error.status().unwrap(), error)
    }

    /// Invites and activates a user; returns the id.
    async fn hire(&self, email: &str, role: &str) -> String {
        let done = self
            .post(
                "/v1/users",
                json!({"email": email, "first_name": "Pat", "last_name": "Doe", "role": role, "active": true}),
            )
            .await;
        done["user_id"].as_str().unwrap().to_owned()
    }

    /// A token for `principal`, created by this (owner) principal.
    async fn token(&self, principal: &str) -> String {
        self.post("/v1/tokens", json!({ "principal": principal }))
            .await["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// How many resources of `kind` `user` owns, every page read.
    async fn owned(&self, user: &str, kind: &str) -> usize {
        let mut url = format!("/v1/owners?kind={kind}&owner={user}&limit=2");
        let mut count = 0;
        loop {
            let page = self.get(&url).await;
            count += page["owners"].as_array().unwrap().len();
            match page["next"].as_str() {
                Some(next) => url = next.to_owned(),
                None => return count,
            }
        }
    }
}

fn resources(kind: &str, n: usize) -> Value {
    json!((0..n).map(|i| format!("{kind}:{i:05}")).collect::<Vec<_>>())
}

fn blocker_codes(error: &ClientError) -> Vec<String> {
    match error {
        ClientError::Api { error, .. } => error.blockers.iter().map(|b| b.code.clone()).collect(),
        other => panic!("{other}"),
    }
}

/// One story's server: a fresh data directory with one org, served on loopback, and
/// its owner's view.
struct Story {
    server: Running,
    owner: As,
    _dir: tempfile::TempDir,
}

impl Story {
    async fn start(org: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        let (_, owner) = create_org(&engine, org).await;
        let token = tokens::create(&engine, Some(org), &owner.to_string())
            .unwrap()
            .token;
        let server = start(engine).await;
        let owner = As(Client::new(&server.url(), Some(&token)).unwrap());
        Self {
            server,
            owner,
            _dir: dir,
        }
    }

    /// The view of the principal holding `token`.
    fn client(&self, token: &str) -> As {
        As(Client::new(&self.server.url(), Some(token)).unwrap())
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

/// Seed 000: a sales manager transfers all buyers of a leaving Truck Pro to two
/// colleagues; delete is refused while the leaver is backup in lead rotation and the
/// dealer-trade contact, and goes through once both are reassigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_truck_pros_transfer_all_buyers_then_delete() {
    let story = Story::start("Truck Pros").await;
    let owner = &story.owner;
    let sam = owner.hire("sam@truckpros.example", "manager").await;
    let pat = owner.hire("pat@truckpros.example", "member").await;
    let ann = owner.hire("ann@truckpros.example", "member").await;
    let bob = owner.hire("bob@truckpros.example", "member").await;
    owner
        .post(&format!("/v1/users/{pat}/manager"), json!({"manager": sam}))
        .await;
    owner
        .post(
            &format!("/v1/users/{pat}/resources"),
            json!({"resources": resources("buyer", 10)}),
        )
        .await;
    owner
        .post(
            "/v1/distributions",
            json!({"name": "North rotation", "kind": "rotation",
                   "members": [{"user": ann, "weight": 1}, {"user": bob, "weight": 1}], "backup": pat}),
        )
        .await;
    owner
        .post("/v1/duties/dealer_trade_contact/assign", json!({"to": pat}))
        .await;
    let as_ann = story.client(&owner.token(&ann).await);
    let (status, _) = as_ann
        .refused(
            &format!("/v1/users/{pat}/transfer-all"),
            json!({"kind": "buyer", "to": [bob]}),
        )
        .await;
    assert_eq!(status, 403);
    let as_sam = story.client(&owner.token("sam@truckpros.example").await);
    as_sam
        .post(
            "/v1/users/pat@truckpros.example/transfer-all",
            json!({"kind": "buyer", "to": [ann, bob]}),
        )
        .await;
    assert_eq!(owner.owned(&ann, "buyer").await, 5);
    assert_eq!(owner.owned(&bob, "buyer").await, 5);
    let (status, error) = as_sam
        .refused(
            &format!("/v1/users/{pat}/delete"),
            json!({"confirm": "CONFIRM"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(blocker_codes(&error), ["holds_duty", "distribution_backup"]);
    owner
        .post("/v1/duties/dealer_trade_contact/assign", json!({"to": ann}))
        .await;
    owner
        .post(
            "/v1/distributions/North%20rotation/backup",
            json!({"backup": bob}),
        )
        .await;
    as_sam
        .post(
            &format!("/v1/users/{pat}/delete"),
            json!({"confirm": "CONFIRM"}),
        )
        .await;
    let listed = owner.get("/v1/users").await;
    assert!(listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["id"] != pat.as_str()));
    story.stop().await;
}

/// Seed 001: admins are demoted before deactivation; "transfer account" hands
/// everything to one colleague, then deactivates; an admin acting for a deactivated
/// buyer moves their requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_procurement_demote_transfer_account_and_act_on_behalf() {
    let story = Story::start("Procurement").await;
    let owner = &story.owner;
    let ada = owner.hire("ada@procurement.example", "admin").await;
    let ben = owner.hire("ben@procurement.example", "member").await;
    let hal = owner.hire("hal@procurement.example", "member").await;
    owner.hire("ivy@procurement.example", "admin").await;
    owner
        .post(
            &format!("/v1/users/{ada}/resources"),
            json!({"resources": ["request:R-9"]}),
        )
        .await;
    owner
        .post(
            &format!("/v1/users/{ben}/resources"),
            json!({"resources": resources("request", 3)}),
        )
        .await;
    let (status, error) = owner
        .refused(&format!("/v1/users/{ada}/deactivate"), json!({}))
        .await;
    assert_eq!((status, error.code()), (422, "demotion_required"));
    owner
        .post(&format!("/v1/users/{ada}/role"), json!({"role": "member"}))
        .await;
    owner
        .post(&format!("/v1/users/{ada}/deactivate"), json!({}))
        .await;
    owner
        .post(
            &format!("/v1/users/{ben}/transfer-account"),
            json!({"to": "hal@procurement.example", "then": "deactivate"}),
        )
        .await;
    assert_eq!(owner.owned(&hal, "request").await, 3);
    let ben_now = owner.get(&format!("/v1/users/{ben}")).await;
    assert_eq!(ben_now["status"], "deactivated");
    let ivy = Client::new(
        &story.server.url(),
        Some(&owner.token("ivy@procurement.example").await),
    )
    .unwrap();
    ivy.command(
        &format!("/v1/users/{ada}/transfer-resources"),
        &json!({"resources": ["request:R-9"], "to": hal}),
        &CommandOptions {
            on_behalf_of: Some("ada@procurement.example".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let history = owner.get("/v1/resources/request:R-9/history").await;
    assert_eq!(history["changes"][1]["owner"], hal.as_str());
    assert_eq!(history["changes"][1]["on_behalf_of"], ada.as_str());
    story.stop().await;
}

/// Seed 002: only the owner disables or deletes; delete needs all work allocated;
/// disabled users are billed, deleted ones are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_salestrekker_only_the_owner_deletes_and_billing_follows() {
    let story = Story::start("Salestrekker").await;
    let owner = &story.owner;
    let bri = owner.hire("bri@salestrekker.example", "member").await;
    let pia = owner.hire("pia@salestrekker.example", "member").await;
    let leo = owner.hire("leo@salestrekker.example", "member").await;
    for (kind, n) in [("deal", 3), ("contact", 2), ("task", 2), ("note", 2)] {
        owner
            .post(
                &format!("/v1/users/{leo}/resources"),
                json!({"resources": resources(kind, n)}),
            )
            .await;
    }
    let as_pia = story.client(&owner.token(&pia).await);
    let (status, _) = as_pia
        .refused(&format!("/v1/users/{leo}/deactivate"), json!({}))
        .await;
    assert_eq!(status, 403);
    let (status, error) = owner
        .refused(
            &format!("/v1/users/{leo}/delete"),
            json!({"confirm": "CONFIRM"}),
        )
        .await;
    assert_eq!(status, 422);
    let ClientError::Api { error: detail, .. } = &error else {
        unreachable!()
    };
    let counts: Vec<(Option<&str>, u64)> = detail
        .blockers
        .iter()
        .map(|b| (b.subject.as_deref(), b.count))
        .collect();
    assert_eq!(
        counts,
        [
            (Some("contact"), 2),
            (Some("deal"), 3),
            (Some("note"), 2),
            (Some("task"), 2)
        ]
    );
    owner
        .post(&format!("/v1/users/{leo}/deactivate"), json!({}))
        .await;
    assert_eq!(owner.get("/v1/org").await["billed_seats"], 4);
    assert_eq!(owner.owned(&leo, "deal").await, 3);
    owner
        .post(&format!("/v1/users/{leo}/reactivate"), json!({}))
        .await;
    owner
        .post(
            &format!("/v1/users/{leo}/offboard"),
            json!({"plan": {"default_to": bri}, "then": "delete", "confirm": "CONFIRM"}),
        )
        .await;
    assert_eq!(owner.owned(&bri, "deal").await, 3);
    assert_eq!(owner.owned(&bri, "note").await, 2);
    assert_eq!(owner.get("/v1/org").await["billed_seats"], 3);
    story.stop().await;
}

/// Seed 003: the guided delete — the plan with the lead count and the suggested
/// rebalance, a sole member replaced, a label member replaced, then CONFIRM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003_telecrm_the_guided_delete() {
    let story = Story::start("Telecrm").await;
    let owner = &story.owner;
    let ula = owner.hire("ula@telecrm.example", "member").await;
    let vic = owner.hire("vic@telecrm.example", "member").await;
    let wes = owner.hire("wes@telecrm.example", "member").await;
    owner
        .post(
            &format!("/v1/users/{ula}/resources"),
            json!({"resources": resources("lead", 6)}),
        )
        .await;
    owner
        .post(
            "/v1/distributions",
            json!({"name": "Website form", "kind": "automation",
                   "members": [{"user": ula, "weight": 2}, {"user": vic, "weight": 1}, {"user": wes, "weight": 1}]}),
        )
        .await;
    owner
        .post(
            "/v1/distributions",
            json!({"name": "Zapier", "kind": "integration", "members": [{"user": ula, "weight": 1}]}),
        )
        .await;
    owner
        .post("/v1/labels", json!({"name": "Hot", "members": [ula, vic]}))
        .await;
    let plan = owner.get("/v1/users/ula@telecrm.example/plan").await;
    assert_eq!(plan["resources"]["lead"], 6);
    let places = plan["distributions"].as_array().unwrap();
    let website = places.iter().find(|d| d["name"] == "Website form").unwrap();
    let suggested: u64 = website["suggested"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["weight"].as_u64().unwrap())
        .sum();
    assert_eq!(suggested, 4);
    let zapier = places.iter().find(|d| d["name"] == "Zapier").unwrap();
    assert_eq!(zapier["replacement_required"], true);
    let guided = json!({
        "plan": {
            "resources": {"lead": {"to": [vic]}},
            "distributions": {"Zapier": [{"user": wes, "weight": 1}]},
            "labels": {"Hot": "wes@telecrm.example"},
        },
        "then": "delete",
    });
    let (status, error) = owner
        .refused(&format!("/v1/users/{ula}/offboard"), guided.clone())
        .await;
    assert_eq!((status, error.code()), (422, "confirmation_required"));
    let mut confirmed = guided;
    confirmed["confirm"] = json!("CONFIRM");
    let done = owner
        .post(&format!("/v1/users/{ula}/offboard"), confirmed)
        .await;
    let operation = owner
        .get(&format!(
            "/v1/correlations/{}/history",
            done["correlation_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        operation["events"].as_array().unwrap().len() as u64,
        done["events"].as_u64().unwrap()
    );
    assert_eq!(owner.owned(&vic, "lead").await, 6);
    let wes_plan = owner.get(&format!("/v1/users/{wes}/plan")).await;
    assert_eq!(wes_plan["labels"], json!(["Hot"]));
    assert_eq!(wes_plan["distributions"].as_array().unwrap().len(), 2);
    story.stop().await;
}

/// Seed 004: required fields and valid emails; credits only from the pool;
/// deactivation needs zero unused credits; no delete after credit use; deleting
/// frees the email.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_004_prosperfleet_required_fields_and_credits() {
    let story = Story::start("ProsperFleet").await;
    let owner = &story.owner;
    let (status, _) = owner
        .refused(
            "/v1/users",
            json!({"email": "kim@prosperfleet.example", "last_name": "Kay"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, error) = owner
        .refused(
            "/v1/users",
            json!({"email": "kim@prosperfleet.example", "first_name": " ", "last_name": "Kay"}),
        )
        .await;
    assert_eq!((status, error.code()), (422, "invalid_input"));
    let (status, _) = owner
        .refused(
            "/v1/users",
            json!({"email": "not-an-email", "first_name": "K", "last_name": "K"}),
        )
        .await;
    assert_eq!(status, 422);
    let kim = owner.hire("kim@prosperfleet.example", "member").await;
    let lou = owner.hire("lou@prosperfleet.example", "member").await;
    let (status, error) = owner
        .refused(
            &format!("/v1/users/{kim}/credits/grant"),
            json!({"amount": 10}),
        )
        .await;
    assert_eq!((status, error.code()), (422, "insufficient_credits"));
    owner.post("/v1/credits/pool", json!({"amount": 100})).await;
    owner
        .post(
            &format!("/v1/users/{kim}/credits/grant"),
            json!({"amount": 10}),
        )
        .await;
    let (status, error) = owner
        .refused(&format!("/v1/users/{kim}/deactivate"), json!({}))
        .await;
    assert_eq!((status, error.code()), (422, "credits_balance"));
    owner
        .post(
            "/v1/credits/transfer",
            json!({"from": kim, "to": "pool", "amount": 10}),
        )
        .await;
    owner
        .post(&format!("/v1/users/{kim}/deactivate"), json!({}))
        .await;
    owner
        .post(&format!("/v1/users/{kim}/reactivate"), json!({}))
        .await;
    owner
        .post(
            &format!("/v1/users/{kim}/credits/grant"),
            json!({"amount": 5}),
        )
        .await;
    owner
        .post(
            &format!("/v1/users/{kim}/credits/use"),
            json!({"amount": 5}),
        )
        .await;
    let (status, error) = owner
        .refused(
            &format!("/v1/users/{kim}/delete"),
            json!({"confirm": "CONFIRM"}),
        )
        .await;
    assert_eq!((status, error.code()), (422, "credit_history"));
    owner
        .post(
            &format!("/v1/users/{lou}/delete"),
            json!({"confirm": "CONFIRM"}),
        )
        .await;
    let again = owner.hire("lou@prosperfleet.example", "member").await;
    assert_ne!(again, lou);
    story.stop().await;
}
