//! Changing a user's profile (`user update`, SCIM `PUT`/`PATCH`): email, names, job
//! title and external id, each checked as when the user was added (R2), the email and
//! the external id unique among listed users.

use offboard_events::{Event, Profile, UserId, UserProfileChanged};

use super::authority::Scope;
use super::command::ProfileChange;
use super::error::{Decided, DomainError};
use super::validate;

/// Replaces the fields `change` names; refuses a change that changes nothing
/// (`invalid_state`), so a typo'd no-op is not recorded as a change.
pub fn update(scope: Scope, user: UserId, change: &ProfileChange) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    // People may correct their own names; anyone else needs authority over them (R4).
    if scope.ctx.actor.user_id() == Some(user) {
        scope.actor()?;
    } else {
        scope.may_change(target)?;
    }
    let profile = changed(&target.profile, change)?;
    let directory = scope.org.directory();
    if let Some(holder) = directory.user_by_email(&profile.email) {
        if holder.id != user {
            return Err(DomainError::EmailTaken(profile.email));
        }
    }
    if let Some(external) = &profile.external_id {
        if let Some(holder) = directory.user_by_external_id(external) {
            if holder.id != user {
                return Err(DomainError::ExternalIdTaken(external.clone()));
            }
        }
    }
    if profile == target.profile {
        return Err(DomainError::InvalidState(
            "the profile already reads so: nothing to change".to_owned(),
        ));
    }
    Ok(vec![UserProfileChanged {
        user_id: user,
        profile,
    }
    .into()])
}

/// `current` with the fields of `change` validated and put in.
fn changed(current: &Profile, change: &ProfileChange) -> Decided<Profile> {
    let mut next = current.clone();
    if let Some(email) = &change.email {
        next.email = validate::email(email)?;
    }
    if let Some(first) = &change.first_name {
        next.first_name = validate::required_text("first name", first)?;
    }
    if let Some(last) = &change.last_name {
        next.last_name = validate::required_text("last name", last)?;
    }
    if let Some(title) = &change.job_title {
        next.job_title = validate::optional_text("job title", Some(title))?;
    }
    if let Some(external) = &change.external_id {
        next.external_id = validate::optional_text("external id", Some(external))?;
    }
    Ok(next)
}
