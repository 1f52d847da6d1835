//! Pagination of every list: walking the pages of `limit` items following `next` (and
//! the `Link` header) yields the whole list, in order, with no gap and no duplicate; a
//! bad `limit` or `cursor` is 400 `invalid_input` and appends nothing.

use axum::body::Body;
use axum::http::{header, Request};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::support::*;

/// `GET path` through the router: the body and the `Link` header.
async fn get_with_link(w: &World, path: &str) -> (Value, Option<String>) {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", w.owner_token))
        .body(Body::empty())
        .unwrap();
    let response = w.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    let link = response
        .headers()
        .get(header::LINK)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (serde_json::from_slice(&bytes).unwrap(), link)
}

/// Every item of `field` over the pages from `first`, checking each page's size, its
/// `Link` header against `next`, and that the last page says so.
async fn walk(w: &World, first: &str, field: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = first.to_owned();
    loop {
        let (page, link) = get_with_link(w, &url).await;
        let got = page[field].as_array().unwrap();
        assert!(got.len() <= limit, "{url}: {} items", got.len());
        items.extend(got.iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(got.len(), limit, "only a last page is short");
                assert_eq!(link, Some(format!("<{next}>; rel=\"next\"")));
                assert!(next.starts_with('/'), "a relative URL: {next}");
                url = next.to_owned();
            }
            None => {
                assert!(page["next"].is_null());
                assert_eq!(link, None);
                return items;
            }
        }
    }
}

/// Given 23 buyers and a few users, with moves, so histories run over several pages.
async fn busy_org(w: &World) {
    let ann = w.hire("ann@truckpros.example", "member").await;
    w.hire("bob@truckpros.example", "member").await;
    w.hire("cy@truckpros.example", "member").await;
    let keys: Vec<String> = (0..23).map(|i| format!("buyer:B-{i:02}")).collect();
    w.post(
        &w.owner_token,
        &format!("/v1/users/{ann}/resources"),
        json!({ "resources": keys }),
    )
    .await
    .ok();
    for i in 0..3 {
        w.post(
            &w.owner_token,
            &format!("/v1/users/{ann}/transfer-resources"),
            json!({"resources": [format!("buyer:B-{i:02}")], "to": "bob@truckpros.example"}),
        )
        .await
        .ok();
    }
}

#[tokio::test]
async fn walking_the_pages_of_every_list_yields_the_whole_list_once_in_order() {
    let w = world().await;
    busy_org(&w).await;
    // Owners: pages of 5 give the same 23 resources as one page, in key order.
    let whole = get_with_link(&w, "/v1/owners?limit=1000").await.0["owners"].clone();
    let paged = walk(&w, "/v1/owners?limit=5", "owners", 5).await;
    assert_eq!(paged.len(), 23);
    assert_eq!(Value::Array(paged.clone()), whole);
    let keys: Vec<&str> = paged
        .iter()
        .map(|o| o["resource"].as_str().unwrap())
        .collect();
    assert!(keys.windows(2).all(|k| k[0] < k[1]), "{keys:?}");
    // A filter is kept in the next link.
    let bobs = walk(
        &w,
        "/v1/owners?owner=bob@truckpros.example&limit=2",
        "owners",
        2,
    )
    .await;
    assert_eq!(bobs.len(), 3);
    assert!(bobs
        .iter()
        .all(|o| o["owner_email"] == "bob@truckpros.example"));
    // The timeline: pages of 4, strictly increasing positions, nothing missing.
    let timeline = get_with_link(&w, "/v1/history?limit=1000").await.0["events"].clone();
    let events = walk(&w, "/v1/history?limit=4", "events", 4).await;
    assert!(events.len() > 8);
    assert_eq!(Value::Array(events.clone()), timeline);
    let positions: Vec<u64> = events
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "{positions:?}");
    // A user's history, the directory (by email) and a resource's owners.
    let anns = walk(
        &w,
        "/v1/users/ann@truckpros.example/history?limit=2",
        "events",
        2,
    )
    .await;
    assert!(anns.len() >= 5);
    let users = walk(&w, "/v1/users?limit=1", "users", 1).await;
    let emails: Vec<&str> = users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails.len(), 4);
    assert!(emails.windows(2).all(|e| e[0] < e[1]), "{emails:?}");
    let changes = walk(&w, "/v1/resources/buyer:B-01/history?limit=1", "changes", 1).await;
    assert_eq!(changes.len(), 2);
    let moves = walk(&w, "/v1/resources/buyer:B-01/events?limit=1", "events", 1).await;
    assert_eq!(moves.len(), 2);
    // The org's tokens, oldest first, and the listings.
    let all_tokens = get_with_link(&w, "/v1/tokens?limit=1000").await.0["tokens"].clone();
    let tokens = walk(&w, "/v1/tokens?limit=1", "tokens", 1).await;
    assert!(tokens.len() >= 3);
    assert_eq!(Value::Array(tokens), all_tokens);
    // Without a limit, a page holds 100.
    let (first, _) = get_with_link(&w, "/v1/owners").await;
    assert_eq!(first["owners"].as_array().unwrap().len(), 23);
    assert!(first["next"].is_null());
}

