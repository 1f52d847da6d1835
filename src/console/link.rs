//! Signing in by a one-time link (`offboard console-link --as USER` prints it):
//! `GET /sign-in/link?code=SECRET` uses the link up — durably, before anything else —
//! then opens a session for its principal and redirects to People, so the secret leaves
//! the address bar at once. A link used before, expired, unknown, or whose principal
//! may no longer read the org opens nothing and shows the sign-in page saying why.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::failure::Failure;
use super::session::{self, Loopback, Sessions};
use super::sign_in;
use crate::server::links::Refusal;
use crate::server::{ApiError, AppState, Caller};

/// The link's query string.
#[derive(Debug, Deserialize)]
pub struct Code {
    #[serde(default)]
    code: String,
}

/// `GET /sign-in/link?code=SECRET`.
pub async fn open(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    Loopback(loopback): Loopback,
    jar: CookieJar,
    Query(Code { code }): Query<Code>,
) -> Response {
    match caller(&state, code.trim()) {
        Ok(caller) => {
            let id = sessions.open(&caller, true);
            let cookie = session::cookie(id, !loopback);
            let headers = [(header::CACHE_CONTROL, "no-store")];
            (headers, jar.add(cookie), Redirect::to("/")).into_response()
        }
        Err(failure) => {
            let headers = [(header::CACHE_CONTROL, "no-store")];
            (failure.status, headers, sign_in::page(Some(&failure))).into_response()
        }
    }
}

/// Uses the link of `code` up and returns who it signs in, checked to be allowed
/// into the console.
fn caller(state: &AppState, code: &str) -> Result<Caller, Failure> {
    let now = state.engine().clock().now();
    let store = state.engine().store().as_ref();
    let link = state
        .links()
        .consume(store, code, now)
        .map_err(|e| Failure::from(ApiError::from(e)))?
        .map_err(refused)?;
    let caller = Caller {
        org_id: link.org_id,
        actor: link.principal,
        token_id: link.id,
    };
    session::abilities(state, &caller).map_err(|f| {
        Failure::new(
            f.status,
            &f.code,
            format!("This sign-in link cannot open a session: {}", f.message),
        )
    })?;
    Ok(caller)
}

fn refused(refusal: Refusal) -> Failure {
    let ask = "Ask for a new one (offboard console-link --as YOU), or paste a token.";
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    match refusal {
        Refusal::Unknown => Failure::new(
            StatusCode::UNAUTHORIZED,
            "link_unknown",
            format!("This sign-in link is not known here (mistyped or cut short?). {ask}"),
        ),
        Refusal::Used(t) => Failure::new(
            StatusCode::GONE,
            "link_used",
            format!("This sign-in link was already used, at {}: a link opens one session, once. {ask}", at(t)),
        ),
        Refusal::Expired(t) => Failure::new(
            StatusCode::GONE,
            "link_expired",
            format!("This sign-in link expired at {}. {ask}", at(t)),
        ),
        Refusal::Unavailable(problem) => Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "links_unavailable",
            format!("Sign-in links cannot be checked: {problem}. Creating a new link starts the book over; a token still signs in."),
        ),
    }
}
