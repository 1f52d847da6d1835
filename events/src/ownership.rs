//! Ownership events (R14–R16).
//!
//! A bulk move is ONE event: [`ResourcesTransferred`] names the previous owner once and
//! lists, per recipient, the keys that moved. A 100,000-buyer transfer is therefore one
//! append, one hash and one fsync, while "every owner buyer B-17 ever had" is answered by
//! the per-resource history index the projections build from these events (position →
//! owner), never by scanning the log.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::resource::ResourceKey;

/// New resources with their first owner (one or many at once, e.g. an import).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourcesRegistered {
    pub owner: UserId,
    pub resources: Vec<ResourceKey>,
}

/// Why resources moved, so an auditor can tell a manual move from an offboarding or
/// a restore without following correlation ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferReason {
    /// `TransferResources`: chosen resources.
    Selected,
    /// `TransferAll { kind }` / `TransferAllBuyers`.
    AllOfKind,
    /// `TransferAccount`: everything of one user to one user.
    Account,
    /// A guided offboarding (R22).
    Offboarding,
    /// Compensation: a restore or revert gave the resources back.
    Restore,
    /// `resource sync`: the system of record (a CRM export) names another owner.
    Sync,
}

/// The resources one recipient received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Handover {
    pub to: UserId,
    pub resources: Vec<ResourceKey>,
}

/// Resources owned by `from` now belong to the recipients listed in `handovers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourcesTransferred {
    pub from: UserId,
    pub handovers: Vec<Handover>,
    pub reason: TransferReason,
}

impl ResourcesTransferred {
    /// How many resources moved in total.
    pub fn count(&self) -> usize {
        self.handovers.iter().map(|h| h.resources.len()).sum()
    }
}

/// Why resources were retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetireReason {
    /// `RetireResources`: removed by hand (`offboard resource remove`).
    Removed,
    /// `resource sync`: the system of record no longer lists them.
    Sync,
}

/// Resources that no longer exist where they live (a CRM record closed or deleted),
/// taken from `owner`: a retired resource keeps its history, belongs to nobody, blocks
/// nothing and may be registered again. One event per previous owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourcesRetired {
    pub owner: UserId,
    pub resources: Vec<ResourceKey>,
    pub reason: RetireReason,
}
