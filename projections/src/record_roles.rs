//! Record roles (issue 20 §2): who holds each role besides the owner on each record
//! (`deal:D-9`'s `servicing_specialist`, its `watcher`s), what each user holds by role,
//! and every holder each record's role ever had (time travel).
//!
//! Memory layout, beside [`crate::Ownership`] and sized like it (a user holding 100,000
//! records in three roles costs a few MB, a handover O(moved)):
//! - records are ownership's dense resource slots (a role can only be set on a
//!   registered record, so every key already has one); users and role names are
//!   interned into `u32` slots here;
//! - serialized: the role names, the users and one packed, log-ordered arena of
//!   changes (`position`, record, role, user, assigned or not), 21 bytes each;
//! - rebuilt on load by replaying the arena: the current holder of each (record, role)
//!   (`first`; further holders of a multi-holder role in `more`), each user's records
//!   by role (hash sets: a handover is O(moved) whatever the user holds), and a link
//!   from each change to the previous change of its (record, role), so "who held it as
//!   of P" walks one short chain.
//!
//! The fold is policy-free: it keeps sets, so how many holders a role may have is the
//! domain's rule (declared roles are folded here for it to read). A retired record
//! (`ResourcesRetired`) loses its roles, recorded as changes at the retirement's
//! position, so it blocks nothing and time travel still answers for before.

use foldhash::fast::RandomState;

use crate::slots::Slots;
use std::collections::{BTreeMap, HashMap, HashSet};

use offboard_events::{Envelope, Event, ResourceKey, UserId};
use serde::{Deserialize, Serialize};

use crate::ownership::Ownership;
use crate::packed::{self, Packed};

/// No earlier change of the same (record, role).
const NONE: u32 = u32::MAX;

/// At `position`, `user` began (`assigned`) or stopped holding `role` on `record`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Change {
    position: u64,
    record: u32,
    role: u32,
    user: u32,
    assigned: bool,
}

impl Packed for Change {
    const WIDTH: usize = 21;
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.position.to_le_bytes());
        for n in [self.record, self.role, self.user] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.push(u8::from(self.assigned));
    }
    fn unpack(b: &[u8]) -> Option<Self> {
        let u32_at = |at: usize| b[at..at + 4].try_into().ok().map(u32::from_le_bytes);
        Some(Self {
            position: u64::from_le_bytes(b[0..8].try_into().ok()?),
            record: u32_at(8)?,
            role: u32_at(12)?,
            user: u32_at(16)?,
            assigned: match b[20] {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }
}

/// One change of a record's role, as [`RecordRoles::history`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChange {
    pub position: u64,
    pub role: String,
    pub user: UserId,
    /// `true`: `user` began holding the role; `false`: stopped.
    pub assigned: bool,
}

/// Every record role of one org, now and as of any position.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RecordRoles {
    /// Role slot → name, in first-seen order.
    names: Slots<String>,
    /// User slot → user, in first-seen order.
    users: Slots<UserId>,
    /// Roles declared multi-holder (`RecordRoleDeclared { multi: true }`), by name.
    multi: BTreeMap<String, bool>,
    /// Every change, in log order.
    #[serde(
        serialize_with = "packed::serialize_vec",
        deserialize_with = "packed::deserialize_vec"
    )]
    changes: Vec<Change>,
    /// Change index → the previous change of its (record, role), or [`NONE`].
    #[serde(skip)]
    links: Vec<u32>,
    /// (record, role) → index of its newest change.
    #[serde(skip)]
    last: HashMap<(u32, u32), u32, RandomState>,
    /// (record, role) → the holder (the first, for a multi-holder role).
    #[serde(skip)]
    first: HashMap<(u32, u32), u32, RandomState>,
    /// (record, role) → the holders after the first (multi-holder roles only).
    #[serde(skip)]
    more: HashMap<(u32, u32), Vec<u32>, RandomState>,
    /// User slot → role slot → the records the user holds in it (none empty).
    #[serde(skip)]
    held: Vec<BTreeMap<u32, HashSet<u32, RandomState>>>,
}

impl RecordRoles {
    pub(crate) fn apply(&mut self, env: &Envelope, ownership: &Ownership) {
        let position = env.position;
        match &env.event {
            Event::RecordRoleDeclared(e) => {
                self.multi.insert(e.role.clone(), e.multi);
            }
            Event::RecordRoleAssigned(e) => {
                let (role, user) = (self.role_slot(&e.role), self.user_slot(e.user));
                for record in slots(ownership, &e.resources) {
                    self.change(position, record, role, user, true);
                }
            }
            Event::RecordRoleUnassigned(e) => {
                let (role, user) = (self.role_slot(&e.role), self.user_slot(e.user));
                for record in slots(ownership, &e.resources) {
                    self.change(position, record, role, user, false);
                }
            }
            Event::RecordRolesTransferred(e) => {
                let (role, from) = (self.role_slot(&e.role), self.user_slot(e.from));
                for handover in &e.handovers {
                    let to = self.user_slot(handover.to);
                    for record in slots(ownership, &handover.resources) {
                        self.change(position, record, role, from, false);
                        self.change(position, record, role, to, true);
                    }
                }
            }
            Event::ResourcesRetired(e) => {
                for record in slots(ownership, &e.resources) {
                    self.clear(position, record);
                }
            }
            _ => {}
        }
    }

