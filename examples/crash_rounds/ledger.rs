//! The harness's own fold of the log, built from the events it reads back after every
//! restart: positions must follow one another, each event must link to the one before
//! (`offboard verify` re-hashes the stored bytes; the stream shows profiles unsealed), a command's events must be contiguous and appear once, a resource
//! must be registered once and move only from its owner, and no credit account may go
//! below zero. What it ends with is compared with the server's own views.

use std::collections::btree_map::Entry as BEntry;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use offboard_events::{CommandId, CreditAccount, Envelope, Event, UserId};

/// A user's credits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credits {
    /// Unused.
    pub balance: u64,
    /// Spent, ever.
    pub used: u64,
}

/// Everything the harness knows the log says, up to `head`.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Every registered resource and its one owner.
    pub owners: BTreeMap<String, UserId>,
    /// The org's pool.
    pub pool: u64,
    /// Every user who ever held credits.
    pub credits: BTreeMap<UserId, Credits>,
    /// Credits ever added to the pool: what pool + balances + used must add up to.
    pub added: u64,
    /// The last position folded (0: none).
    pub head: u64,
    /// Its hash.
    pub head_hash: String,
    /// Every command id in the log, with its first and last position.
    pub commands: HashMap<CommandId, (u64, u64)>,
}

impl Ledger {
    /// Folds the next event; an error says what it breaks.
    pub fn apply(&mut self, e: &Envelope) -> Result<(), String> {
        let at = e.position;
        if at != self.head + 1 {
            return Err(format!("position {at} follows {}: a gap", self.head));
        }
        if self.head > 0 && e.prev_hash != self.head_hash {
            return Err(format!("position {at} does not link to {}", self.head));
        }
        match self.commands.entry(e.command_id) {
            Entry::Vacant(v) => {
                v.insert((at, at));
            }
            Entry::Occupied(mut o) if o.get().1 + 1 == at => o.get_mut().1 = at,
            Entry::Occupied(o) => {
                let (first, last) = *o.get();
                return Err(format!(
                    "command {} at {first}..={last} appears again at {at}",
                    e.command_id
                ));
            }
        }
        self.apply_event(&e.event)
            .map_err(|why| format!("position {at}: {why}"))?;
        self.head = at;
        self.head_hash.clone_from(&e.hash);
        Ok(())
    }

    fn apply_event(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::ResourcesRegistered(r) => {
                for key in &r.resources {
                    match self.owners.entry(key.to_string()) {
                        BEntry::Vacant(v) => {
                            v.insert(r.owner);
                        }
                        BEntry::Occupied(_) => return Err(format!("{key} registered twice")),
                    }
                }
            }
            Event::ResourcesTransferred(t) => {
                for handover in &t.handovers {
                    for key in &handover.resources {
                        let owner = self.owners.get_mut(&key.to_string());
                        match owner {
                            Some(owner) if *owner == t.from => *owner = handover.to,
                            other => {
                                return Err(format!(
                                    "{key} moved from {} but its owner was {other:?}",
                                    t.from
                                ))
                            }
                        }
                    }
                }
            }
            Event::CreditsAddedToPool(c) => {
                self.pool = add(self.pool, c.amount)?;
                self.added = add(self.added, c.amount)?;
            }
            Event::CreditsGranted(c) => {
                self.debit(CreditAccount::Pool, c.amount)?;
                self.credit(CreditAccount::User { id: c.user }, c.amount)?;
            }
            Event::CreditsUsed(c) => {
                self.debit(CreditAccount::User { id: c.user }, c.amount)?;
                let account = self.credits.entry(c.user).or_default();
                account.used = add(account.used, c.amount)?;
            }
            Event::CreditsTransferred(c) => {
                self.debit(c.from, c.amount)?;
                self.credit(c.to, c.amount)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn debit(&mut self, from: CreditAccount, amount: u64) -> Result<(), String> {
        let slot = match from {
            CreditAccount::Pool => &mut self.pool,
            CreditAccount::User { id } => &mut self.credits.entry(id).or_default().balance,
        };
        *slot = slot
            .checked_sub(amount)
            .ok_or_else(|| format!("{from:?} spends {amount} of {slot}"))?;
        Ok(())
    }

    fn credit(&mut self, to: CreditAccount, amount: u64) -> Result<(), String> {
        let slot = match to {
            CreditAccount::Pool => &mut self.pool,
            CreditAccount::User { id } => &mut self.credits.entry(id).or_default().balance,
        };
        *slot = add(*slot, amount)?;
        Ok(())
    }
}

fn add(a: u64, b: u64) -> Result<u64, String> {
    a.checked_add(b)
        .ok_or_else(|| format!("{a} + {b} overflows"))
}
