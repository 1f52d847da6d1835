//! Every read as a `GET` endpoint: who am I, the org, the directory, owners (now and as
//! of a time or position), the offboarding plan, the audit histories (R25) and verify.
//! Everything is read in the caller's org; another org's user, resource or operation is
//! not found (R1).

use aide::axum::routing::get_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use offboard_events::{ResourceKey, UserId, UserStatus};
use offboard_projections::OrgState;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::{Caller, Read};
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, CorrelationPath, UserPath};
use super::refs::UserRef;
use super::views::{
    envelopes, EnvelopeJson, OrgView, OwnedResource, OwnerAt, OwnershipChangeView, PlanView,
    PositionView, UserView, VerifyView, WhoAmI,
};
use super::AppState;
use crate::domain;
use crate::integrity::VerifyError;

async fn whoami(State(state): State<AppState>, caller: Caller) -> Result<Json<WhoAmI>, ApiError> {
    let projections = state.engine().state();
    let org = caller.org(&projections)?;
    Ok(Json(WhoAmI {
        org_id: org.id(),
        org_name: org.name().to_owned(),
        principal: caller.actor.clone(),
        token_id: caller.token_id,
    }))
}

async fn org(State(state): State<AppState>, caller: Caller) -> Result<Json<OrgView>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    Ok(Json(OrgView::from(org)))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// Only users in this state.
    status: Option<UserStatus>,
    /// Also deleted and purged users (R11 takes them out of the directory).
    #[serde(default)]
    include_deleted: bool,
}

async fn users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    let listed = query.include_deleted || query.status.is_some();
    Ok(Json(
        org.directory()
            .users()
            .filter(|u| listed || u.is_listed())
            .filter(|u| query.status.is_none_or(|s| u.status == s))
            .map(|u| UserView::of(org, u))
            .collect(),
    ))
}

/// The user `r` names in `org`, deleted ones included; a stranger is not found.
fn known_user(org: &OrgState, r: &UserRef) -> Result<offboard_events::UserId, ApiError> {
    let id = r.resolve(org, true)?;
    org.directory()
        .user(id)
        .map(|u| u.id)
        .ok_or_else(|| ApiError::not_found(format!("user {}", r.0)))
}

async fn user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
) -> Result<Json<UserView>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    let id = known_user(org, &path.user)?;
    let user = org.directory().user(id).expect("known_user found it");
    Ok(Json(UserView::of(org, user)))
}

async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
) -> Result<Json<PlanView>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    let id = path.user.resolve(org, false)?;
    let plan = domain::plan(org, id)?;
    Ok(Json(PlanView::from(&plan)))
}

async fn user_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
) -> Result<Json<Vec<EnvelopeJson>>, ApiError> {
    let id = {
        let projections = state.engine().state();
        let org = caller.may_read(&projections, Read::History)?;
        known_user(org, &path.user)?
    };
    let engine = state.engine_arc();
    let org = caller.org_id;
    let events = state
        .blocking(move || engine.user_history(org, id))
        .await??;
    Ok(Json(envelopes(events)))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnersQuery {
    /// Only resources of this kind, e.g. `buyer`.
    kind: Option<String>,
    /// Only resources this user (id or email) owns.
    owner: Option<UserRef>,
    /// As of this time (RFC 3339): the org's last position at or before it.
    at: Option<DateTime<Utc>>,
    /// As of this log position (R25).
    position: Option<u64>,
}

fn owned(org: &OrgState, kind: Option<&str>, owner: Option<UserId>) -> Vec<OwnedResource> {
    org.ownership()
        .list(kind, owner)
        .into_iter()
        .map(|(key, owner)| OwnedResource {
            resource: key.to_string(),
            owner,
        })
        .collect()
}

async fn owners(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<OwnersQuery>,
) -> Result<Json<Vec<OwnedResource>>, ApiError> {
    let (owner, as_of) = {
        let projections = state.engine().state();
        let org = caller.may_read(&projections, Read::Directory)?;
        let owner = match &query.owner {
            Some(r) => Some(known_user(org, r)?),
            None => None,
        };
        let as_of = match (query.at, query.position) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request("give `at` or `position`, not both"))
            }
            (Some(at), None) => Some(org.audit().last_position_at_or_before(at)),
            (None, position) => position,
        };
        match as_of {
            None => return Ok(Json(owned(org, query.kind.as_deref(), owner))),
            Some(p) => (owner, p),
        }
    };
    let engine = state.engine_arc();
    let past = state.blocking(move || engine.state_at(as_of)).await??;
    Ok(Json(past.org(caller.org_id).map_or_else(Vec::new, |org| {
        owned(org, query.kind.as_deref(), owner)
    })))
}

/// A time to find the position of; none is now.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionQuery {
    /// RFC 3339 time, e.g. `2026-03-03T09:00:00Z`.
    at: Option<DateTime<Utc>>,
}

async fn position(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PositionQuery>,
) -> Result<Json<PositionView>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    let position = match query.at {
        Some(at) => org.audit().last_position_at_or_before(at),
        None => state.engine().last_position(),
    };
    Ok(Json(PositionView { position }))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ResourcePath {
    /// `kind:id`, e.g. `buyer:B-1042`.
    resource: String,
}