    /// Rebuilds the indexes by replaying the arena, after checking it fits together.
    pub(crate) fn rebuild(&mut self) -> Result<(), String> {
        let changes = std::mem::take(&mut self.changes);
        let (roles, users) = (self.names.len(), self.users.len());
        if let Some(c) = changes
            .iter()
            .find(|c| c.role as usize >= roles || c.user as usize >= users)
        {
            return Err(format!("role change {c:?} names an unknown role or user"));
        }
        if changes.windows(2).any(|w| w[0].position > w[1].position) {
            return Err("role changes are out of log order".to_owned());
        }
        self.links = Vec::with_capacity(changes.len());
        self.last.clear();
        self.first.clear();
        self.more.clear();
        self.held = vec![BTreeMap::new(); users];
        for c in changes {
            self.change(c.position, c.record, c.role, c.user, c.assigned);
        }
        Ok(())
    }

    fn role_slot(&mut self, role: &str) -> u32 {
        self.names.slot(role).0
    }

    fn user_slot(&mut self, user: UserId) -> u32 {
        let (slot, new) = self.users.slot(&user);
        if new {
            self.held.push(BTreeMap::new());
        }
        slot
    }

    /// `user` begins or stops holding `role` on `record` at `position`; a change that
    /// changes nothing (already held, or not held) is not recorded.
    fn change(&mut self, position: u64, record: u32, role: u32, user: u32, assigned: bool) {
        let at = (record, role);
        let holds = self.holders_in(at).any(|u| u == user);
        if holds == assigned {
            return;
        }
        if assigned {
            match self.first.get(&at) {
                None => {
                    self.first.insert(at, user);
                }
                Some(_) => self.more.entry(at).or_default().push(user),
            }
            let roles = &mut self.held[user as usize];
            roles.entry(role).or_default().insert(record);
        } else {
            self.drop_holder(at, user);
            let roles = &mut self.held[user as usize];
            if let Some(records) = roles.get_mut(&role) {
                records.remove(&record);
                if records.is_empty() {
                    roles.remove(&role);
                }
            }
        }
        let index = self.changes.len() as u32;
        self.links.push(self.last.insert(at, index).unwrap_or(NONE));
        self.changes.push(Change {
            position,
            record,
            role,
            user,
            assigned,
        });
    }

    /// Takes `user` out of the holders of `at`; a further holder moves up to first.
    fn drop_holder(&mut self, at: (u32, u32), user: u32) {
        if self.first.get(&at) == Some(&user) {
            match self.more.get_mut(&at).and_then(|more| more.pop()) {
                Some(next) => {
                    self.first.insert(at, next);
                }
                None => {
                    self.first.remove(&at);
                }
            }
        } else if let Some(more) = self.more.get_mut(&at) {
            more.retain(|u| *u != user);
        }
        if self.more.get(&at).is_some_and(Vec::is_empty) {
            self.more.remove(&at);
        }
    }

    /// Every holder of every role on `record` stops holding it (a retirement).
    fn clear(&mut self, position: u64, record: u32) {
        for role in 0..self.names.len() as u32 {
            let holders: Vec<u32> = self.holders_in((record, role)).collect();
            for user in holders {
                self.change(position, record, role, user, false);
            }
        }
    }

