//! Undoing and forgetting (R12, R13): restore a deleted user within the retention
//! window (optionally with everything the deleting offboarding moved away), revert an
//! offboarding that did not delete, and purge personal data for good.

use chrono::Duration;
use offboard_events::{
    Actor, CorrelationId, Event, OffboardingReverted, OffboardingStarted, PrincipalKind, Profile,
    Reprovision, Role, UserId, UserManagerChanged, UserProfileChanged, UserPurged, UserRestored,
    UserStatus,
};
use offboard_projections::{OrgState, User};

use super::command::Command;

use super::authority::Scope;
use super::compensation::compensate;
use super::error::{Decided, DomainError};
use super::validate;

/// The operation whose events a restore (with ownership) or a revert compensates: the
/// deleting offboarding of the user, or the named correlation. The engine reads those
/// events from the log and hands them to `decide` in [`super::Context::compensating`].
pub fn compensated_correlation(org: &OrgState, command: &Command) -> Option<CorrelationId> {
    match command {
        Command::RestoreUser {
            user,
            return_ownership: true,
            ..
        } => org
            .directory()
            .user(*user)
            .and_then(|u| u.deleted_at)
            .and_then(|(position, _)| org.audit().event(position))
            .map(|e| e.correlation_id),
        Command::RevertOffboarding { correlation_id } => Some(*correlation_id),
        _ => None,
    }
}

/// R12: the owner, or a support principal serving this org, may restore.
fn may_restore(scope: &Scope) -> Decided<()> {
    match &scope.ctx.actor {
        Actor::Support { name } if scope.org.serves(PrincipalKind::Support, name) => Ok(()),
        Actor::Support { .. } => Err(DomainError::Forbidden(
            "this support principal does not serve this organization".to_owned(),
        )),
        // Policy `reprovision: restore`: the identity provider provisioning a deleted
        // user's email again brings that person back (issue 17); the provisioner's own
        // checks (`check_provisioner`) ran before.
        Actor::Provisioner { .. } if scope.org.policy().reprovision == Reprovision::Restore => {
            Ok(())
        }
        _ => scope.require_role(Role::Owner).map(|_| ()),
    }
}

/// The deleted user, checked against the lifecycle and the window.
fn deleted_user<'a>(scope: &Scope<'a>, user: UserId) -> Decided<&'a User> {
    let target = scope.any_user(user)?;
    match target.status {
        UserStatus::Deleted => {}
        UserStatus::Purged => return Err(DomainError::Purged(user.to_string())),
        other => {
            return Err(DomainError::InvalidState(format!(
                "the user is {}, not deleted",
                other.as_str()
            )))
        }
    }
    let days = scope.org.policy().retention_days;
    let (_, deleted_at) = target
        .deleted_at
        .ok_or_else(|| DomainError::InvalidState("no deletion on record".to_owned()))?;
    if scope.ctx.now > deleted_at + Duration::days(i64::from(days)) {
        return Err(DomainError::RestoreWindowExpired { days });
    }
    Ok(target)
}

pub fn restore(
    scope: Scope,
    user: UserId,
    return_ownership: bool,
    new_email: Option<&str>,
    reactivate: bool,
) -> Decided<Vec<Event>> {
    may_restore(&scope)?;
    let target = deleted_user(&scope, user)?;
    let mut events: Vec<Event> = Vec::new();

    // R12: the email may have been taken meanwhile (deleting freed it, R11).
    let email = match new_email {
        Some(e) => validate::email(e)?,
        None => target.profile.email.clone(),
    };
    let profile = validate::own_user_name(Profile {
        email,
        ..target.profile.clone()
    });
    // The external id and user name were freed by the delete too; another user may
    // hold them now.
    super::profile::unique(scope.org.directory(), &profile, Some(user))?;
    if profile != target.profile {
        events.push(
            UserProfileChanged {
                user_id: user,
                profile,
            }
            .into(),
        );
    }
    let status = if reactivate {
        UserStatus::Active
    } else {
        UserStatus::Deactivated
    };
    events.push(
        UserRestored {
            user_id: user,
            status,
        }
        .into(),
    );
    // The manager comes back too, unless they have left meanwhile.
    if let Some(manager) = target.manager {
        if scope.user(manager).is_err() {
            events.push(
                UserManagerChanged {
                    user_id: user,
                    from: Some(manager),
                    to: None,
                }
                .into(),
            );
        }
    }

    if return_ownership {
        let (deleted_position, _) = target.deleted_at.expect("checked by deleted_user");
        let offboarding = &scope.ctx.compensating;
        let deletion = offboarding.iter().find(|e| e.position == deleted_position);
        let Some(deletion) = deletion else {
            return Err(DomainError::InvalidState(
                "the deleting offboarding was not supplied; retry the restore".to_owned(),
            ));
        };
        let comp = compensate(scope.org, user, offboarding, reactivate);
        events.extend(comp.events);
        events.push(
            OffboardingReverted {
                user,
                reverted: deletion.correlation_id,
                returned: comp.returned,
                skipped: comp.skipped,
            }
            .into(),
        );
    }
    Ok(events)
}

