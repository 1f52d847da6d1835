//! Changing and removing a group (a resource of kind `group`; creating one and its
//! memberships are in `users.rs`). A group's key (`group:NAME`) never changes, since
//! members, history and SCIM's `id` name it; a change gives it a display name and the
//! identity provider's external id (`GroupChanged`). Removing it takes every member out (`UserLeftGroup` each) and
//! retires the group (`ResourcesRetired`, reason `removed`): its history stays and its
//! name may be created again.

use offboard_events::{
    Event, GroupChanged, ResourceKey, ResourcesRetired, RetireReason, Role, UserId, UserLeftGroup,
    UserStatus,
};
use offboard_projections::text::caseless_key;

use super::authority::Scope;
use super::error::{Decided, DomainError};
use super::users::group_key;
use super::validate;

/// The group `name` names and its owner, once the actor may change it: its owner may,
/// and so may an admin or the org's owner (groups are the org's structure).
fn changeable(scope: &Scope, name: &str) -> Decided<(ResourceKey, UserId)> {
    let actor = scope.require_role(Role::Manager)?;
    let key = group_key(name)?;
    let owner = scope
        .org
        .ownership()
        .owner_of(&key)
        .ok_or_else(|| DomainError::NotFound(format!("group {name:?}")))?;
    if owner != actor.id && actor.role < Role::Admin {
        return Err(DomainError::Forbidden(
            "only the group's owner or an admin may change or remove it".to_owned(),
        ));
    }
    Ok((key, owner))
}

/// `UpdateGroup`: the group's display name (trimmed printable text, unique among the
/// groups' names, compared caseless) and external id (unique among groups, exact; blank
/// clears it), those given. A change that changes nothing is `invalid_state`.
pub fn update(
    scope: Scope,
    group: &str,
    name: Option<&str>,
    external_id: Option<&str>,
) -> Decided<Vec<Event>> {
    let (key, owner) = changeable(&scope, group)?;
    let directory = scope.org.directory();
    let now = directory.group(&key);
    let mut next_name = now.map_or_else(|| key.id().to_owned(), |g| g.name.clone());
    let mut next_external = now.and_then(|g| g.external_id.clone());
    if let Some(name) = name {
        next_name = validate::required_text("group name", name)?;
    }
    if let Some(external) = external_id {
        next_external = validate::optional_text("external id", Some(external))?;
    }
    let others = || directory.groups().filter(|(k, _)| **k != key);
    let wanted = caseless_key(&next_name);
    if others().any(|(_, g)| caseless_key(&g.name) == wanted) {
        return Err(DomainError::AlreadyExists(format!(
            "a group named {next_name:?}"
        )));
    }
    if let Some(x) = &next_external {
        if others().any(|(_, g)| g.external_id.as_ref() == Some(x)) {
            return Err(DomainError::ExternalIdTaken(x.clone()));
        }
    }
    let unchanged = now.is_some_and(|g| g.name == next_name && g.external_id == next_external);
    if unchanged {
        return Err(DomainError::InvalidState(
            "the group already reads so: nothing to change".to_owned(),
        ));
    }
    Ok(vec![GroupChanged {
        group: key,
        owner,
        name: next_name,
        external_id: next_external,
    }
    .into()])
}

/// `DeleteGroup`: every member leaves (deleted users too, so a restore does not bring
/// back a membership of a group that is gone), then the group is retired.
pub fn delete(scope: Scope, group: &str) -> Decided<Vec<Event>> {
    let (key, owner) = changeable(&scope, group)?;
    let mut events: Vec<Event> = scope
        .org
        .directory()
        .users()
        .filter(|u| u.status != UserStatus::Purged && u.groups.contains(&key))
        .map(|u| {
            UserLeftGroup {
                user_id: u.id,
                group: key.clone(),
            }
            .into()
        })
        .collect();
    events.push(
        ResourcesRetired {
            owner,
            resources: vec![key],
            reason: RetireReason::Removed,
        }
        .into(),
    );
    Ok(events)
}
