//! The live timeline: `GET /audit/live` is a Server-Sent Events stream, opened by the
//! Audit page with the session's cookie (htmx's SSE extension), that sends every event
//! the org commits from then on as ready-made table rows (`event: row`). It ends when
//! the server stops or the session's token is revoked.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};

use super::failure::Failure;
use super::session::Signed;
use super::templates;
use super::timeline::Row;
use crate::server::{AppState, Read};

/// `GET /audit/live`.
pub async fn stream(State(state): State<AppState>, signed: Signed) -> Response {
    if let Err(e) = signed
        .caller
        .may_read(&state.engine().state(), Read::History)
    {
        return Failure::from(e).into_response();
    }
    let from = state.engine().last_position();
    Sse::new(rows(state, signed, from))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The org's rows committed after `from`, one SSE event per commit seen.
fn rows(
    state: AppState,
    signed: Signed,
    from: u64,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let committed = state.engine().subscribe();
    let stopping = state.stopping();
    stream::unfold(
        (state, signed, committed, stopping, from),
        |(state, signed, mut committed, mut stopping, last)| async move {
            loop {
                tokio::select! {
                    changed = committed.changed() => changed.ok()?,
                    _ = stopping.wait_for(|stop| *stop) => return None,
                }
                if !signed.session.credential_live(&state) {
                    return None;
                }
                let head = *committed.borrow_and_update();
                if head <= last {
                    continue;
                }
                let engine = state.engine_arc();
                let events = state
                    .blocking(move || engine.read_range(last + 1, head))
                    .await
                    .ok()?
                    .ok()?;
                let html = {
                    let projections = state.engine().state();
                    let org = signed.caller.org(&projections).ok()?;
                    let rows: Vec<Row> = events
                        .iter()
                        .filter(|e| e.org_id == signed.caller.org_id)
                        .map(|e| Row::of(org, e))
                        .collect();
                    if rows.is_empty() {
                        None
                    } else {
                        Some(templates::render(
                            "timeline_rows.html",
                            minijinja::context! { rows },
                        ))
                    }
                };
                let next = (state, signed, committed, stopping, head);
                let event = match html {
                    Some(html) => SseEvent::default().event("row").data(html),
                    // Another org's commit: nothing to show, but the position moved on.
                    None => SseEvent::default().comment("other org"),
                };
                return Some((Ok(event), next));
            }
        },
    )
}
