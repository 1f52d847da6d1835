//! Organization commands: create with its owner, set policy, transfer org ownership
//! (R3), register outside principals (R5).

use offboard_events::{
    Actor, Event, OrgOwnershipTransferred, OrganizationCreated, PolicyChanged, PrincipalKind,
    PrincipalRegistered, Profile, Role, UserActivated, UserId, UserInvited, UserRoleChanged,
};
use offboard_projections::State;

use super::authority::Scope;
use super::command::{NewUser, PolicyChange};
use super::context::Context;
use super::error::{Decided, DomainError};
use super::validate;

/// Creates an org whose first user is its owner, invited and active at once.
pub fn create(state: &State, ctx: &Context, name: &str, owner: &NewUser) -> Decided<Vec<Event>> {
    if !matches!(ctx.actor, Actor::System) {
        return Err(DomainError::Forbidden(
            "organizations are created by the system (offboard init)".to_owned(),
        ));
    }
    // `--org` and the API take an org by name or id; a name that reads as an id could
    // pose as another org, so it is refused (ids also take precedence when resolving).
    let name = validate::name_not_an_id("organization name", name)?;
    if state.org(ctx.org_id).is_some() || state.org_by_name(&name).is_some() {
        return Err(DomainError::AlreadyExists(format!("organization {name:?}")));
    }
    let owner_id = UserId(ctx.new_id(0));
    Ok(vec![
        OrganizationCreated {
            name,
            owner: owner_id,
        }
        .into(),
        UserInvited {
            user_id: owner_id,
            profile: profile(owner)?,
            role: Role::Owner,
            manager: None,
        }
        .into(),
        UserActivated { user_id: owner_id }.into(),
    ])
}

/// A validated profile (R2).
pub fn profile(user: &NewUser) -> Decided<Profile> {
    let profile = Profile {
        email: validate::email(&user.email)?,
        first_name: validate::required_text("first name", &user.first_name)?,
        last_name: validate::required_text("last name", &user.last_name)?,
        job_title: validate::optional_text("job title", user.job_title.as_deref())?,
        external_id: validate::optional_text("external id", user.external_id.as_deref())?,
        department: validate::optional_text("department", user.department.as_deref())?,
        employee_number: validate::optional_text(
            "employee number",
            user.employee_number.as_deref(),
        )?,
        user_name: validate::optional_text("user name", user.user_name.as_deref())?,
    };
    Ok(validate::own_user_name(profile))
}

/// Only the owner sets policy. A change that names no field is `invalid_input`; one that
/// leaves the policy as it reads is `invalid_state` ("nothing to change"): neither appends.
pub fn set_policy(scope: Scope, change: &PolicyChange) -> Decided<Vec<Event>> {
    scope.require_role(Role::Owner)?;
    if *change == PolicyChange::default() {
        return Err(DomainError::InvalidInput(
            "no policy field given: name at least one to change".to_owned(),
        ));
    }
    let policy = &change.applied_to(scope.org.policy());
    validate::required_text("confirmation phrase", &policy.confirmation_phrase)?;
    if policy.retention_days == 0 {
        return Err(DomainError::InvalidInput(
            "retention_days must be at least 1".to_owned(),
        ));
    }
    validate::time_zone(&policy.time_zone)?;
    if policy == scope.org.policy() {
        return Err(DomainError::InvalidState(
            "the policy already reads so: nothing to change".to_owned(),
        ));
    }
    Ok(vec![PolicyChanged {
        policy: policy.clone(),
    }
    .into()])
}

/// R3: the owner hands the org to an active user, and becomes an admin.
pub fn transfer_ownership(scope: Scope, to: UserId) -> Decided<Vec<Event>> {
    let actor = scope.require_role(Role::Owner)?;
    let target = scope.recipient(to)?;
    if target.id == actor.id {
        return Err(DomainError::InvalidInput(
            "you already own this organization".to_owned(),
        ));
    }
    Ok(vec![
        OrgOwnershipTransferred { from: actor.id, to }.into(),
        UserRoleChanged {
            user_id: to,
            from: target.role,
            to: Role::Owner,
        }
        .into(),
        UserRoleChanged {
            user_id: actor.id,
            from: Role::Owner,
            to: Role::Admin,
        }
        .into(),
    ])
}

/// R5: the owner lets a support agent or an auditor serve this org.
pub fn register_principal(scope: Scope, kind: PrincipalKind, name: &str) -> Decided<Vec<Event>> {
    scope.require_role(Role::Owner)?;
    let name = validate::identifier("principal name", name)?;
    if scope.org.serves(kind, &name) {
        return Err(DomainError::AlreadyExists(
            format!("{kind:?} principal {name:?}").to_lowercase(),
        ));
    }
    Ok(vec![PrincipalRegistered { kind, name }.into()])
}
