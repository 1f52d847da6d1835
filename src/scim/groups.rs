//! `/scim/v2/Groups`: offboard's groups (resources of kind `group`) as SCIM Groups. The
//! id and `displayName` are the group's name (lowercase letters, digits, `_`, `-`);
//! `members` are users' ids. A group created over SCIM is owned by the org's owner
//! (SCIM has no owner). `PUT` and `PATCH` end in [`reconcile`]: the members joined and
//! left under one correlation id. offboard has no command that removes a group yet, so
//! `DELETE` answers `501`.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use offboard_events::{ResourceKey, UserId};
use offboard_projections::OrgState;
use serde_json::{json, Value};

use super::filter::member;
use super::schema::GROUP;
use super::{caller, created, json_body, patched, replaced, resource, run, version_of};
use super::{ListQuery, ScimError, BASE};
use crate::domain::Command;
use crate::server::{ApiError, AppState, Caller, Read};

type Who = Result<Caller, ApiError>;

fn render(org: &OrgState, key: &ResourceKey) -> Value {
    let members: Vec<Value> = org
        .directory()
        .group_members(key)
        .map(|id| {
            json!({
                "value": id.to_string(),
                "display": crate::read::email(org, id),
                "$ref": format!("{BASE}/Users/{id}"),
            })
        })
        .collect();
    let mut body = json!({
        "schemas": [GROUP],
        "id": key.id(),
        "displayName": key.id(),
        "members": members,
    });
    let version = version_of(&body);
    body["meta"] = json!({
        "resourceType": "Group",
        "location": format!("{BASE}/Groups/{}", key.id()),
        "version": version,
    });
    body
}

fn key(id: &str) -> Option<ResourceKey> {
    ResourceKey::new("group", id).ok()
}

/// The group `id` names, `404` otherwise.
fn existing(org: &OrgState, id: &str) -> Result<ResourceKey, ScimError> {
    key(id)
        .filter(|k| org.ownership().owner_of(k).is_some())
        .ok_or_else(|| ScimError::not_found(format!("group {id:?}")))
}

fn current(state: &AppState, who: &Caller, id: &str) -> Result<Value, ScimError> {
    let projections = state.engine().state();
    let org = who.may_read(&projections, Read::Directory)?;
    Ok(render(org, &existing(org, id)?))
}

/// The member ids a Group body lists.
fn wanted_members(org: &OrgState, body: &Value) -> Result<BTreeSet<UserId>, ScimError> {
    let Some(list) = member(body, "members").and_then(Value::as_array) else {
        return Ok(BTreeSet::new());
    };
    list.iter()
        .map(|m| {
            let value = member(m, "value").and_then(Value::as_str).unwrap_or("");
            value
                .parse::<UserId>()
                .ok()
                .filter(|id| org.directory().user(*id).is_some_and(|u| u.is_listed()))
                .ok_or_else(|| ScimError::invalid_value(format!("member {value:?} is not a user")))
        })
        .collect()
}

/// Joins and leaves that make group `name`'s members `wanted`.
fn membership(org: &OrgState, name: &str, wanted: &BTreeSet<UserId>) -> Vec<Command> {
    let now: BTreeSet<UserId> = key(name)
        .map(|k| org.directory().group_members(&k).collect())
        .unwrap_or_default();
    let joins = wanted.difference(&now).map(|u| Command::JoinGroup {
        group: name.to_owned(),
        user: *u,
    });
    let leaves = now.difference(wanted).map(|u| Command::LeaveGroup {
        group: name.to_owned(),
        user: *u,
    });
    joins.chain(leaves).collect()
}

async fn reconcile(
    state: &AppState,
    who: &Caller,
    id: &str,
    body: &Value,
) -> Result<Response, ScimError> {
    let todo = {
        let projections = state.engine().state();
        let org = who.org(&projections)?;
        existing(org, id)?;
        membership(org, id, &wanted_members(org, body)?)
    };
    run(state, who, todo).await?;
    Ok(resource(StatusCode::OK, &current(state, who, id)?))
}

pub async fn list(
    State(state): State<AppState>,
    who: Who,
    Query(query): Query<ListQuery>,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let all = {
        let projections = state.engine().state();
        let org = who.may_read(&projections, Read::Directory)?;
        org.ownership()
            .list(Some("group"), None)
            .iter()
            .map(|(k, _)| render(org, k))
            .collect::<Vec<_>>()
    };
    Ok(super::respond(StatusCode::OK, &query.answer(all)?, None))
}

pub async fn read(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    Ok(resource(StatusCode::OK, &current(&state, &who, &id)?))
}

/// `POST /Groups`: creates the group (owned by the org's owner) with its members.
pub async fn create(
    State(state): State<AppState>,
    who: Who,
    body: Bytes,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let body = json_body(&body)?;
    let name = member(&body, "displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ScimError::invalid_value("displayName (the group's name) is required"))?
        .to_owned();
    let todo = {
        let projections = state.engine().state();
        let org = who.org(&projections)?;
        if key(&name).is_some_and(|k| org.ownership().owner_of(&k).is_some()) {
            return Err(ScimError::uniqueness(format!("group {name:?} exists")));
        }
        let wanted = wanted_members(org, &body)?;
        let mut todo = vec![Command::CreateGroup {
            name: name.clone(),
            owner: org.owner(),
        }];
        todo.extend(wanted.iter().map(|u| Command::JoinGroup {
            group: name.clone(),
            user: *u,
        }));
        todo
    };
    run(&state, &who, todo).await?;
    let body = current(&state, &who, &name)?;
    Ok(created(&body))
}

pub async fn replace(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let body = replaced(&current(&state, &who, &id)?, &headers, &body)?;
    if let Some(name) = member(&body, "displayName").and_then(Value::as_str) {
        if name.trim() != id {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("mutability"),
                "a group's name is its id and cannot change",
            ));
        }
    }
    reconcile(&state, &who, &id, &body).await
}

pub async fn patch(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let patched = patched(current(&state, &who, &id)?, &headers, &body)?;
    reconcile(&state, &who, &id, &patched).await
}

/// `DELETE /Groups/{id}`: `501`. offboard has no command that removes a group yet
/// (retiring resources is issue 17 §2); emptying it would answer `204` for a group that
/// is still there.
pub async fn delete(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    current(&state, &who, &id)?;
    Err(ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "offboard cannot remove a group yet: remove its members instead",
    ))
}
