//! Ownership (R14–R16): who owns each resource now, what each user owns by kind, and
//! every owner each resource ever had.
//!
//! Memory layout, sized for a million resources in well under 150 MB and for a
//! 100,000-resource move that costs O(moved), never O(all resources) (measured by
//! `tests/scale.rs`), and for a replay that does no allocation and no tree walk per
//! moved resource:
//! - resource keys are interned into dense `u32` slots ([`KeyInterner`]); users into
//!   `u32` user slots (`users`), kinds into `u32` kind slots ([`Kinds`]), so everything
//!   per resource is a small number;
//! - history: `first[slot]` is the registration tenure; every later tenure is one record
//!   in `moves`, a single log-ordered arena where each record links back to its
//!   resource's previous move, and `last_move[slot]` is the newest. The common resource
//!   never moves and costs 4 bytes beyond its registration;
//! - rebuilt on load, never serialized: `holders[slot]` (current owner, kind, and place
//!   in the owner's list) and `holdings[user slot]`, one unordered list of resource slots
//!   per kind the user holds (only those: kinds are an open set, so a table of every
//!   kind for every user could outgrow everything else). A move is a swap-remove from
//!   one list and a push onto another; readers that need an order sort (listings are by
//!   key, which slots do not follow).
//!
//! Correlation id and actor of each change are not stored per resource: they belong to
//! the event, which the audit view records once ([`crate::Audit::event`]).
//!
//! A retired resource (`ResourcesRetired`: the system of record no longer lists it)
//! keeps its slot and its history; its newest tenure names the [`RETIRED`] owner, so it
//! sits in nobody's holdings, `owner_of` answers `None`, and registering it again is an
//! ordinary move back to a user.

use std::collections::BTreeMap;

use offboard_events::{Envelope, Event, ResourceKey, UserId};
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};

use crate::interner::KeyInterner;
use crate::kinds::Kinds;
use crate::packed::{self, Packed};
use crate::slots::Slots;

/// No move: the resource kept its registration owner.
const NONE: u32 = u32::MAX;

/// The owner slot of a retired resource: nobody (never an index into `users`).
const RETIRED: u32 = u32::MAX - 1;

/// From `position` on, the resource belonged to the user in user slot `.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tenure(u64, u32);

/// A tenure after the first (from `position` on, the resource belonged to user slot
/// `owner`), and the index in `moves` of the resource's move before it ([`NONE`] if this
/// is its first move). Flat, not a [`Tenure`] inside: 16 bytes instead of 24.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Move {
    position: u64,
    owner: u32,
    before: u32,
}

impl Move {
    fn tenure(&self) -> Tenure {
        Tenure(self.position, self.owner)
    }
}

/// The resources one user holds of one kind, unordered.
#[derive(Clone, Debug)]
struct Held {
    kind: u32,
    slots: Vec<u32>,
}

/// Who holds one resource now, and where it sits in their list of its kind.
#[derive(Clone, Copy, Debug)]
struct Holder {
    owner: u32,
    kind: u32,
    /// Index in the owner's list of `kind`.
    place: u32,
}

/// An order of resources to page through ([`Ownership::order`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyOrder(Vec<u32>);

/// Current owner and full owner history of every resource of one org.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ownership {
    keys: KeyInterner,
    /// User slot → user. Append-only, in first-seen order.
    users: Slots<UserId>,
    /// Resource slot → its registration tenure.
    #[serde(
        serialize_with = "packed::serialize_vec",
        deserialize_with = "packed::deserialize_vec"
    )]
    first: Vec<Tenure>,
    /// Every tenure after a registration, in log order.
    #[serde(
        serialize_with = "packed::serialize_vec",
        deserialize_with = "packed::deserialize_vec"
    )]
    moves: Vec<Move>,
    /// Resource slot → index of its newest move in `moves`, or [`NONE`].
    #[serde(
        serialize_with = "packed::serialize_vec",
        deserialize_with = "packed::deserialize_vec"
    )]
    last_move: Vec<u32>,
    #[serde(skip)]
    kinds: Kinds,
    /// Resource slot → who holds it now.
    #[serde(skip)]
    holders: Vec<Holder>,
    /// User slot → one list per kind they hold (none empty).
    #[serde(skip)]
    holdings: Vec<Vec<Held>>,
    /// How many resources are retired now.
    #[serde(skip)]
    retired: usize,
}

