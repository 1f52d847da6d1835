//! Shared labels (R19): lists of users.

use std::collections::BTreeSet;

use offboard_events::{
    Event, LabelCreated, LabelId, LabelMemberAdded, LabelMemberRemoved, Role, UserId,
};
use offboard_projections::Label;

use super::authority::Scope;
use super::error::{Decided, DomainError};
use super::validate;

fn find<'a>(scope: &Scope<'a>, name: &str) -> Decided<&'a Label> {
    scope
        .org
        .labels()
        .by_name(name)
        .ok_or_else(|| DomainError::NotFound(format!("label {name:?}")))
}

pub fn create(scope: Scope, name: &str, members: &[UserId]) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let name = validate::name_not_an_id("label name", name)?;
    if scope.org.labels().by_name(&name).is_some() {
        return Err(DomainError::AlreadyExists(format!("label {name:?}")));
    }
    let mut seen = BTreeSet::new();
    for m in members {
        if !seen.insert(m) {
            return Err(DomainError::InvalidInput(format!(
                "member {m} is listed twice"
            )));
        }
        scope.user(*m)?;
    }
    Ok(vec![LabelCreated {
        label_id: LabelId(scope.ctx.new_id(0)),
        name,
        members: members.to_vec(),
    }
    .into()])
}

pub fn add(scope: Scope, name: &str, user: UserId) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let label = find(&scope, name)?;
    scope.user(user)?;
    if label.members.contains(&user) {
        return Err(DomainError::InvalidState(format!(
            "the user is already in {name:?}"
        )));
    }
    Ok(vec![LabelMemberAdded {
        label_id: label.id,
        user,
    }
    .into()])
}

/// Removes `user`, optionally putting `replacement` in their place.
pub fn remove(
    scope: Scope,
    name: &str,
    user: UserId,
    replacement: Option<UserId>,
) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let label = find(&scope, name)?;
    if !label.members.contains(&user) {
        return Err(DomainError::InvalidState(format!(
            "the user is not in {name:?}"
        )));
    }
    let mut events: Vec<Event> = vec![LabelMemberRemoved {
        label_id: label.id,
        user,
    }
    .into()];
    if let Some(r) = replacement {
        if r == user {
            return Err(DomainError::InvalidInput(
                "a user cannot replace themselves".to_owned(),
            ));
        }
        scope.recipient(r)?;
        if !label.members.contains(&r) {
            events.push(
                LabelMemberAdded {
                    label_id: label.id,
                    user: r,
                }
                .into(),
            );
        }
    }
    Ok(events)
}
