//! Resource keys interned into dense `u32` slots, so the ownership tables are flat
//! vectors of numbers instead of maps keyed by strings.
//!
//! Why not `Vec<ResourceKey>` + `HashMap<ResourceKey, u32>`: that keeps every key twice,
//! each in its own allocation (≈110 bytes a resource before any ownership data). Here
//! the text of all keys lives once in one arena, and the open-addressing table holds only
//! slots with a hash tag (8 bytes a cell, at most 3/4 full): about 35 bytes a resource
//! plus the key text.
//! Slots are never freed because resources are never deleted (no event removes one).

use std::fmt;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Marks a free cell of the table. A cell holds `tag << 32 | slot`, the tag being the
/// key hash's upper half, so a probe compares key texts (a cache miss each) only when
/// the tags agree.
const EMPTY: u64 = u64::MAX;

/// A table cell for `slot` whose key hashed to `hash`.
fn cell_value(hash: u64, slot: u32) -> u64 {
    (hash & 0xffff_ffff_0000_0000) | u64::from(slot)
}

fn same_tag(cell: u64, hash: u64) -> bool {
    (cell ^ hash) >> 32 == 0
}

/// Append-only set of key texts, each with the slot it was first seen in.
///
/// Serializes as the list of keys in slot order; the table is rebuilt on load. The
/// hasher (foldhash: SipHash was a tenth of a replay) is seeded per process (the table
/// is never serialized, so this costs no determinism and keeps crafted keys from piling
/// onto one probe chain).
#[derive(Clone, Default)]
pub(crate) struct KeyInterner {
    /// Every key's text, back to back.
    text: String,
    /// `ends[slot]` is where that key's text ends in `text`; it starts where the previous ends.
    ends: Vec<usize>,
    /// Open addressing with linear probing; length 0 or a power of two.
    table: Vec<u64>,
    hasher: RandomState,
    /// Keys stored in another spelling than [`crate::text::resource_key_text`]'s (by
    /// builds before keys were normalized: decomposed, or spaced differently), by that
    /// spelling: what a typed key, always normalized, finds them by. Nearly always empty.
    twins: std::collections::HashMap<String, u32>,
}

impl KeyInterner {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The text of an interned slot.
    ///
    /// Slots only come from this interner, so an out-of-range slot is a bug in this crate.
    pub(crate) fn text(&self, slot: u32) -> &str {
        let i = slot as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// The slot of `key`, if it was ever interned.
    pub(crate) fn slot(&self, key: &str) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        self.slot_hashed(key, self.hasher.hash_one(key))
    }

    fn slot_hashed(&self, key: &str, hash: u64) -> Option<u32> {
        let mask = self.table.len() - 1;
        let mut cell = hash as usize & mask;
        loop {
            match self.table[cell] {
                EMPTY => return None,
                value if same_tag(value, hash) && self.text(value as u32) == key => {
                    return Some(value as u32)
                }
                _ => cell = (cell + 1) & mask,
            }
        }
    }

    /// The slot of `key`, and whether it was new.
    pub(crate) fn intern(&mut self, key: &str) -> (u32, bool) {
        let hash = self.hasher.hash_one(key);
        if !self.table.is_empty() {
            if let Some(slot) = self.slot_hashed(key, hash) {
                return (slot, false);
            }
        }
        let slot = self.ends.len() as u32;
        self.text.push_str(key);
        self.ends.push(self.text.len());
        if let std::borrow::Cow::Owned(spelling) = crate::text::resource_key_text(key) {
            if spelling != key {
                // The first key of a spelling keeps it (slot order: replay and a loaded
                // checkpoint agree).
                self.twins.entry(spelling).or_insert(slot);
            }
        }
        if self.ends.len() * 4 > self.table.len() * 3 {
            self.grow();
        } else {
            self.place(slot, hash);
        }
        (slot, true)
    }

    /// The slot of a key stored in another spelling whose normalized spelling is
    /// `spelling`, if no key is stored exactly as `spelling`.
    pub(crate) fn twin(&self, spelling: &str) -> Option<u32> {
        if self.twins.is_empty() || self.slot(spelling).is_some() {
            return None;
        }
        self.twins.get(spelling).copied()
    }

