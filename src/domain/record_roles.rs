//! Record roles (R29, issue 20 §2): users named on a record besides its owner — a
//! deal's servicing specialist, its watchers. Declaring a role multi-holder, setting
//! and unsetting holders, and handing every record where a user holds a role (of one
//! kind or all) to colleagues. The owner is not a record role: it keeps R14's commands.

use std::collections::{BTreeMap, BTreeSet};

use offboard_events::{
    is_valid_role_name, Event, FollowUp, Handover, OffboardingCompleted, OffboardingOperation,
    OffboardingStarted, RecordRoleAssigned, RecordRoleDeclared, RecordRoleUnassigned,
    RecordRolesTransferred, ResourceKey, Role, TransferReason, UserId,
};

use super::authority::Scope;
use super::command::{RoleHolders, Strategy};
use super::error::{Decided, DomainError};
use super::resources::{check_recipients, split, MAX_REGISTER};

/// A role name as commands take it: a lowercase identifier, not `owner`.
pub fn role_name(role: &str) -> Decided<String> {
    let role = role.trim();
    if role == "owner" {
        return Err(DomainError::InvalidInput(
            "owner is not a record role: use transfer to change a record's owner".to_owned(),
        ));
    }
    if !is_valid_role_name(role) {
        return Err(DomainError::InvalidInput(format!(
            "role {role:?} must be lowercase letters, digits and '_', starting with a letter, at most {} long",
            offboard_events::MAX_ROLE_NAME_LEN
        )));
    }
    Ok(role.to_owned())
}

/// `role` has one holder per record (`multi: false`, also every role never declared)
/// or any number. Admins and the owner declare; a role may not become single-holder
/// while a record has several holders in it.
pub fn declare(scope: Scope, role: &str, multi: bool) -> Decided<Vec<Event>> {
    scope.require_role(Role::Admin)?;
    let role = role_name(role)?;
    let roles = scope.org.record_roles();
    if roles.declared().any(|(r, m)| r == role && m == multi) {
        return Err(DomainError::InvalidState(format!(
            "{role} is already {}",
            holders_word(multi)
        )));
    }
    let shared = roles.records_with_several(&role);
    if !multi && shared > 0 {
        return Err(DomainError::InvalidState(format!(
            "{} several {role}s: unset the extra holders first",
            match shared {
                1 => "1 record has".to_owned(),
                n => format!("{n} records have"),
            }
        )));
    }
    Ok(vec![RecordRoleDeclared { role, multi }.into()])
}

fn holders_word(multi: bool) -> &'static str {
    match multi {
        true => "multi-holder",
        false => "single-holder",
    }
}

/// The actor may change roles on `resources`: each is registered now, and the actor
/// owns it or is a manager or above.
fn check_records(scope: Scope, resources: &[ResourceKey]) -> Decided<()> {
    let actor = scope.actor()?;
    match resources.len() {
        0 => return Err(DomainError::InvalidInput("no resources given".to_owned())),
        n if n > MAX_REGISTER => {
            return Err(DomainError::InvalidInput(format!(
                "at most {MAX_REGISTER} resources per command; split it"
            )))
        }
        _ => {}
    }
    let mut seen = BTreeSet::new();
    for key in resources {
        if !seen.insert(key) {
            return Err(DomainError::InvalidInput(format!("{key} is listed twice")));
        }
        let Some(owner) = scope.org.ownership().owner_of(key) else {
            return Err(DomainError::NotFound(format!(
                "resource {key} (never registered, or retired)"
            )));
        };
        if owner != actor.id && actor.role < Role::Manager {
            return Err(DomainError::Forbidden(
                "members may only name roles on records they own".to_owned(),
            ));
        }
    }
    Ok(())
}