#[tokio::test]
async fn a_filtered_timeline_pages_through_every_matching_event_in_log_order() {
    // Given three transfers among registrations and hires
    let w = world().await;
    busy_org(&w).await;
    // When the timeline is filtered by type, a page at a time
    let moves = walk(
        &w,
        "/v1/history?event_type=ResourcesTransferred&limit=1",
        "events",
        1,
    )
    .await;
    // Then every page holds the next matching event: all three, in log order
    assert_eq!(moves.len(), 3, "{moves:?}");
    assert!(moves
        .iter()
        .all(|e| e["event_type"] == "ResourcesTransferred"));
    let positions: Vec<u64> = moves
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "{positions:?}");
    // By actor (any case) and type together, and on a user's history too
    let by_owner = walk(
        &w,
        "/v1/history?actor=OWNER%40truckpros&event_type=ResourcesTransferred&limit=2",
        "events",
        2,
    )
    .await;
    assert_eq!(by_owner, moves);
    let bobs = walk(
        &w,
        "/v1/users/bob@truckpros.example/history?event_type=ResourcesTransferred&limit=1",
        "events",
        1,
    )
    .await;
    assert_eq!(bobs, moves);
    // An actor that never acted matches nothing; an unknown type is refused
    let none = walk(&w, "/v1/history?actor=helpdesk", "events", 100).await;
    assert!(none.is_empty());
    w.get(&w.owner_token, "/v1/history?event_type=Nope")
        .await
        .error(400, "invalid_input");
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_400_and_appends_nothing() {
    let w = world().await;
    busy_org(&w).await;
    let before = w.engine.last_position();
    for bad in ["0", "1001", "-1", "ten", ""] {
        let answer = w
            .get(&w.owner_token, &format!("/v1/owners?limit={bad}"))
            .await;
        let body = answer.error(400, "invalid_input");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("limit"),
            "{body}"
        );
    }
    w.get(&w.owner_token, "/v1/history?limit=1000").await.ok();
    // A cursor that does not decode, or one taken from another list.
    let (page, _) = get_with_link(&w, "/v1/owners?limit=2").await;
    let next = page["next"].as_str().unwrap();
    let cursor = next.split("cursor=").nth(1).unwrap();
    w.get(&w.owner_token, &format!("/v1/owners?cursor={cursor}x!"))
        .await
        .error(400, "invalid_input");
    w.get(&w.owner_token, "/v1/owners?cursor=bm90LWEtY3Vyc29y")
        .await
        .error(400, "invalid_input");
    let refused = w
        .get(&w.owner_token, &format!("/v1/history?cursor={cursor}"))
        .await
        .error(400, "invalid_input");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("another list"));
    // The genuine cursor still works.
    w.get(&w.owner_token, &format!("/v1/owners?cursor={cursor}"))
        .await
        .ok();
    assert_eq!(w.engine.last_position(), before, "reads append nothing");
}

#[tokio::test]
async fn the_directory_walked_in_small_pages_is_the_directory_in_one_page_with_or_without_deleted_users(
) {
    // Given 30 users with mixed-case emails, every third of them deleted (each deletion
    // deactivates first)
    let w = world().await;
    for i in 0..30 {
        let email = format!(
            "{}{i:02}@truckpros.example",
            if i % 2 == 0 { "Ann" } else { "bob" }
        );
        let id = w.hire(&email, "member").await;
        if i % 3 == 0 {
            w.post(
                &w.owner_token,
                &format!("/v1/users/{id}/deactivate"),
                json!({}),
            )
            .await
            .ok();
            let confirm = json!({"confirm": "CONFIRM"});
            w.post(&w.owner_token, &format!("/v1/users/{id}/delete"), confirm)
                .await
                .ok();
        }
    }
    for query in ["", "&include_deleted=true", "&status=deleted"] {
        // When the directory is walked 4 users a page, following `next`
        let whole = get_with_link(&w, &format!("/v1/users?limit=1000{query}"))
            .await
            .0["users"]
            .clone();
        let paged = walk(&w, &format!("/v1/users?limit=4{query}"), "users", 4).await;
        // Then it is the one-page directory, user for user, ordered by email case-folded
        assert_eq!(Value::Array(paged.clone()), whole, "{query}");
        let emails: Vec<String> = paged
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_lowercase())
            .collect();
        assert!(
            emails.windows(2).all(|e| e[0] < e[1]),
            "{query}: {emails:?}"
        );
        let expected = match query {
            "" => 21, // the owner and the 20 not deleted
            "&include_deleted=true" => 31,
            _ => 10,
        };
        assert_eq!(paged.len(), expected, "{query}");
    }
}
