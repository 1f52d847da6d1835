//! Deprovisioning (issue 17): the identity provider took a user's access away (SCIM
//! `active: false` or `DELETE`), and the org's policy says what happens to what they
//! hold — in ONE command. Deprovisioning never leaves the leaver able to sign in: when the
//! handover cannot be made, the user is still deactivated and `DeprovisionPending`
//! records what is left for an administrator.

use offboard_events::{
    CreditAccount, Deprovision, DeprovisionPending, Event, FollowUp, PendingItem, Role,
    UserDeactivated, UserId, UserRoleChanged, UserStatus,
};
use offboard_projections::User;

use super::authority::Scope;
use super::command::OffboardPlan;
use super::error::{Decided, DomainError};
use super::offboarding;

/// Runs the org's `deprovision` policy for `user`, then its `deprovision_then`, or a
/// deactivation when `deactivate_only` (a disabled user the provider may enable again
/// must still exist to be reactivated).
pub fn deprovision(scope: Scope, user: UserId, deactivate_only: bool) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    scope.may_change(target)?;
    let policy = scope.org.policy();
    let then = match policy.deprovision_then {
        FollowUp::Delete if !deactivate_only => FollowUp::Delete,
        _ => FollowUp::Deactivate,
    };
    let recipient = match policy.deprovision {
        Deprovision::Deactivate => None,
        Deprovision::OffboardToManager => match target.manager {
            Some(manager) => Some(manager),
            None => {
                let missing = DomainError::InvalidInput(format!(
                    "{} has no manager to hand over to",
                    target.profile.email
                ));
                return access_removed(scope, target, &missing);
            }
        },
        Deprovision::OffboardTo(to) => Some(to),
    };
    let attempt = match recipient {
        Some(to) => {
            let plan = OffboardPlan {
                default_to: Some(to),
                credits_to: Some(CreditAccount::Pool),
                ..OffboardPlan::default()
            };
            offboarding::deprovision_offboard(scope, user, &plan, then, demotion(scope, target))
        }
        None if then == FollowUp::Delete => offboarding::deprovision_offboard(
            scope,
            user,
            &OffboardPlan::default(),
            then,
            Vec::new(),
        ),
        None => return access_removed_only(scope, target),
    };
    match attempt {
        Ok(events) => Ok(events),
        // Authority is never bypassed; everything else is a handover that cannot be made.
        Err(e @ (DomainError::Forbidden(_) | DomainError::NotFound(_))) => Err(e),
        Err(e) => access_removed(scope, target, &e),
    }
}

/// The policy `deactivate`: nothing moves, the user loses access (demoted first where
/// the policy requires). Deactivate's blockers do not stop it: what the user holds stays
/// theirs, as for any deactivated user.
fn access_removed_only(scope: Scope, target: &User) -> Decided<Vec<Event>> {
    if target.status != UserStatus::Active {
        return Err(DomainError::InvalidState(format!(
            "{} is {}: access is already removed",
            target.profile.email,
            target.status.as_str()
        )));
    }
    let mut events = demotion(scope, target);
    events.push(UserDeactivated { user_id: target.id }.into());
    Ok(events)
}

/// A handover that could not be made (`why`): the access is removed all the same, and
/// what is pending is recorded.
fn access_removed(scope: Scope, target: &User, why: &DomainError) -> Decided<Vec<Event>> {
    let mut events = Vec::new();
    if target.status == UserStatus::Active {
        events = demotion(scope, target);
        events.push(UserDeactivated { user_id: target.id }.into());
    }
    let pending = match why.blockers() {
        [] => vec![PendingItem {
            code: why.code().to_owned(),
            subject: None,
            count: 1,
            message: why.to_string(),
        }],
        blockers => blockers
            .iter()
            .map(|b| PendingItem {
                code: b.code.to_owned(),
                subject: b.subject.clone(),
                count: b.count,
                message: b.message.clone(),
            })
            .collect(),
    };
    events.push(
        DeprovisionPending {
            user_id: target.id,
            pending,
        }
        .into(),
    );
    Ok(events)
}

/// R8: a manager or admin is demoted to member when the policy requires it before a
/// deactivation.
fn demotion(scope: Scope, target: &User) -> Vec<Event> {
    let requires = scope.org.policy().deactivate_requires_demotion;
    if requires && matches!(target.role, Role::Manager | Role::Admin) {
        vec![UserRoleChanged {
            user_id: target.id,
            from: target.role,
            to: Role::Member,
        }
        .into()]
    } else {
        Vec::new()
    }
}
