//! The Person page: profile, holdings by kind, duties, distributions, labels, reports
//! and credits, with the actions the viewer may take — deactivate, reactivate, delete
//! (every blocker shown with its count and a link to where it is fixed), transfer every
//! resource of a kind to one or several colleagues with a preview of the split, and
//! transfer the whole account. Each action is one domain command ([`super::act`]); the
//! page answers with the outcome in place, the domain's message and blockers included.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use offboard_events::{FollowUp, UserId, UserStatus};
use offboard_projections::OrgState;
use serde::Serialize;

use super::act;
use super::csrf::Posted;
use super::failure::Failure;
use super::page::{self, Frame};
use super::session::Signed;
use crate::domain::{self, Command, Strategy, UserRef};
use crate::read::{PlanQuery, Query, Scope, UserQuery};
use crate::server::{AppState, PlanView, UserView};

/// Colleagues offered as recipients in the pickers (the inputs take any email or id).
const SUGGESTED: usize = 200;

/// How many keys of each recipient a preview lists.
const PREVIEW_KEYS: usize = 5;

/// What the page shows of one user.
#[derive(Debug, Serialize)]
struct Person {
    user: UserView,
    /// `None` for a deleted or purged user (they hold nothing; see Support).
    plan: Option<PlanView>,
    reports: Vec<String>,
    colleagues: Vec<String>,
    confirmation_phrase: String,
}

/// What happened on this page just now.
type Outcome = super::outcome::Outcome<Preview>;

/// A transfer's split before it is made.
#[derive(Debug, Serialize)]
struct Preview {
    kind: String,
    strategy: &'static str,
    to: Vec<String>,
    shares: Vec<Share>,
}

#[derive(Debug, Serialize)]
struct Share {
    to: String,
    count: usize,
    first: Vec<String>,
}

/// `GET /people/{user}`.
pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    Path(user): Path<String>,
) -> Response {
    show(&state, &signed, &user, Outcome::default(), StatusCode::OK).await
}

/// `POST /people/{user}/preview`: the page with the split a transfer of one kind would
/// make (nothing written).
pub async fn preview(
    State(state): State<AppState>,
    Path(user): Path<String>,
    form: Posted,
) -> Response {
    let outcome = Outcome::of_preview(split(&state, &form, &user));
    show(&state, &form.signed, &user, outcome, StatusCode::OK).await
}

/// `POST /people/{user}/{action}`: `deactivate`, `reactivate`, `delete`, `transfer`
/// (every resource of a kind) or `transfer-account`, as one command; the page again,
/// with what was done or why not.
pub async fn act(
    State(state): State<AppState>,
    Path((user, action)): Path<(String, String)>,
    form: Posted,
) -> Response {
    let done = match command(&state, &form, &user, &action) {
        Ok(command) => act::execute(&state, &form, command).await.map(|appended| {
            let n = appended.count();
            match appended.duplicate {
                true => "Already done (this form was sent before).".to_owned(),
                false => format!("Done: {} ({n} event{} recorded).", said(&action), plural(n)),
            }
        }),
        Err(failure) => Err(failure),
    };
    let (outcome, status) = Outcome::of_action(done);
    show(&state, &form.signed, &user, outcome, status).await
}

fn said(action: &str) -> &'static str {
    match action {
        "deactivate" => "deactivated",
        "reactivate" => "reactivated",
        "delete" => "deleted",
        "transfer" => "transferred",
        _ => "account transferred",
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The domain command an action's form asks for, its users resolved in the org.
fn command(state: &AppState, form: &Posted, user: &str, action: &str) -> Result<Command, Failure> {
    let projections = state.engine().state();
    let org = form.signed.caller.org(&projections)?;
    let resolve = |r: &str, deleted_too: bool| -> Result<UserId, Failure> {
        Ok(UserRef(r.to_owned()).resolve(org, deleted_too)?)
    };
    let user = resolve(user, true)?;
    Ok(match action {
        "deactivate" => Command::DeactivateUser { user },
        "reactivate" => Command::ReactivateUser { user },
        "delete" => Command::DeleteUser {
            user,
            confirm: form.one("confirm").unwrap_or("").to_owned(),
        },
        "transfer" => Command::TransferAll {
            from: user,
            kind: form.required("kind", "a kind")?.to_owned(),
            to: recipients(form, |r| resolve(r, false))?,
            strategy: strategy(form)?,
        },
        "transfer-account" => Command::TransferAccount {
            from: user,
            to: resolve(form.required("to", "who receives the account")?, false)?,
            then: form
                .one("then")
                .unwrap_or("none")
                .parse::<FollowUp>()
                .map_err(Failure::invalid)?,
            confirm: form.one("confirm").map(str::to_owned),
        },
        other => {
            return Err(Failure::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no action {other:?} on this page"),
            ))
        }
    })
}