impl Packed for Tenure {
    const WIDTH: usize = 12;
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
        out.extend_from_slice(&self.1.to_le_bytes());
    }
    fn unpack(b: &[u8]) -> Option<Self> {
        Some(Self(
            u64::from_le_bytes(b[0..8].try_into().ok()?),
            u32::from_le_bytes(b[8..12].try_into().ok()?),
        ))
    }
}

impl Packed for Move {
    const WIDTH: usize = 16;
    fn pack(&self, out: &mut Vec<u8>) {
        self.tenure().pack(out);
        out.extend_from_slice(&self.before.to_le_bytes());
    }
    fn unpack(b: &[u8]) -> Option<Self> {
        let Tenure(position, owner) = Tenure::unpack(&b[0..12])?;
        Some(Self {
            position,
            owner,
            before: u32::from_le_bytes(b[12..16].try_into().ok()?),
        })
    }
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
            Event::ResourcesRetired(e) => {
                for key in &e.resources {
                    self.retire(key.as_str(), env.position);
                }
            }
            _ => {}
        }
    }

    /// Rebuilds what is not serialized from what is, after checking that the serialized
    /// tables fit together (a damaged checkpoint is refused, never a panic later).
    pub(crate) fn rebuild(&mut self) -> Result<(), String> {
        let (resources, users) = (self.keys.len(), self.users.len());
        if self.first.len() != resources || self.last_move.len() != resources {
            return Err(format!(
                "{resources} resource keys but {} registrations and {} move heads",
                self.first.len(),
                self.last_move.len()
            ));
        }
        if let Some(t) = self.first.iter().find(|t| t.1 as usize >= users) {
            return Err(format!("registration {t:?} names an unknown user"));
        }
        // Each move links only to an earlier one, so every chain ends; and to one that
        // began no later, as "owner as of" walks a chain newest first.
        let damaged = self.moves.iter().enumerate().find(|(i, m)| {
            (m.owner as usize >= users && m.owner != RETIRED)
                || (m.before != NONE
                    && (m.before as usize >= *i
                        || self.moves[m.before as usize].position > m.position))
        });
        if let Some((i, m)) = damaged {
            return Err(format!("move {i} ({m:?}) is out of range"));
        }
        if let Some(slot) = self
            .last_move
            .iter()
            .position(|m| *m != NONE && *m as usize >= self.moves.len())
        {
            return Err(format!("resource slot {slot} names a move past the end"));
        }
        self.kinds = Kinds::default();
        self.holders = Vec::with_capacity(resources);
        self.holdings = vec![Vec::new(); users];
        self.retired = 0;
        for slot in 0..resources as u32 {
            let kind = self.kinds.register(kind_of(self.keys.text(slot)));
            let owner = self.current_owner(slot);
            self.holders.push(Holder {
                owner,
                kind,
                place: 0,
            });
            match owner {
                RETIRED => self.retired += 1,
                _ => self.hold(slot, owner, kind),
            }
        }
        Ok(())
    }

    /// The owner of `slot` after its newest tenure, read from the serialized tables.
    fn current_owner(&self, slot: u32) -> u32 {
        match self.last_move[slot as usize] {
            NONE => self.first[slot as usize].1,
            last => self.moves[last as usize].owner,
        }
    }

    fn user_slot(&mut self, user: UserId) -> u32 {
        let (slot, new) = self.users.slot(&user);
        if new {
            self.holdings.push(Vec::new());
        }
        slot
    }

    fn assign(&mut self, key: &str, owner: u32, position: u64) {
        let (slot, new) = self.keys.intern(key);
        let tenure = Tenure(position, owner);
        if new {
            let kind = self.kinds.register(kind_of(key));
            self.first.push(tenure);
            self.last_move.push(NONE);
            self.holders.push(Holder {
                owner,
                kind,
                place: 0,
            });
            self.hold(slot, owner, kind);
            return;
        }
        let i = slot as usize;
        let before = std::mem::replace(&mut self.last_move[i], self.moves.len() as u32);
        self.moves.push(Move {
            position,
            owner,
            before,
        });
        let holder = self.holders[i];
        if holder.owner != owner {
            match holder.owner {
                RETIRED => self.retired -= 1,
                _ => self.release(holder),
            }
            self.hold(slot, owner, holder.kind);
        }
    }

    /// `key` belongs to nobody from `position` on; its history stays. A key never
    /// registered, or already retired, is left as it is (`decide` never writes either).
    fn retire(&mut self, key: &str, position: u64) {
        let Some(slot) = self.keys.slot(key) else {
            return;
        };
        let i = slot as usize;
        let holder = self.holders[i];
        if holder.owner == RETIRED {
            return;
        }
        let before = std::mem::replace(&mut self.last_move[i], self.moves.len() as u32);
        self.moves.push(Move {
            position,
            owner: RETIRED,
            before,
        });
        self.release(holder);
        self.holders[i].owner = RETIRED;
        self.retired += 1;
    }

    /// The user in owner slot `owner`; `None` for [`RETIRED`].
    fn user_in(&self, owner: u32) -> Option<UserId> {
        self.users.value(owner).copied()
    }

    /// Appends resource `slot` of `kind` to what user slot `owner` holds.
    fn hold(&mut self, slot: u32, owner: u32, kind: u32) {
        let lists = &mut self.holdings[owner as usize];
        // A user holds few kinds: a scan beats any map.
        let list = match lists.iter().position(|held| held.kind == kind) {
            Some(i) => &mut lists[i].slots,
            None => {
                lists.push(Held {
                    kind,
                    slots: Vec::new(),
                });
                &mut lists.last_mut().expect("just pushed").slots
            }
        };
        self.holders[slot as usize] = Holder {
            owner,
            kind,
            place: list.len() as u32,
        };
        list.push(slot);
    }

    /// Takes the resource `holder` describes out of its owner's list: the list's last
    /// resource fills the gap, so a move costs the same whatever the user holds. A list
    /// left empty goes, so counts by kind list only what the user really owns.
    fn release(&mut self, holder: Holder) {
        let lists = &mut self.holdings[holder.owner as usize];
        let Some(i) = lists.iter().position(|held| held.kind == holder.kind) else {
            return;
        };
        let list = &mut lists[i].slots;
        list.swap_remove(holder.place as usize);
        if let Some(filler) = list.get(holder.place as usize) {
            self.holders[*filler as usize].place = holder.place;
        }
        if list.is_empty() {
            lists.swap_remove(i);
        }
    }

    /// Every tenure of `slot`, oldest first.
    fn tenures(&self, slot: u32) -> Vec<Tenure> {
        let mut tenures = self.moves_newest_first(slot).collect::<Vec<_>>();
        tenures.push(self.first[slot as usize]);
        tenures.reverse();
        tenures
    }

    /// The tenures after the registration of `slot`, newest first.
    fn moves_newest_first(&self, slot: u32) -> impl Iterator<Item = Tenure> + '_ {
        let mut at = self.last_move[slot as usize];
        std::iter::from_fn(move || {
            let m = self.moves.get(at as usize)?;
            at = m.before;
            Some(m.tenure())
        })
    }

    fn holdings_of(&self, user: UserId) -> &[Held] {
        self.users
            .get(&user)
            .map_or(&[], |slot| &self.holdings[slot as usize])
    }

    fn sorted_keys(&self, slots: impl Iterator<Item = u32>) -> Vec<ResourceKey> {
        let mut texts: Vec<&str> = slots.map(|slot| self.keys.text(slot)).collect();
        texts.sort_unstable();
        texts.into_iter().map(stored_key).collect()
    }

    /// The slot of `key` as a reader names it: stored exactly so, or (typed keys being
    /// normalized) stored by an earlier build in another spelling of it. Reads and
    /// decisions look keys up so; applying events looks them up exactly ([`Self::slot`]),
    /// as they were written.
    pub fn find_slot(&self, key: &str) -> Option<u32> {
        self.keys.slot(key).or_else(|| self.keys.twin(key))
    }

    fn find(&self, key: &ResourceKey) -> Option<u32> {
        self.find_slot(key.as_str())
    }

    /// The other stored spelling of `key` when an earlier build stored both `key` itself
    /// and another spelling of it as two resources: a command naming `key` would not say
    /// which it means.
    pub fn other_spelling(&self, key: &str) -> Option<&str> {
        self.keys.other_twin(key).map(|slot| self.keys.text(slot))
    }

    /// Who owns `key` now (`None`: never registered, or retired).
    pub fn owner_of(&self, key: &ResourceKey) -> Option<UserId> {
        let slot = self.find(key)?;
        self.user_in(self.holders[slot as usize].owner)
    }

    /// Who owned `key` right after the event at `position` (`None` before it was
    /// registered, or while it was retired).
    pub fn owner_at_position(&self, key: &ResourceKey, position: u64) -> Option<UserId> {
        let slot = self.find(key)?;
        // Newest first: "as of" a recent position stops after a step or two.
        self.moves_newest_first(slot)
            .chain(std::iter::once(self.first[slot as usize]))
            .find(|t| t.0 <= position)
            .and_then(|t| self.user_in(t.1))
    }

    /// Every owner `key` had, oldest first, with the position each tenure began at;
    /// `None` for a tenure that began with its retirement.
    pub fn history(&self, key: &ResourceKey) -> Vec<(u64, Option<UserId>)> {
        let Some(slot) = self.find(key) else {
            return Vec::new();
        };
        self.tenures(slot)
            .into_iter()
            .map(|t| (t.0, self.user_in(t.1)))
            .collect()
    }

    /// The dense slot of `key` (registered at some time, retired or not). Slots are
    /// append-only: a key keeps its slot in every later state of the same log, so a
    /// caller comparing a long input against the views can mark what it saw in a table
    /// of [`Self::slots`] entries instead of a set of keys.
    pub fn slot(&self, key: &str) -> Option<u32> {
        self.keys.slot(key)
    }

    /// The stored spelling of a resource registered (by an earlier build) in another
    /// spelling than `key`'s normalized one ([`crate::text::resource_key_text`]), when no
    /// key is stored exactly as `key`: commands name it so, and its events keep naming
    /// the one resource. `None` nearly always.
    pub fn stored_spelling(&self, key: &str) -> Option<&str> {
        self.keys.twin(key).map(|slot| self.keys.text(slot))
    }

    /// Whether any key is stored in another spelling than its normalized one.
    pub fn has_other_spellings(&self) -> bool {
        self.keys.has_twins()
    }

    /// The key text of `slot` (a slot this view gave out).
    pub(crate) fn key_text(&self, slot: u32) -> &str {
        self.keys.text(slot)
    }

    /// How many slots there are: every key ever registered, retired ones included.
    pub fn slots(&self) -> usize {
        self.keys.len()
    }

    /// The current owner of the resource in `slot` (`None`: retired, or no such slot).
    pub fn owner_in_slot(&self, slot: u32) -> Option<UserId> {
        self.user_in(self.holders.get(slot as usize)?.owner)
    }

    /// Every resource of `kind` that has an owner now, as its slot and key text, in no
    /// order. Costs a pass over every slot.
    pub fn live_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (u32, &'a str)> + 'a {
        (0..self.keys.len() as u32)
            .filter(move |slot| self.holders[*slot as usize].owner != RETIRED)
            .map(move |slot| (slot, self.keys.text(slot)))
            .filter(move |(_, text)| kind_of(text) == kind)
    }

    /// What `user` owns, of one kind or of every kind, sorted by key (the order R15's
    /// round robin deals in).
    pub fn resources_of(&self, user: UserId, kind: Option<&str>) -> Vec<ResourceKey> {
        let lists = self.holdings_of(user).iter();
        match kind.map(|kind| self.kinds.slot(kind)) {
            Some(kind) => {
                let lists = lists.filter(|held| Some(held.kind) == kind);
                self.sorted_keys(lists.flat_map(|held| held.slots.iter().copied()))
            }
            None => self.sorted_keys(lists.flat_map(|held| held.slots.iter().copied())),
        }
    }

    /// How many resources of each kind `user` owns (R21); kinds with none are absent.
    pub fn counts_by_kind(&self, user: UserId) -> BTreeMap<String, u64> {
        self.holdings_of(user)
            .iter()
            .map(|held| {
                let kind = self.kinds.name(held.kind).to_owned();
                (kind, held.slots.len() as u64)
            })
            .collect()
    }

    /// How many resources of every kind `user` owns (R10: "owns any resource").
    pub fn total_owned(&self, user: UserId) -> u64 {
        self.holdings_of(user)
            .iter()
            .map(|held| held.slots.len() as u64)
            .sum()
    }

    /// Every kind ever registered in the org, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.sorted().into_iter()
    }

    /// How many resources of `kind` were ever registered, retired ones included.
    pub fn count_of_kind(&self, kind: &str) -> u64 {
        self.kinds.count(kind)
    }

    /// How many resources the org has (retired ones are not counted).
    pub fn len(&self) -> usize {
        self.keys.len() - self.retired
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many resources are retired now.
    pub fn retired(&self) -> usize {
        self.retired
    }

    /// The slots of the resources [`Self::list`] would give, in no order.
    fn candidates<'a>(
        &'a self,
        kind: Option<&'a str>,
        owner: Option<UserId>,
    ) -> Box<dyn Iterator<Item = u32> + 'a> {
        match owner {
            Some(user) => {
                let kind = kind.map(|k| self.kinds.slot(k));
                Box::new(
                    self.holdings_of(user)
                        .iter()
                        .filter(move |held| kind.is_none_or(|k| Some(held.kind) == k))
                        .flat_map(|held| held.slots.iter().copied()),
                )
            }
            // Retired resources are left out here, not after a page is cut, so a page is
            // never short and a walk never stops early.
            None => Box::new((0..self.keys.len() as u32).filter(move |slot| {
                self.holders[*slot as usize].owner != RETIRED
                    && kind.is_none_or(|k| kind_of(self.keys.text(*slot)) == k)
            })),
        }
    }

    /// The resources of `texts` with their owners, in the order given.
    fn with_owners<'a>(&self, texts: impl Iterator<Item = &'a str>) -> Vec<(ResourceKey, UserId)> {
        texts
            .map(stored_key)
            .filter_map(|key| Some((self.owner_of(&key)?, key)))
            .map(|(owner, key)| (key, owner))
            .collect()
    }

    /// At most `limit` of the resources [`Self::list`] gives whose key sorts after
    /// `after` (`None`: from the start), in key order, and whether more follow. Costs
    /// one pass over the candidates and a sort of the page only: for one page. A
    /// caller walking every page takes [`Self::order`] once and [`Self::page_in`] it.
    pub fn page(
        &self,
        kind: Option<&str>,
        owner: Option<UserId>,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<(ResourceKey, UserId)>, bool) {
        let mut texts: Vec<&str> = self
            .candidates(kind, owner)
            .map(|slot| self.keys.text(slot))
            .filter(|text| after.is_none_or(|after| *text > after))
            .collect();
        let more = texts.len() > limit;
        if more {
            texts.select_nth_unstable(limit);
            texts.truncate(limit);
        }
        texts.sort_unstable();
        (self.with_owners(texts.into_iter()), more)
    }

    /// The key order of the resources [`Self::list`] gives, 4 bytes a resource (not
    /// the keys): sorted once, it serves every page of a walk with a binary search.
    /// Valid for this state only.
    pub fn order(&self, kind: Option<&str>, owner: Option<UserId>) -> KeyOrder {
        let mut slots: Vec<u32> = self.candidates(kind, owner).collect();
        slots.sort_unstable_by_key(|slot| self.keys.text(*slot));
        KeyOrder(slots)
    }

    /// [`Self::page`] from an `order` this state made.
    pub fn page_in(
        &self,
        order: &KeyOrder,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<(ResourceKey, UserId)>, bool) {
        let start = after.map_or(0, |after| {
            order
                .0
                .partition_point(|slot| self.keys.text(*slot) <= after)
        });
        let end = (start + limit).min(order.0.len());
        let texts = order.0[start..end].iter().map(|slot| self.keys.text(*slot));
        (self.with_owners(texts), end < order.0.len())
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

/// The kind part of a key's text, as [`ResourceKey::kind`] reads it.
pub(crate) fn kind_of(key: &str) -> &str {
    key.split_once(':').map_or(key, |(kind, _)| kind)
}

/// A key back from its stored text. Stored keys were validated when their event was
/// written, so this takes the same trusting path as reading an event does instead of
/// re-validating (which would turn an odd stored key into a panic).
pub(crate) fn stored_key(text: &str) -> ResourceKey {
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
        assert_eq!(o.history(&key("buyer:1")), vec![(1, Some(a)), (5, Some(b))]);
        assert_eq!(o.owner_at_position(&key("buyer:1"), 4), Some(a));
        assert_eq!(o.owner_at_position(&key("buyer:1"), 0), None);

        let mut back: Ownership =
            serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        back.rebuild().unwrap();
        assert_eq!(back.list(None, None), o.list(None, None));
        assert_eq!(back.counts_by_kind(a), o.counts_by_kind(a));
    }

    #[test]
    fn moves_chain_per_resource_and_keep_every_holder_list_exact() {
        let mut o = Ownership::default();
        let (a, b, c) = (user(1), user(2), user(3));
        let slot_a = o.user_slot(a);
        for k in ["lead:1", "lead:2", "lead:3", "deal:1"] {
            o.assign(k, slot_a, 1);
        }
        let (slot_b, slot_c) = (o.user_slot(b), o.user_slot(c));
        // The first of a's leads leaves: the last one fills its place in a's list.
        o.assign("lead:1", slot_b, 2);
        o.assign("deal:1", slot_b, 3);
        o.assign("lead:1", slot_c, 4);
        o.assign("lead:3", slot_c, 5);
        o.assign("lead:1", slot_a, 6);
        assert_eq!(o.resources_of(a, None), vec![key("lead:1"), key("lead:2")]);
        assert_eq!(o.resources_of(b, None), vec![key("deal:1")]);
        assert_eq!(o.resources_of(c, Some("lead")), vec![key("lead:3")]);
        assert_eq!(o.total_owned(c), 1);
        assert_eq!(
            o.history(&key("lead:1")),
            vec![(1, Some(a)), (2, Some(b)), (4, Some(c)), (6, Some(a))]
        );
        let as_of = |p| o.owner_at_position(&key("lead:1"), p);
        assert_eq!(
            [0, 1, 3, 4, 5, 6, 9].map(as_of),
            [None, Some(a), Some(b), Some(c), Some(c), Some(a), Some(a)]
        );
        assert_eq!(o.kinds().collect::<Vec<_>>(), ["deal", "lead"]);
        assert_eq!(o.count_of_kind("lead"), 3);

        let json = serde_json::to_string(&o).unwrap();
        let mut back: Ownership = serde_json::from_str(&json).unwrap();
        back.rebuild().unwrap();
        assert_eq!(back.list(None, None), o.list(None, None));
        assert_eq!(back.history(&key("lead:1")), o.history(&key("lead:1")));

        // A move linking to itself (or a later one) would make a history never end.
        let mut looped: Ownership = serde_json::from_str(&json).unwrap();
        looped.moves[1].before = 1;
        assert!(looped.rebuild().is_err());
        // A move linking to one that began later would answer "owner as of" wrongly.
        let mut reordered: Ownership = serde_json::from_str(&json).unwrap();
        reordered.moves[0].position = 9;
        assert!(reordered.rebuild().is_err());
    }

    #[test]
    fn a_retired_resource_keeps_its_history_owns_nothing_and_can_come_back() {
        let mut o = Ownership::default();
        let (a, b) = (user(1), user(2));
        let slot_a = o.user_slot(a);
        for k in ["buyer:1", "buyer:2"] {
            o.assign(k, slot_a, 1);
        }
        o.retire("buyer:1", 3);
        o.retire("buyer:1", 4); // already retired: nothing changes
        assert_eq!(o.owner_of(&key("buyer:1")), None);
        assert_eq!(o.resources_of(a, None), vec![key("buyer:2")]);
        assert_eq!((o.len(), o.retired(), o.slots()), (1, 1, 2));
        assert_eq!(o.list(None, None).len(), 1);
        assert_eq!(o.page(Some("buyer"), None, None, 1).0.len(), 1);
        assert_eq!(o.history(&key("buyer:1")), vec![(1, Some(a)), (3, None)]);
        assert_eq!(o.owner_at_position(&key("buyer:1"), 2), Some(a));
        assert_eq!(o.owner_at_position(&key("buyer:1"), 3), None);
        let live: Vec<u32> = o.live_of_kind("buyer").map(|(slot, _)| slot).collect();
        assert_eq!(live, vec![o.slot("buyer:2").unwrap()]);

        let json = serde_json::to_string(&o).unwrap();
        let mut back: Ownership = serde_json::from_str(&json).unwrap();
        back.rebuild().unwrap();
        assert_eq!((back.len(), back.retired()), (1, 1));
        assert_eq!(back.owner_of(&key("buyer:1")), None);

        // Registered again: an ordinary move back to a user.
        let slot_b = o.user_slot(b);
        o.assign("buyer:1", slot_b, 5);
        assert_eq!(o.owner_of(&key("buyer:1")), Some(b));
        assert_eq!((o.len(), o.retired()), (2, 0));
        assert_eq!(o.resources_of(b, None), vec![key("buyer:1")]);
        assert_eq!(o.history(&key("buyer:1")).last(), Some(&(5, Some(b))));
    }

    #[test]
    fn a_user_keeps_a_list_only_for_the_kinds_they_hold() {
        // Kinds are an open set: a table of every kind for every user would grow with
        // users × kinds.
        let mut o = Ownership::default();
        let (a, b) = (user(1), user(2));
        let slot_a = o.user_slot(a);
        for kind in 0..1000 {
            o.assign(&format!("kind{kind}:1"), slot_a, 1);
        }
        let slot_b = o.user_slot(b);
        o.assign("kind999:1", slot_b, 2);
        assert_eq!(o.holdings[slot_b as usize].len(), 1);
        assert_eq!(o.holdings[slot_a as usize].len(), 999);
        assert_eq!(o.counts_by_kind(b), BTreeMap::from([("kind999".into(), 1)]));
        assert_eq!(o.count_of_kind("kind999"), 1);
        assert_eq!(o.kinds().count(), 1000);
    }
}
