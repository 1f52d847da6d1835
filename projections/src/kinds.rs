//! Resource kinds of one org interned into dense `u32` slots, with how many resources
//! of each kind were ever registered (a retired resource keeps its slot, so counts only
//! grow).

use foldhash::fast::RandomState;
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub(crate) struct Kinds {
    /// Kind slot → kind text, in first-seen order.
    names: Vec<String>,
    slots: HashMap<String, u32, RandomState>,
    /// Kind slot → resources of that kind.
    counts: Vec<u64>,
}

impl Kinds {
    /// Counts one more resource of `kind`; returns the kind's slot.
    pub(crate) fn register(&mut self, kind: &str) -> u32 {
        let slot = match self.slots.get(kind) {
            Some(slot) => *slot,
            None => {
                let slot = self.names.len() as u32;
                self.names.push(kind.to_owned());
                self.slots.insert(kind.to_owned(), slot);
                self.counts.push(0);
                slot
            }
        };
        self.counts[slot as usize] += 1;
        slot
    }

    /// The slot of `kind`, if any resource of it was registered.
    pub(crate) fn slot(&self, kind: &str) -> Option<u32> {
        self.slots.get(kind).copied()
    }

    /// The text of a kind slot (slots only come from this table).
    pub(crate) fn name(&self, slot: u32) -> &str {
        &self.names[slot as usize]
    }

    /// How many resources of `kind` were registered.
    pub(crate) fn count(&self, kind: &str) -> u64 {
        self.slot(kind).map_or(0, |slot| self.counts[slot as usize])
    }

    /// Every kind, sorted.
    pub(crate) fn sorted(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}
