//! Credits (R20, seed 004): the org pool, grants, usage (kept as history) and transfers.
//!
//! Every figure stays at most [`MAX_CREDITS`] (2^53 − 1; see there why): a command's
//! amount, the org's credits in circulation (pool plus balances) and a user's usage
//! history. Grants and transfers move at most what their source holds, so they keep the
//! circulation; only adding to the pool raises it and only usage grows the history, and
//! those two are checked here, so the projections' arithmetic never overflows.

use offboard_events::{
    CreditAccount, CreditsAddedToPool, CreditsGranted, CreditsTransferred, CreditsUsed, Event,
    Role, UserId,
};

pub use offboard_projections::MAX_CREDITS;

use super::authority::Scope;
use super::error::{Decided, DomainError};

/// A command's amount: 1 to [`MAX_CREDITS`].
fn positive(amount: u64) -> Decided<u64> {
    if amount == 0 {
        return Err(DomainError::InvalidInput(
            "the amount must be at least 1".to_owned(),
        ));
    }
    if amount > MAX_CREDITS {
        return Err(DomainError::InvalidInput(format!(
            "the amount must be at most {MAX_CREDITS} credits, not {amount}"
        )));
    }
    Ok(amount)
}

/// The org bought credits (admins and the owner). Refused with `invalid_input` when the
/// org's credits (pool plus balances) would exceed [`MAX_CREDITS`].
pub fn add_to_pool(scope: Scope, amount: u64) -> Decided<Vec<Event>> {
    scope.require_role(Role::Admin)?;
    let amount = positive(amount)?;
    // `None` (past u64) only for a log decide did not write: refuse all the same.
    let held = scope.org.credits().in_circulation();
    let total = held.and_then(|h| h.checked_add(amount));
    if total.is_none_or(|t| t > MAX_CREDITS) {
        // Headroom for the message: none when the org is at (or past) the maximum.
        let room = held.map_or(0, |h| MAX_CREDITS.saturating_sub(h));
        let held = held.map_or_else(|| "more than that".to_owned(), |h| h.to_string());
        return Err(DomainError::InvalidInput(format!(
            "the pool would exceed the maximum of {MAX_CREDITS} credits: the pool and the \
             balances hold {held}, so at most {room} more can be added"
        )));
    }
    Ok(vec![CreditsAddedToPool { amount }.into()])
}

/// Pool → user ("Assign Credits"; the user must have been added first).
pub fn grant(scope: Scope, user: UserId, amount: u64) -> Decided<Vec<Event>> {
    scope.require_role(Role::Admin)?;
    let amount = positive(amount)?;
    scope.recipient(user)?;
    let pool = scope.org.credits().pool();
    if pool < amount {
        return Err(DomainError::InsufficientCredits {
            account: "the pool".to_owned(),
            available: pool,
            requested: amount,
        });
    }
    Ok(vec![CreditsGranted { user, amount }.into()])
}

/// A user spends credits (themselves, or an admin records it for them).
pub fn use_credits(scope: Scope, user: UserId, amount: u64) -> Decided<Vec<Event>> {
    let actor = scope.actor()?;
    let target = scope.user(user)?;
    if actor.id != user && actor.role < Role::Admin {
        return Err(DomainError::Forbidden(
            "only the user or an admin records credit usage".to_owned(),
        ));
    }
    let amount = positive(amount)?;
    let balance = scope.org.credits().balance(user);
    if balance < amount {
        return Err(DomainError::InsufficientCredits {
            account: target.profile.email.clone(),
            available: balance,
            requested: amount,
        });
    }
    // The history only grows: without this, enough cycles of adding and using would
    // overflow the user's total.
    let used = scope.org.credits().used_total(user);
    if used.checked_add(amount).is_none_or(|t| t > MAX_CREDITS) {
        return Err(DomainError::InvalidInput(format!(
            "{}'s usage history would exceed the maximum of {MAX_CREDITS} credits (used {used})",
            target.profile.email
        )));
    }
    Ok(vec![CreditsUsed { user, amount }.into()])
}

/// Moves credits between the pool and users (seed 004: "move them to your company account").
pub fn transfer(
    scope: Scope,
    from: CreditAccount,
    to: CreditAccount,
    amount: u64,
) -> Decided<Vec<Event>> {
    scope.require_role(Role::Admin)?;
    let amount = positive(amount)?;
    if from == to {
        return Err(DomainError::InvalidInput(
            "credits must move between two different accounts".to_owned(),
        ));
    }
    let available = match from {
        CreditAccount::Pool => scope.org.credits().pool(),
        CreditAccount::User { id } => {
            scope.user(id)?;
            scope.org.credits().balance(id)
        }
    };
    if let CreditAccount::User { id } = to {
        scope.recipient(id)?;
    }
    if available < amount {
        let account = match from {
            CreditAccount::Pool => "the pool".to_owned(),
            CreditAccount::User { id } => format!("user {id}"),
        };
        return Err(DomainError::InsufficientCredits {
            account,
            available,
            requested: amount,
        });
    }
    Ok(vec![CreditsTransferred { from, to, amount }.into()])
}
