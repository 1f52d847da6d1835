//! What deprovisioning from the identity provider does (issue 17): the org's policy
//! fields `deprovision` and `deprovision_then`, and the event recording a handover that
//! could not be made.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::offboarding::FollowUp;

/// Where a deprovisioned user's holdings go. Written as `deactivate`,
/// `offboard_to_manager` or `offboard_to:<user id>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Deprovision {
    /// Nothing moves: the user only loses access (the default).
    #[default]
    Deactivate,
    /// Everything goes to the user's manager (as an offboarding with the suggested
    /// rebalances, credits to the pool).
    OffboardToManager,
    /// Everything goes to this user.
    OffboardTo(UserId),
}

impl fmt::Display for Deprovision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deprovision::Deactivate => f.write_str("deactivate"),
            Deprovision::OffboardToManager => f.write_str("offboard_to_manager"),
            Deprovision::OffboardTo(user) => write!(f, "offboard_to:{user}"),
        }
    }
}

impl std::str::FromStr for Deprovision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "deactivate" => Ok(Self::Deactivate),
            "offboard_to_manager" => Ok(Self::OffboardToManager),
            other => other
                .strip_prefix("offboard_to:")
                .and_then(|id| id.trim().parse().ok())
                .map(Self::OffboardTo)
                .ok_or_else(|| {
                    format!(
                        "unknown deprovision policy {other:?}: expected deactivate, \
                         offboard_to_manager or offboard_to:<user id>"
                    )
                }),
        }
    }
}

impl TryFrom<String> for Deprovision {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Deprovision> for String {
    fn from(d: Deprovision) -> String {
        d.to_string()
    }
}

impl JsonSchema for Deprovision {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Deprovision".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "deactivate, offboard_to_manager or offboard_to:<user id>",
            "pattern": "^(deactivate|offboard_to_manager|offboard_to:[0-9a-f-]{36})$"
        })
    }
}

/// The follow-up of a deprovisioning: `deactivate` (the default) or `delete`.
pub fn default_deprovision_then() -> FollowUp {
    FollowUp::Deactivate
}

/// One thing a deprovisioning could not hand over, as a blocker lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PendingItem {
    /// Stable code, e.g. `replacement_required`, `owns_resources`.
    pub code: String,
    /// What it is about (a kind, a duty, a distribution), when the code does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub count: u64,
    /// A sentence for people.
    pub message: String,
}

/// A deprovisioning removed the user's access but could not hand everything over under
/// the org's policy: what is still pending, for an administrator to finish (the user's
/// `plan` shows what they still hold).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeprovisionPending {
    pub user_id: UserId,
    pub pending: Vec<PendingItem>,
}
