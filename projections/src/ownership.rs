//! Ownership (R14–R16): who owns each resource now, what each user owns by kind, and
//! every owner each resource ever had.
//!
//! Memory layout, sized for a million resources in well under 150 MB and for a
//! 100,000-resource move that costs O(moved), never O(all resources) (measured by
//! `tests/scale.rs`: a million resources imported in bulk take ~62 MiB for the whole
//! state, a 100,000-resource move ~50 ms in release):
//! - resource keys are interned into dense `u32` slots ([`KeyInterner`]); users into
//!   `u32` user slots (`users`), so everything per resource is a small number;
//! - history: `first[slot]` is the registration tenure, inline and allocation-free;
//!   only resources that moved since own a `later[slot]` vector (the common resource is
//!   registered once and never moves);
//! - rebuilt on load, never serialized: `owner[slot]` (the last tenure, for O(1) reads)
//!   and `holdings[user slot][kind]`, a `BTreeSet` of resource slots per owner and kind,
//!   so a move touches only the moved resources and their two owners' sets.
//!
//! Correlation id and actor of each change are not stored per resource: they belong to
//! the event, which the audit view records once ([`crate::Audit::event`]).

use foldhash::fast::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use offboard_events::{Envelope, Event, ResourceKey, UserId};
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};

use crate::interner::KeyInterner;

/// From `position` on, the resource belonged to the user in user slot `.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Tenure(u64, u32);

/// Current owner and full owner history of every resource of one org.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ownership {
    keys: KeyInterner,
    /// User slot → user. Append-only, in first-seen order.
    users: Vec<UserId>,
    /// Resource slot → its registration tenure.
    first: Vec<Tenure>,
    /// Resource slot → every tenure after the first, oldest first.
    later: BTreeMap<u32, Vec<Tenure>>,
    #[serde(skip)]
    user_slots: HashMap<UserId, u32, RandomState>,
    #[serde(skip)]
    owner: Vec<u32>,
    #[serde(skip)]
    holdings: Vec<BTreeMap<String, BTreeSet<u32>>>,
    #[serde(skip)]
    kind_counts: BTreeMap<String, u64>,
}

