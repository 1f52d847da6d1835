//! `plan(user)` (R21): read-only — what the user holds, the suggested rebalance of each
//! distribution, and what would block a deactivate or a delete right now. The guided
//! offboarding shows it step by step; scripts read it as JSON.

use std::collections::BTreeMap;

use offboard_events::{DistributionId, DistributionKind, Member, Role, UserId, UserStatus};
use offboard_projections::OrgState;
use serde::Serialize;

use super::distributions::suggestion;
use super::error::{Blocker, Decided, DomainError};
use super::handover::{deactivation, handover_gaps};
use super::holdings::Holdings;

/// One distribution the user takes part in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DistributionPlace {
    pub id: DistributionId,
    pub name: String,
    pub kind: DistributionKind,
    pub members: Vec<Member>,
    /// Whether the user is a weighted member (else only the backup).
    pub member: bool,
    pub backup: bool,
    /// The members without the user, weights scaled to the same total (R18).
    pub suggested: Option<Vec<Member>>,
    /// The user is the only member: a replacement must be named.
    pub replacement_required: bool,
}

/// What blocks each follow-up now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FollowUpBlockers {
    pub deactivate: Vec<Blocker>,
    pub delete: Vec<Blocker>,
}

/// The plan for offboarding one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub user: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub status: UserStatus,
    /// Kind → count (seed 003 step 1 shows the lead count).
    pub resources: BTreeMap<String, u64>,
    /// Record role → on how many records the user holds it (R29).
    pub roles: BTreeMap<String, u64>,
    pub duties: Vec<String>,
    pub distributions: Vec<DistributionPlace>,
    pub labels: Vec<String>,
    pub manages: Vec<UserId>,
    pub credit_balance: u64,
    pub credits_used: u64,
    pub blockers: FollowUpBlockers,
    /// R26: where deactivating the user now would leave work with nobody (empty when
    /// the user is not active or policy `deactivate_handover` is `off`). Under `block`
    /// they are in `blockers.deactivate` too; under `warn` the deactivation records them.
    pub unattended: Vec<Blocker>,
}

pub fn plan(org: &OrgState, user: UserId) -> Decided<Plan> {
    let u = org
        .directory()
        .user(user)
        .filter(|u| u.is_listed())
        .ok_or_else(|| DomainError::NotFound(format!("user {user}")))?;
    let holdings = Holdings::of(org, u);
    let policy = org.policy();
    let mut distributions: Vec<DistributionPlace> = org
        .distributions()
        .all()
        .filter(|d| d.has_member(user) || d.backup == Some(user))
        .map(|d| {
            let member = d.has_member(user);
            let suggested = member.then(|| suggestion(org, &d.members, user)).flatten();
            DistributionPlace {
                id: d.id,
                name: d.name.clone(),
                kind: d.kind,
                members: d.members.clone(),
                member,
                backup: d.backup == Some(user),
                replacement_required: member && suggested.is_none(),
                suggested,
            }
        })
        .collect();
    distributions.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    Ok(Plan {
        user,
        email: u.profile.email.clone(),
        name: format!("{} {}", u.profile.first_name, u.profile.last_name),
        role: u.role,
        status: u.status,
        resources: holdings.resources.clone(),
        roles: holdings.roles.clone(),
        duties: holdings.duties.clone(),
        distributions,
        labels: org
            .labels()
            .labels_of(user)
            .map(|l| l.name.clone())
            .collect(),
        manages: holdings.reports.clone(),
        credit_balance: holdings.credit_balance,
        credits_used: holdings.credits_used,
        blockers: FollowUpBlockers {
            deactivate: match deactivation(policy, u, &holdings) {
                Err(e) if u.status == UserStatus::Active => e.blockers().to_vec(),
                _ => Vec::new(),
            },
            delete: holdings.delete_blockers(policy.delete_requires_no_credit_history),
        },
        unattended: if u.status == UserStatus::Active {
            handover_gaps(policy, &holdings)
        } else {
            Vec::new()
        },
    })
}
