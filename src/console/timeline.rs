//! The Audit page's timeline: the org's events in log order, one page of [`PAGE`] at a
//! time, filtered by time range, user or resource, actor and event type (all through
//! the read layer's histories: a filtered page is the next [`PAGE`] matching events),
//! each row in plain words with a link to its operation. Unfiltered, it shows the latest events and is
//! live (new rows arrive over SSE, see [`super::live`]). The filters travel in a `POST` body, never in the
//! URL (a user filter may be an email).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use offboard_events::Envelope;
use offboard_projections::OrgState;
use serde::Serialize;

use super::csrf::Posted;
use super::failure::Failure;
use super::page::{self, Frame};
use super::session::Signed;
use crate::cli::describe;
use crate::read::{page::cursor_of, HistoryQuery, HistorySelector, Limit, Query, Scope};
use crate::server::{AppState, Read, UserRef};

/// Events per page.
pub const PAGE: u64 = 100;

/// The timeline's filters, as the form sends them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Filter {
    pub since: Option<String>,
    pub until: Option<String>,
    pub user: Option<String>,
    pub resource: Option<String>,
    pub actor: Option<String>,
    pub event_type: Option<String>,
    /// Where the page starts (the read layer's cursor).
    pub cursor: Option<String>,
    /// The unfiltered page's start: the time of the org's [`PAGE`]th latest event, so
    /// the default view is the latest events (the read layer pages from the oldest).
    #[serde(skip)]
    pub recent: Option<DateTime<Utc>>,
}

impl Filter {
    /// The filters a form sent.
    pub fn of(form: &Posted) -> Self {
        let field = |name: &str| form.one(name).map(str::to_owned);
        Self {
            since: field("since"),
            until: field("until"),
            user: field("user"),
            resource: field("resource"),
            actor: field("actor"),
            event_type: field("event_type"),
            cursor: field("cursor"),
            recent: None,
        }
    }

    /// Whether nothing narrows the timeline (then it is live).
    pub fn is_empty(&self) -> bool {
        [
            &self.since,
            &self.until,
            &self.user,
            &self.resource,
            &self.actor,
            &self.event_type,
        ]
        .iter()
        .all(|f| f.is_none())
    }

    /// The read layer's history query these filters ask for.
    pub fn query(&self) -> Result<HistoryQuery, Failure> {
        let selector = match (&self.resource, &self.user) {
            (Some(r), _) => {
                HistorySelector::Resource(crate::domain::resource_key(r).map_err(Failure::invalid)?)
            }
            (None, Some(u)) => HistorySelector::User(UserRef(u.clone())),
            (None, None) => HistorySelector::Org,
        };
        let mut query = HistoryQuery {
            selector,
            since: time(self.since.as_deref(), "from")?.or(self.recent),
            until: time(self.until.as_deref(), "to")?,
            actor: self.actor.clone(),
            event_type: self.event_type.clone(),
            limit: Limit::new(PAGE).expect("a valid limit"),
            cursor: None,
        };
        if let Some(cursor) = &self.cursor {
            query = query
                .follow(&format!("?cursor={cursor}&limit={PAGE}"))
                .map_err(Failure::from)?;
        }
        Ok(query)
    }
}

/// A time from a `datetime-local` input (UTC) or RFC 3339.
pub fn time(text: Option<&str>, what: &str) -> Result<Option<DateTime<Utc>>, Failure> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| Failure::invalid(format!("the {what} time {text:?} is not a date and time")))
}

/// One event as the timeline shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub position: u64,
    pub occurred_at: String,
    pub event_type: String,
    pub actor: String,
    pub sentence: String,
    pub correlation_id: String,
}

impl Row {
    pub fn of(org: &OrgState, env: &Envelope) -> Self {
        Self {
            position: env.position,
            occurred_at: env.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            event_type: env.event.event_type().to_owned(),
            actor: describe::actor(org, env),
            sentence: describe::sentence(org, env),
            correlation_id: env.correlation_id.to_string(),
        }
    }
}

/// One page of the timeline: its rows and the cursor of the next page.
#[derive(Debug, Serialize)]
pub struct Timeline {
    pub rows: Vec<Row>,
    pub next: Option<String>,
}

/// The page of the timeline `filter` asks for.
pub async fn read(state: &AppState, signed: &Signed, filter: &Filter) -> Result<Timeline, Failure> {
    signed
        .caller
        .may_read(&state.engine().state(), Read::History)?;
    let query = filter.query()?;
    let engine = state.engine_arc();
    let org = signed.caller.org_id;
    let answer = state
        .blocking(move || query.answer(&Scope::new(&engine, org)))
        .await??;
    let projections = state.engine().state();
    let org = signed.caller.org(&projections)?;
    let rows = answer.events.iter().map(|e| Row::of(org, &e.0)).collect();
    Ok(Timeline {
        rows,
        next: answer.next.as_deref().and_then(cursor_of),
    })
}

/// `GET /audit`: the org's latest events, live.
pub async fn page(State(state): State<AppState>, signed: Signed) -> Response {
    let recent = {
        let projections = state.engine().state();
        signed.caller.org(&projections).ok().and_then(|org| {
            let audit = org.audit();
            let skip = audit.len().saturating_sub(PAGE as usize);
            audit.events().nth(skip).map(|e| e.occurred_at)
        })
    };
    let filter = Filter {
        recent,
        ..Filter::default()
    };
    show(&state, &signed, filter).await
}

/// `POST /audit`: the timeline as the form filters it.
pub async fn filtered(State(state): State<AppState>, form: Posted) -> Response {
    show(&state, &form.signed, Filter::of(&form)).await
}

async fn show(state: &AppState, signed: &Signed, filter: Filter) -> Response {
    let (timeline, failure, status) = match read(state, signed, &filter).await {
        Ok(t) => (Some(t), None, StatusCode::OK),
        Err(f) => {
            let status = f.status;
            (None, Some(f), status)
        }
    };
    let head = state.engine().last_position();
    let frame = Frame::new(signed, "Audit", "audit");
    let live = filter.is_empty() && timeline.as_ref().is_some_and(|t| t.next.is_none());
    let body = page::render(
        "audit.html",
        &frame,
        minijinja::context! { timeline, failure, filter, head, live, event_types => event_types() },
    );
    (status, Html(body)).into_response()
}

/// Every event type's name, for the filter.
fn event_types() -> Vec<&'static str> {
    offboard_events::Event::TYPES.to_vec()
}