/// `user` holds `role` on each of `resources` from now on. A single-holder role held by
/// someone else moves to `user` (`RecordRolesTransferred`, one per previous holder);
/// a multi-holder role gains `user`. The holder must be active; records where `user`
/// already holds the role are refused (`invalid_state`) when every one is.
pub fn set(
    scope: Scope,
    role: &str,
    user: UserId,
    resources: &[ResourceKey],
) -> Decided<Vec<Event>> {
    let role = role_name(role)?;
    check_records(scope, resources)?;
    scope.recipient(user)?;
    let (org, multi) = (scope.org, scope.org.record_roles().is_multi(&role));
    let mut fresh = Vec::new();
    let mut moves: BTreeMap<UserId, Vec<ResourceKey>> = BTreeMap::new();
    for key in resources {
        let holders = org.record_roles().holders(org.ownership(), key, &role);
        match holders.as_slice() {
            h if h.contains(&user) => {}
            [previous] if !multi => moves.entry(*previous).or_default().push(key.clone()),
            _ => fresh.push(key.clone()),
        }
    }
    if fresh.is_empty() && moves.is_empty() {
        return Err(DomainError::InvalidState(format!(
            "the user already holds {role} on every record named"
        )));
    }
    let mut events: Vec<Event> = moves
        .into_iter()
        .map(|(from, resources)| {
            RecordRolesTransferred {
                from,
                role: role.clone(),
                handovers: vec![Handover {
                    to: user,
                    resources,
                }],
                reason: TransferReason::Selected,
            }
            .into()
        })
        .collect();
    if !fresh.is_empty() {
        events.push(
            RecordRoleAssigned {
                user,
                role,
                resources: fresh,
            }
            .into(),
        );
    }
    Ok(events)
}

/// Nobody holds `role` on `resources` any more — or, with `user`, that user no longer
/// does (needed for a multi-holder role with several holders). A record where nobody
/// (or not `user`) holds it is `not_found`.
pub fn unset(
    scope: Scope,
    role: &str,
    user: Option<UserId>,
    resources: &[ResourceKey],
) -> Decided<Vec<Event>> {
    let role = role_name(role)?;
    check_records(scope, resources)?;
    let org = scope.org;
    let mut by_holder: BTreeMap<UserId, Vec<ResourceKey>> = BTreeMap::new();
    for key in resources {
        let holders = org.record_roles().holders(org.ownership(), key, &role);
        let holder = match (user, holders.as_slice()) {
            (Some(u), h) if h.contains(&u) => u,
            (None, [only]) => *only,
            (None, [_, _, ..]) => {
                return Err(DomainError::InvalidInput(format!(
                    "{key} has {} {role}s: name the one to unset",
                    holders.len()
                )))
            }
            _ => {
                return Err(DomainError::NotFound(format!(
                    "{role} on {key} (nobody{} holds it)",
                    user.map_or("", |_| " by that name")
                )))
            }
        };
        by_holder.entry(holder).or_default().push(key.clone());
    }
    Ok(by_holder
        .into_iter()
        .map(|(user, resources)| {
            RecordRoleUnassigned {
                user,
                role: role.clone(),
                resources,
            }
            .into()
        })
        .collect())
}

/// Every record (of `kind`, or every kind) where `from` holds `role` goes to the
/// recipients, dealt as R15 deals resources; bracketed in offboarding markers so it can
/// be reverted by its correlation id.
pub fn transfer(
    scope: Scope,
    from: UserId,
    role: &str,
    kind: Option<&str>,
    to: &[UserId],
    strategy: Strategy,
) -> Decided<Vec<Event>> {
    let leaver = scope.user(from)?;
    scope.may_change(leaver)?;
    let role = role_name(role)?;
    if let Some(kind) = kind.filter(|k| !offboard_events::resource::is_valid_kind(k)) {
        return Err(DomainError::InvalidInput(format!(
            "{kind:?} is not a resource kind"
        )));
    }
    check_recipients(scope, from, to)?;
    let org = scope.org;
    let keys = org
        .record_roles()
        .records_of(org.ownership(), from, Some(&role), kind);
    if keys.is_empty() {
        return Err(DomainError::NothingToTransfer(format!(
            "{} is {} of no {}",
            leaver.profile.email,
            role.replace('_', " "),
            kind.unwrap_or("record")
        )));
    }
    let moved = keys.len() as u64;
    Ok(vec![
        OffboardingStarted {
            user: from,
            operation: OffboardingOperation::TransferAll,
            then: FollowUp::None,
        }
        .into(),
        RecordRolesTransferred {
            from,
            role,
            handovers: split(keys, to, strategy),
            reason: TransferReason::AllOfKind,
        }
        .into(),
        OffboardingCompleted {
            user: from,
            resources_moved: moved,
        }
        .into(),
    ])
}

