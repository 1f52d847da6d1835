//! Shared labels (R19): named lists of users; offboarding takes the user off and may
//! put a replacement on.

use std::collections::{BTreeMap, BTreeSet};

use offboard_events::{Envelope, Event, LabelId, UserId};
use serde::{Deserialize, Serialize};

/// One shared label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub id: LabelId,
    pub name: String,
    pub members: BTreeSet<UserId>,
}

/// Every label of one org, by id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Labels {
    by_id: BTreeMap<LabelId, Label>,
}

impl Labels {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        match &env.event {
            // A label is created once; a repeated creation changes nothing.
            Event::LabelCreated(e) => {
                self.by_id.entry(e.label_id).or_insert_with(|| Label {
                    id: e.label_id,
                    name: e.name.clone(),
                    members: e.members.iter().copied().collect(),
                });
            }
            Event::LabelMemberAdded(e) => {
                if let Some(label) = self.by_id.get_mut(&e.label_id) {
                    label.members.insert(e.user);
                }
            }
            Event::LabelMemberRemoved(e) => {
                if let Some(label) = self.by_id.get_mut(&e.label_id) {
                    label.members.remove(&e.user);
                }
            }
            _ => {}
        }
    }

    pub fn get(&self, id: LabelId) -> Option<&Label> {
        self.by_id.get(&id)
    }

    /// The label named `name`, compared by [`crate::text::caseless_key`] (NFC, case
    /// folded; the first by id if several).
    pub fn by_name(&self, name: &str) -> Option<&Label> {
        let name = crate::text::caseless_key(name);
        self.by_id
            .values()
            .find(|l| crate::text::caseless_key(&l.name) == name)
    }

    /// The labels that list `user`, by id.
    pub fn labels_of(&self, user: UserId) -> impl Iterator<Item = &Label> {
        self.by_id
            .values()
            .filter(move |l| l.members.contains(&user))
    }

    /// Every label, by id.
    pub fn all(&self) -> impl Iterator<Item = &Label> {
        self.by_id.values()
    }
}
