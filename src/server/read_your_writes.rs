//! Read-your-writes across nodes: a command's answer names its position; a read that
//! passes it back — query parameter `min_position=N` or header `Offboard-Min-Position:
//! N` — is answered once this node has applied position N, or with 503
//! `position_not_reached` (`Retry-After: 1`) after [`ServerOptions::position_patience`]
//! (5 s by default). On the leader the position is usually there already; a follower
//! waits for its tail of the log to reach it. A position past the log's head — on the
//! leader, past every position its writer handed out; on a follower, past the store's
//! head, read once — cannot be reached by waiting: it is answered at once, same code.
//!
//! The parameter is taken off the query before the handler sees it (handlers reject
//! query parameters they do not know), so every GET accepts it.
//!
//! [`ServerOptions::position_patience`]: super::ServerOptions::position_patience

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tower::{Service, ServiceExt};

use super::forward::soon;
use super::{ApiError, AppState};

/// The query parameter.
pub const MIN_POSITION: &str = "min_position";

/// The header (when both are given, the larger position counts).
pub const MIN_POSITION_HEADER: HeaderName = HeaderName::from_static("offboard-min-position");

/// Waits for the position a GET asks for, then has `next` (the router) answer it (called
/// by the forwarding layer for what this node answers itself: one layer, not two).
pub(crate) async fn wait<S>(state: &AppState, mut request: Request, next: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return answer(next, request).await;
    }
    let wanted = match wanted(&mut request) {
        Ok(None) => return answer(next, request).await,
        Ok(Some(position)) => position,
        Err(e) => return e.into_response(),
    };
    if let Some(head) = beyond_reach(state, wanted).await {
        return soon(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "position_not_reached",
            format!(
                "position {wanted} is beyond the log's head ({head}): no command decided so far \
                 reaches it; ask for a position a command's answer named"
            ),
        ));
    }
    let patience = state.options().position_patience;
    if !state.engine().wait_for_position(wanted, patience).await {
        let applied = state.engine().last_position();
        return soon(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "position_not_reached",
            format!(
                "this node has applied the log up to position {applied}; position {wanted} was \
                 not reached within {} s: retry shortly, or ask another node",
                patience.as_secs_f64()
            ),
        ));
    }
    answer(next, request).await
}

/// `next`'s answer to `request`.
async fn answer<S>(next: S, request: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let Ok(response) = next.oneshot(request).await;
    response
}

/// `Some(head)` when `wanted` lies past every position handed out so far, so no wait
/// can see it: on the leader, past what its writer assigned (durable or in flight); on
/// a follower, past the store's head, read once. `None` when it may yet be applied here
/// (or the store could not be asked: then the read waits as usual).
async fn beyond_reach(state: &AppState, wanted: u64) -> Option<u64> {
    let engine = state.engine();
    if wanted <= engine.last_position() {
        return None;
    }
    let leading = engine.role().is_leader();
    let head = match engine.assigned_position().filter(|_| leading) {
        Some(assigned) => assigned,
        None => {
            let store = Arc::clone(engine.store());
            let read = tokio::task::spawn_blocking(move || store.head());
            read.await.ok()?.ok()?.last_position
        }
    };
    (wanted > head).then_some(head)
}

/// The position asked for, if any, with the parameter taken off the request's query.
fn wanted(request: &mut Request) -> Result<Option<u64>, ApiError> {
    let from_header = match request.headers().get(&MIN_POSITION_HEADER) {
        Some(value) => Some(parse(value.to_str().unwrap_or(""))?),
        None => None,
    };
    let (from_query, rest) = match request.uri().query() {
        Some(query) => take_parameter(query)?,
        None => (None, None),
    };
    if from_query.is_some() {
        let path = request.uri().path();
        let path_and_query = match rest {
            Some(rest) => format!("{path}?{rest}"),
            None => path.to_owned(),
        };
        let mut parts = request.uri().clone().into_parts();
        parts.path_and_query = Some(
            path_and_query
                .parse()
                .map_err(|_| ApiError::bad_request("the request's query cannot be read"))?,
        );
        *request.uri_mut() =
            Uri::from_parts(parts).map_err(|_| ApiError::bad_request("bad request URI"))?;
    }
    Ok(from_header.max(from_query))
}

/// `min_position` out of `query` (the last one if repeated), and the query without it
/// (`None` when nothing is left); the other parameters keep their bytes and order.
fn take_parameter(query: &str) -> Result<(Option<u64>, Option<String>), ApiError> {
    let mut found = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((MIN_POSITION, value)) => found = Some(parse(value)?),
            None if pair == MIN_POSITION => found = Some(parse("")?),
            _ => kept.push(pair),
        }
    }
    let rest = (!kept.is_empty()).then(|| kept.join("&"));
    Ok((found, rest))
}

fn parse(text: &str) -> Result<u64, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{MIN_POSITION} must be a log position (a whole number), not {text:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameter_is_taken_out_and_the_rest_kept() {
        let (found, rest) = take_parameter("limit=2&min_position=17&q=a%20b").unwrap();
        assert_eq!(found, Some(17));
        assert_eq!(rest.as_deref(), Some("limit=2&q=a%20b"));
        assert_eq!(take_parameter("min_position=3").unwrap(), (Some(3), None));
        assert_eq!(
            take_parameter("limit=2").unwrap(),
            (None, Some("limit=2".to_owned()))
        );
        assert!(take_parameter("min_position=soon").is_err());
    }
}
