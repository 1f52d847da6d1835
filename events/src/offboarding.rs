//! Offboarding markers (R21, R22, R12): the first and last event of every multi-step
//! operation, so an auditor sees what was asked and what was done under one
//! correlation id, and a restore knows what to give back.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{CorrelationId, UserId};

/// Which command started the offboarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OffboardingOperation {
    TransferResources,
    TransferAll,
    TransferAccount,
    Offboard,
    Delete,
}

/// What happens to the user's account once everything has moved (R16, R22).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    #[default]
    None,
    Deactivate,
    Delete,
}

impl std::str::FromStr for FollowUp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "deactivate" => Ok(Self::Deactivate),
            "delete" => Ok(Self::Delete),
            other => Err(format!(
                "unknown follow-up {other:?}: expected none, deactivate or delete"
            )),
        }
    }
}

/// An offboarding of `user` began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OffboardingStarted {
    pub user: UserId,
    pub operation: OffboardingOperation,
    pub then: FollowUp,
}

/// The offboarding of `user` finished; every event in between belongs to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OffboardingCompleted {
    pub user: UserId,
    pub resources_moved: u64,
}

/// Something a restore or revert did not give back, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkippedItem {
    /// What it is, e.g. `buyer:B-17`, `duty:dealer_trade_contact`, `distribution:North`.
    pub item: String,
    /// Why it stayed, e.g. `moved again since, now owned by …`.
    pub reason: String,
}

/// The offboarding `reverted` (by correlation id) was compensated: what could come back
/// came back in the events before this one; `skipped` lists what stayed where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OffboardingReverted {
    pub user: UserId,
    pub reverted: CorrelationId,
    pub returned: u64,
    pub skipped: Vec<SkippedItem>,
}
