//! Credits (R20, seed 004): the org's pool, each user's unused balance, and the usage
//! history that, by policy, keeps a user from being deleted (R10).
//!
//! Applying never fails, so a move asks for at most what its source holds: an event
//! naming more credits than there are moves what there is and creates none. A use is
//! kept in the history with the amount the event names, even if the balance was lower.
//!
//! Arithmetic is checked, never saturating: `decide` keeps every figure at most
//! [`MAX_CREDITS`], so no event it writes can overflow a `u64` here. An event that would
//! anyway (a log written by an older build, or edited) changes nothing and its position
//! is listed in [`Credits::overflows`], so the loss is reported instead of credits
//! silently vanishing.

use std::collections::BTreeMap;

use offboard_events::{CreditAccount, Envelope, Event, UserId};
use serde::{Deserialize, Serialize};

/// The most credits any one figure may hold: a command's amount, the credits in an
/// org's circulation (pool plus every balance, which moves never change) and one user's
/// usage history. It is 2^53 − 1, the largest integer a JSON number keeps exactly in
/// JavaScript and most JSON readers (`Number.MAX_SAFE_INTEGER`), so every credit figure
/// in `--json`, the API and the event stream reads back exact; it is far below `u64`
/// and `i64` (a SQL `bigint`), so sums of it never overflow.
pub const MAX_CREDITS: u64 = (1 << 53) - 1;

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
    /// Positions of credit events that would have overflowed a figure and so changed
    /// nothing (see the module doc); empty for any log `decide` wrote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    overflows: Vec<u64>,
}

impl Credits {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::CreditsAddedToPool(e) => {
                // The pool alone could take it while the pool and the balances together
                // could not, and a later move would then overflow: check the whole.
                match self.in_circulation().and_then(|c| c.checked_add(e.amount)) {
                    Some(_) => self.pool += e.amount,
                    None => self.overflows.push(env.position),
                }
            }
            Event::CreditsGranted(e) => self.transfer(
                env.position,
                CreditAccount::Pool,
                CreditAccount::User { id: e.user },
                e.amount,
            ),
            Event::CreditsUsed(e) => {
                let used = self.used_total(e.user);
                let Some(total) = used.checked_add(e.amount) else {
                    self.overflows.push(env.position);
                    return;
                };
                self.take(CreditAccount::User { id: e.user }, e.amount);
                self.used.insert(e.user, total);
                self.usage.push(CreditUsage {
                    position: env.position,
                    user: e.user,
                    amount: e.amount,
                });
            }
            Event::CreditsTransferred(e) => self.transfer(env.position, e.from, e.to, e.amount),
            _ => {}
        }
    }

    /// The org's credits: the pool plus every balance (moves never change it; adding to
    /// the pool raises it, using lowers it). `None` past `u64`, which only a log holding
    /// events `decide` refuses could reach.
    pub fn in_circulation(&self) -> Option<u64> {
        self.balances
            .values()
            .try_fold(self.pool, |sum, b| sum.checked_add(*b))
    }

    fn transfer(&mut self, position: u64, from: CreditAccount, to: CreditAccount, amount: u64) {
        let available = match from {
            CreditAccount::Pool => self.pool,
            CreditAccount::User { id } => self.balance(id),
        };
        let moving = amount.min(available);
        let held = match to {
            CreditAccount::Pool => self.pool,
            CreditAccount::User { id } => self.balance(id),
        };
        // Moves keep the circulation, so this only fails for a log that overflowed it.
        if held.checked_add(moving).is_none() {
            self.overflows.push(position);
            return;
        }
        let moved = self.take(from, moving);
        match to {
            CreditAccount::Pool => self.pool += moved,
            CreditAccount::User { id } if moved > 0 => {
                *self.balances.entry(id).or_default() += moved;
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

    /// Positions of credit events left unapplied because a figure would have overflowed
    /// a `u64`, in log order: empty unless the log holds events `decide` never writes.
    pub fn overflows(&self) -> &[u64] {
        &self.overflows
    }
}