/// `SyncResources`' roles (R29; the owner and admins): each record ends with exactly
/// the holders named in its role — a single-holder role moves from its holder (reason
/// `sync`), is assigned, or unassigned; a multi-holder role gains and loses holders.
/// What already agrees is left alone; a new holder must be active.
pub fn sync(scope: Scope, roles: &[RoleHolders]) -> Decided<Vec<Event>> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    scope.require_role(Role::Admin)?;
    if roles.len() > MAX_REGISTER {
        return Err(DomainError::InvalidInput(format!(
            "at most {MAX_REGISTER} record roles per command; split it"
        )));
    }
    let (org, mut changes) = (scope.org, RoleChanges::default());
    let mut seen = BTreeSet::new();
    for wanted in roles {
        let role = role_name(&wanted.role)?;
        let key = &wanted.resource;
        if !seen.insert((role.clone(), key)) {
            return Err(DomainError::InvalidInput(format!(
                "{role} on {key} is listed twice"
            )));
        }
        if org.ownership().owner_of(key).is_none() {
            return Err(DomainError::NotFound(format!(
                "resource {key} (never registered, or retired)"
            )));
        }
        let multi = org.record_roles().is_multi(&role);
        if !multi && wanted.holders.len() > 1 {
            return Err(DomainError::InvalidInput(format!(
                "{key} names {} {role}s, a single-holder role",
                wanted.holders.len()
            )));
        }
        let now = org.record_roles().holders(org.ownership(), key, &role);
        for holder in wanted.holders.iter().filter(|h| !now.contains(h)) {
            scope.recipient(*holder)?;
        }
        changes.note(&role, key, &now, &wanted.holders, multi);
    }
    Ok(changes.events())
}

/// What a role sync changes, grouped into one event per role and user.
#[derive(Default)]
struct RoleChanges {
    moved: BTreeMap<(String, UserId), BTreeMap<UserId, Vec<ResourceKey>>>,
    assigned: BTreeMap<(String, UserId), Vec<ResourceKey>>,
    unassigned: BTreeMap<(String, UserId), Vec<ResourceKey>>,
}

impl RoleChanges {
    /// `key`'s `role` goes from the holders `now` to `wanted`.
    fn note(
        &mut self,
        role: &str,
        key: &ResourceKey,
        now: &[UserId],
        wanted: &[UserId],
        multi: bool,
    ) {
        let at = |user: UserId| (role.to_owned(), user);
        match (now, wanted) {
            ([from], [to]) if !multi && from != to => self
                .moved
                .entry(at(*from))
                .or_default()
                .entry(*to)
                .or_default()
                .push(key.clone()),
            _ => {
                for gone in now.iter().filter(|u| !wanted.contains(u)) {
                    self.unassigned
                        .entry(at(*gone))
                        .or_default()
                        .push(key.clone());
                }
                for new in wanted.iter().filter(|u| !now.contains(u)) {
                    self.assigned.entry(at(*new)).or_default().push(key.clone());
                }
            }
        }
    }

    /// Unassignments first (a multi-holder role may only shrink), then moves, then
    /// assignments.
    fn events(self) -> Vec<Event> {
        let unassigned = self
            .unassigned
            .into_iter()
            .map(|((role, user), resources)| {
                Event::from(RecordRoleUnassigned {
                    user,
                    role,
                    resources,
                })
            });
        let moved = self.moved.into_iter().map(|((role, from), to)| {
            let handovers = to
                .into_iter()
                .map(|(to, resources)| Handover { to, resources })
                .collect();
            Event::from(RecordRolesTransferred {
                from,
                role,
                handovers,
                reason: TransferReason::Sync,
            })
        });
        let assigned = self.assigned.into_iter().map(|((role, user), resources)| {
            Event::from(RecordRoleAssigned {
                user,
                role,
                resources,
            })
        });
        unassigned.chain(moved).chain(assigned).collect()
    }
}
