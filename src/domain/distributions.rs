//! Distributions (R18): lead rotations, workflow automations and integrations with
//! weighted members and an optional backup.
//!
//! Weights are positive and add up to at most [`MAX_TOTAL_WEIGHT`] (see there why), so
//! every rebalance the engine suggests ([`suggested_rebalance`]) is one it accepts.

use std::collections::BTreeSet;

use offboard_events::{
    DistributionBackupChanged, DistributionCreated, DistributionId, DistributionKind,
    DistributionRebalanced, Event, Member, Role, UserId,
};
use offboard_projections::{
    rebalanced_total, suggested_rebalance, total_weight, Distribution, OrgState, MAX_TOTAL_WEIGHT,
};

use super::authority::Scope;
use super::error::{Decided, DomainError};
use super::holdings::is_active;
use super::validate;

/// R18 + R8: the rebalance suggested when `leaving` goes — the members who would still
/// receive work (active ones; deactivated members are skipped, as distributions skip
/// them when assigning), weights scaled to the same total. `None` when no active member
/// would be left (`replacement_required`).
pub fn suggestion(org: &OrgState, members: &[Member], leaving: UserId) -> Option<Vec<Member>> {
    // The shares of members who receive no work go with the leaver's, so the active
    // members share the whole total (R18: the same total).
    let mut receiving: Vec<Member> = Vec::with_capacity(members.len());
    let mut gone = Member {
        user: leaving,
        weight: 0,
    };
    for m in members {
        if m.user != leaving && is_active(org, m.user) {
            receiving.push(*m);
        } else {
            gone.weight = gone.weight.saturating_add(m.weight);
        }
    }
    receiving.push(gone);
    suggested_rebalance(&receiving, leaving)
}

fn find<'a>(scope: &Scope<'a>, name: &str) -> Decided<&'a Distribution> {
    scope
        .org
        .distributions()
        .by_name(name)
        .ok_or_else(|| DomainError::NotFound(format!("distribution {name:?}")))
}

/// Members must be active, listed once, with positive weights (their total is checked
/// by [`within_maximum`] for a new distribution, by [`same_total`] for a rebalance).
fn check(scope: &Scope, members: &[Member]) -> Decided<()> {
    if members.is_empty() {
        return Err(DomainError::InvalidInput(
            "a distribution needs at least one member".to_owned(),
        ));
    }
    let mut seen = BTreeSet::new();
    for m in members {
        if m.weight == 0 {
            return Err(DomainError::InvalidInput(
                "weights must be positive".to_owned(),
            ));
        }
        if !seen.insert(m.user) {
            return Err(DomainError::InvalidInput(format!(
                "member {} is listed twice",
                m.user
            )));
        }
        scope.recipient(m.user)?;
    }
    Ok(())
}

/// A new distribution's weights add up to at most [`MAX_TOTAL_WEIGHT`].
fn within_maximum(members: &[Member]) -> Decided<()> {
    let total = total_weight(members);
    if total > MAX_TOTAL_WEIGHT {
        return Err(DomainError::InvalidInput(format!(
            "weights must add up to at most {MAX_TOTAL_WEIGHT}, not {total}"
        )));
    }
    Ok(())
}

/// R18: after a rebalance the weights add up to what they did before (capped at
/// [`MAX_TOTAL_WEIGHT`] for a distribution an earlier build let exceed it, so every
/// rebalance stays within it). `prefix` names the distribution in an offboarding's
/// message (`"\"Hot leads\": "`), empty otherwise.
pub(super) fn same_total(prefix: &str, before: &[Member], after: &[Member]) -> Decided<()> {
    let (was, now) = (total_weight(before), total_weight(after));
    let wanted = rebalanced_total(was);
    if now == wanted {
        return Ok(());
    }
    let why = if wanted == was {
        " as before".to_owned()
    } else {
        format!(", the maximum (they added up to {was})")
    };
    Err(DomainError::InvalidInput(format!(
        "{prefix}weights must add up to {wanted}{why}, not {now}"
    )))
}

/// Sets up a distribution (managers and up): a new name, active members listed once,
/// positive weights adding up to at most [`MAX_TOTAL_WEIGHT`] (`invalid_input`).
pub fn create(
    scope: Scope,
    name: &str,
    kind: DistributionKind,
    members: &[Member],
    backup: Option<UserId>,
) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let name = validate::name_not_an_id("distribution name", name)?;
    if scope.org.distributions().by_name(&name).is_some() {
        return Err(DomainError::AlreadyExists(format!("distribution {name:?}")));
    }
    check(&scope, members)?;
    within_maximum(members)?;
    if let Some(b) = backup {
        scope.recipient(b)?;
    }
    let distribution_id = DistributionId(scope.ctx.new_id(0));
    Ok(vec![DistributionCreated {
        distribution_id,
        name,
        kind,
        members: members.to_vec(),
        backup,
    }
    .into()])
}

/// Removes one member; without `members`, the suggested rebalance keeps the total;
/// the sole member needs an explicit replacement.
pub fn remove_member(
    scope: Scope,
    name: &str,
    user: UserId,
    members: Option<&[Member]>,
) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let d = find(&scope, name)?;
    if !d.has_member(user) {
        return Err(DomainError::InvalidState(format!(
            "the user is not a member of {name:?}"
        )));
    }
    let after = match members {
        Some(edited) => {
            if edited.iter().any(|m| m.user == user) {
                return Err(DomainError::InvalidInput(
                    "the new members still include the user being removed".to_owned(),
                ));
            }
            edited.to_vec()
        }
        None => suggestion(scope.org, &d.members, user)
            .ok_or_else(|| DomainError::ReplacementRequired(format!("{name:?}")))?,
    };
    rebalance(scope, d, after)
}

/// Replaces the members and weights; the total must stay the same (R18).
pub fn set_members(scope: Scope, name: &str, members: &[Member]) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let d = find(&scope, name)?;
    rebalance(scope, d, members.to_vec())
}

fn rebalance(scope: Scope, d: &Distribution, after: Vec<Member>) -> Decided<Vec<Event>> {
    check(&scope, &after)?;
    same_total("", &d.members, &after)?;
    if after == d.members {
        return Err(DomainError::InvalidState(
            "the distribution already has exactly these members".to_owned(),
        ));
    }
    Ok(vec![DistributionRebalanced {
        distribution_id: d.id,
        before: d.members.clone(),
        after,
    }
    .into()])
}

pub fn set_backup(scope: Scope, name: &str, backup: Option<UserId>) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let d = find(&scope, name)?;
    if let Some(b) = backup {
        scope.recipient(b)?;
    }
    if d.backup == backup {
        return Err(DomainError::InvalidState(
            "the distribution already has that backup".to_owned(),
        ));
    }
    Ok(vec![DistributionBackupChanged {
        distribution_id: d.id,
        from: d.backup,
        to: backup,
    }
    .into()])
}