impl ResourcePath {
    fn key(&self) -> Result<ResourceKey, ApiError> {
        self.resource
            .parse()
            .map_err(|e: offboard_events::ResourceKeyError| ApiError::bad_request(e.to_string()))
    }
}

/// As of a time or a position (R25); neither is now.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// RFC 3339 time, e.g. `2026-03-03T09:00:00Z`.
    at: Option<DateTime<Utc>>,
    /// A log position.
    position: Option<u64>,
}

async fn owner_as_of(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Json<OwnerAt>, ApiError> {
    let key = path.key()?;
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    if org.ownership().history(&key).is_empty() {
        return Err(ApiError::not_found(format!("resource {key}")));
    }
    let position = match (query.at, query.position) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("give `at` or `position`, not both"))
        }
        (Some(at), None) => org.audit().last_position_at_or_before(at),
        (None, Some(position)) => position,
        (None, None) => projections.position(),
    };
    Ok(Json(OwnerAt {
        resource: key.to_string(),
        owner: org.owner_at_position(&key, position),
        position,
    }))
}

async fn resource_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
) -> Result<Json<Vec<OwnershipChangeView>>, ApiError> {
    let key = path.key()?;
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::History)?;
    let changes = org.owner_history(&key);
    if changes.is_empty() {
        return Err(ApiError::not_found(format!("resource {key}")));
    }
    Ok(Json(changes.into_iter().map(Into::into).collect()))
}

async fn correlation_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<CorrelationPath>,
) -> Result<Json<Vec<EnvelopeJson>>, ApiError> {
    caller.may_read(&state.engine().state(), Read::History)?;
    let engine = state.engine_arc();
    let org = caller.org_id;
    let id = path.correlation_id;
    let events = state
        .blocking(move || engine.correlation_history(org, id))
        .await??;
    if events.is_empty() {
        return Err(ApiError::not_found(format!("operation {id}")));
    }
    Ok(Json(envelopes(events)))
}

/// A time window; either end may be left open.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TimelineQuery>,
) -> Result<Json<Vec<EnvelopeJson>>, ApiError> {
    caller.may_read(&state.engine().state(), Read::History)?;
    let engine = state.engine_arc();
    let org = caller.org_id;
    let since = query.since.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let until = query.until.unwrap_or(DateTime::<Utc>::MAX_UTC);
    let events = state
        .blocking(move || engine.timeline(org, since, until))
        .await??;
    Ok(Json(envelopes(events)))
}

async fn verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<VerifyView>, ApiError> {
    caller.may_read(&state.engine().state(), Read::History)?;
    let engine = state.engine_arc();
    let outcome = state.blocking(move || engine.verify(&mut |_| {})).await?;
    Ok(Json(match outcome {
        Ok(report) => VerifyView {
            intact: true,
            events: Some(report.events),
            head_hash: Some(report.head_hash),
            broken_at: None,
            problem: None,
        },
        Err(VerifyError::Broken { position, problem }) => VerifyView {
            intact: false,
            events: None,
            head_hash: None,
            broken_at: Some(position),
            problem: Some(problem),
        },
        Err(other) => return Err(other.into()),
    }))
}

fn doc(
    summary: &'static str,
) -> impl for<'a> FnOnce(TransformOperation<'a>) -> TransformOperation<'a> {
    move |op: TransformOperation<'_>| op.summary(summary).tag("queries")
}

/// The read endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/v1/whoami",
            get_with(whoami, doc("The token's principal and org")),
        )
        .api_route(
            "/v1/org",
            get_with(org, doc("The org: policy, principals, billed seats")),
        )
        .api_route("/v1/users", get_with(users, doc("The directory (R2)")))
        .api_route(
            "/v1/users/{user}",
            get_with(user, doc("One user, by id or email")),
        )
        .api_route(
            "/v1/users/{user}/plan",
            get_with(
                plan,
                doc("What offboarding the user involves, and what blocks it (R21)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/history",
            get_with(user_history, doc("Every event about the user (R25)")),
        )
        .api_route(
            "/v1/owners",
            get_with(
                owners,
                doc("Resources and their owners, now or as of a time or position (R25)"),
            ),
        )
        .api_route(
            "/v1/position",
            get_with(
                position,
                doc("The log's last position, or the org's last one at or before a time"),
            ),
        )
        .api_route(
            "/v1/resources/{resource}/owner",
            get_with(
                owner_as_of,
                doc("Who owned a resource, now or as of a time or position (R25)"),
            ),
        )
        .api_route(
            "/v1/resources/{resource}/history",
            get_with(resource_history, doc("Every owner a resource had (R25)")),
        )
        .api_route(
            "/v1/correlations/{correlation_id}/history",
            get_with(
                correlation_history,
                doc("Every event one operation wrote (R25)"),
            ),
        )
        .api_route(
            "/v1/history",
            get_with(timeline, doc("The org's events between two times (R25)")),
        )
        .api_route("/v1/verify", get_with(verify, doc("Walk the hash chain")))
}
