//! Every endpoint through the router, without a socket: statuses 200, 400, 401, 403,
//! 404 (another org's objects), 409, 413 and 422, and the error shape.

use serde_json::json;

use super::support::*;

#[tokio::test]
async fn smoke() {
    let w = world().await;
    let doc = w
        .send("GET", "/v1/openapi.json", None, None, &[])
        .await
        .ok();
    println!(
        "{}",
        serde_json::to_string_pretty(&doc["paths"]["/v1/users/{user}/deactivate"]).unwrap()
    );
    let ann = w.hire("ann@truckpros.example", "member").await;
    let me = w.get(&w.owner_token, "/v1/whoami").await.ok();
    println!("{me}");
    let u = w
        .get(&w.owner_token, "/v1/users/ann@truckpros.example")
        .await
        .ok();
    assert_eq!(u["id"], ann.to_string());
    let _ = json!({});
}
