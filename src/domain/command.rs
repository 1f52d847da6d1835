//! Every command of the domain: what an administrator, support agent or the engine asks
//! for. Commands name users by id (the CLI and API resolve emails first); their only
//! output is events or a [`super::DomainError`].

use std::collections::BTreeMap;

use offboard_events::{
    CorrelationId, CreditAccount, DistributionKind, FollowUp, Member, Policy, PrincipalKind,
    ResourceKey, Role, UserId,
};
use serde::{Deserialize, Serialize};

/// How several recipients share transferred resources (R15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Resource i (in key order) goes to recipient i mod n.
    #[default]
    RoundRobin,
    /// Contiguous runs in key order: the first ceil(n/k) to the first recipient, and so on.
    Even,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.replace('-', "_").as_str() {
            "round_robin" => Ok(Self::RoundRobin),
            "even" => Ok(Self::Even),
            other => Err(format!(
                "unknown strategy {other:?}: expected round-robin or even"
            )),
        }
    }
}

/// Recipients for one kind of resource in a guided offboarding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipients {
    pub to: Vec<UserId>,
    #[serde(default)]
    pub strategy: Strategy,
}

/// A whole offboarding decided up front (R21, R22): every choice of the guided steps.
/// Anything the user holds that the plan does not mention goes to `default_to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OffboardPlan {
    /// Kind → who receives that kind (step 1 of seed 003: "reassign leads").
    pub resources: BTreeMap<String, Recipients>,
    /// Who receives whatever is not listed: other kinds, duties, managed users.
    pub default_to: Option<UserId>,
    /// Distribution name → its new members and weights (steps 2–3: the suggested
    /// rebalance is used where a distribution is not listed).
    pub distributions: BTreeMap<String, Vec<Member>>,
    /// Label name → who replaces the user in it (step 4); unlisted labels just lose the user.
    pub labels: BTreeMap<String, UserId>,
    /// Duty name → new holder.
    pub duties: BTreeMap<String, UserId>,
    /// New manager of the user's reports.
    pub reports_to: Option<UserId>,
    /// Where unused credits go.
    pub credits_to: Option<CreditAccount>,
}

/// A new user's details (R2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
}

/// A command. Serialized with a `type` tag, e.g. `{"type":"deactivate_user","user":"…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    // Organization (R3, R5, R8, R10, R11).
    CreateOrganization {
        name: String,
        owner: NewUser,
    },
    SetPolicy {
        policy: Policy,
    },
    TransferOrgOwnership {
        to: UserId,
    },
    RegisterPrincipal {
        kind: PrincipalKind,
        name: String,
    },

    // Users (R2, R4, R7–R11).
    InviteUser {
        #[serde(flatten)]
        user: NewUser,
        #[serde(default = "member")]
        role: Role,
        #[serde(default)]
        manager: Option<UserId>,
        /// Seed 004's "active" toggle: activate right away.
        #[serde(default)]
        active: bool,
    },
    ActivateUser {
        user: UserId,
    },
    ChangeRole {
        user: UserId,
        role: Role,
    },
    SetManager {
        user: UserId,
        manager: Option<UserId>,
    },
    CreateGroup {
        name: String,
        owner: UserId,
    },
    JoinGroup {
        group: String,
        user: UserId,
    },
    LeaveGroup {
        group: String,
        user: UserId,
    },
    DeactivateUser {
        user: UserId,
    },
    ReactivateUser {
        user: UserId,
    },
    DeleteUser {
        user: UserId,
        confirm: String,
    },

    // Resources (R14–R16).
    RegisterResources {
        owner: UserId,
        resources: Vec<ResourceKey>,
    },
    TransferResources {
        from: UserId,
        resources: Vec<ResourceKey>,
        to: UserId,
    },
    TransferAll {
        from: UserId,
        kind: String,
        to: Vec<UserId>,
        #[serde(default)]
        strategy: Strategy,
    },
    TransferAccount {
        from: UserId,
        to: UserId,
        #[serde(default)]
        then: FollowUp,
        #[serde(default)]
        confirm: Option<String>,
    },

    // Duties, distributions, labels (R17–R19).
    AssignDuty {
        duty: String,
        to: UserId,
    },
    CreateDistribution {
        name: String,
        kind: DistributionKind,
        members: Vec<Member>,
        #[serde(default)]
        backup: Option<UserId>,
    },
    /// Remove a member; `members` overrides the suggested rebalance (R18).
    RemoveDistributionMember {
        distribution: String,
        user: UserId,
        #[serde(default)]
        members: Option<Vec<Member>>,
    },
    SetDistributionMembers {
        distribution: String,
        members: Vec<Member>,
    },
    SetDistributionBackup {
        distribution: String,
        backup: Option<UserId>,
    },
    CreateLabel {
        name: String,
        members: Vec<UserId>,
    },
    AddLabelMember {
        label: String,
        user: UserId,
    },
    RemoveLabelMember {
        label: String,
        user: UserId,
        #[serde(default)]
        replacement: Option<UserId>,
    },

    // Credits (R20).
    AddCreditsToPool {
        amount: u64,
    },
    GrantCredits {
        user: UserId,
        amount: u64,
    },
    UseCredits {
        user: UserId,
        amount: u64,
    },
    TransferCredits {
        from: CreditAccount,
        to: CreditAccount,
        amount: u64,
    },

    // Restore, revert, retention (R12, R13).
    RestoreUser {
        user: UserId,
        #[serde(default)]
        return_ownership: bool,
        #[serde(default)]
        new_email: Option<String>,
        #[serde(default)]
        reactivate: bool,
    },
    RevertOffboarding {
        correlation_id: CorrelationId,
    },
    PurgeUser {
        user: UserId,
        confirm: String,
    },
    PurgeExpired,

    // The guided offboarding (R22).
    Offboard {
        user: UserId,
        plan: OffboardPlan,
        #[serde(default)]
        then: FollowUp,
        #[serde(default)]
        confirm: Option<String>,
    },
}

fn member() -> Role {
    Role::Member
}

impl Command {
    /// The command's name as its `type` tag spells it.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_default()
    }
}
