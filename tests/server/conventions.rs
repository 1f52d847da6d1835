//! The HTTP conventions (issue 16 §2), through the router without a socket: compression
//! when asked and never for the event stream, `X-Request-Id` generated or echoed,
//! `WWW-Authenticate: Bearer` on 401, `Retry-After` on 503, CORS off by default and on
//! for the origins given, `ETag` with `If-None-Match` → 304, and the operations
//! endpoints `/healthz` and `/readyz`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use offboard::server::{self, conventions, AppState, ServerOptions};
use offboard::Engine;
use tower::ServiceExt;
use uuid::Uuid;

use super::support::{world, world_with, World};

/// A raw request through the router: the whole response, headers included.
async fn raw(app: &Router, method: &str, path: &str, headers: &[(&str, &str)]) -> Response<Body> {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn bearer(w: &World) -> String {
    format!("Bearer {}", w.owner_token)
}

async fn body_len(response: Response<Body>) -> usize {
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn answers_are_compressed_only_when_asked_and_the_event_stream_never() {
    let w = world().await;
    let plain = raw(&w.app, "GET", "/v1/openapi.json", &[]).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_len = body_len(plain).await;
    for encoding in ["gzip", "br"] {
        let packed = raw(
            &w.app,
            "GET",
            "/v1/openapi.json",
            &[("accept-encoding", encoding)],
        )
        .await;
        assert_eq!(packed.status(), StatusCode::OK);
        assert_eq!(packed.headers()["content-encoding"], encoding);
        assert!(
            body_len(packed).await < plain_len / 3,
            "{encoding} shrinks the document"
        );
    }
    let auth = bearer(&w);
    let stream = raw(
        &w.app,
        "GET",
        "/v1/events",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("accept-encoding", "gzip, br"),
        ],
    )
    .await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(stream.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn a_request_id_is_generated_or_echoed() {
    let w = world().await;
    let answer = raw(&w.app, "GET", "/healthz", &[]).await;
    let id = answer.headers()["x-request-id"].to_str().unwrap();
    assert!(
        Uuid::parse_str(id).is_ok(),
        "a generated id is a UUID: {id}"
    );
    let other = raw(&w.app, "GET", "/healthz", &[]).await;
    assert_ne!(other.headers()["x-request-id"], id, "one id per request");
    let echoed = raw(&w.app, "GET", "/v1/users", &[("x-request-id", "trace-42")]).await;
    assert_eq!(echoed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(echoed.headers()["x-request-id"], "trace-42");
    // An id too long to copy into every answer and log line, or with spaces or bytes
    // beyond ASCII, is replaced by a generated one.
    let long = "x".repeat(201);
    let at_most = "y".repeat(200);
    for unfit in [long.as_str(), "two words", "caf\u{e9}"] {
        let answer = raw(&w.app, "GET", "/healthz", &[("x-request-id", unfit)]).await;
        let id = answer.headers()["x-request-id"]
            .to_str()
            .unwrap_or("not ASCII");
        assert!(Uuid::parse_str(id).is_ok(), "{unfit:?} gave {id}");
    }
    let kept = raw(&w.app, "GET", "/healthz", &[("x-request-id", &at_most)]).await;
    assert_eq!(kept.headers()["x-request-id"], at_most.as_str());
}

#[tokio::test]
async fn every_401_names_the_bearer_scheme() {
    let w = world().await;
    for headers in [
        vec![],
        vec![("authorization", "Bearer ofb_not_a_token")],
        vec![("authorization", "Basic dXNlcjpwdw==")],
    ] {
        let answer = raw(&w.app, "GET", "/v1/users", &headers).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        let challenge = answer.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }
    let auth = bearer(&w);
    let ok = raw(&w.app, "GET", "/v1/users", &[("authorization", &auth)]).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn readyz_is_503_with_retry_after_once_stopping_and_healthz_stays_up() {
    let state = AppState::new(Arc::new(Engine::in_memory())).unwrap();
    let app = server::app(state.clone());
    let ready = raw(&app, "GET", "/readyz", &[]).await;
    assert_eq!(ready.status(), StatusCode::OK);
    state.begin_shutdown();
    let stopping = raw(&app, "GET", "/readyz", &[]).await;
    assert_eq!(stopping.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stopping.headers()["retry-after"], "5");
    for live in ["/healthz", "/livez"] {
        assert_eq!(raw(&app, "GET", live, &[]).await.status(), StatusCode::OK);
    }
}

const ADMIN: &str = "https://admin.example.com";

/// A GET of the directory from a page of `origin`.
async fn from_page(w: &World, origin: &str) -> Response<Body> {
    let auth = bearer(w);
    let headers = [("origin", origin), ("authorization", auth.as_str())];
    raw(&w.app, "GET", "/v1/users", &headers).await
}

/// A browser's preflight for a POST with a token and an Idempotency-Key.
async fn preflight(w: &World) -> Response<Body> {
    let headers = [
        ("origin", ADMIN),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization, idempotency-key",
        ),
    ];
    raw(&w.app, "OPTIONS", "/v1/users", &headers).await
}

fn allowed_origin(response: &Response<Body>) -> Option<&str> {
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let w = world().await;
    let simple = from_page(&w, ADMIN).await;
    assert_eq!(simple.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&simple), None);
    assert_eq!(allowed_origin(&preflight(&w).await), None);
}

#[tokio::test]
async fn cors_answers_the_origins_given_and_no_other() {
    let w = world_with(ServerOptions {
        cors_origins: vec![conventions::parse_origin(ADMIN).unwrap()],
        ..ServerOptions::default()
    })
    .await;
    let asked = preflight(&w).await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&asked), Some(ADMIN));
    let header = |name: &str| asked.headers()[name].to_str().unwrap().to_owned();
    assert!(header("access-control-allow-methods").contains("POST"));
    let allowed = header("access-control-allow-headers");
    assert!(allowed.contains("authorization") && allowed.contains("idempotency-key"));

    let simple = from_page(&w, ADMIN).await;
    assert_eq!(allowed_origin(&simple), Some(ADMIN));
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("etag"),
        "{exposed}"
    );
    assert_eq!(
        allowed_origin(&from_page(&w, "https://evil.example").await),
        None
    );
}

