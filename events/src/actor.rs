//! Who acted (R5, R6): a user of the org, or an outside principal. Every envelope records
//! its actor, and the impersonated user when an admin acts on a deactivated user's behalf.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// The principal a command was issued by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A user of the organization's directory.
    User { id: UserId },
    /// A support agent (R5): reads history and restores deleted users in the orgs it serves.
    Support { name: String },
    /// An auditor (R5): reads everything, changes nothing.
    Auditor { name: String },
    /// An identity provider provisioning over SCIM (e.g. `okta`): invites, updates,
    /// activates, deactivates, reactivates and deprovisions members and managers.
    Provisioner { name: String },
    /// The engine itself: bootstrap (creating an org) and scheduled sweeps (purge of
    /// users past their retention window).
    System,
}

impl Actor {
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::User { id } => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User { id } => write!(f, "user:{id}"),
            Actor::Support { name } => write!(f, "support:{name}"),
            Actor::Auditor { name } => write!(f, "auditor:{name}"),
            Actor::Provisioner { name } => write!(f, "provisioner:{name}"),
            Actor::System => f.write_str("system"),
        }
    }
}
