//! One organization (R1): name, owner, policy and the outside principals it is served
//! by, with every view of its part of the log folded side by side.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use offboard_events::{
    Actor, CorrelationId, Envelope, Event, OrgId, OrganizationCreated, Policy, PrincipalKind,
    ResourceKey, UserId,
};
use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::billing::Billing;
use crate::credits::Credits;
use crate::directory::Directory;
use crate::distributions::Distributions;
use crate::duties::Duties;
use crate::labels::Labels;
use crate::ownership::Ownership;
use crate::record_roles::RecordRoles;
use crate::schedules::Schedules;

/// One owner a resource had (R25): who, from which event, who had it before, and which
/// operation and actor moved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnershipChange {
    pub position: u64,
    pub occurred_at: DateTime<Utc>,
    /// `None`: the resource was retired at `position` (owned by nobody from then on).
    pub owner: Option<UserId>,
    pub previous: Option<UserId>,
    pub correlation_id: CorrelationId,
    pub actor: Actor,
    pub on_behalf_of: Option<UserId>,
}

/// Everything known about one organization.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrgState {
    id: OrgId,
    name: String,
    owner: UserId,
    policy: Policy,
    principals: BTreeSet<(PrincipalKind, String)>,
    created_position: u64,
    directory: Directory,
    ownership: Ownership,
    duties: Duties,
    distributions: Distributions,
    labels: Labels,
    credits: Credits,
    billing: Billing,
    audit: Audit,
    #[serde(default)]
    schedules: Schedules,
    #[serde(default)]
    record_roles: RecordRoles,
}

impl OrgState {
    pub(crate) fn new(id: OrgId, created: &OrganizationCreated, position: u64) -> Self {
        OrgState {
            id,
            name: created.name.clone(),
            owner: created.owner,
            policy: Policy::default(),
            principals: BTreeSet::new(),
            created_position: position,
            directory: Directory::default(),
            ownership: Ownership::default(),
            duties: Duties::default(),
            distributions: Distributions::default(),
            labels: Labels::default(),
            credits: Credits::default(),
            billing: Billing::default(),
            audit: Audit::default(),
            schedules: Schedules::default(),
            record_roles: RecordRoles::default(),
        }
    }

    pub(crate) fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::PolicyChanged(e) => self.policy = e.policy.clone(),
            Event::OrgOwnershipTransferred(e) => self.owner = e.to,
            Event::PrincipalRegistered(e) => {
                self.principals.insert((e.kind, e.name.clone()));
            }
            _ => {}
        }
        self.directory.apply(env);
        // Record roles name records by ownership's slots, so ownership folds first (a
        // retired record keeps its slot, so its roles can still be cleared).
        self.ownership.apply(env);
        self.record_roles.apply(env, &self.ownership);
        self.duties.apply(env);
        self.distributions.apply(env);
        self.labels.apply(env);
        self.credits.apply(env);
        self.audit.apply(env);
        self.schedules.apply(env);
        self.billing
            .observe(env.position, env.occurred_at, self.directory.billed_count());
    }

    /// A copy to decide a command of many steps on, each against the state as the ones
    /// before it left it (a directory import): everything but the audit history, which
    /// no such decision reads and which is the largest part of an org. Fold the decided
    /// events in with [`OrgState::fold`]; the copy is thrown away after deciding.
    pub fn scratch(&self) -> OrgState {
        OrgState {
            id: self.id,
            name: self.name.clone(),
            owner: self.owner,
            policy: self.policy.clone(),
            principals: self.principals.clone(),
            created_position: self.created_position,
            directory: self.directory.clone(),
            ownership: self.ownership.clone(),
            record_roles: self.record_roles.clone(),
            duties: self.duties.clone(),
            distributions: self.distributions.clone(),
            labels: self.labels.clone(),
            credits: self.credits.clone(),
            billing: self.billing.clone(),
            audit: Audit::default(),
            schedules: self.schedules.clone(),
        }
    }

    /// Folds one envelope of this org into a [`OrgState::scratch`] copy (the log's own
    /// fold goes through [`crate::State::apply`]).
    pub fn fold(&mut self, env: &Envelope) {
        self.apply(env);
    }

    /// Rebuilds every index that checkpoints leave out.
    pub(crate) fn rebuild(&mut self) -> Result<(), String> {
        self.directory.rebuild();
        self.ownership.rebuild()?;
        self.record_roles.rebuild()?;
        self.audit.rebuild()
    }

    pub fn id(&self) -> OrgId {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The org's single owner (R3).
    pub fn owner(&self) -> UserId {
        self.owner
    }

    /// The policy in force (the default until the first `PolicyChanged`).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Position of the `OrganizationCreated` event.
    pub fn created_position(&self) -> u64 {
        self.created_position
    }

    /// The outside principals serving the org (R5), sorted.
    pub fn principals(&self) -> impl Iterator<Item = (PrincipalKind, &str)> {
        self.principals
            .iter()
            .map(|(kind, name)| (*kind, name.as_str()))
    }

    /// Whether the principal `kind`/`name` serves this org (R5).
    pub fn serves(&self, kind: PrincipalKind, name: &str) -> bool {
        self.principals.contains(&(kind, name.to_owned()))
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// Record roles besides the owner (issue 20 §2).
    pub fn record_roles(&self) -> &RecordRoles {
        &self.record_roles
    }

    pub fn duties(&self) -> &Duties {
        &self.duties
    }

    pub fn distributions(&self) -> &Distributions {
        &self.distributions
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    pub fn credits(&self) -> &Credits {
        &self.credits
    }

    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Scheduled offboardings (R28).
    pub fn schedules(&self) -> &Schedules {
        &self.schedules
    }

    /// Who owned `key` right after the event at `position` (R25).
    pub fn owner_at_position(&self, key: &ResourceKey, position: u64) -> Option<UserId> {
        self.ownership.owner_at_position(key, position)
    }

    /// Who owned `key` at `time` (R25).
    pub fn owner_at_time(&self, key: &ResourceKey, time: DateTime<Utc>) -> Option<UserId> {
        let position = self.audit.last_position_at_or_before(time);
        self.ownership.owner_at_position(key, position)
    }

    /// Every owner `key` ever had, oldest first, with who moved it and why (R25).
    pub fn owner_history(&self, key: &ResourceKey) -> Vec<OwnershipChange> {
        let mut previous = None;
        let mut changes = Vec::new();
        for (position, owner) in self.ownership.history(key) {
            // Every position the ownership view saw was recorded by the audit view of the
            // same org, so the lookup always succeeds.
            if let Some(event) = self.audit.event(position) {
                changes.push(OwnershipChange {
                    position,
                    occurred_at: event.occurred_at,
                    owner,
                    previous,
                    correlation_id: event.correlation_id,
                    actor: event.actor.clone(),
                    on_behalf_of: event.on_behalf_of,
                });
            }
            previous = owner;
        }
        changes
    }
}
