//! Deactivating a user (R8) with the handover check of R26: what blocks a deactivation,
//! and what it leaves with nobody — the only active member of a distribution, a duty
//! holder, a distribution's backup, the manager of active reports. Policy
//! `deactivate_handover` makes those places blockers (`block`), records them in a
//! `WorkLeftUnattended` event before the `UserDeactivated` (`warn`, the default), or
//! ignores them (`off`). `DeactivateUser`, the `deactivate` follow-up of an offboarding
//! and a scheduled offboarding all come here.

use offboard_events::{
    Event, HandoverPolicy, Policy, UserDeactivated, UserStatus, WorkLeftUnattended,
};
use offboard_projections::User;

use super::error::{Blocker, Decided, DomainError};
use super::holdings::{unattended, Holdings};

/// The events that deactivate `target`, who still holds `left` once the command's other
/// steps are done: `Blocked` with every blocker (R8's, then R26's under `block`), else
/// `[WorkLeftUnattended?, UserDeactivated]`. A user who is not active gets no events
/// (an offboarding of a deactivated user only checks R8's blockers).
pub fn deactivation(policy: &Policy, target: &User, left: &Holdings) -> Decided<Vec<Event>> {
    let mut blockers = left.deactivate_blockers(policy.deactivate_requires_demotion);
    let active = target.status == UserStatus::Active;
    let gaps = if active {
        handover_gaps(policy, left)
    } else {
        Vec::new()
    };
    if policy.deactivate_handover == HandoverPolicy::Block {
        blockers.extend(gaps.iter().cloned());
    }
    if !blockers.is_empty() {
        return Err(DomainError::Blocked {
            action: "deactivate",
            user: target.profile.email.clone(),
            blockers,
        });
    }
    if !active {
        return Ok(Vec::new());
    }
    Ok(deactivated(target, &gaps))
}

/// What the policy has `plan` show (and a deactivation check): R26's places, empty under
/// `off`.
pub fn handover_gaps(policy: &Policy, left: &Holdings) -> Vec<Blocker> {
    match policy.deactivate_handover {
        HandoverPolicy::Off => Vec::new(),
        HandoverPolicy::Warn | HandoverPolicy::Block => left.handover_gaps(),
    }
}

/// `[WorkLeftUnattended?, UserDeactivated]` for `target`, whatever blocks: a scheduled
/// offboarding that can no longer hand everything over still removes access (R28).
pub fn deactivated(target: &User, gaps: &[Blocker]) -> Vec<Event> {
    let mut events = Vec::with_capacity(2);
    if !gaps.is_empty() {
        events.push(
            WorkLeftUnattended {
                user_id: target.id,
                items: unattended(gaps),
            }
            .into(),
        );
    }
    events.push(UserDeactivated { user_id: target.id }.into());
    events
}
