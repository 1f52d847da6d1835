//! The web console's conventions through the router (no socket, no browser): security
//! headers, the session cookie's attributes, CSRF refusals that append nothing, and a
//! session ending with its token. The pages themselves are tested in a real browser
//! (tests/browser/).

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use tower::ServiceExt;

use crate::support::{world, World};

/// A console request: status, headers and body text.
async fn request(
    w: &World,
    method: &str,
    path: &str,
    host: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host);
    if let Some(cookie) = cookie {
        r = r.header(header::COOKIE, cookie);
    }
    if form.is_some() {
        r = r.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let body = form.map_or_else(Body::empty, |f| Body::from(f.to_owned()));
    let response = w.app.clone().oneshot(r.body(body).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Signs in with `token` on `host`; returns the `Set-Cookie` header and the cookie.
async fn sign_in(w: &World, token: &str, host: &str) -> (String, String) {
    let form = format!("token={token}");
    let (status, headers, body) = request(w, "POST", "/sign-in", host, None, Some(&form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let set = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    let cookie = set.split(';').next().unwrap().to_owned();
    (set, cookie)
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn every_console_answer_carries_the_security_headers() {
    let w = world().await;
    for path in ["/", "/sign-in", "/assets/console.css", "/people/nobody"] {
        let (_, headers, _) = request(&w, "GET", path, "127.0.0.1:8080", None, None).await;
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
    }
    let (status, headers, _) = request(&w, "GET", "/", "127.0.0.1", None, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/sign-in");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_off_loopback() {
    let w = world().await;
    let (local, _) = sign_in(&w, &w.owner_token, "127.0.0.1:8080").await;
    assert!(
        local.contains("HttpOnly") && local.contains("SameSite=Strict"),
        "{local}"
    );
    assert!(!local.contains("Secure"), "plain HTTP on loopback: {local}");
    let (remote, _) = sign_in(&w, &w.owner_token, "console.example").await;
    assert!(
        remote.contains("Secure") && remote.contains("HttpOnly"),
        "{remote}"
    );

    let (status, _, body) = request(
        &w,
        "POST",
        "/sign-in",
        "127.0.0.1",
        None,
        Some("token=ofb_nope"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("unknown or was revoked"), "{body}");
}

#[tokio::test]
async fn a_form_without_the_session_csrf_token_is_refused_and_appends_nothing() {
    let w = world().await;
    let pat = w.hire("pat@truckpros.example", "member").await;
    let (_, cookie) = sign_in(&w, &w.owner_token, "127.0.0.1").await;
    let head = w.engine.last_position();
    let path = format!("/people/{pat}/deactivate");
    for form in ["", "csrf=forged"] {
        let (status, _, body) =
            request(&w, "POST", &path, "127.0.0.1", Some(&cookie), Some(form)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("csrf_failed"), "{body}");
    }
    assert_eq!(w.engine.last_position(), head, "nothing appended");

    let (_, _, page) = request(
        &w,
        "GET",
        &format!("/people/{pat}"),
        "127.0.0.1",
        Some(&cookie),
        None,
    )
    .await;
    let form = format!("csrf={}", csrf_of(&page));
    let (status, _, body) =
        request(&w, "POST", &path, "127.0.0.1", Some(&cookie), Some(&form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Done: deactivated"), "{body}");
    assert!(w.engine.last_position() > head);
}

#[tokio::test]
async fn revoking_the_token_ends_its_sessions() {
    let w = world().await;
    let (_, cookie) = sign_in(&w, &w.support_token, "127.0.0.1").await;
    let (status, _, _) = request(&w, "GET", "/support", "127.0.0.1", Some(&cookie), None).await;
    assert_eq!(status, StatusCode::OK);
    let tokens = w.get(&w.owner_token, "/v1/tokens").await.ok();
    for token in tokens["tokens"].as_array().unwrap() {
        if token["principal"]["name"] == "helpdesk" {
            let id = token["id"].as_str().unwrap();
            let path = format!("/v1/tokens/{id}/revoke");
            w.post(&w.owner_token, &path, serde_json::json!({}))
                .await
                .ok();
        }
    }
    let (status, headers, _) =
        request(&w, "GET", "/support", "127.0.0.1", Some(&cookie), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/sign-in");
}

/// The People page a search form sends back.
async fn search(w: &World, cookie: &str, form: &str) -> String {
    let path = "/people/search";
    let (status, _, page) = request(w, "POST", path, "127.0.0.1", Some(cookie), Some(form)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

/// The emails of a People page's rows, in order.
fn emails_of(page: &str) -> Vec<String> {
    page.split("<td data-label=\"Email\">")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn people_are_searched_filtered_and_paged_in_email_order() {
    // Given 55 members p00…p54 and an admin, Émilie Zola
    let w = world().await;
    for i in 0..55 {
        w.hire(&format!("p{i:02}@truckpros.example"), "member")
            .await;
    }
    let admin = serde_json::json!({"email": "ez@truckpros.example", "first_name": "Émilie",
        "last_name": "Zola", "role": "admin", "active": true});
    w.post(&w.owner_token, "/v1/users", admin).await.created();
    let (_, cookie) = sign_in(&w, &w.owner_token, "127.0.0.1").await;
    // When the first page is shown, Then 50 rows in email order of 57 people
    let (status, _, first) = request(&w, "GET", "/", "127.0.0.1", Some(&cookie), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.contains("57 people"), "{first}");
    let rows = emails_of(&first);
    assert_eq!(rows.len(), 50);
    assert_eq!(
        rows[..3],
        [
            "ez@truckpros.example",
            "owner@truckpros.example",
            "p00@truckpros.example"
        ]
    );
    assert_eq!(rows[49], "p47@truckpros.example");
    // And the next page goes on after the last row, with the filters kept
    let at = first.find("name=\"after\" value=\"").expect("a next page") + 20;
    let after = first[at..].split('"').next().unwrap();
    let form = format!("csrf={}&after={after}", csrf_of(&first));
    let second = search(&w, &cookie, &form).await;
    let rows = emails_of(&second);
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert_eq!(rows[0], "p48@truckpros.example");
    assert!(!second.contains("name=\"after\""), "the last page");
    // A search by name ignores case and accents' forms; by email, part of it
    for q in ["%C3%89MILIE", "zola", "EZ%40TRUCK"] {
        let form = format!("csrf={}&q={q}", csrf_of(&first));
        let found = search(&w, &cookie, &form).await;
        assert_eq!(emails_of(&found), ["ez@truckpros.example"], "{q}");
        assert!(found.contains("1 person"), "{q}");
    }
    // Filters by role and status
    let (_, _, admins) = request(&w, "GET", "/?role=admin", "127.0.0.1", Some(&cookie), None).await;
    assert_eq!(emails_of(&admins), ["ez@truckpros.example"]);
    let path = "/?status=deactivated";
    let (_, _, none) = request(&w, "GET", path, "127.0.0.1", Some(&cookie), None).await;
    assert!(none.contains("No one matches."), "{none}");
}

/// A console link for `principal` minted by the owner over the API; its path.
async fn link_for(w: &World, principal: &str, ttl_seconds: u64) -> String {
    let body = serde_json::json!({ "principal": principal, "ttl_seconds": ttl_seconds });
    let created = w.post(&w.owner_token, "/v1/console-links", body).await.ok();
    created["path"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_sign_in_link_opens_one_session_once_and_never_when_expired_or_revoked() {
    let w = world().await;
    // Given a link for the auditor: it opens a session and leaves the URL at once
    let link = link_for(&w, "auditor:audit-firm", 600).await;
    assert!(link.starts_with("/sign-in/link?code="), "{link}");
    let (status, headers, _) = request(&w, "GET", &link, "127.0.0.1", None, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap();
    let (status, _, page) = request(&w, "GET", "/audit", "127.0.0.1", Some(cookie), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("auditor:audit-firm"), "{page}");
    // When it is opened again, Then it is refused with a page saying so, no session
    let (status, headers, page) = request(&w, "GET", &link, "127.0.0.1", None, None).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(
        page.contains("already used") && page.contains("link_used"),
        "{page}"
    );
    assert!(headers.get(header::SET_COOKIE).is_none());
    // Nor does a server started again on the same log take it
    let again = offboard::server::app(offboard::server::AppState::new(w.engine.clone()).unwrap());
    let request_again = Request::get(link.as_str()).header(header::HOST, "127.0.0.1");
    let answer = again
        .oneshot(request_again.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::GONE);
    // An expired link, a mangled one, one whose user was deactivated since: refused
    let expired = link_for(&w, "auditor:audit-firm", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, page) = request(&w, "GET", &expired, "127.0.0.1", None, None).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("expired"), "{page}");
    let (status, _, page) =
        request(&w, "GET", "/sign-in/link?code=x", "127.0.0.1", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("not known"), "{page}");
    let pat = w.hire("pat@truckpros.example", "member").await;
    let pats = link_for(&w, "pat@truckpros.example", 600).await;
    w.post(
        &w.owner_token,
        &format!("/v1/users/{pat}/deactivate"),
        serde_json::json!({}),
    )
    .await
    .ok();
    let (status, headers, page) = request(&w, "GET", &pats, "127.0.0.1", None, None).await;
    assert!(status.is_client_error(), "{status}");
    assert!(page.contains("cannot open a session"), "{page}");
    assert!(headers.get(header::SET_COOKIE).is_none());
    // And only the owner mints links
    let body = serde_json::json!({ "principal": "auditor:audit-firm" });
    w.post(&w.auditor_token, "/v1/console-links", body)
        .await
        .error(403, "forbidden");
}
