//! The web console: administrators offboard, support restores, auditors investigate, in
//! a browser, on the same origin as the API (`offboard serve` mounts it at `/`).
//!
//! It is server-rendered HTML (templates in `templates/`, embedded in the binary) with
//! htmx, vendored in `assets/`, for progressive enhancement: every page works without
//! script. It holds no rules: pages read through the read layer ([`crate::read`]) and
//! every action is one domain command executed by the engine as the signed-in
//! principal ([`act`]), so the domain decides exactly as it does for the API and CLI.
//!
//! Sessions ([`session`]) are server-side records behind an `HttpOnly; SameSite=Strict`
//! cookie, checked against the token they were opened with on every request; every form
//! carries the session's CSRF token ([`csrf`]); every answer carries a script-free
//! Content-Security-Policy and `X-Frame-Options: DENY` ([`headers`]).

mod act;
mod assets;
mod chain;
mod csrf;
mod export;
mod failure;
mod guided;
mod headers;
mod link;
mod live;
mod operation;
mod outcome;
mod page;
mod people;
mod person;
mod resource;
mod session;
mod sign_in;
mod support;
mod templates;
mod timeline;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::server::AppState;

pub use session::{Sessions, SESSION_COOKIE};

/// The console's routes (`/`, `/sign-in`, `/sign-in/link`, `/people/…`, `/assets/…`), with its security
/// headers, to be merged into the server's router before its state is given.
pub fn routes() -> Router<AppState> {
    let sessions = Arc::new(Sessions::default());
    let router = Router::new()
        .route("/", get(people::index))
        .route("/people/search", post(people::search))
        .route("/people/{user}", get(person::page))
        .route("/people/{user}/preview", post(person::preview))
        .route(
            "/people/{user}/offboard",
            get(guided::page).post(guided::submit),
        )
        .route("/people/{user}/{action}", post(person::act))
        .route("/support", get(support::page))
        .route("/support/{user}/preview", post(support::preview))
        .route("/support/{user}/restore", post(support::restore))
        .route("/audit", get(timeline::page).post(timeline::filtered))
        .route("/audit/live", get(live::stream))
        .route("/audit/export.csv", post(export::csv))
        .route("/audit/chain", get(chain::page).post(chain::verify))
        .route("/audit/resources", get(resource::lookup))
        .route("/audit/resources/{resource}", get(resource::page))
        .route("/audit/operations/{id}", get(operation::page))
        .route("/audit/operations/{id}/revert", post(operation::revert))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-in/link", get(link::open))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/assets/{file}", get(assets::serve))
        .layer(Extension(sessions));
    headers::around(router)
}
