//! Whether every user who needs a key has one: a key is legitimately gone only after
//! the user's `UserPurged` event (or when `import-log` knowingly went without it,
//! `keys/withheld`). Anything else — a deleted, truncated, zeroed or altered key file —
//! is a fault naming the user (`key_missing`, `key_damaged`), because reading such a
//! user as `erased` would look exactly like a purge that never happened.
//!
//! Two depths: [`check_on_open`] costs a lookup per user (plus a read of the user's own
//! events only when a key is absent), so every start-up runs it; [`verify_keys`], run by
//! `verify`, also compares each key file on disk with the key in use (a file deleted or
//! replaced under a running server) and opens every sealed profile with its key, which
//! catches a key file of the right length holding the wrong bytes.

use std::collections::{BTreeSet, HashMap};

use offboard_events::{StreamId, UserId, UserStatus};
use offboard_projections::State;

use super::key::Key;
use super::seal::{key_does_not_open, payload_user, stored_payload, stored_profile, StoredProfile};
use super::vault::{KeyVault, OnDisk};
use crate::store::{who, LogStore, SideFileError, StoreError};

/// A user who must have a key, with what is needed to check it without the state.
#[derive(Clone, Debug)]
pub struct NeedsKey {
    pub user: UserId,
    /// How errors name the user ([`who`]).
    pub who: String,
    /// The positions of the user's own events.
    pub positions: Vec<u64>,
}

/// The users who must have a key (not purged, not withheld): taken from the state, so
/// callers can release its lock before reading the log.
pub fn users_needing_keys(vault: &KeyVault, state: &State) -> Vec<NeedsKey> {
    state
        .orgs()
        .flat_map(|org| org.directory().users())
        .filter(|u| u.status != UserStatus::Purged && !vault.is_withheld(u.id))
        .map(|u| NeedsKey {
            user: u.id,
            who: who(u.id, Some(&u.profile.email)),
            positions: state.streams().positions(&StreamId::user(u.id), 1).to_vec(),
        })
        .collect()
}

/// Checks that each of `users` whose profile is sealed has a usable key file.
pub fn check_on_open(
    store: &dyn LogStore,
    vault: &KeyVault,
    users: &[NeedsKey],
) -> Result<(), StoreError> {
    for NeedsKey {
        user,
        who,
        positions,
    } in users
    {
        if let Some(problem) = vault.damaged_key(*user) {
            return Err(damaged(vault, *user, who, problem));
        }
        if vault.user_key(*user).is_none() {
            // Users whose only profile is a plaintext v1 event never had a key.
            let profiles = stored_profiles(store, *user, positions)?;
            if profiles
                .iter()
                .any(|(_, p)| matches!(p, StoredProfile::Sealed { .. }))
            {
                return Err(missing(vault, *user, who));
            }
        }
    }
    Ok(())
}

/// Users [`verify_keys`] checks per read of the shelf and of the log: one round trip
/// each on PostgreSQL, and a bound on the profile events held at once.
const VERIFY_CHUNK: usize = 1024;

/// [`check_on_open`], then checks each key file on disk is still the key in use (what a
/// restart would find) and opens every sealed profile of `users` with their key.
/// Returns how many keys it checked.
pub fn verify_keys(
    store: &dyn LogStore,
    vault: &KeyVault,
    users: &[NeedsKey],
) -> Result<u64, StoreError> {
    check_on_open(store, vault, users)?;
    let mut checked = 0;
    for chunk in users.chunks(VERIFY_CHUNK) {
        checked += verify_chunk(store, vault, chunk)?;
    }
    Ok(checked)
}