/// Gives back what an offboarding that did not delete (e.g. a mistaken
/// TransferAllBuyers) moved away.
pub fn revert(scope: Scope, correlation_id: CorrelationId) -> Decided<Vec<Event>> {
    let offboarding = &scope.ctx.compensating;
    // An offboarding names its user in its first marker; a hand-picked transfer is one
    // `ResourcesTransferred` (or, setting a record role, `RecordRolesTransferred`)
    // without markers, and names the user it moved things from.
    let started = offboarding
        .iter()
        .filter(|e| e.correlation_id == correlation_id)
        .find_map(|e| match &e.event {
            Event::OffboardingStarted(OffboardingStarted { user, .. }) => Some(*user),
            Event::ResourcesTransferred(t) => Some(t.from),
            Event::RecordRolesTransferred(t) => Some(t.from),
            _ => None,
        });
    let user =
        started.ok_or_else(|| DomainError::NotFound(format!("offboarding {correlation_id}")))?;
    let target = scope.any_user(user)?;
    match target.status {
        UserStatus::Deleted | UserStatus::Purged => return Err(DomainError::InvalidState(
            "that offboarding deleted the user: restore the user with --return-ownership instead"
                .to_owned(),
        )),
        _ => {
            scope.may_change(target)?;
        }
    }
    // The user ends active if they are, or if the offboarding deactivated them (its
    // compensation reactivates them).
    let deactivated_by_it = offboarding
        .iter()
        .any(|e| matches!(&e.event, Event::UserDeactivated(d) if d.user_id == user));
    let ends_active = target.status == UserStatus::Active
        || (target.status == UserStatus::Deactivated && deactivated_by_it);
    let comp = compensate(scope.org, user, offboarding, ends_active);
    if comp.events.is_empty() {
        return Err(DomainError::NothingToTransfer(format!(
            "nothing of offboarding {correlation_id} can be given back ({} skipped)",
            comp.skipped.len()
        )));
    }
    let mut events = comp.events;
    events.push(
        OffboardingReverted {
            user,
            reverted: correlation_id,
            returned: comp.returned,
            skipped: comp.skipped,
        }
        .into(),
    );
    Ok(events)
}

/// R13: the owner erases a deleted user's personal data now (an erasure request).
pub fn purge(scope: Scope, user: UserId, confirm: &str) -> Decided<Vec<Event>> {
    scope.require_role(Role::Owner)?;
    let phrase = &scope.org.policy().confirmation_phrase;
    if confirm != phrase {
        return Err(DomainError::ConfirmationRequired {
            expected: phrase.clone(),
        });
    }
    let target = scope.any_user(user)?;
    match target.status {
        UserStatus::Deleted => match scope.ctx.plaintext_profiles.get(&user) {
            Some(positions) => Err(DomainError::ErasureImpossible {
                user: target.profile.email.clone(),
                positions: positions.clone(),
            }),
            None => Ok(vec![UserPurged { user_id: user }.into()]),
        },
        UserStatus::Purged => Err(DomainError::Purged(user.to_string())),
        other => Err(DomainError::InvalidState(format!(
            "only deleted users can be purged; this one is {} (delete them first)",
            other.as_str()
        ))),
    }
}

/// R13: purge every deleted user whose retention window has passed (the system's
/// sweep, or the owner running it by hand). Purging nobody is not an error. Users whose
/// profile is stored in plaintext are left deleted: no purge could erase them.
pub fn purge_expired(scope: Scope) -> Decided<Vec<Event>> {
    if !matches!(scope.ctx.actor, Actor::System) {
        scope.require_role(Role::Owner)?;
    }
    let window = Duration::days(i64::from(scope.org.policy().retention_days));
    Ok(scope
        .org
        .directory()
        .users()
        .filter(|u| u.status == UserStatus::Deleted)
        .filter(|u| {
            u.deleted_at
                .is_some_and(|(_, at)| scope.ctx.now > at + window)
        })
        .filter(|u| !scope.ctx.plaintext_profiles.contains_key(&u.id))
        .map(|u| UserPurged { user_id: u.id }.into())
        .collect())
}
