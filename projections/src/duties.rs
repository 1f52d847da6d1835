//! Singleton duties (R17): each named duty has one holder, who must hand it over
//! before being deleted (R10).

use std::collections::BTreeMap;

use offboard_events::{Envelope, Event, UserId};
use serde::{Deserialize, Serialize};

/// Duty name → its holder, for one org.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Duties {
    holders: BTreeMap<String, UserId>,
}

impl Duties {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        if let Event::DutyAssigned(e) = &env.event {
            self.holders.insert(e.duty.clone(), e.holder);
        }
    }

    /// Who holds `duty`, if anyone ever did.
    pub fn holder(&self, duty: &str) -> Option<UserId> {
        self.holders.get(duty).copied()
    }

    /// The duties `user` holds, sorted by name.
    pub fn duties_of(&self, user: UserId) -> Vec<String> {
        self.holders
            .iter()
            .filter(|(_, holder)| **holder == user)
            .map(|(duty, _)| duty.clone())
            .collect()
    }

    /// Every duty with its holder, sorted by name.
    pub fn all(&self) -> impl Iterator<Item = (&str, UserId)> {
        self.holders
            .iter()
            .map(|(duty, holder)| (duty.as_str(), *holder))
    }
}
