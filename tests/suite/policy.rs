//! The org's policy: a change names only the fields it changes, and the domain applies it
//! to the policy in force when it decides, so two changes of different fields never undo
//! each other (a change read-modify-written by a client could).

use offboard::domain::{Command, PolicyChange};
use offboard_events::*;

use super::gwt::{user_actor, Scenario};

#[test]
fn a_change_keeps_the_fields_it_does_not_name_as_they_are_when_it_is_decided() {
    // Given: the retention was cut to 7 days.
    let mut s = Scenario::new("Acme");
    let owner = user_actor(s.owner);
    s.run(
        owner.clone(),
        Command::SetPolicy(PolicyChange {
            retention_days: Some(7),
            ..PolicyChange::default()
        }),
    );
    // When: another change names only the confirmation phrase.
    let change = Command::SetPolicy(PolicyChange {
        confirmation_phrase: Some("ERASE".into()),
        ..PolicyChange::default()
    });
    // Then: the policy has both, and the rest as before.
    s.when(owner, change).then_events(vec![PolicyChanged {
        policy: Policy {
            retention_days: 7,
            confirmation_phrase: "ERASE".into(),
            ..Policy::default()
        },
    }
    .into()]);
}

#[test]
fn only_the_owner_changes_the_policy_and_never_to_no_retention() {
    let mut s = Scenario::new("Acme");
    let admin = s.hire("adm@acme.example", Role::Admin);
    let zero = || {
        Command::SetPolicy(PolicyChange {
            retention_days: Some(0),
            ..PolicyChange::default()
        })
    };
    s.when(
        user_actor(admin),
        Command::SetPolicy(PolicyChange::default()),
    )
    .then_error("forbidden");
    s.when(user_actor(s.owner), zero())
        .then_error("invalid_input");
}

#[test]
fn a_change_that_names_nothing_or_changes_nothing_is_refused_and_appends_nothing() {
    // Given: the retention was cut to 7 days.
    let mut s = Scenario::new("Acme");
    let owner = user_actor(s.owner);
    let seven = || {
        Command::SetPolicy(PolicyChange {
            retention_days: Some(7),
            ..PolicyChange::default()
        })
    };
    s.run(owner.clone(), seven());
    // When: a change names no field (`POST /v1/org/policy {}`), Then: invalid_input.
    s.when(owner.clone(), Command::SetPolicy(PolicyChange::default()))
        .then_error("invalid_input");
    // When: a change names the value in force, Then: invalid_state, nothing to change.
    s.when(owner, seven()).then_error("invalid_state");
}
