//! The context a decision is made in: which org, who acts (and for whom), which command,
//! and when. Ids a command creates are derived from its command id, so deciding is a
//! pure function and a retried command creates the same ids.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use offboard_events::{Actor, CommandId, Envelope, OrgId, UserId};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub org_id: OrgId,
    pub actor: Actor,
    /// The deactivated user an admin acts for (R6).
    pub on_behalf_of: Option<UserId>,
    pub command_id: CommandId,
    /// The time the writer will stamp on the command's events.
    pub now: DateTime<Utc>,
    /// For a restore or revert: the events of the offboarding being compensated, read
    /// from the log by the engine beforehand (history never changes, so reading it
    /// outside the writer is safe; the current state is checked inside).
    pub compensating: Vec<Envelope>,
    /// For a purge: users whose profile the engine found stored in plaintext (v1
    /// events), with those positions, read from the log beforehand like `compensating`
    /// (stored bytes never change, and the writer only ever stores sealed profiles).
    pub plaintext_profiles: BTreeMap<UserId, Vec<u64>>,
}

impl Context {
    /// The `n`th new id this command creates: a UUID (v8 layout) from SHA-256 of the
    /// command id and `n`, the same on every retry.
    pub fn new_id(&self, n: u32) -> Uuid {
        let mut hasher = Sha256::new();
        hasher.update(self.command_id.0.as_bytes());
        hasher.update(n.to_be_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}
