//! The People page: the directory, searched by name or email and filtered by status and
//! role, one page of [`PAGE`] at a time, each row with role, manager, status and what
//! they hold by kind; billed seats in the header.
//!
//! The search text travels in a `POST` body, never in the URL (an email typed there
//! would end up in proxy logs); status, role and the page's start (a user id) are
//! links.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use offboard_events::{Role, UserId, UserStatus};
use offboard_projections::OrgState;
use serde::{Deserialize, Serialize};

use super::csrf::Posted;
use super::failure::Failure;
use super::page::{self, Frame};
use super::session::Signed;
use crate::read::{email, people, PeopleFilter, Scope};
use crate::server::AppState;

/// Rows per page.
pub const PAGE: usize = 50;

/// What the list shows: the filters and where the page starts.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Filter {
    /// Part of a name or email, any case (only from a form post).
    #[serde(skip_deserializing)]
    pub q: Option<String>,
    pub status: Option<String>,
    pub role: Option<String>,
    /// The page starts after this user (in email order).
    pub after: Option<UserId>,
}

/// One row of the list.
#[derive(Debug, Serialize)]
struct Row {
    id: UserId,
    name: String,
    email: String,
    role: &'static str,
    manager: Option<String>,
    status: &'static str,
    holdings: BTreeMap<String, u64>,
}

/// One page of the list.
#[derive(Debug, Serialize)]
struct Listing {
    rows: Vec<Row>,
    /// The user the next page starts after; `None` on the last page.
    next: Option<UserId>,
    matching: usize,
    billed_seats: u64,
    org_name: String,
}

/// `GET /`: the People page (status, role and page start from the query string).
pub async fn index(
    State(state): State<AppState>,
    signed: Signed,
    filter: Result<Query<Filter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(filter)) = filter else {
        return Failure::invalid("a filter of this page is not understood").into_response();
    };
    render(&state, &signed, filter).await
}

/// `POST /people/search`: the People page for a search typed in the form.
pub async fn search(State(state): State<AppState>, form: Posted) -> Response {
    let filter = Filter {
        q: form.one("q").map(str::to_owned),
        status: form.one("status").map(str::to_owned),
        role: form.one("role").map(str::to_owned),
        after: form.one("after").and_then(|a| a.parse().ok()),
    };
    render(&state, &form.signed, filter).await
}

async fn render(state: &AppState, signed: &Signed, filter: Filter) -> Response {
    let status = match filter
        .status
        .as_deref()
        .map(str::parse::<UserStatus>)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return Failure::invalid(e).into_response(),
    };
    let role = match filter.role.as_deref().map(str::parse::<Role>).transpose() {
        Ok(r) => r,
        Err(e) => return Failure::invalid(e).into_response(),
    };
    let engine = state.engine_arc();
    let org = signed.caller.org_id;
    let wanted = filter.clone();
    let listing = state
        .blocking(move || Scope::new(&engine, org).now(|org| Ok(list(org, &wanted, status, role))))
        .await;
    let listing = match listing
        .map_err(Failure::from)
        .and_then(|l| l.map_err(Failure::from))
    {
        Ok(l) => l,
        Err(f) => return f.into_response(),
    };
    let frame = Frame::new(signed, "People", "people");
    Html(page::render(
        "people.html",
        &frame,
        minijinja::context! { listing, filter },
    ))
    .into_response()
}

/// The page of `org`'s users that `filter` asks for ([`crate::read::people`]): listed
/// users unless a status is named, in email order.
fn list(
    org: &OrgState,
    filter: &Filter,
    status: Option<UserStatus>,
    role: Option<Role>,
) -> Listing {
    let wanted = PeopleFilter {
        search: filter.q.clone(),
        status,
        role,
    };
    let page = people(org, &wanted, filter.after, PAGE);
    Listing {
        rows: page.users.iter().filter_map(|id| row(org, *id)).collect(),
        next: page.next,
        matching: page.matching,
        billed_seats: org.billing().billed_seats(),
        org_name: org.name().to_owned(),
    }
}

fn row(org: &OrgState, id: UserId) -> Option<Row> {
    let u = org.directory().user(id)?;
    Some(Row {
        id,
        name: format!("{} {}", u.profile.first_name, u.profile.last_name),
        email: u.profile.email.clone(),
        role: u.role.as_str(),
        manager: u.manager.map(|m| email(org, m)),
        status: u.status.as_str(),
        holdings: org.ownership().counts_by_kind(id),
    })
}
