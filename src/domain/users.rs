//! User commands (R2, R4, R7–R9): invite, activate, role, manager, groups, deactivate,
//! reactivate. Deleting is an offboarding (see `offboarding.rs`).

use offboard_events::{
    Event, ResourceKey, ResourcesRegistered, Role, UserActivated, UserId, UserInvited,
    UserJoinedGroup, UserLeftGroup, UserManagerChanged, UserReactivated, UserRoleChanged,
    UserStatus,
};

use super::authority::Scope;
use super::command::NewUser;
use super::error::{Decided, DomainError};
use super::holdings::Holdings;
use super::{handover, org, validate};

/// R2 + seed 004: add a user; `active` activates at once.
pub fn invite(
    scope: Scope,
    new: &NewUser,
    role: Role,
    manager: Option<UserId>,
    active: bool,
) -> Decided<Vec<Event>> {
    let actor = scope.require_role(Role::Manager)?;
    if role == Role::Owner {
        return Err(DomainError::InvalidInput(
            "an organization has one owner; invite an admin and transfer org ownership".to_owned(),
        ));
    }
    if role >= actor.role {
        return Err(DomainError::Forbidden(format!(
            "a {} cannot add a {}",
            actor.role.as_str(),
            role.as_str()
        )));
    }
    let profile = org::profile(new)?;
    super::profile::unique(scope.org.directory(), &profile, None)?;
    if let Some(m) = manager {
        scope.user(m)?;
    }
    let user_id = UserId(scope.ctx.new_id(0));
    let mut events: Vec<Event> = vec![UserInvited {
        user_id,
        profile,
        role,
        manager,
    }
    .into()];
    if active {
        events.push(UserActivated { user_id }.into());
    }
    Ok(events)
}

/// invited → active.
pub fn activate(scope: Scope, user: UserId) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    scope.may_change(target)?;
    match target.status {
        UserStatus::Invited => Ok(vec![UserActivated { user_id: user }.into()]),
        UserStatus::Deactivated => Err(DomainError::InvalidState(
            "the user is deactivated: reactivate them instead".to_owned(),
        )),
        _ => Err(DomainError::InvalidState(format!(
            "the user is already {}",
            target.status.as_str()
        ))),
    }
}

/// Promote or demote (R4: the actor must outrank both the old and the new role).
pub fn change_role(scope: Scope, user: UserId, role: Role) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    let actor = scope.may_change(target)?;
    if role == Role::Owner {
        return Err(DomainError::InvalidInput(
            "use transfer_org_ownership to make someone the owner".to_owned(),
        ));
    }
    if role >= actor.role {
        return Err(DomainError::Forbidden(format!(
            "a {} cannot make someone a {}",
            actor.role.as_str(),
            role.as_str()
        )));
    }
    if role == target.role {
        return Err(DomainError::InvalidState(format!(
            "the user is already a {}",
            role.as_str()
        )));
    }
    Ok(vec![UserRoleChanged {
        user_id: user,
        from: target.role,
        to: role,
    }
    .into()])
}

/// Set or clear the user's manager; a manager chain may not loop.
pub fn set_manager(scope: Scope, user: UserId, manager: Option<UserId>) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    scope.may_change(target)?;
    if let Some(m) = manager {
        if m == user {
            return Err(DomainError::InvalidInput(
                "a user cannot manage themselves".to_owned(),
            ));
        }
        scope.user(m)?;
        // Walk up from the new manager: meeting `user` would close a loop. A user who
        // manages nobody heads no chain, so no walk: an import setting the managers of
        // N new users down a deep chain would otherwise walk it N times (quadratic).
        let heads_a_chain = scope.org.directory().report_count(user) > 0;
        let mut cursor = heads_a_chain.then_some(m);
        let mut steps = 0;
        while let Some(id) = cursor {
            if id == user {
                return Err(DomainError::InvalidInput(
                    "that would make the user manage their own manager".to_owned(),
                ));
            }
            steps += 1;
            if steps > 10_000 {
                break;
            }
            cursor = scope.org.directory().user(id).and_then(|u| u.manager);
        }
    }
    if target.manager == manager {
        return Err(DomainError::InvalidState(
            "the user already has that manager".to_owned(),
        ));
    }
    Ok(vec![UserManagerChanged {
        user_id: user,
        from: target.manager,
        to: manager,
    }
    .into()])
}

/// The resource key of a group name.
pub fn group_key(name: &str) -> Decided<ResourceKey> {
    let name = validate::identifier("group name", name)?;
    ResourceKey::new("group", &name).map_err(|e| DomainError::InvalidInput(e.to_string()))
}

/// A group is a resource of kind `group` owned by one user (seed 001's local groups).
pub fn create_group(scope: Scope, name: &str, owner: UserId) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let key = group_key(name)?;
    scope.recipient(owner)?;
    if scope.org.ownership().owner_of(&key).is_some() {
        return Err(DomainError::AlreadyExists(format!("group {name:?}")));
    }
    Ok(vec![ResourcesRegistered {
        owner,
        resources: vec![key],
    }
    .into()])
}

/// Join or leave a group (by someone with authority over the user, R4).
pub fn membership(scope: Scope, group: &str, user: UserId, join: bool) -> Decided<Vec<Event>> {
    let key = group_key(group)?;
    if scope.org.ownership().owner_of(&key).is_none() {
        return Err(DomainError::NotFound(format!("group {group:?}")));
    }
    let target = scope.user(user)?;
    // R4: group memberships are part of the user, so changing them needs authority over
    // the user like any other change. Owning the group is not enough: a manager who could
    // pull anyone into their own group would gain authority over everyone they outrank.
    // (Removing a member from one's own group is covered: the owner of a group the
    // target belongs to has authority.)
    scope.may_change(target)?;
    let member = target.groups.contains(&key);
    match (join, member) {
        (true, false) => Ok(vec![UserJoinedGroup {
            user_id: user,
            group: key,
        }
        .into()]),
        (false, true) => Ok(vec![UserLeftGroup {
            user_id: user,
            group: key,
        }
        .into()]),
        (true, true) => Err(DomainError::InvalidState(
            "the user is already in that group".to_owned(),
        )),
        (false, false) => Err(DomainError::InvalidState(
            "the user is not in that group".to_owned(),
        )),
    }
}

/// R8: active → deactivated, unless a blocker holds (every blocker is listed); R26's
/// handover places are blockers or recorded as the policy says.
pub fn deactivate(scope: Scope, user: UserId) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    scope.may_change(target)?;
    if target.status != UserStatus::Active {
        return Err(DomainError::InvalidState(format!(
            "only active users can be deactivated; this one is {}",
            target.status.as_str()
        )));
    }
    let left = Holdings::of(scope.org, target);
    handover::deactivation(scope.org.policy(), target, &left)
}

/// R9: deactivated → active. Deleted users are restored, not reactivated.
pub fn reactivate(scope: Scope, user: UserId) -> Decided<Vec<Event>> {
    let target = scope.any_user(user)?;
    if target.status == UserStatus::Purged {
        return Err(DomainError::NotFound(format!("user {user}")));
    }
    // Authority first, so someone without it learns nothing about the user's state.
    scope.may_change(target)?;
    match target.status {
        UserStatus::Deactivated => Ok(vec![UserReactivated { user_id: user }.into()]),
        UserStatus::Deleted => Err(DomainError::InvalidState(
            "deleted users are not reactivated: restore them instead".to_owned(),
        )),
        other => Err(DomainError::InvalidState(format!(
            "the user is {}, not deactivated",
            other.as_str()
        ))),
    }
}
