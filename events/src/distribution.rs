//! Distributions (R18): lead rotations, workflow automations and integrations hand new
//! work to weighted members, with an optional backup.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{DistributionId, UserId};

/// What a distribution routes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum DistributionKind {
    Rotation,
    Automation,
    Integration,
}

impl std::str::FromStr for DistributionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rotation" => Ok(Self::Rotation),
            "automation" => Ok(Self::Automation),
            "integration" => Ok(Self::Integration),
            other => Err(format!(
                "unknown distribution kind {other:?}: expected rotation, automation or integration"
            )),
        }
    }
}

/// A member and its share of new work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Member {
    pub user: UserId,
    pub weight: u32,
}

/// A distribution was set up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DistributionCreated {
    pub distribution_id: DistributionId,
    pub name: String,
    pub kind: DistributionKind,
    pub members: Vec<Member>,
    pub backup: Option<UserId>,
}

/// The members and weights changed from `before` to `after` (both in full, so a restore
/// can tell whether anything changed since and put `before` back).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DistributionRebalanced {
    pub distribution_id: DistributionId,
    pub before: Vec<Member>,
    pub after: Vec<Member>,
}

/// The backup changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DistributionBackupChanged {
    pub distribution_id: DistributionId,
    pub from: Option<UserId>,
    pub to: Option<UserId>,
}
