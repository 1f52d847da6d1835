//! `/scim/v2/Groups`: offboard's groups (resources of kind `group`) as SCIM Groups. The
//! id is the group's key name (lowercase letters, digits, `_`, `-`; it never changes),
//! `displayName` the name it is shown as (the key name unless changed), `externalId`
//! the identity provider's id for it, `members` users' ids. A group created over SCIM
//! is owned by the org's owner (SCIM has no owner); one whose `displayName` is not a
//! key name gets a key made from it. `PUT` and `PATCH` end in [`reconcile`]: a new name
//! or external id (`UpdateGroup`) and the members joined and left, under one
//! correlation id; `DELETE` is `DeleteGroup` (every member leaves, the group is
//! retired).

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use offboard_events::{ResourceKey, UserId};
use offboard_projections::text::caseless_key;
use offboard_projections::OrgState;
use serde_json::{json, Value};

use super::filter::member;
use super::schema::GROUP;
use super::{caller, created, json_body, patched, replaced, resource, run, version_of};
use super::{text, ListQuery, ScimError, Shape, BASE};
use crate::domain::Command;
use crate::server::{ApiError, AppState, Caller, Read};

type Who = Result<Caller, ApiError>;

fn render(org: &OrgState, key: &ResourceKey) -> Value {
    let group = org.directory().group(key);
    let members: Vec<Value> = org
        .directory()
        .group_members(key)
        .map(|id| json!({"value": id.to_string(), "$ref": format!("{BASE}/Users/{id}")}))
        .collect();
    let mut body = json!({
        "schemas": [GROUP],
        "id": key.id(),
        "displayName": group.map_or(key.id(), |g| g.name.as_str()),
        "members": members,
    });
    if let Some(x) = group.and_then(|g| g.external_id.as_ref()) {
        body["externalId"] = x.clone().into();
    }
    let version = version_of(&body);
    body["meta"] = json!({
        "resourceType": "Group",
        "location": format!("{BASE}/Groups/{}", key.id()),
        "version": version,
    });
    if let Some(g) = group {
        body["meta"]["created"] = super::timestamp(g.created_at).into();
        body["meta"]["lastModified"] = super::timestamp(g.modified_at).into();
    }
    body
}

fn key(id: &str) -> Option<ResourceKey> {
    ResourceKey::new("group", id).ok()
}

/// The group `id` names, `404` otherwise (a removed group is gone).
fn existing(org: &OrgState, id: &str) -> Result<ResourceKey, ScimError> {
    key(id)
        .filter(|k| org.directory().group(k).is_some())
        .ok_or_else(|| ScimError::not_found(format!("group {id:?}")))
}

/// A Group body's `displayName`, trimmed; `400 invalidValue` without one.
fn display_name(body: &Value) -> Result<String, ScimError> {
    member(body, "displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ScimError::invalid_value("displayName (the group's name) is required"))
}

/// `409 uniqueness` when a group other than `except` is shown as `name` (compared
/// caseless) or has the external id `external`.
fn check_free(
    org: &OrgState,
    name: &str,
    external: Option<&str>,
    except: Option<&ResourceKey>,
) -> Result<(), ScimError> {
    let wanted = caseless_key(name);
    for (k, g) in org.directory().groups().filter(|(k, _)| Some(*k) != except) {
        if caseless_key(&g.name) == wanted {
            return Err(ScimError::uniqueness(format!("a group is named {name:?}")));
        }
        if external.is_some() && g.external_id.as_deref() == external {
            return Err(ScimError::uniqueness(format!(
                "group {} has the externalId {}",
                k.id(),
                external.unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// The `UpdateGroup` that gives the group `key` a Group body's `displayName` and
/// `externalId`, if they differ from what it has.
fn details(org: &OrgState, key: &ResourceKey, body: &Value) -> Result<Option<Command>, ScimError> {
    let name = display_name(body)?;
    let external = text(member(body, "externalId"));
    let (now_name, now_external) = match org.directory().group(key) {
        Some(g) => (g.name.as_str(), g.external_id.clone()),
        None => (key.id(), None),
    };
    if name == now_name && external == now_external {
        return Ok(None);
    }
    check_free(org, &name, external.as_deref(), Some(key))?;
    Ok(Some(Command::UpdateGroup {
        group: key.id().to_owned(),
        name: (name != now_name).then_some(name),
        external_id: (external != now_external).then(|| external.unwrap_or_default()),
    }))
}

/// The key name for a new group shown as `name`: `name` itself when it is one
/// (lowercase letters, digits, `_`, `-`), else made from it (`East Region` →
/// `east-region`), with `-2`, `-3`… when another group has that key.
fn new_key_name(org: &OrgState, name: &str) -> String {
    let mut base: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    base = base
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    base.truncate(90);
    if base.is_empty() {
        base = "group".to_owned();
    }
    let free = |n: &str| key(n).is_some_and(|k| org.ownership().owner_of(&k).is_none());
    (1..)
        .map(|i| match i {
            1 => base.clone(),
            i => format!("{base}-{i}"),
        })
        .find(|n| free(n))
        .expect("some suffix is free")
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
        let key = existing(org, id)?;
        let mut todo: Vec<Command> = details(org, &key, body)?.into_iter().collect();
        todo.extend(membership(org, id, &wanted_members(org, body)?));
        todo
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
        org.directory()
            .groups()
            .map(|(k, _)| render(org, k))
            .collect::<Vec<_>>()
    };
    Ok(super::respond(StatusCode::OK, &query.answer(all)?, None))
}

pub async fn read(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
    Query(shape): Query<Shape>,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    super::partial(current(&state, &who, &id)?, &shape)
}

/// `POST /Groups`: creates the group (owned by the org's owner) with its external id and
/// members; a `displayName` or `externalId` another group has is `409 uniqueness`.
pub async fn create(
    State(state): State<AppState>,
    who: Who,
    body: Bytes,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    let body = json_body(&body)?;
    let name = display_name(&body)?;
    let (id, todo) = {
        let projections = state.engine().state();
        let org = who.org(&projections)?;
        let external = text(member(&body, "externalId"));
        check_free(org, &name, external.as_deref(), None)?;
        let id = new_key_name(org, &name);
        let wanted = wanted_members(org, &body)?;
        let mut todo = vec![Command::CreateGroup {
            name: id.clone(),
            owner: org.owner(),
        }];
        if id != name || external.is_some() {
            todo.push(Command::UpdateGroup {
                group: id.clone(),
                name: (id != name).then_some(name),
                external_id: external,
            });
        }
        todo.extend(wanted.iter().map(|u| Command::JoinGroup {
            group: id.clone(),
            user: *u,
        }));
        (id, todo)
    };
    run(&state, &who, todo).await?;
    let body = current(&state, &who, &id)?;
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

/// `DELETE /Groups/{id}`: every member leaves and the group is retired
/// (`DeleteGroup`), `204`; the group is then `404`.
pub async fn delete(
    State(state): State<AppState>,
    who: Who,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    super::check_version(&headers, &current(&state, &who, &id)?)?;
    run(&state, &who, vec![Command::DeleteGroup { group: id }]).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