#[tokio::test]
async fn a_view_unchanged_since_its_etag_answers_304_and_a_change_gives_a_new_tag() {
    let w = world().await;
    let auth = bearer(&w);
    let first = raw(&w.app, "GET", "/v1/users", &[("authorization", &auth)]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(tag.starts_with("W/\""), "{tag}");

    let again = raw(
        &w.app,
        "GET",
        "/v1/users",
        &[("authorization", &auth), ("if-none-match", &tag)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], tag.as_str());
    assert_eq!(body_len(again).await, 0);

    // Another org's owner asking the same URL with that tag gets their own view.
    let other = format!("Bearer {}", w.other_token);
    let theirs = raw(
        &w.app,
        "GET",
        "/v1/users",
        &[("authorization", &other), ("if-none-match", &tag)],
    )
    .await;
    assert_eq!(theirs.status(), StatusCode::OK);

    w.hire("new@truckpros.example", "member").await;
    let changed = raw(
        &w.app,
        "GET",
        "/v1/users",
        &[("authorization", &auth), ("if-none-match", &tag)],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"], tag.as_str());
}

#[tokio::test]
async fn without_the_conventions_none_of_their_headers_are_sent() {
    let w = world_with(ServerOptions {
        conventions: false,
        ..ServerOptions::default()
    })
    .await;
    let answer = raw(
        &w.app,
        "GET",
        "/v1/openapi.json",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    for header in ["x-request-id", "content-encoding", "etag"] {
        assert!(answer.headers().get(header).is_none(), "{header}");
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn the_request_id_is_in_the_request_log_line() {
    let w = world().await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Other tests run on other threads without a subscriber: a callsite they reached first
    // may have cached "never interested"; recompute with this thread's subscriber in place.
    tracing::callsite::rebuild_interest_cache();
    raw(&w.app, "GET", "/healthz", &[("x-request-id", "trace-77")]).await;
    let generated = raw(&w.app, "GET", "/livez", &[]).await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("request_id=trace-77"), "{log}");
    assert!(log.contains(&format!("request_id={id}")), "{log}");
}
