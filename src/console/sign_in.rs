//! Signing in and out: a pasted API token opens a session (the token itself is not
//! kept, and never travels in a URL); signing out ends it.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde::Deserialize;

use super::csrf::Posted;
use super::failure::Failure;
use super::session::{self, Loopback, Sessions, SESSION_COOKIE};
use super::templates;
use crate::server::{AppState, Caller};

/// `GET /sign-in`: the token form.
pub async fn form() -> Html<String> {
    page(None)
}

/// The sign-in page, with why the last attempt failed.
pub(super) fn page(failure: Option<&Failure>) -> Html<String> {
    Html(templates::render(
        "sign_in.html",
        minijinja::context! { title => "Sign in", failure },
    ))
}

/// What the sign-in form sends.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
}

/// `POST /sign-in`: a valid token of a principal who may read the org opens a session
/// and goes to People; anything else shows the form again with the reason.
pub async fn submit(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    Loopback(loopback): Loopback,
    jar: CookieJar,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    let signed_in = form
        .map_err(|_| Failure::invalid("Paste a token to sign in."))
        .and_then(|Form(SignIn { token })| authenticate(&state, token.trim()));
    match signed_in {
        Ok(caller) => {
            let id = sessions.open(&caller, false);
            (jar.add(session::cookie(id, !loopback)), Redirect::to("/")).into_response()
        }
        Err(failure) => (failure.status, page(Some(&failure))).into_response(),
    }
}

/// The principal of `token`, checked to be allowed into the console.
fn authenticate(state: &AppState, token: &str) -> Result<Caller, Failure> {
    let record = state
        .tokens()
        .with(|book| book.authenticate(token).cloned())
        .ok_or_else(|| {
            Failure::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "That token is unknown or was revoked. Ask your organization's owner for one \
                 (offboard token create --as YOU).",
            )
        })?;
    let caller = Caller {
        org_id: record.org_id,
        actor: record.principal,
        token_id: record.id,
    };
    session::abilities(state, &caller)?;
    Ok(caller)
}

/// `POST /sign-out`: ends the session (CSRF-checked, so no other site can sign anyone
/// out) and goes back to the sign-in form.
pub async fn sign_out(
    Extension(sessions): Extension<Arc<Sessions>>,
    jar: CookieJar,
    _form: Posted,
) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        sessions.close(c.value());
    }
    let gone = Cookie::build(SESSION_COOKIE).path("/").build();
    (jar.remove(gone), Redirect::to("/sign-in")).into_response()
}
