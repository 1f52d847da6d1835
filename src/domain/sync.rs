//! Resources that follow a system of record (a CRM): retiring them by hand
//! (`RetireResources`) and one batch of a sync (`SyncResources`), which states the owner
//! each listed resource must end up with and which resources no longer exist. Deciding
//! compares against the state at that moment, so a batch decided twice writes nothing
//! the second time, and a batch computed from an older view is still right.

use std::collections::{BTreeMap, HashSet};

use offboard_events::{
    Event, Handover, ResourceKey, ResourcesRegistered, ResourcesRetired, ResourcesTransferred,
    RetireReason, Role, TransferReason, UserId, UserStatus,
};

use super::authority::Scope;
use super::command::Holding;
use super::error::{Decided, DomainError};
use super::resources::MAX_REGISTER;

/// Most resources one `RetireResources` or `SyncResources` may name (a sync is sent in
/// batches of at most this many).
pub const MAX_SYNC_BATCH: usize = MAX_REGISTER;

/// At most this many keys are named in one error message.
const NAMED: usize = 5;

/// `keys` as a short list for a message: the first few, then how many more.
fn some_of(keys: &[&ResourceKey]) -> String {
    let named: Vec<&str> = keys.iter().take(NAMED).map(|k| k.as_str()).collect();
    match keys.len() > NAMED {
        true => format!("{} and {} more", named.join(", "), keys.len() - NAMED),
        false => named.join(", "),
    }
}

/// Refuses a key listed twice in one command, and a group: a group is offboard's own
/// (members join it), not a record a system of record holds.
fn check_key<'a>(seen: &mut HashSet<&'a ResourceKey>, key: &'a ResourceKey) -> Decided<()> {
    if !seen.insert(key) {
        return Err(DomainError::InvalidInput(format!("{key} is listed twice")));
    }
    if key.kind() == "group" {
        return Err(DomainError::InvalidInput(format!(
            "{key} is a group: groups are offboard's own and cannot be retired or synced"
        )));
    }
    Ok(())
}

fn check_size(n: usize) -> Decided<()> {
    match n {
        0 => Err(DomainError::InvalidInput("no resources given".to_owned())),
        n if n > MAX_SYNC_BATCH => Err(DomainError::InvalidInput(format!(
            "at most {MAX_SYNC_BATCH} resources per command; split it"
        ))),
        _ => Ok(()),
    }
}

/// One `ResourcesRetired` per previous owner.
fn retired(by_owner: BTreeMap<UserId, Vec<ResourceKey>>, reason: RetireReason) -> Vec<Event> {
    by_owner
        .into_iter()
        .map(|(owner, resources)| {
            ResourcesRetired {
                owner,
                resources,
                reason,
            }
            .into()
        })
        .collect()
}

/// `RetireResources`: each resource must have an owner now; its owner may retire it, and
/// so may anyone with authority over that owner (R4).
pub fn retire(scope: Scope, resources: &[ResourceKey]) -> Decided<Vec<Event>> {
    let actor = scope.actor()?;
    check_size(resources.len())?;
    let mut seen = HashSet::with_capacity(resources.len());
    let mut by_owner: BTreeMap<UserId, Vec<ResourceKey>> = BTreeMap::new();
    let mut missing = Vec::new();
    for key in resources {
        check_key(&mut seen, key)?;
        match scope.org.ownership().owner_of(key) {
            Some(owner) => by_owner.entry(owner).or_default().push(key.clone()),
            None => missing.push(key),
        }
    }
    if !missing.is_empty() {
        return Err(DomainError::NotFound(format!(
            "resource {} (never registered, or retired already)",
            some_of(&missing)
        )));
    }
    for owner in by_owner.keys() {
        if *owner != actor.id {
            scope.may_change(scope.any_user(*owner)?)?;
        }
    }
    Ok(retired(by_owner, RetireReason::Removed))
}

/// What one sync batch changes, grouped for its events.
#[derive(Default)]
struct Changes {
    register: BTreeMap<UserId, Vec<ResourceKey>>,
    /// From → to → keys.
    moves: BTreeMap<UserId, BTreeMap<UserId, Vec<ResourceKey>>>,
    retire: BTreeMap<UserId, Vec<ResourceKey>>,
}

/// `SyncResources` (admins and the owner): every resource in `owners` ends up with the
/// owner named — registered when it has no owner (new, or retired), moved with reason
/// `sync` when another user owns it (the new owner must then be active), left alone when
/// it is already theirs — and every resource in `retire` that has an owner is retired.
/// Nothing to change is not an error: the batch appends nothing.
pub fn sync(scope: Scope, owners: &[Holding], retire: &[ResourceKey]) -> Decided<Vec<Event>> {
    scope.require_role(Role::Admin)?;
    let total = owners.iter().map(|h| h.resources.len()).sum::<usize>() + retire.len();
    check_size(total)?;
    let ownership = scope.org.ownership();
    let mut seen = HashSet::with_capacity(total);
    let mut changes = Changes::default();
    for holding in owners {
        let owner = scope.user(holding.owner)?;
        for key in &holding.resources {
            check_key(&mut seen, key)?;
            match ownership.owner_of(key) {
                None => {
                    super::validate::new_resource_key(ownership, key)?;
                    changes.register.entry(owner.id).or_default()
                }
                Some(now) if now == owner.id => continue,
                Some(now) => {
                    if owner.status != UserStatus::Active {
                        scope.recipient(owner.id)?;
                    }
                    let to = changes.moves.entry(now).or_default();
                    to.entry(owner.id).or_default()
                }
            }
            .push(key.clone());
        }
    }
    for key in retire {
        check_key(&mut seen, key)?;
        if let Some(owner) = ownership.owner_of(key) {
            changes.retire.entry(owner).or_default().push(key.clone());
        }
    }
    Ok(changes.events())
}

impl Changes {
    /// Registrations, then moves, then retirements: one event per owner (per previous
    /// owner for moves and retirements).
    fn events(self) -> Vec<Event> {
        let registered = self
            .register
            .into_iter()
            .map(|(owner, resources)| Event::from(ResourcesRegistered { owner, resources }));
        let moved = self.moves.into_iter().map(|(from, to)| {
            let handovers = to
                .into_iter()
                .map(|(to, resources)| Handover { to, resources })
                .collect();
            Event::from(ResourcesTransferred {
                from,
                handovers,
                reason: TransferReason::Sync,
            })
        });
        let mut events: Vec<Event> = registered.chain(moved).collect();
        events.extend(retired(self.retire, RetireReason::Sync));
        events
    }
}
