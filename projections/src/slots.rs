//! Values numbered in first-seen order: user ids and role names become dense `u32` slots,
//! so the packed tables of ownership and record roles hold numbers, not ids or strings.
//!
//! Serializes as the plain list of values in slot order (the same bytes as the
//! `Vec<T>` it replaced, so checkpoints are unchanged); the index is rebuilt on load.
//! Slots are never freed: nothing in the log forgets a user or a role name.
//! Resource keys, a million of them, have their own arena ([`crate::interner`]).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

use foldhash::fast::RandomState;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An append-only list of distinct values with the slot of each.
#[derive(Clone, Debug)]
pub(crate) struct Slots<T> {
    /// Slot → value.
    values: Vec<T>,
    /// Value → slot.
    index: HashMap<T, u32, RandomState>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            index: HashMap::default(),
        }
    }
}

impl<T: Hash + Eq + Clone> Slots<T> {
    /// How many values have a slot.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The slot of `value`, and whether it was given one just now.
    pub(crate) fn slot<Q>(&mut self, value: &Q) -> (u32, bool)
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = T> + ?Sized,
    {
        if let Some(slot) = self.index.get(value) {
            return (*slot, false);
        }
        let slot = self.values.len() as u32;
        self.values.push(value.to_owned());
        self.index.insert(value.to_owned(), slot);
        (slot, true)
    }

    /// The slot of `value`, if it has one.
    pub(crate) fn get<Q>(&self, value: &Q) -> Option<u32>
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.get(value).copied()
    }

    /// The value in `slot`, if the slot was given.
    pub(crate) fn value(&self, slot: u32) -> Option<&T> {
        self.values.get(slot as usize)
    }

    /// Every value, in slot order.
    pub(crate) fn values(&self) -> &[T] {
        &self.values
    }
}

impl<T: Serialize> Serialize for Slots<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.values.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de> + Hash + Eq + Clone> Deserialize<'de> for Slots<T> {
    /// Refuses a list that names one value twice: two slots for one user would split
    /// what they hold.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let values = Vec::<T>::deserialize(deserializer)?;
        let mut index = HashMap::with_capacity_and_hasher(values.len(), RandomState::default());
        for (i, value) in values.iter().enumerate() {
            if index.insert(value.clone(), i as u32).is_some() {
                return Err(serde::de::Error::custom("a value has two slots"));
            }
        }
        Ok(Self { values, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_given_in_first_seen_order_and_survive_a_round_trip() {
        let mut slots = Slots::<String>::default();
        assert_eq!(slots.slot("watcher"), (0, true));
        assert_eq!(slots.slot("owner"), (1, true));
        assert_eq!(slots.slot("watcher"), (0, false));
        let back: Slots<String> =
            serde_json::from_str(&serde_json::to_string(&slots).unwrap()).unwrap();
        assert_eq!(back.get("owner"), Some(1));
        assert_eq!(back.value(0).map(String::as_str), Some("watcher"));
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            r#"["watcher","owner"]"#
        );
    }

    #[test]
    fn a_list_naming_one_value_twice_is_refused() {
        let twice = serde_json::from_str::<Slots<String>>(r#"["a","a"]"#);
        assert!(twice.is_err());
    }
}
