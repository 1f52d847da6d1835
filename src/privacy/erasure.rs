//! What a purge can erase. A purge destroys the user's key, which erases every profile
//! sealed under it; a profile stored in plaintext (a v1 `UserInvited`, written before
//! profiles were sealed) stays readable, and the hash-chained log cannot be rewritten.
//! Sealing such events on `import-log` is not possible either: the import keeps every
//! hash, and a hash covers the stored bytes. So the engine finds those profiles before a
//! purge is decided, and the domain refuses to claim an erasure that would not happen.

use std::collections::BTreeMap;

use offboard_events::{StreamId, UserId};
use offboard_projections::State;

use super::key_check::stored_profiles;
use super::seal::StoredProfile;
use crate::store::{LogStore, StoreError};

/// The positions of `users`' own events, taken from the state so the caller can release
/// its lock before reading the log.
pub fn user_positions(state: &State, users: &[UserId]) -> Vec<(UserId, Vec<u64>)> {
    users
        .iter()
        .map(|u| {
            let positions = state.streams().positions(&StreamId::user(*u), 1);
            (*u, positions.to_vec())
        })
        .collect()
}

/// Each of `users` whose profile is stored in plaintext somewhere, with those positions.
pub fn plaintext_profiles(
    store: &dyn LogStore,
    users: &[(UserId, Vec<u64>)],
) -> Result<BTreeMap<UserId, Vec<u64>>, StoreError> {
    let mut found = BTreeMap::new();
    for (user, positions) in users {
        let plain: Vec<u64> = stored_profiles(store, *user, positions)?
            .into_iter()
            .filter(|(_, p)| matches!(p, StoredProfile::Plain { .. }))
            .map(|(position, _)| position)
            .collect();
        if !plain.is_empty() {
            found.insert(*user, plain);
        }
    }
    Ok(found)
}