    /// The slot of a key stored in another spelling whose normalized spelling is
    /// `spelling`, when `spelling` is ALSO stored exactly (an earlier build took both):
    /// naming `spelling` is then ambiguous.
    pub(crate) fn other_twin(&self, spelling: &str) -> Option<u32> {
        if self.twins.is_empty() {
            return None;
        }
        let exact = self.slot(spelling)?;
        self.twins
            .get(spelling)
            .copied()
            .filter(|&twin| twin != exact)
    }

    /// Whether any key is stored in another spelling than its normalized one.
    pub(crate) fn has_twins(&self) -> bool {
        !self.twins.is_empty()
    }

    /// Every key, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len() as u32).map(|slot| self.text(slot))
    }

    fn place(&mut self, slot: u32, hash: u64) {
        let mask = self.table.len() - 1;
        let mut cell = hash as usize & mask;
        while self.table[cell] != EMPTY {
            cell = (cell + 1) & mask;
        }
        self.table[cell] = cell_value(hash, slot);
    }

    fn grow(&mut self) {
        let cells = (self.table.len() * 2).max(16);
        self.table = vec![EMPTY; cells];
        for slot in 0..self.len() as u32 {
            self.place(slot, self.hasher.hash_one(self.text(slot)));
        }
    }
}

impl fmt::Debug for KeyInterner {
    // A million keys are no help in a test failure; their number is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyInterner")
            .field("keys", &self.len())
            .field("text_bytes", &self.text.len())
            .finish()
    }
}

impl Serialize for KeyInterner {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for key in self.iter() {
            seq.serialize_element(key)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for KeyInterner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = KeyInterner;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of distinct resource keys")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyInterner, A::Error> {
                let mut keys = KeyInterner::default();
                // One key at a time, so loading never holds the list twice.
                while let Some(key) = seq.next_element::<String>()? {
                    if !keys.intern(&key).1 {
                        // Slots are positions in this list: a repeat would shift every
                        // later slot and silently misattribute ownership.
                        return Err(A::Error::custom(format!("resource key {key:?} repeats")));
                    }
                }
                Ok(keys)
            }
        }
        d.deserialize_seq(Keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_dense_and_stable_across_growth() {
        let mut keys = KeyInterner::default();
        for i in 0..1000 {
            assert_eq!(keys.intern(&format!("buyer:B-{i}")), (i, true));
        }
        assert_eq!(keys.intern("buyer:B-7"), (7, false));
        assert_eq!(keys.slot("buyer:B-999"), Some(999));
        assert_eq!(keys.slot("buyer:B-1000"), None);
        assert_eq!(keys.text(42), "buyer:B-42");
    }

    #[test]
    fn round_trips_through_json_in_slot_order() {
        let mut keys = KeyInterner::default();
        for k in ["lead:z", "buyer:a", "group:x"] {
            keys.intern(k);
        }
        let json = serde_json::to_string(&keys).unwrap();
        assert_eq!(json, r#"["lead:z","buyer:a","group:x"]"#);
        let back: KeyInterner = serde_json::from_str(&json).unwrap();
        assert_eq!(back.slot("group:x"), Some(2));
        assert!(serde_json::from_str::<KeyInterner>(r#"["a:b","a:b"]"#).is_err());
    }

    #[test]
    fn a_key_stored_in_another_spelling_is_found_as_its_twin_unless_that_spelling_is_stored() {
        let mut keys = KeyInterner::default();
        keys.intern("buyer:Zoe\u{308}");
        keys.intern("buyer: N-1");
        assert!(keys.has_twins());
        assert_eq!(
            keys.slot("buyer:Zo\u{eb}"),
            None,
            "exact lookups stay exact"
        );
        assert_eq!(keys.twin("buyer:Zo\u{eb}"), Some(0));
        assert_eq!(keys.twin("buyer:N-1"), Some(1));
        // A checkpoint loads the same twins.
        let back: KeyInterner =
            serde_json::from_str(&serde_json::to_string(&keys).unwrap()).unwrap();
        assert_eq!(back.twin("buyer:N-1"), Some(1));
        // Once the spelling itself is stored (an earlier build let both in), it is
        // found exactly, and the other is named as its ambiguous twin.
        keys.intern("buyer:Zo\u{eb}");
        assert_eq!(keys.twin("buyer:Zo\u{eb}"), None);
        assert_eq!(keys.slot("buyer:Zo\u{eb}"), Some(2));
        assert_eq!(keys.other_twin("buyer:Zo\u{eb}"), Some(0));
        assert_eq!(keys.other_twin("buyer:N-1"), None);
    }
}
