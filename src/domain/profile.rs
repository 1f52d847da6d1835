//! Changing a user's profile (`user update`, SCIM `PUT`/`PATCH`): email, names, job
//! title, external id, user name, department and employee number, each checked as when
//! the user was added (R2), the email, the external id and the user name unique among
//! listed users.

use offboard_events::{Event, Profile, UserId, UserProfileChanged};
use offboard_projections::{Directory, User};

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
    unique(scope.org.directory(), &profile, Some(user))?;
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

/// Refuses a profile whose email, external id or user name another listed user than
/// `user` holds (`None`: a new user, so any holder).
pub fn unique(directory: &Directory, profile: &Profile, user: Option<UserId>) -> Decided<()> {
    let other = |holder: Option<&User>| holder.is_some_and(|h| Some(h.id) != user);
    if other(directory.user_by_email(&profile.email)) {
        return Err(DomainError::EmailTaken(profile.email.clone()));
    }
    if let Some(external) = &profile.external_id {
        if other(directory.user_by_external_id(external)) {
            return Err(DomainError::ExternalIdTaken(external.clone()));
        }
    }
    let name = profile.user_name();
    if other(directory.user_by_user_name(name)) {
        return Err(DomainError::UserNameTaken(name.to_owned()));
    }
    Ok(())
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
    if let Some(department) = &change.department {
        next.department = validate::optional_text("department", Some(department))?;
    }
    if let Some(number) = &change.employee_number {
        next.employee_number = validate::optional_text("employee number", Some(number))?;
    }
    if let Some(name) = &change.user_name {
        next.user_name = validate::optional_text("user name", Some(name))?;
    }
    Ok(validate::own_user_name(next))
}
