//! Finding the users a wire command names ([`UserRef`]: an id or an email) in the
//! organization it is decided in. The HTTP API's commands are resolved here by the
//! writer, against the very state it decides them on; the server's and console's
//! readers use the same lookup (`server::refs`), so both answer alike.

use offboard_events::{UserId, UserStatus};
use offboard_projections::OrgState;

use super::naming::{Lookup, UserRef};
use super::{Command, Decided, DomainError};

impl UserRef {
    /// The user this names in `org`. An id is passed on as it is (deciding answers
    /// `not_found` for a stranger); an email must match a listed user, or with
    /// `deleted_too` a deleted one (the most recently deleted, for restore and purge).
    ///
    /// Errors: `invalid_input` when the text is neither a UUID nor contains `@`;
    /// `not_found` (`user EMAIL not found`) when no such user is there.
    pub fn lookup(&self, org: &OrgState, deleted_too: bool) -> Decided<UserId> {
        let text = self.0.trim();
        if let Ok(id) = text.parse::<UserId>() {
            return Ok(id);
        }
        if !text.contains('@') {
            return Err(DomainError::InvalidInput(format!(
                "{text:?} is neither a user id nor an email"
            )));
        }
        if let Some(user) = org.directory().user_by_email(text) {
            return Ok(user.id);
        }
        if deleted_too {
            let deleted = org
                .directory()
                .users()
                .filter(|u| u.status == UserStatus::Deleted)
                .filter(|u| offboard_projections::text::same_text(&u.profile.email, text))
                .max_by_key(|u| u.deleted_at.map(|(position, _)| position));
            if let Some(user) = deleted {
                return Ok(user.id);
            }
        }
        Err(DomainError::NotFound(format!("user {text}")))
    }
}

/// `command` with every user it names found in `org`: a deleted one only where the
/// command acts on one (restore and purge), or anywhere with `deleted_too` (a retry,
/// whose first attempt may have deleted the user it names). Stops at the first user not
/// found.
pub fn resolve_in(
    org: &OrgState,
    command: Command<UserRef>,
    deleted_too: bool,
) -> Decided<Command> {
    command.resolve(|user, lookup| user.lookup(org, deleted_too || lookup == Lookup::DeletedToo))
}