fn recipients(
    form: &Posted,
    resolve: impl Fn(&str) -> Result<UserId, Failure>,
) -> Result<Vec<UserId>, Failure> {
    let to = form.all("to");
    if to.is_empty() {
        return Err(Failure::invalid(
            "name at least one colleague to receive them",
        ));
    }
    to.into_iter().map(resolve).collect()
}

fn strategy(form: &Posted) -> Result<Strategy, Failure> {
    form.one("strategy")
        .unwrap_or("round_robin")
        .parse::<Strategy>()
        .map_err(|e| Failure::invalid(e.to_string()))
}

/// The split [`domain::split`] (the rule the transfer itself applies) makes of the
/// user's resources of the form's kind.
fn split(state: &AppState, form: &Posted, user: &str) -> Result<Preview, Failure> {
    let projections = state.engine().state();
    let org = form.signed.caller.org(&projections)?;
    let user = UserRef(user.to_owned()).resolve(org, false)?;
    let kind = form.required("kind", "a kind")?.to_owned();
    let to = recipients(form, |r| Ok(UserRef(r.to_owned()).resolve(org, false)?))?;
    let strategy = strategy(form)?;
    let keys = org.ownership().resources_of(user, Some(&kind));
    let shares = domain::split(keys, &to, strategy)
        .into_iter()
        .map(|h| Share {
            to: crate::read::email(org, h.to),
            count: h.resources.len(),
            first: h
                .resources
                .iter()
                .take(PREVIEW_KEYS)
                .map(|k| k.to_string())
                .collect(),
        })
        .collect();
    Ok(Preview {
        kind,
        strategy: match strategy {
            Strategy::RoundRobin => "round_robin",
            Strategy::Even => "even",
        },
        to: to.iter().map(|id| crate::read::email(org, *id)).collect(),
        shares,
    })
}

/// The page of `user` with `outcome`, answered with `status`.
async fn show(
    state: &AppState,
    signed: &Signed,
    user: &str,
    outcome: Outcome,
    status: StatusCode,
) -> Response {
    let engine = state.engine_arc();
    let org = signed.caller.org_id;
    let user = user.to_owned();
    let person = state
        .blocking(move || {
            let scope = Scope::new(&engine, org);
            let view = UserQuery {
                user: Some(UserRef(user.clone())),
            }
            .answer(&scope)?;
            let listed = !matches!(view.status, UserStatus::Deleted | UserStatus::Purged);
            let plan = match listed {
                true => Some(
                    PlanQuery {
                        user: Some(UserRef(user)),
                    }
                    .answer(&scope)?,
                ),
                false => None,
            };
            scope.now(|org| Ok(person(org, view, plan)))
        })
        .await;
    let person = match person
        .map_err(Failure::from)
        .and_then(|p| p.map_err(Failure::from))
    {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    let frame = Frame::new(
        signed,
        format!("{} {}", person.user.first_name, person.user.last_name),
        "people",
    );
    let fix_base = format!("/people/{}", person.user.id);
    let body = page::render(
        "person.html",
        &frame,
        minijinja::context! { person, outcome, failure => outcome.failure, fix_base },
    );
    (status, Html(body)).into_response()
}

fn person(org: &OrgState, user: UserView, plan: Option<PlanView>) -> Person {
    let reports = org
        .directory()
        .reports_of(user.id)
        .map(|id| crate::read::email(org, id))
        .collect();
    let colleagues = org
        .directory()
        .listed()
        .filter(|u| u.id != user.id && u.status == offboard_events::UserStatus::Active)
        .take(SUGGESTED)
        .map(|u| u.profile.email.clone())
        .collect();
    Person {
        user,
        plan,
        reports,
        colleagues,
        confirmation_phrase: org.policy().confirmation_phrase.clone(),
    }
}
