//! The guided offboarding (the telephony CRM's four-step reassignment, generalised to
//! five steps on one page): 1 resources by kind with counts and recipients; 2
//! distributions with the suggested rebalance, editable weights, and a required
//! replacement where the user is the only member; 3 labels; 4 duties, reports,
//! credits; 5 the follow-up and the typed confirmation phrase. Submitting sends ONE
//! `Offboard` command; leaving the page writes nothing; a refusal shows the page again
//! with every blocker and every value as it was typed.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use offboard_events::FollowUp;
use offboard_projections::OrgState;
use serde::Serialize;

use super::act;
use super::csrf::Posted;
use super::failure::Failure;
use super::page::{self, Frame};
use super::session::Signed;
use crate::domain::{
    AccountRef, Command, Lookup, MemberRef, OffboardPlan, Recipients, Strategy, UserRef,
};
use crate::read::{email, PlanQuery, Query, Scope};
use crate::server::{AppState, PlanView};

/// A distribution as step 2 shows it: members by email with their suggested weights.
#[derive(Debug, Serialize)]
struct Place {
    name: String,
    kind: String,
    replacement_required: bool,
    /// The user's weight now (what a replacement takes over).
    weight: u32,
    suggested: Vec<(String, u32)>,
}

/// `GET /people/{user}/offboard`: the five steps, filled with the suggestions.
pub async fn page(
    State(state): State<AppState>,
    signed: Signed,
    Path(user): Path<String>,
) -> Response {
    show(
        &state,
        &signed,
        &user,
        BTreeMap::new(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

/// `POST /people/{user}/offboard`: the whole offboarding as one `Offboard` command.
pub async fn submit(
    State(state): State<AppState>,
    Path(user): Path<String>,
    form: Posted,
) -> Response {
    let posted: BTreeMap<String, String> = form.fields.iter().cloned().collect();
    let done = match command(&state, &form, &user) {
        Ok(command) => act::execute(&state, &form, command).await,
        Err(f) => Err(f),
    };
    match done {
        Ok(appended) => {
            let notice = format!(
                "Offboarded in one operation ({} events recorded, operation {}).",
                appended.count(),
                appended.correlation_id
            );
            show(
                &state,
                &form.signed,
                &user,
                posted,
                Some(notice),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(f) => {
            let status = f.status;
            show(&state, &form.signed, &user, posted, None, Some(f), status).await
        }
    }
}

/// The `Offboard` command the form describes, its users resolved in the org.
fn command(state: &AppState, form: &Posted, user: &str) -> Result<Command, Failure> {
    let mut plan = OffboardPlan::<UserRef>::default();
    let by = |v: &str| UserRef(v.to_owned());
    plan.default_to = form.one("default_to").map(by);
    plan.reports_to = form.one("reports_to").map(by);
    plan.credits_to = form.one("credits_to").map(|v| AccountRef(v.to_owned()));
    let mut weights: BTreeMap<String, Vec<MemberRef>> = BTreeMap::new();
    for (name, value) in &form.fields {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let mut parts = name.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("kind"), Some(kind), Some(to)) if to.starts_with("to") => {
                let strategy = form
                    .one(&format!("kind:{kind}:strategy"))
                    .unwrap_or("round_robin")
                    .parse::<Strategy>()
                    .map_err(|e| Failure::invalid(e.to_string()))?;
                let entry = plan.resources.entry(kind.to_owned()).or_insert(Recipients {
                    to: Vec::new(),
                    strategy,
                });
                entry.to.push(by(value));
            }
            (Some("weight"), Some(dist), Some(member)) => {
                let weight = value.parse::<u32>().map_err(|_| {
                    Failure::invalid(format!("{dist}: weight {value:?} is not a whole number"))
                })?;
                weights.entry(dist.to_owned()).or_default().push(MemberRef {
                    user: by(member),
                    weight,
                });
            }
            (Some("replacement"), Some(dist), None) => {
                let weight = form
                    .one(&format!("replacement_weight:{dist}"))
                    .and_then(|w| w.parse().ok())
                    .unwrap_or(1);
                weights.entry(dist.to_owned()).or_default().push(MemberRef {
                    user: by(value),
                    weight,
                });
            }
            (Some("label"), Some(label), None) => {
                plan.labels.insert(label.to_owned(), by(value));
            }
            (Some("duty"), Some(duty), None) => {
                plan.duties.insert(duty.to_owned(), by(value));
            }
            _ => {}
        }
    }
    plan.distributions = weights;
    let then = form
        .one("then")
        .unwrap_or("none")
        .parse::<FollowUp>()
        .map_err(Failure::invalid)?;
    let wire = Command::<UserRef>::Offboard {
        user: by(user),
        plan,
        then,
        confirm: form.one("confirm").map(str::to_owned),
    };
    let projections = state.engine().state();
    let org = form.signed.caller.org(&projections)?;
    Ok(wire.resolve(|u, lookup| u.resolve(org, lookup == Lookup::DeletedToo))?)
}

#[allow(clippy::too_many_arguments)]
async fn show(
    state: &AppState,
    signed: &Signed,
    user: &str,
    posted: BTreeMap<String, String>,
    notice: Option<String>,
    failure: Option<Failure>,
    status: StatusCode,
) -> Response {
    let engine = state.engine_arc();
    let org = signed.caller.org_id;
    let named = user.to_owned();
    let read = state
        .blocking(move || {
            let scope = Scope::new(&engine, org);
            let plan = PlanQuery {
                user: Some(UserRef(named)),
            }
            .answer(&scope)?;
            scope.now(|org| Ok((places(org, &plan), manages(org, &plan), plan)))
        })
        .await;
    let (places, reports, plan) = match read
        .map_err(Failure::from)
        .and_then(|r| r.map_err(Failure::from))
    {
        Ok(r) => r,
        // Once deleted, there is no plan to show: say what happened and stop.
        Err(_) if notice.is_some() => {
            let frame = Frame::new(signed, "Offboarded", "people");
            let body = page::render(
                "guided.html",
                &frame,
                minijinja::context! { notice, done => true, user },
            );
            return (status, Html(body)).into_response();
        }
        Err(f) => return f.into_response(),
    };
    let frame = Frame::new(signed, format!("Offboard {}", plan.email), "people");
    let body = page::render(
        "guided.html",
        &frame,
        minijinja::context! {
            plan, places, reports, posted, notice, failure,
            fix_base => format!("/people/{}/offboard", plan.user),
        },
    );
    (status, Html(body)).into_response()
}

fn places(org: &OrgState, plan: &PlanView) -> Vec<Place> {
    plan.distributions
        .iter()
        .filter(|d| d.member)
        .map(|d| Place {
            name: d.name.clone(),
            kind: format!("{:?}", d.kind).to_lowercase(),
            replacement_required: d.replacement_required,
            weight: d
                .members
                .iter()
                .find(|m| m.user == plan.user)
                .map_or(1, |m| m.weight),
            suggested: d
                .suggested
                .iter()
                .flatten()
                .map(|m| (email(org, m.user), m.weight))
                .collect(),
        })
        .collect()
}

fn manages(org: &OrgState, plan: &PlanView) -> Vec<String> {
    plan.manages.iter().map(|id| email(org, *id)).collect()
}
