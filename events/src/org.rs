//! Organization events and values: creation, policy (R8, R10, R11, R12), ownership of the
//! org (R3) and the outside principals that serve it (R5).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// The org's rules for offboarding. Every field has the default DOMAIN.md names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Policy {
    /// R8: admins and managers must be demoted before they can be deactivated.
    pub deactivate_requires_demotion: bool,
    /// R10: the phrase an administrator types to confirm a delete or purge.
    pub confirmation_phrase: String,
    /// R10: a user who ever used credits cannot be deleted ("deactivate instead").
    pub delete_requires_no_credit_history: bool,
    /// R11/R12: how many days a deleted user stays restorable.
    pub retention_days: u32,
    /// Issue 17: where a user deprovisioned by the identity provider hands over what
    /// they hold (default: nothing moves, the user is deactivated).
    pub deprovision: crate::deprovision::Deprovision,
    /// Issue 17: after the handover, `deactivate` (default) or `delete`.
    #[serde(default = "crate::deprovision::default_deprovision_then")]
    pub deprovision_then: crate::offboarding::FollowUp,
    /// R26: what a deactivation does when it leaves work with nobody.
    pub deactivate_handover: HandoverPolicy,
    /// R28: the IANA time zone (`Europe/Berlin`) a bare date of a schedule is read in.
    pub time_zone: String,
    /// What a SCIM `POST /Users` for the email of a user deleted within the restore
    /// window does: `refuse` (409 `uniqueness`, the default) or `restore` that user.
    pub reprovision: Reprovision,
}

/// Policy `reprovision` (issue 17): whether an identity provider that provisions a
/// deleted user's email again gets that person back (with what they owned) or a refusal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Reprovision {
    /// `409 uniqueness`: an administrator or support restores the user instead.
    #[default]
    Refuse,
    /// The deleted user is restored (active, ownership returned) by the provisioner.
    Restore,
}

impl Reprovision {
    pub fn as_str(self) -> &'static str {
        match self {
            Reprovision::Refuse => "refuse",
            Reprovision::Restore => "restore",
        }
    }
}

/// R26: a deactivation that leaves work with nobody (the only active member of a
/// distribution, a distribution's backup, a duty holder, the manager of active reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum HandoverPolicy {
    /// Deactivate, and record what is left with nobody (`WorkLeftUnattended`).
    #[default]
    Warn,
    /// Refuse, listing every place as a blocker (like a delete).
    Block,
    /// Deactivate without looking.
    Off,
}

impl HandoverPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoverPolicy::Warn => "warn",
            HandoverPolicy::Block => "block",
            HandoverPolicy::Off => "off",
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            deactivate_requires_demotion: true,
            confirmation_phrase: "CONFIRM".to_owned(),
            delete_requires_no_credit_history: true,
            retention_days: 30,
            deprovision: crate::deprovision::Deprovision::Deactivate,
            deprovision_then: crate::offboarding::FollowUp::Deactivate,
            deactivate_handover: HandoverPolicy::Warn,
            time_zone: "UTC".to_owned(),
            reprovision: Reprovision::Refuse,
        }
    }
}

/// The kinds of outside principal (R5).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    Support,
    Auditor,
    /// An identity provider's SCIM client (it provisions users over `/scim/v2`).
    Provisioner,
}

/// An organization came into being with its first owner (who is invited and activated
/// by the same command).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrganizationCreated {
    pub name: String,
    pub owner: UserId,
}

/// The org's policy was replaced by this one (the full policy, not a diff, so a reader
/// never needs earlier events to know the rules in force).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyChanged {
    pub policy: Policy,
}

/// The org's single owner changed (R3); the previous owner becomes an admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrgOwnershipTransferred {
    pub from: UserId,
    pub to: UserId,
}

/// An outside principal now serves this org (R5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PrincipalRegistered {
    pub kind: PrincipalKind,
    pub name: String,
}

/// An operator ran `offboard repair --accept-loss`: the log had lost its tail (a damaged
/// file, a disk that did not keep what it acknowledged) although something durable said
/// it went further, and the operator chose to go on from the shorter log. Written once
/// per organization in the data directory, by the system actor, at the first position
/// after the surviving log; the positions `missing_from..=missing_to` it names are the
/// ones that were lost (the events that now hold those numbers came after the loss).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogLossAccepted {
    /// The first position lost.
    pub missing_from: u64,
    /// The last position lost: the furthest any durable record claimed.
    pub missing_to: u64,
    /// The hash recorded for `missing_to`, when a record kept one (hex SHA-256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_head_hash: Option<String>,
    /// What claimed the lost positions, e.g. `projection checkpoint at 9`,
    /// `head record at 9`, `consumer crm at 9` (this organization's consumers only).
    pub claimed_by: Vec<String>,
}
