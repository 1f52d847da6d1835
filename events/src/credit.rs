//! Credits (R20, seed 004): an org pool and per-user balances. Usage is history: a user
//! who used credits keeps that record (and, by policy, cannot be deleted).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// Where credits sit: the org's pool or one user's balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "account", rename_all = "snake_case")]
pub enum CreditAccount {
    Pool,
    User { id: UserId },
}

/// The org bought credits: they go into the pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreditsAddedToPool {
    pub amount: u64,
}

/// Credits moved from the pool to a user (seed 004 "Assign Credits").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreditsGranted {
    pub user: UserId,
    pub amount: u64,
}

/// A user spent credits (e.g. downloaded records). Kept forever as history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreditsUsed {
    pub user: UserId,
    pub amount: u64,
}

/// Credits moved between accounts (user → user, user → pool, pool → user).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreditsTransferred {
    pub from: CreditAccount,
    pub to: CreditAccount,
    pub amount: u64,
}
