//! The resource page: who owns a resource now, who owned it at a chosen date and time,
//! and every owner it ever had with who moved it and under which operation (a link to
//! the operation page). Read through the read layer's owner queries.

use axum::extract::{Path, Query as UrlQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::failure::Failure;
use super::page::{self, Frame};
use super::session::Signed;
use super::timeline;
use crate::read::{Limit, OwnerAtQuery, OwnerChangesQuery, Query, Scope};
use crate::server::{AppState, Read};

/// The page's query string: the date and time to look back at.
#[derive(Debug, Deserialize)]
pub struct At {
    at: Option<String>,
}

/// The lookup form's query string.
#[derive(Debug, Deserialize)]
pub struct Lookup {
    resource: String,
}

/// `GET /audit/resources?resource=KIND:ID`: the lookup form, sent on to the page.
pub async fn lookup(_: Signed, UrlQuery(l): UrlQuery<Lookup>) -> Redirect {
    let encoded = crate::server::client::encode_segment(l.resource.trim());
    Redirect::to(&format!("/audit/resources/{encoded}"))
}

/// `GET /audit/resources/{kind:id}[?at=TIME]`.
pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    Path(resource): Path<String>,
    UrlQuery(at): UrlQuery<At>,
) -> Response {
    let at = at.at.filter(|a| !a.is_empty());
    match read(&state, &signed, &resource, at.as_deref()).await {
        Ok(values) => {
            let frame = Frame::new(&signed, format!("Resource {resource}"), "audit");
            Html(page::render("resource.html", &frame, values)).into_response()
        }
        Err(f) => f.into_response(),
    }
}

async fn read(
    state: &AppState,
    signed: &Signed,
    resource: &str,
    at: Option<&str>,
) -> Result<minijinja::Value, Failure> {
    signed
        .caller
        .may_read(&state.engine().state(), Read::History)?;
    let key = crate::domain::resource_key(resource).map_err(Failure::invalid)?;
    let then = timeline::time(at, "chosen")?;
    let engine = state.engine_arc();
    let org = signed.caller.org_id;
    let (now, past, changes) = state
        .blocking(move || {
            let scope = Scope::new(&engine, org);
            let now = OwnerAtQuery {
                resource: Some(key.clone()),
                ..OwnerAtQuery::default()
            }
            .answer(&scope)?;
            let past = then
                .map(|t| {
                    OwnerAtQuery {
                        resource: Some(key.clone()),
                        at: Some(t),
                        ..OwnerAtQuery::default()
                    }
                    .answer(&scope)
                })
                .transpose()?;
            let changes = OwnerChangesQuery {
                resource: Some(key),
                limit: Limit::max(),
                cursor: None,
            }
            .answer(&scope)?;
            Ok::<_, crate::read::ReadFailure>((now, past, changes))
        })
        .await??;
    let projections = state.engine().state();
    let org = signed.caller.org(&projections)?;
    let more = changes.next.is_some();
    let changes: Vec<Change> = changes
        .changes
        .into_iter()
        .map(|c| Change::of(org, c))
        .collect();
    Ok(minijinja::context! { resource, now, past, at, changes, more })
}

/// One owner change as the page shows it: people by email, the mover in words.
#[derive(Debug, serde::Serialize)]
struct Change {
    position: u64,
    occurred_at: String,
    owner_email: String,
    previous_email: Option<String>,
    actor: String,
    correlation_id: String,
}

impl Change {
    fn of(org: &offboard_projections::OrgState, c: crate::server::OwnershipChangeView) -> Self {
        let actor = match &c.actor {
            offboard_events::Actor::User { id } => crate::read::email(org, *id),
            other => other.to_string(),
        };
        Self {
            position: c.position,
            occurred_at: c.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            // A retirement (issue 17 §2) leaves the record with no owner.
            owner_email: c
                .owner_email
                .unwrap_or_else(|| "nobody (retired)".to_owned()),
            previous_email: c.previous_email,
            actor,
            correlation_id: c.correlation_id.to_string(),
        }
    }
}
