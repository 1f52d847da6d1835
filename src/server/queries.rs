//! Every read as a `GET` endpoint: who am I, the org, the directory, owners (now and as
//! of a time or position), the offboarding plan, the audit histories (R25) and verify.
//! Lists are queries of the read layer ([`crate::read`]), answered in pages.
//! Everything is read in the caller's org; another org's user, resource or operation is
//! not found (R1).

use aide::axum::routing::get_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::Json;

use offboard_events::ResourceKey;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::{Caller, Read};
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, CorrelationPath, UserPath};
use super::pages::{self, PageJson};
use super::views::{OrgView, OwnerAt, PlanView, PositionView, UserView, VerifyView, WhoAmI};
use super::AppState;
use crate::integrity::VerifyError;
use crate::read::{
    HistoryPage, HistoryQuery, HistorySelector, OrgQuery, OwnerAtQuery, OwnerChangesPage,
    OwnerChangesQuery, OwnersPage, OwnersQuery, PlanQuery, PositionQuery, RecordRolesQuery,
    RecordRolesView, UserQuery, UserRolesQuery, UserRolesView, UsersPage, UsersQuery,
};

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
    pages::answer(&state, &caller, Read::Directory, OrgQuery {})
        .await
        .map(Json)
}

async fn users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> Result<PageJson<UsersPage>, ApiError> {
    pages::page(&state, &caller, Read::Directory, query).await
}

async fn user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
) -> Result<Json<UserView>, ApiError> {
    let query = UserQuery {
        user: Some(path.user),
    };
    pages::answer(&state, &caller, Read::Directory, query)
        .await
        .map(Json)
}

async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
) -> Result<Json<PlanView>, ApiError> {
    let query = PlanQuery {
        user: Some(path.user),
    };
    pages::answer(&state, &caller, Read::Directory, query)
        .await
        .map(Json)
}

async fn user_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<PageJson<HistoryPage>, ApiError> {
    let query = HistoryQuery {
        selector: HistorySelector::User(path.user),
        ..query
    };
    pages::page(&state, &caller, Read::History, query).await
}

async fn owners(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<OwnersQuery>,
) -> Result<PageJson<OwnersPage>, ApiError> {
    pages::page(&state, &caller, Read::Directory, query).await
}

async fn position(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PositionQuery>,
) -> Result<Json<PositionView>, ApiError> {
    pages::answer(&state, &caller, Read::Directory, query)
        .await
        .map(Json)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ResourcePath {
    /// `kind:id`, e.g. `buyer:B-1042`.
    resource: String,
}

impl ResourcePath {
    fn key(&self) -> Result<ResourceKey, ApiError> {
        crate::domain::resource_key(&self.resource).map_err(ApiError::bad_request)
    }
}

async fn owner_as_of(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    ApiQuery(query): ApiQuery<OwnerAtQuery>,
) -> Result<Json<OwnerAt>, ApiError> {
    let query = OwnerAtQuery {
        resource: Some(path.key()?),
        ..query
    };
    pages::answer(&state, &caller, Read::Directory, query)
        .await
        .map(Json)
}

async fn resource_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    ApiQuery(query): ApiQuery<OwnerChangesQuery>,
) -> Result<PageJson<OwnerChangesPage>, ApiError> {
    let query = OwnerChangesQuery {
        resource: Some(path.key()?),
        ..query
    };
    pages::page(&state, &caller, Read::History, query).await
}

async fn record_roles(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    ApiQuery(query): ApiQuery<RecordRolesQuery>,
) -> Result<Json<RecordRolesView>, ApiError> {
    let query = RecordRolesQuery {
        resource: Some(path.key()?),
        ..query
    };
    pages::answer(&state, &caller, Read::Directory, query)
        .await
        .map(Json)
}

async fn user_roles(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<UserPath>,
    ApiQuery(query): ApiQuery<UserRolesQuery>,
) -> Result<Json<UserRolesView>, ApiError> {
    let query = UserRolesQuery {
        user: Some(path.user),
        ..query
    };
    pages::answer(&state, &caller, Read::Directory, query)
        .await
        .map(Json)
}

async fn resource_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<PageJson<HistoryPage>, ApiError> {
    let query = HistoryQuery {
        selector: HistorySelector::Resource(path.key()?),
        ..query
    };
    pages::page(&state, &caller, Read::History, query).await
}

async fn correlation_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<CorrelationPath>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<PageJson<HistoryPage>, ApiError> {
    let query = HistoryQuery {
        selector: HistorySelector::Correlation(path.correlation_id),
        ..query
    };
    pages::page(&state, &caller, Read::History, query).await
}

async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<PageJson<HistoryPage>, ApiError> {
    let query = HistoryQuery {
        selector: HistorySelector::Org,
        ..query
    };
    pages::page(&state, &caller, Read::History, query).await
}

async fn verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<VerifyView>, ApiError> {
    caller.may_read(&state.engine().state(), Read::History)?;
    verified(&state).await.map(Json)
}

/// Walks the whole hash chain (off the async workers) and says whether it is intact.
pub(crate) async fn verified(state: &AppState) -> Result<VerifyView, ApiError> {
    let engine = state.engine_arc();
    let outcome = state.blocking(move || engine.verify(&mut |_| {})).await?;
    Ok(match outcome {
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
    })
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
        .api_route(
            "/v1/users",
            get_with(users, doc("The directory (R2), by email, in pages")),
        )
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
            "/v1/resources/{resource}/roles",
            get_with(
                record_roles,
                doc("The roles on a record and their holders, now or as of a time or position, and every change (R29)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/roles",
            get_with(user_roles, doc("Every record where a user holds a role (R29)")),
        )
        .api_route(
            "/v1/resources/{resource}/events",
            get_with(
                resource_events,
                doc("The events that changed a resource's owner (R25)"),
            ),
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
