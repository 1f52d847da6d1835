//! Record roles (issue 20 §2): users named on a record in a role besides its owner — a
//! deal's `servicing_specialist`, its `watcher`s, a dashboard's `subscriber`s. Role
//! names are an open set; a role has at most one holder per record unless the org
//! declared it multi-holder ([`RecordRoleDeclared`]). Ownership keeps its own events
//! (R14): the owner is not a record role.
//!
//! Like ownership, a bulk change is ONE event per role and previous holder, listing
//! every record once, so handing 100,000 records over in three roles is three appends.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::ownership::{Handover, TransferReason};
use crate::resource::ResourceKey;

/// The org declared how many holders `role` may have per record: one (the default for
/// a role never declared) or, with `multi`, any number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordRoleDeclared {
    pub role: String,
    pub multi: bool,
}

/// `user` now holds `role` on each of `resources` (which had no holder in that role, or
/// for a multi-holder role, holders besides `user`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordRoleAssigned {
    pub user: UserId,
    pub role: String,
    pub resources: Vec<ResourceKey>,
}

/// `user` no longer holds `role` on each of `resources`; nobody takes their place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordRoleUnassigned {
    pub user: UserId,
    pub role: String,
    pub resources: Vec<ResourceKey>,
}

/// `from` no longer holds `role` on the records each handover lists; its `to` does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordRolesTransferred {
    pub from: UserId,
    pub role: String,
    pub handovers: Vec<Handover>,
    pub reason: TransferReason,
}

impl RecordRolesTransferred {
    /// How many records changed holder in total.
    pub fn count(&self) -> usize {
        self.handovers.iter().map(|h| h.resources.len()).sum()
    }
}

/// Longest accepted role name.
pub const MAX_ROLE_NAME_LEN: usize = 64;

/// Whether `role` is a valid record role name: a lowercase ASCII identifier (letters,
/// digits, `_`, starting with a letter), at most [`MAX_ROLE_NAME_LEN`] long, and not
/// `owner`, which is ownership's (R14) and keeps its own commands.
pub fn is_valid_role_name(role: &str) -> bool {
    role.len() <= MAX_ROLE_NAME_LEN && role != "owner" && crate::resource::is_valid_kind(role)
}
