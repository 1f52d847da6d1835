//! Resource commands (R14, R15): register, transfer chosen resources, transfer every
//! resource of a kind (TransferAllBuyers is `kind = "buyer"`) to one or more colleagues.

use std::collections::BTreeSet;

use offboard_events::{
    Event, FollowUp, Handover, OffboardingCompleted, OffboardingOperation, OffboardingStarted,
    ResourceKey, ResourcesRegistered, ResourcesTransferred, Role, TransferReason, UserId,
};

use super::authority::Scope;
use super::command::Strategy;
use super::error::{Decided, DomainError};

/// Most resources one command may register: an import is split into commands of this size.
pub const MAX_REGISTER: usize = 100_000;

/// New resources with their first owner.
pub fn register(scope: Scope, owner: UserId, resources: &[ResourceKey]) -> Decided<Vec<Event>> {
    let actor = scope.actor()?;
    let owner_user = scope.user(owner)?;
    if actor.id != owner && actor.role < Role::Manager {
        return Err(DomainError::Forbidden(
            "members may only register resources they own themselves".to_owned(),
        ));
    }
    let _ = owner_user;
    if resources.is_empty() {
        return Err(DomainError::InvalidInput("no resources given".to_owned()));
    }
    if resources.len() > MAX_REGISTER {
        return Err(DomainError::InvalidInput(format!(
            "at most {MAX_REGISTER} resources per command; split the import"
        )));
    }
    let mut seen = BTreeSet::new();
    for key in resources {
        if !seen.insert(key) {
            return Err(DomainError::InvalidInput(format!("{key} is listed twice")));
        }
        if scope.org.ownership().owner_of(key).is_some() {
            return Err(DomainError::AlreadyExists(format!("resource {key}")));
        }
        super::validate::new_resource_key(scope.org.ownership(), key)?;
    }
    Ok(vec![ResourcesRegistered {
        owner,
        resources: resources.to_vec(),
    }
    .into()])
}

/// Checks R15's recipients: at least one, each active, distinct, none of them `from`.
pub fn check_recipients(scope: Scope, from: UserId, to: &[UserId]) -> Decided<()> {
    if to.is_empty() {
        return Err(DomainError::InvalidInput(
            "name at least one recipient".to_owned(),
        ));
    }
    let mut seen = BTreeSet::new();
    for id in to {
        if *id == from {
            return Err(DomainError::InvalidInput(
                "resources cannot be transferred to their own owner".to_owned(),
            ));
        }
        if !seen.insert(id) {
            return Err(DomainError::InvalidInput(format!(
                "recipient {id} is listed twice"
            )));
        }
        scope.recipient(*id)?;
    }
    Ok(())
}

/// Deals `keys` (already in key order) to `to` (R15): deterministic for the same input.
pub fn split(keys: Vec<ResourceKey>, to: &[UserId], strategy: Strategy) -> Vec<Handover> {
    let n = to.len().max(1);
    let mut handovers: Vec<Handover> = to
        .iter()
        .map(|id| Handover {
            to: *id,
            resources: Vec::new(),
        })
        .collect();
    match strategy {
        Strategy::RoundRobin => {
            for (i, key) in keys.into_iter().enumerate() {
                handovers[i % n].resources.push(key);
            }
        }
        Strategy::Even => {
            let chunk = keys.len().div_ceil(n).max(1);
            for (i, key) in keys.into_iter().enumerate() {
                handovers[i / chunk].resources.push(key);
            }
        }
    }
    handovers.retain(|h| !h.resources.is_empty());
    handovers
}

/// Chosen resources of `from` go to `to`. The owner may give away their own; anyone
/// else needs authority over `from` (e.g. an admin impersonating a deactivated user, R6).
///
/// This is day-to-day reassignment, so it is ONE `ResourcesTransferred` event without
/// offboarding markers: the event names everything that moved, and its correlation id
/// is enough to revert it. (A third of the events, and of the log's work, per transfer.)
pub fn transfer_selected(
    scope: Scope,
    from: UserId,
    resources: &[ResourceKey],
    to: UserId,
) -> Decided<Vec<Event>> {
    let owner = scope.user(from)?;
    if scope.actor()?.id != from {
        scope.may_change(owner)?;
    }
    check_recipients(scope, from, &[to])?;
    if resources.is_empty() {
        return Err(DomainError::InvalidInput("no resources given".to_owned()));
    }
    let mut seen = BTreeSet::new();
    let mut not_owned = Vec::new();
    for key in resources {
        if !seen.insert(key) {
            return Err(DomainError::InvalidInput(format!("{key} is listed twice")));
        }
        if scope.org.ownership().owner_of(key) != Some(from) {
            not_owned.push(key.to_string());
        }
    }
    if !not_owned.is_empty() {
        return Err(DomainError::InvalidInput(format!(
            "{} does not own {}",
            owner.profile.email,
            not_owned.join(", ")
        )));
    }
    Ok(vec![ResourcesTransferred {
        from,
        handovers: vec![Handover {
            to,
            resources: resources.to_vec(),
        }],
        reason: TransferReason::Selected,
    }
    .into()])
}

/// Every resource of `kind` that `from` owns moves to the recipients (R15).
pub fn transfer_all(
    scope: Scope,
    from: UserId,
    kind: &str,
    to: &[UserId],
    strategy: Strategy,
) -> Decided<Vec<Event>> {
    let owner = scope.user(from)?;
    scope.may_change(owner)?;
    if !offboard_events::resource::is_valid_kind(kind) {
        return Err(DomainError::InvalidInput(format!(
            "{kind:?} is not a resource kind"
        )));
    }
    check_recipients(scope, from, to)?;
    let keys = scope.org.ownership().resources_of(from, Some(kind));
    if keys.is_empty() {
        return Err(DomainError::NothingToTransfer(format!(
            "{} owns no {kind}",
            owner.profile.email
        )));
    }
    let moved = keys.len() as u64;
    let handovers = split(keys, to, strategy);
    Ok(wrap(
        from,
        OffboardingOperation::TransferAll,
        moved,
        ResourcesTransferred {
            from,
            handovers,
            reason: TransferReason::AllOfKind,
        },
    ))
}

/// Brackets a transfer in offboarding markers, so it can be reverted by correlation id.
fn wrap(
    user: UserId,
    operation: OffboardingOperation,
    moved: u64,
    transfer: ResourcesTransferred,
) -> Vec<Event> {
    vec![
        OffboardingStarted {
            user,
            operation,
            then: FollowUp::None,
        }
        .into(),
        transfer.into(),
        OffboardingCompleted {
            user,
            resources_moved: moved,
        }
        .into(),
    ]
}