impl Ownership {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::ResourcesRegistered(e) => {
                let owner = self.user_slot(e.owner);
                for key in &e.resources {
                    self.assign(key.as_str(), owner, env.position);
                }
            }
            // Every listed key goes to its recipient, even one `from` did not own or one
            // never registered: the event is the fact, and `previous` in the history
            // shows who really held it before.
            Event::ResourcesTransferred(e) => {
                for handover in &e.handovers {
                    let to = self.user_slot(handover.to);
                    for key in &handover.resources {
                        self.assign(key.as_str(), to, env.position);
                    }
                }
            }
            _ => {}
        }
    }

    /// Rebuilds what is not serialized from what is, after checking that the serialized
    /// tables fit together (a damaged checkpoint is refused, never a panic later).
    pub(crate) fn rebuild(&mut self) -> Result<(), String> {
        let (resources, users) = (self.keys.len(), self.users.len());
        if self.first.len() != resources {
            return Err(format!(
                "{resources} resource keys but {} registrations",
                self.first.len()
            ));
        }
        let later = self
            .later
            .iter()
            .flat_map(|(slot, t)| t.iter().map(move |t| (*slot, t)));
        let mut tenures = self.first.iter().map(|t| (0, t)).chain(later);
        if let Some((slot, t)) =
            tenures.find(|(slot, t)| *slot as usize >= resources || t.1 as usize >= users)
        {
            return Err(format!(
                "tenure {t:?} of resource slot {slot} is out of range"
            ));
        }
        self.user_slots = self
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (*u, i as u32))
            .collect();
        self.owner = self.first.iter().map(|t| t.1).collect();
        for (slot, tenures) in &self.later {
            if let (Some(owner), Some(last)) = (self.owner.get_mut(*slot as usize), tenures.last())
            {
                *owner = last.1;
            }
        }
        self.holdings = vec![BTreeMap::new(); self.users.len()];
        self.kind_counts.clear();
        for slot in 0..self.owner.len() as u32 {
            let kind = kind_of(self.keys.text(slot));
            *self.kind_counts.entry(kind.to_owned()).or_default() += 1;
            hold(&mut self.holdings, self.owner[slot as usize], kind, slot);
        }
        Ok(())
    }

    fn user_slot(&mut self, user: UserId) -> u32 {
        if let Some(slot) = self.user_slots.get(&user) {
            return *slot;
        }
        let slot = self.users.len() as u32;
        self.users.push(user);
        self.user_slots.insert(user, slot);
        self.holdings.push(BTreeMap::new());
        slot
    }

    fn assign(&mut self, key: &str, owner: u32, position: u64) {
        let (slot, new) = self.keys.intern(key);
        let kind = kind_of(key);
        let tenure = Tenure(position, owner);
        if new {
            self.first.push(tenure);
            self.owner.push(owner);
            match self.kind_counts.get_mut(kind) {
                Some(count) => *count += 1,
                None => {
                    self.kind_counts.insert(kind.to_owned(), 1);
                }
            }
        } else {
            self.later.entry(slot).or_default().push(tenure);
            let previous = std::mem::replace(&mut self.owner[slot as usize], owner);
            if previous == owner {
                return;
            }
            release(&mut self.holdings, previous, kind, slot);
        }
        hold(&mut self.holdings, owner, kind, slot);
    }

    fn tenures(&self, slot: u32) -> impl Iterator<Item = Tenure> + '_ {
        let later = self.later.get(&slot).map(Vec::as_slice).unwrap_or_default();
        std::iter::once(self.first[slot as usize]).chain(later.iter().copied())
    }

    fn holdings_of(&self, user: UserId) -> Option<&BTreeMap<String, BTreeSet<u32>>> {
        self.user_slots
            .get(&user)
            .map(|slot| &self.holdings[*slot as usize])
    }

    fn sorted_keys(&self, slots: impl Iterator<Item = u32>) -> Vec<ResourceKey> {
        let mut texts: Vec<&str> = slots.map(|slot| self.keys.text(slot)).collect();
        texts.sort_unstable();
        texts.into_iter().map(stored_key).collect()
    }

    /// Who owns `key` now.
    pub fn owner_of(&self, key: &ResourceKey) -> Option<UserId> {
        let slot = self.keys.slot(key.as_str())?;
        Some(self.users[self.owner[slot as usize] as usize])
    }

    /// Who owned `key` right after the event at `position` (`None` before it was registered).
    pub fn owner_at_position(&self, key: &ResourceKey, position: u64) -> Option<UserId> {
        let slot = self.keys.slot(key.as_str())?;
        self.tenures(slot)
            .take_while(|t| t.0 <= position)
            .last()
            .map(|t| self.users[t.1 as usize])
    }

    /// Every owner `key` had, oldest first, with the position each tenure began at.
    pub fn history(&self, key: &ResourceKey) -> Vec<(u64, UserId)> {
        let Some(slot) = self.keys.slot(key.as_str()) else {
            return Vec::new();
        };
        self.tenures(slot)
            .map(|t| (t.0, self.users[t.1 as usize]))
            .collect()
    }

    /// What `user` owns, of one kind or of every kind, sorted by key (the order R15's
    /// round robin deals in).
    pub fn resources_of(&self, user: UserId, kind: Option<&str>) -> Vec<ResourceKey> {
        let Some(kinds) = self.holdings_of(user) else {
            return Vec::new();
        };
        match kind {
            Some(kind) => self.sorted_keys(kinds.get(kind).into_iter().flatten().copied()),
            None => self.sorted_keys(kinds.values().flatten().copied()),
        }
    }

    /// How many resources of each kind `user` owns (R21); kinds with none are absent.
    pub fn counts_by_kind(&self, user: UserId) -> BTreeMap<String, u64> {
        self.holdings_of(user)
            .into_iter()
            .flatten()
            .map(|(kind, set)| (kind.clone(), set.len() as u64))
            .collect()
    }

    /// How many resources of every kind `user` owns (R10: "owns any resource").
    pub fn total_owned(&self, user: UserId) -> u64 {
        self.holdings_of(user)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(|set| set.len() as u64)
            .sum()
    }

    /// Every kind ever registered in the org, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kind_counts.keys().map(String::as_str)
    }

    /// How many resources of `kind` the org has.
    pub fn count_of_kind(&self, kind: &str) -> u64 {
        self.kind_counts.get(kind).copied().unwrap_or(0)
    }

    /// How many resources the org has.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.len() == 0
    }

    /// Resources with their owners, optionally of one kind and/or one owner, sorted by key.
    pub fn list(&self, kind: Option<&str>, owner: Option<UserId>) -> Vec<(ResourceKey, UserId)> {
        let keys = match owner {
            Some(user) => self.resources_of(user, kind),
            None => self.sorted_keys(
                (0..self.keys.len() as u32)
                    .filter(|slot| kind.is_none_or(|k| kind_of(self.keys.text(*slot)) == k)),
            ),
        };
        keys.into_iter()
            .filter_map(|key| Some((self.owner_of(&key)?, key)))
            .map(|(owner, key)| (key, owner))
            .collect()
    }
}

