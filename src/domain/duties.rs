//! Singleton duties (R17): one holder each; reassigning names the previous holder.

use offboard_events::{DutyAssigned, Event, Role, UserId};

use super::authority::Scope;
use super::error::{Decided, DomainError};
use super::validate;

/// `duty` is held by `to` from now on (managers and above assign duties).
pub fn assign(scope: Scope, duty: &str, to: UserId) -> Decided<Vec<Event>> {
    scope.require_role(Role::Manager)?;
    let duty = validate::identifier("duty", duty)?;
    scope.recipient(to)?;
    let previous = scope.org.duties().holder(&duty);
    if previous == Some(to) {
        return Err(DomainError::InvalidState(format!(
            "the user already holds {duty}"
        )));
    }
    Ok(vec![DutyAssigned {
        duty,
        holder: to,
        previous,
    }
    .into()])
}
