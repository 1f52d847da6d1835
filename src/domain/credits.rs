//! Credits (R20, seed 004): the org pool, grants, usage (kept as history) and transfers.

use offboard_events::{
    CreditAccount, CreditsAddedToPool, CreditsGranted, CreditsTransferred, CreditsUsed, Event,
    Role, UserId,
};

use super::authority::Scope;
use super::error::{Decided, DomainError};

fn positive(amount: u64) -> Decided<u64> {
    if amount == 0 {
        return Err(DomainError::InvalidInput(
            "the amount must be at least 1".to_owned(),
        ));
    }
    Ok(amount)
}

/// The org bought credits (admins and the owner).
pub fn add_to_pool(scope: Scope, amount: u64) -> Decided<Vec<Event>> {
    scope.require_role(Role::Admin)?;
    Ok(vec![CreditsAddedToPool {
        amount: positive(amount)?,
    }
    .into()])
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
