//! The HTTP conventions every answer follows, as middleware (tower-http where it has the
//! layer): `X-Request-Id` taken from the request (1 to 200 visible ASCII characters)
//! or generated (a UUID), echoed on the
//! answer and recorded in the request's log line; gzip or br when the client asks
//! (`Accept-Encoding`), never for `text/event-stream`; `WWW-Authenticate: Bearer` on
//! every 401; `Retry-After` on every 503 and 429; CORS for the origins `serve
//! --cors-origin` names (none by default: no CORS header at all); `ETag` on views
//! ([`super::etag`]); and the HTTP metrics ([`super::metrics::RecordLayer`]).
//!
//! [`ServerOptions::conventions`](super::ServerOptions) turns all of it off, only to
//! measure what it costs (`offboard bench --only http`).

use std::time::Duration;

use axum::http::header::{
    AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::RETRY_AFTER_SECONDS;
use super::etag;
use super::metrics::{self, HttpMetrics};

/// The request id header (the de-facto standard name; no RFC defines one).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The conventions around `router`, outside its routing, innermost first: ETag (on the
/// uncompressed view), the headers of 401, 429 and 503, compression, CORS (its preflight
/// answered before anything else runs), and the request id — taken or made first, so the
/// request's log span names it, and echoed on the answer.
///
/// Outside routing, not through `Router::layer`: a layer added there wraps every route
/// in a box of its own, and axum clones and drops the whole stack of boxes for each
/// request (the largest cost of these layers in a profile of `bench --only http`).
/// Around the router they are plain structs cloned once per request. The HTTP metrics
/// need the matched route template, so they stay inside ([`super::app`]).
pub(crate) fn around(router: Router, cors_origins: &[HeaderValue]) -> Router {
    let service = ServiceBuilder::new()
        .map_request(drop_unfit_request_id)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .option_layer(cors(cors_origins))
        // The default predicate already skips `text/event-stream` (and bodies under 32
        // bytes): a compressed event stream would sit in the encoder's buffer.
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            RETRY_AFTER,
            retry_after,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            WWW_AUTHENTICATE,
            bearer_challenge,
        ))
        .layer(etag::EtagLayer)
        .service(router);
    Router::new().fallback_service(service)
}

/// Longest `X-Request-Id` kept from a request (Heroku's router takes 20 to 200
/// characters); a longer one is replaced by a generated id.
pub const REQUEST_ID_MAX: usize = 200;

/// Removes a request's `X-Request-Id` unless it is 1 to [`REQUEST_ID_MAX`] visible ASCII
/// characters, so that the id made in its place is what gets echoed and logged: an
/// id is copied into every answer and log line, and a client must not make either
/// carry kilobytes or bytes a log reader would misread.
fn drop_unfit_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let fit = |id: &HeaderValue| {
        (1..=REQUEST_ID_MAX).contains(&id.len()) && id.as_bytes().iter().all(u8::is_ascii_graphic)
    };
    if request
        .headers()
        .get(&REQUEST_ID)
        .is_some_and(|id| !fit(id))
    {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

/// The HTTP metrics, inside routing (they label by the matched route template).
pub(crate) fn metrics(router: Router, http: HttpMetrics) -> Router {
    router.layer(metrics::RecordLayer(http))
}

/// RFC 6750 §3: a 401 says which scheme to use.
fn bearer_challenge(response: &Response) -> Option<HeaderValue> {
    (response.status() == StatusCode::UNAUTHORIZED)
        .then(|| HeaderValue::from_static("Bearer realm=\"offboard\""))
}

/// RFC 9110 §10.2.3: a 503 or 429 says when to come back. Errors of the API set it
/// already (`ApiError`); this covers any other (a layer's own 503).
fn retry_after(response: &Response) -> Option<HeaderValue> {
    matches!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
    )
    .then(|| HeaderValue::from(RETRY_AFTER_SECONDS))
}

/// CORS for `origins` (`*`: any origin), or none at all when it is empty. Tokens travel
/// in `Authorization`, never in cookies, so credentials are not allowed.
fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().cloned())
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                IF_NONE_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("last-event-id"),
                super::read_your_writes::MIN_POSITION_HEADER,
                REQUEST_ID,
            ])
            .expose_headers([ETAG, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE, REQUEST_ID])
            .max_age(Duration::from_secs(3600)),
    )
}

/// Checks one `serve --cors-origin` value: `*`, or an origin as browsers send it,
/// `http(s)://host[:port]` with no path.
pub fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let bad = || {
        format!("{text:?} is not an origin: give `*` or scheme://host[:port], e.g. https://admin.example.com")
    };
    if text == "*" {
        return Ok(HeaderValue::from_static("*"));
    }
    let uri: Uri = text.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let bare = uri.authority().is_some()
        && !text.ends_with('/')
        && uri.path_and_query().is_none_or(|p| p.as_str() == "/");
    if !scheme_ok || !bare {
        return Err(bad());
    }
    HeaderValue::from_str(text).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_or_star() {
        assert!(parse_origin("https://admin.example.com").is_ok());
        assert!(parse_origin("http://localhost:3000").is_ok());
        assert!(parse_origin("*").is_ok());
        for bad in [
            "admin.example.com",
            "https://a.example/",
            "https://a.example/x",
            "ftp://a.example",
            "",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_429_says_when_to_come_back_like_a_503() {
        use axum::body::Body;
        use axum::routing::get;
        use tower::ServiceExt;
        let router = around(
            Router::new().route("/busy", get(|| async { StatusCode::TOO_MANY_REQUESTS })),
            &[],
        );
        let request = axum::http::Request::get("/busy")
            .body(Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "5");
    }
}
