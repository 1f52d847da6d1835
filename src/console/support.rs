//! The Support page: deleted users still restorable, with the days left in the
//! retention window; a restore preview (what comes back, what is skipped because it
//! moved again since, and why), decided by the domain without writing; and the restore
//! itself, with or without ownership, as active or deactivated, with a new email when
//! the old one was taken.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use offboard_events::{Event, SkippedItem, UserId, UserStatus};
use offboard_projections::OrgState;
use serde::Serialize;

use super::act;
use super::csrf::Posted;
use super::failure::Failure;
use super::page::{self, Frame};
use super::session::Signed;
use crate::domain::{Command, UserRef};
use crate::read::Scope;
use crate::server::AppState;

/// Deleted users listed at most (the most recently deleted first).
const SHOWN: usize = 200;

/// A deleted user as Support sees them.
#[derive(Debug, Serialize)]
struct Deleted {
    id: UserId,
    name: String,
    email: String,
    deleted_at: String,
    days_left: i64,
}

/// What a restore would do.
#[derive(Debug, Serialize)]
struct Preview {
    user: UserId,
    email: String,
    returned: u64,
    skipped: Vec<SkippedItem>,
    status: &'static str,
}

/// What happened on the page just now.
type Outcome = super::outcome::Outcome<Preview>;

/// `GET /support`.
pub async fn page(State(state): State<AppState>, signed: Signed) -> Response {
    show(&state, &signed, Outcome::default(), StatusCode::OK).await
}

/// `POST /support/{user}/preview`: what restoring with the form's options would bring
/// back and skip (nothing written).
pub async fn preview(
    State(state): State<AppState>,
    Path(user): Path<String>,
    form: Posted,
) -> Response {
    let preview = restore_command(&state, &form, &user)
        .and_then(|(id, command)| Ok((id, act::preview(&state, &form, &command)?)))
        .map(|(id, events)| preview_of(&state, &form.signed, id, &events));
    let outcome = Outcome::of_preview(preview);
    show(&state, &form.signed, outcome, StatusCode::OK).await
}

/// `POST /support/{user}/restore`.
pub async fn restore(
    State(state): State<AppState>,
    Path(user): Path<String>,
    form: Posted,
) -> Response {
    let done = match restore_command(&state, &form, &user) {
        Ok((_, command)) => act::execute(&state, &form, command).await,
        Err(f) => Err(f),
    };
    let (outcome, status) = Outcome::of_action(done.map(|appended| {
        format!(
            "Restored ({} events recorded, operation {}).",
            appended.count(),
            appended.correlation_id
        )
    }));
    show(&state, &form.signed, outcome, status).await
}

fn restore_command(
    state: &AppState,
    form: &Posted,
    user: &str,
) -> Result<(UserId, Command), Failure> {
    let projections = state.engine().state();
    let org = form.signed.caller.org(&projections)?;
    let user = UserRef(user.to_owned()).resolve(org, true)?;
    let command = Command::RestoreUser {
        user,
        return_ownership: form.one("return_ownership").is_some(),
        new_email: form.one("new_email").map(str::to_owned),
        reactivate: form.one("reactivate").is_some(),
    };
    Ok((user, command))
}

fn preview_of(state: &AppState, signed: &Signed, user: UserId, events: &[Event]) -> Preview {
    let projections = state.engine().state();
    let email = signed
        .caller
        .org(&projections)
        .map_or_else(|_| user.to_string(), |org| crate::read::email(org, user));
    let mut preview = Preview {
        user,
        email,
        returned: 0,
        skipped: Vec::new(),
        status: "deactivated",
    };
    for event in events {
        match event {
            Event::OffboardingReverted(r) => {
                preview.returned += r.returned;
                preview.skipped.extend(r.skipped.iter().cloned());
            }
            Event::UserRestored(r) => preview.status = r.status.as_str(),
            _ => {}
        }
    }
    preview
}

async fn show(state: &AppState, signed: &Signed, outcome: Outcome, status: StatusCode) -> Response {
    let engine = state.engine_arc();
    let org = signed.caller.org_id;
    let deleted = state
        .blocking(move || Scope::new(&engine, org).now(|org| Ok(deleted(org))))
        .await;
    let deleted = match deleted
        .map_err(Failure::from)
        .and_then(|d| d.map_err(Failure::from))
    {
        Ok(d) => d,
        Err(f) => return f.into_response(),
    };
    let frame = Frame::new(signed, "Support", "support");
    let body = page::render(
        "support.html",
        &frame,
        minijinja::context! { deleted, outcome, failure => outcome.failure },
    );
    (status, Html(body)).into_response()
}

/// Deleted users whose restore window is still open, most recently deleted first.
fn deleted(org: &OrgState) -> Vec<Deleted> {
    let now = Utc::now();
    let window = i64::from(org.policy().retention_days);
    let mut deleted: Vec<Deleted> = org
        .directory()
        .users()
        .filter(|u| u.status == UserStatus::Deleted)
        .filter_map(|u| {
            let (_, at) = u.deleted_at?;
            let days_left = window - (now - at).num_days();
            (days_left > 0).then(|| Deleted {
                id: u.id,
                name: format!("{} {}", u.profile.first_name, u.profile.last_name),
                email: u.profile.email.clone(),
                deleted_at: at.format("%Y-%m-%d %H:%M UTC").to_string(),
                days_left,
            })
        })
        .collect();
    deleted.sort_by(|a, b| b.deleted_at.cmp(&a.deleted_at));
    deleted.truncate(SHOWN);
    deleted
}