/// Adds resource `slot` of `kind` to what user slot `owner` holds. (The caller passes
/// the kind it has at hand: reading it from the interner again is a cache miss.)
fn hold(holdings: &mut [BTreeMap<String, BTreeSet<u32>>], owner: u32, kind: &str, slot: u32) {
    let kinds = &mut holdings[owner as usize];
    match kinds.get_mut(kind) {
        Some(set) => {
            set.insert(slot);
        }
        None => {
            kinds.insert(kind.to_owned(), BTreeSet::from([slot]));
        }
    }
}

fn release(holdings: &mut [BTreeMap<String, BTreeSet<u32>>], owner: u32, kind: &str, slot: u32) {
    let kinds = &mut holdings[owner as usize];
    if let Some(set) = kinds.get_mut(kind) {
        set.remove(&slot);
        // No empty kinds: counts by kind then list only what the user really owns.
        if set.is_empty() {
            kinds.remove(kind);
        }
    }
}

/// The kind part of a key's text, as [`ResourceKey::kind`] reads it.
fn kind_of(key: &str) -> &str {
    key.split_once(':').map_or(key, |(kind, _)| kind)
}

/// A key back from its stored text. Stored keys were validated when their event was
/// written, so this takes the same trusting path as reading an event does instead of
/// re-validating (which would turn an odd stored key into a panic).
fn stored_key(text: &str) -> ResourceKey {
    let text: StrDeserializer<'_, ValueError> = text.into_deserializer();
    ResourceKey::deserialize(text).expect("a string always reads as a stored ResourceKey")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn key(s: &str) -> ResourceKey {
        s.parse().unwrap()
    }

    #[test]
    fn a_move_updates_both_owners_and_appends_history() {
        let mut o = Ownership::default();
        let (a, b) = (user(1), user(2));
        let slot_a = o.user_slot(a);
        for k in ["buyer:2", "buyer:1", "lead:1"] {
            o.assign(k, slot_a, 1);
        }
        let slot_b = o.user_slot(b);
        o.assign("buyer:1", slot_b, 5);
        assert_eq!(o.resources_of(a, None), vec![key("buyer:2"), key("lead:1")]);
        assert_eq!(o.resources_of(b, Some("buyer")), vec![key("buyer:1")]);
        assert_eq!(o.counts_by_kind(b), BTreeMap::from([("buyer".into(), 1)]));
        assert_eq!(o.history(&key("buyer:1")), vec![(1, a), (5, b)]);
        assert_eq!(o.owner_at_position(&key("buyer:1"), 4), Some(a));
        assert_eq!(o.owner_at_position(&key("buyer:1"), 0), None);

        let mut back: Ownership =
            serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        back.rebuild().unwrap();
        assert_eq!(back.list(None, None), o.list(None, None));
        assert_eq!(back.counts_by_kind(a), o.counts_by_kind(a));
    }
}
