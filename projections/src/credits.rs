//! Credits (R20, seed 004): the org's pool, each user's unused balance, and the usage
//! history that, by policy, keeps a user from being deleted (R10).
//!
//! Applying never fails, so a move asks for at most what its source holds: an event
//! naming more credits than there are moves what there is and creates none. A use is
//! kept in the history with the amount the event names, even if the balance was lower.

use std::collections::BTreeMap;

use offboard_events::{CreditAccount, Envelope, Event, UserId};
use serde::{Deserialize, Serialize};

/// One spending of credits, kept forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditUsage {
    pub position: u64,
    pub user: UserId,
    pub amount: u64,
}

/// Credit balances and usage of one org.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Credits {
    pool: u64,
    /// Users with a non-zero balance.
    balances: BTreeMap<UserId, u64>,
    /// Everyone who ever used credits, with the total they used.
    used: BTreeMap<UserId, u64>,
    usage: Vec<CreditUsage>,
}

impl Credits {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::CreditsAddedToPool(e) => self.pool = self.pool.saturating_add(e.amount),
            Event::CreditsGranted(e) => self.transfer(
                CreditAccount::Pool,
                CreditAccount::User { id: e.user },
                e.amount,
            ),
            Event::CreditsUsed(e) => {
                self.take(CreditAccount::User { id: e.user }, e.amount);
                let total = self.used.entry(e.user).or_default();
                *total = total.saturating_add(e.amount);
                self.usage.push(CreditUsage {
                    position: env.position,
                    user: e.user,
                    amount: e.amount,
                });
            }
            Event::CreditsTransferred(e) => self.transfer(e.from, e.to, e.amount),
            _ => {}
        }
    }

    fn transfer(&mut self, from: CreditAccount, to: CreditAccount, amount: u64) {
        let moved = self.take(from, amount);
        match to {
            CreditAccount::Pool => self.pool = self.pool.saturating_add(moved),
            CreditAccount::User { id } if moved > 0 => {
                let balance = self.balances.entry(id).or_default();
                *balance = balance.saturating_add(moved);
            }
            CreditAccount::User { .. } => {}
        }
    }

    /// Lowers `from` by up to `amount`; returns how much it really gave.
    fn take(&mut self, from: CreditAccount, amount: u64) -> u64 {
        match from {
            CreditAccount::Pool => {
                let taken = amount.min(self.pool);
                self.pool -= taken;
                taken
            }
            CreditAccount::User { id } => {
                let Some(balance) = self.balances.get_mut(&id) else {
                    return 0;
                };
                let taken = amount.min(*balance);
                *balance -= taken;
                if *balance == 0 {
                    self.balances.remove(&id);
                }
                taken
            }
        }
    }

    /// Credits in the org's pool.
    pub fn pool(&self) -> u64 {
        self.pool
    }

    /// `user`'s unused credits (R8, R10: must be zero to deactivate or delete).
    pub fn balance(&self, user: UserId) -> u64 {
        self.balances.get(&user).copied().unwrap_or(0)
    }

    /// How many credits `user` used over all time.
    pub fn used_total(&self, user: UserId) -> u64 {
        self.used.get(&user).copied().unwrap_or(0)
    }

    /// Whether `user` ever used credits (R10, policy `delete_requires_no_credit_history`).
    pub fn ever_used(&self, user: UserId) -> bool {
        self.used.contains_key(&user)
    }

    /// Users holding unused credits, by id.
    pub fn holders(&self) -> impl Iterator<Item = (UserId, u64)> + '_ {
        self.balances.iter().map(|(u, b)| (*u, *b))
    }

    /// Every usage, in log order.
    pub fn usage(&self) -> &[CreditUsage] {
        &self.usage
    }
}
