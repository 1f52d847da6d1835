//! Singleton duties (R17): backup in lead rotation, dealer-trade contact, billing
//! contact, default lead owner, … An open set of names, each with exactly one holder.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// `duty` is now held by `holder` (and no longer by `previous`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DutyAssigned {
    pub duty: String,
    pub holder: UserId,
    pub previous: Option<UserId>,
}
