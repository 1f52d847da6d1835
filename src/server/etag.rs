//! `ETag` and `If-None-Match` on GETs of views: a client that already holds the answer
//! gets `304 Not Modified` with no body.
//!
//! Which ETag: a weak one, `W/"…"`, the first 128 bits of the SHA-256 of the JSON body
//! as answered. Why the body's hash and not the log position: what a view shows depends
//! on more than the position — the caller (a token sees its own org, with its own
//! rights), the query string (filters, `as_of`, pagination) and rules that move with the
//! clock (the restore window) — and a hash of the answer covers all of it with no
//! per-view code, so two different answers never share a tag. The view is still built;
//! what is saved is the transfer. Why weak: compression changes the bytes sent but not
//! the view, and a weak tag is what `If-None-Match` compares anyway (RFC 9110 §13.1.2).
//!
//! Hand-written (~100 lines): tower-http has no ETag layer (its `ServeDir` answers
//! conditional requests for files by modification time only). A plain tower layer, not
//! `axum::middleware::from_fn`: every request but a GET (every command) passes straight
//! to the inner service's own future, where `from_fn` boxed a future and the rest of the
//! stack for each one (~4 % of `bench --only http`'s throughput).

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

/// Tags every `200` JSON answer to a GET whose body is whole in memory, and answers
/// `304` when `If-None-Match` names that tag (or is `*`). A streamed body (its length
/// unknown) passes through untagged, so a stream is never buffered.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EtagLayer;

impl<S> Layer<S> for EtagLayer {
    type Service = Etag<S>;

    fn layer(&self, inner: S) -> Etag<S> {
        Etag { inner }
    }
}

/// The service [`EtagLayer`] makes.
#[derive(Clone, Debug)]
pub(crate) struct Etag<S> {
    inner: S,
}

impl<S> Service<Request> for Etag<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.method() != Method::GET {
            return Either::Left(self.inner.call(request));
        }
        let wanted = request.headers().get(IF_NONE_MATCH).cloned();
        let answer = self.inner.call(request);
        Either::Right(Box::pin(async move {
            let Ok(response) = answer.await;
            Ok(tag(response, wanted).await)
        }))
    }
}

/// Tags `response` (an answer to a GET) if it is a whole `200` JSON body; `304` when
/// `wanted` (the request's `If-None-Match`) names the tag.
async fn tag(response: Response, wanted: Option<HeaderValue>) -> Response {
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status() != StatusCode::OK || !json || response.body().size_hint().exact().is_none()
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let digest = Sha256::digest(&bytes);
    let etag = format!("W/\"{}\"", hex::encode(&digest[..16]));
    let value = HeaderValue::from_str(&etag).expect("hex is a valid header value");
    parts.headers.insert(ETAG, value);
    if wanted.is_some_and(|w| matches(&w, &etag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(CONTENT_TYPE);
        parts.headers.remove(CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Whether `If-None-Match` (a list of tags, or `*`) names `etag`, by weak comparison
/// (the `W/` prefix ignored on both sides).
fn matches(if_none_match: &HeaderValue, etag: &str) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    list.split(',')
        .any(|t| t.trim() == "*" || opaque(t) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_in_a_list_or_star() {
        let tag = "W/\"abc\"";
        let m = |h: &'static str| matches(&HeaderValue::from_static(h), tag);
        assert!(m("W/\"abc\""));
        assert!(m("\"abc\""));
        assert!(m("\"x\", W/\"abc\""));
        assert!(m("*"));
        assert!(!m("W/\"abd\""));
        assert!(!m(""));
    }
}