    fn holders_in(&self, at: (u32, u32)) -> impl Iterator<Item = u32> + '_ {
        let more = self.more.get(&at).map_or(&[][..], Vec::as_slice);
        self.first
            .get(&at)
            .copied()
            .into_iter()
            .chain(more.iter().copied())
    }

    fn user_in(&self, slot: u32) -> UserId {
        self.users.values()[slot as usize]
    }

    /// Whether `role` was declared multi-holder (any number of holders per record);
    /// a role never declared has one holder per record.
    pub fn is_multi(&self, role: &str) -> bool {
        self.multi.get(role).copied().unwrap_or(false)
    }

    /// Every declared role with whether it is multi-holder, by name.
    pub fn declared(&self) -> impl Iterator<Item = (&str, bool)> {
        self.multi
            .iter()
            .map(|(role, multi)| (role.as_str(), *multi))
    }

    /// How many records have more than one holder in `role` now.
    pub fn records_with_several(&self, role: &str) -> usize {
        let Some(role) = self.names.get(role) else {
            return 0;
        };
        self.more.keys().filter(|(_, r)| *r == role).count()
    }

    /// Every role name ever used on a record, sorted.
    pub fn role_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.values().iter().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Who holds `role` on `key` now, in the order they began (empty: nobody).
    pub fn holders(&self, ownership: &Ownership, key: &ResourceKey, role: &str) -> Vec<UserId> {
        match (ownership.find_slot(key.as_str()), self.names.get(role)) {
            (Some(record), Some(role)) => self
                .holders_in((record, role))
                .map(|u| self.user_in(u))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every role on `key` now with its holders, by role name.
    pub fn roles_of_record(
        &self,
        ownership: &Ownership,
        key: &ResourceKey,
    ) -> BTreeMap<String, Vec<UserId>> {
        self.role_names()
            .into_iter()
            .map(|role| (role.to_owned(), self.holders(ownership, key, role)))
            .filter(|(_, holders)| !holders.is_empty())
            .collect()
    }

    /// Who held `role` on `key` right after the event at `position`.
    pub fn holders_at(
        &self,
        ownership: &Ownership,
        key: &ResourceKey,
        role: &str,
        position: u64,
    ) -> Vec<UserId> {
        let mut holders: Vec<u32> = Vec::new();
        for c in self
            .chain(ownership, key, role)
            .filter(|c| c.position <= position)
        {
            match c.assigned {
                true => holders.push(c.user),
                false => holders.retain(|u| *u != c.user),
            }
        }
        holders.into_iter().map(|u| self.user_in(u)).collect()
    }

    /// The changes of `role` on `key`, oldest first.
    fn chain<'a>(
        &'a self,
        ownership: &Ownership,
        key: &ResourceKey,
        role: &str,
    ) -> impl Iterator<Item = Change> + 'a {
        let at = ownership.find_slot(key.as_str()).zip(self.names.get(role));
        let mut next = at
            .and_then(|at| self.last.get(&at).copied())
            .unwrap_or(NONE);
        let mut newest_first = Vec::new();
        while let Some(c) = self.changes.get(next as usize) {
            newest_first.push(*c);
            next = self.links[next as usize];
        }
        newest_first.into_iter().rev()
    }

    /// Every change of every role on `key`, in log order.
    pub fn history(&self, ownership: &Ownership, key: &ResourceKey) -> Vec<RoleChange> {
        let mut out: Vec<RoleChange> = Vec::new();
        for role in self.role_names() {
            out.extend(self.chain(ownership, key, role).map(|c| RoleChange {
                position: c.position,
                role: role.to_owned(),
                user: self.user_in(c.user),
                assigned: c.assigned,
            }));
        }
        // Stable: within one event a holder's end comes before the next one's start.
        out.sort_by_key(|c| c.position);
        out
    }

    /// How many records `user` holds in each role (roles with none are absent).
    pub fn counts_of(&self, user: UserId) -> BTreeMap<String, u64> {
        self.held_by(user)
            .map(|(role, records)| (role.to_owned(), records.len() as u64))
            .collect()
    }

    /// The records `user` holds in `role` (or in any role), optionally only of `kind`,
    /// sorted by key and without repeats.
    pub fn records_of(
        &self,
        ownership: &Ownership,
        user: UserId,
        role: Option<&str>,
        kind: Option<&str>,
    ) -> Vec<ResourceKey> {
        let mut keys: Vec<&str> = self
            .held_by(user)
            .filter(|(name, _)| role.is_none_or(|r| r == *name))
            .flat_map(|(_, records)| records.iter().map(|r| ownership.key_text(*r)))
            .filter(|text| kind.is_none_or(|k| crate::ownership::kind_of(text) == k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter().map(crate::ownership::stored_key).collect()
    }

    /// Every (role, record) `user` holds, sorted by role then key.
    pub fn held_of(&self, ownership: &Ownership, user: UserId) -> Vec<(String, ResourceKey)> {
        let mut out = Vec::new();
        for (role, _) in self.held_by(user).collect::<BTreeMap<_, _>>() {
            for key in self.records_of(ownership, user, Some(role), None) {
                out.push((role.to_owned(), key));
            }
        }
        out
    }

    /// Every user holding a role on some record now, with how many (record, role) pairs.
    pub fn holders_all(&self) -> impl Iterator<Item = (UserId, u64)> + '_ {
        self.held.iter().enumerate().filter_map(|(slot, roles)| {
            let n: usize = roles.values().map(HashSet::len).sum();
            (n > 0).then(|| (self.users.values()[slot], n as u64))
        })
    }

    fn held_by(&self, user: UserId) -> impl Iterator<Item = (&str, &HashSet<u32, RandomState>)> {
        self.users
            .get(&user)
            .map(|slot| &self.held[slot as usize])
            .into_iter()
            .flatten()
            .map(|(role, records)| (self.names.values()[*role as usize].as_str(), records))
    }
}

/// The slots of the registered keys among `keys` (an unknown key is skipped: a role
/// can only be set on a registered record).
fn slots<'a>(ownership: &'a Ownership, keys: &'a [ResourceKey]) -> impl Iterator<Item = u32> + 'a {
    keys.iter().filter_map(|k| ownership.slot(k.as_str()))
}

#[cfg(test)]
mod tests;