/// [`verify_keys`] for a few users, with one read of their keys and one of their events.
fn verify_chunk(
    store: &dyn LogStore,
    vault: &KeyVault,
    users: &[NeedsKey],
) -> Result<u64, StoreError> {
    // Users without a key have only plaintext profiles, as `check_on_open` found.
    let keyed: Vec<(&NeedsKey, Key)> = users
        .iter()
        .filter_map(|need| vault.user_key(need.user).map(|key| (need, key)))
        .collect();
    let ids: Vec<UserId> = keyed.iter().map(|(need, _)| need.user).collect();
    for ((need, _), on_disk) in keyed.iter().zip(vault.keys_on_disk(&ids)) {
        match on_disk {
            OnDisk::Fine => {}
            OnDisk::Missing => return Err(missing(vault, need.user, &need.who)),
            OnDisk::Damaged(problem) => return Err(damaged(vault, need.user, &need.who, problem)),
        }
    }
    let positions: Vec<u64> = keyed
        .iter()
        .flat_map(|(need, _)| need.positions.iter().copied())
        .collect();
    let events: HashMap<u64, Vec<u8>> = store.get_many(&positions)?.into_iter().collect();
    for (need, key) in &keyed {
        let read = |position: u64| Ok(events.get(&position).cloned());
        for (_, profile) in profiles_read(need.user, &need.positions, read)? {
            if let StoredProfile::Sealed { sealed, .. } = profile {
                key.decrypt(&sealed).ok_or_else(|| {
                    let mut fault = key_does_not_open(need.user, vault);
                    if let SideFileError::KeyDamaged { who: named, .. } = &mut fault {
                        named.clone_from(&need.who);
                    }
                    StoreError::from(fault)
                })?;
            }
        }
    }
    Ok(keyed.len() as u64)
}

/// How each profile event of `user` among `positions` was stored, with its position,
/// in log order.
pub fn stored_profiles(
    store: &dyn LogStore,
    user: UserId,
    positions: &[u64],
) -> Result<Vec<(u64, StoredProfile)>, StoreError> {
    profiles_read(user, positions, |position| store.get(position))
}

/// [`stored_profiles`], reading each event with `read`.
fn profiles_read(
    user: UserId,
    positions: &[u64],
    read: impl Fn(u64) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Vec<(u64, StoredProfile)>, StoreError> {
    let mut out = Vec::new();
    for &position in positions {
        let bytes = read(position)?.ok_or_else(|| {
            StoreError::Corrupt(format!("position {position} is indexed but not stored"))
        })?;
        let profile = stored_profile(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("event at position {position}: {e}")))?;
        out.extend(profile.filter(|p| p.user() == user).map(|p| (position, p)));
    }
    Ok(out)
}

/// The users of the whole log whose sealed profile has no key in `vault` though they
/// were never purged: what an `import-log` without (all) keys goes without.
pub fn keys_absent_from_log(
    store: &dyn LogStore,
    vault: &KeyVault,
) -> Result<BTreeSet<UserId>, StoreError> {
    let (mut sealed, mut purged) = (BTreeSet::new(), BTreeSet::new());
    let mut failure = None;
    store.scan(
        1,
        u64::MAX,
        &mut |position, bytes| match stored_payload(bytes) {
            Ok((event_type, data)) => {
                let user = payload_user(&data);
                match (event_type.as_str(), user) {
                    ("UserPurged", Some(user)) => {
                        purged.insert(user);
                    }
                    (_, Some(user)) if data["profile"]["sealed"].is_string() => {
                        sealed.insert(user);
                    }
                    _ => {}
                }
                true
            }
            Err(e) => {
                failure = Some(StoreError::Corrupt(format!(
                    "event at position {position}: {e}"
                )));
                false
            }
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(sealed
        .difference(&purged)
        .copied()
        .filter(|u| vault.user_key(*u).is_none())
        .collect())
}

fn missing(vault: &KeyVault, user: UserId, who: &str) -> StoreError {
    SideFileError::KeyMissing {
        user,
        who: who.to_owned(),
        file: vault.place(user),
    }
    .into()
}

fn damaged(vault: &KeyVault, user: UserId, who: &str, problem: String) -> StoreError {
    SideFileError::KeyDamaged {
        user,
        who: who.to_owned(),
        file: vault.place(user),
        problem,
    }
    .into()
}
