//! Shared labels (R19): lists of users; offboarding removes the user and may add a
//! replacement.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{LabelId, UserId};

/// A shared label was created with its first members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LabelCreated {
    pub label_id: LabelId,
    pub name: String,
    pub members: Vec<UserId>,
}

/// A user was added to a label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LabelMemberAdded {
    pub label_id: LabelId,
    pub user: UserId,
}

/// A user was removed from a label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LabelMemberRemoved {
    pub label_id: LabelId,
    pub user: UserId,
}
