//! Profile changes (`UpdateProfile` → `UserProfileChanged`), external ids and user
//! names: every field checked as when the user was added, email, external id and user
//! name unique among listed users, a delete frees them and a restore takes them back.

use offboard::domain::{Command, ProfileChange};
use offboard_events::*;

use super::gwt::{user_actor, Scenario};

fn change(edit: impl FnOnce(&mut ProfileChange)) -> ProfileChange {
    let mut c = ProfileChange::default();
    edit(&mut c);
    c
}

fn update(user: UserId, change: ProfileChange) -> Command {
    Command::UpdateProfile { user, change }
}

/// Given: the owner sets `user`'s external id (blank clears it).
fn set_external_id(s: &mut Scenario, user: UserId, id: &str) {
    let owner = user_actor(s.owner);
    s.run(
        owner,
        update(user, change(|c| c.external_id = Some(id.into()))),
    );
}

fn profile_of(s: &Scenario, user: UserId) -> Profile {
    s.org_state()
        .directory()
        .user(user)
        .unwrap()
        .profile
        .clone()
}

#[test]
fn an_admin_changes_the_fields_named_and_the_others_stay() {
    // Given an admin and a member with a job title
    let mut s = Scenario::new("Acme");
    let adm = s.hire("adm@acme.example", Role::Admin);
    let pat = s.hire("pat@acme.example", Role::Member);
    let before = profile_of(&s, pat);
    // When the admin sets Pat's email and external id
    let events = s.run(
        user_actor(adm),
        update(
            pat,
            change(|c| {
                c.email = Some(" Pat.Kim@acme.example ".into());
                c.external_id = Some("00u1a2b3".into());
            }),
        ),
    );
    // Then one UserProfileChanged carries the whole new profile
    let expected = Profile {
        email: "Pat.Kim@acme.example".into(),
        external_id: Some("00u1a2b3".into()),
        department: None,
        employee_number: None,
        user_name: None,
        ..before
    };
    assert_eq!(
        events,
        vec![Event::UserProfileChanged(UserProfileChanged {
            user_id: pat,
            profile: expected,
        })]
    );
    // And the directory finds Pat by the new email and the external id, not the old email
    let directory = s.org_state().directory();
    assert_eq!(
        directory.user_by_email("pat.kim@acme.example").unwrap().id,
        pat
    );
    assert_eq!(directory.user_by_external_id("00u1a2b3").unwrap().id, pat);
    assert!(directory.user_by_email("pat@acme.example").is_none());
}

#[test]
fn a_blank_title_or_external_id_clears_it() {
    let mut s = Scenario::new("Acme");
    let pat = s.hire("pat@acme.example", Role::Member);
    set_external_id(&mut s, pat, "ext-1");
    set_external_id(&mut s, pat, "  ");
    assert_eq!(profile_of(&s, pat).external_id, None);
    assert!(s
        .org_state()
        .directory()
        .user_by_external_id("ext-1")
        .is_none());
}

#[test]
fn email_and_external_id_are_unique_among_listed_users() {
    // Given Pat with an external id and Ann
    let mut s = Scenario::new("Acme");
    let pat = s.hire("pat@acme.example", Role::Member);
    let ann = s.hire("ann@acme.example", Role::Member);
    let owner = user_actor(s.owner);
    set_external_id(&mut s, pat, "ext-pat");
    // When Ann is given Pat's email (another case) or Pat's external id: refused
    s.when(
        owner.clone(),
        update(ann, change(|c| c.email = Some("PAT@acme.example".into()))),
    )
    .then_error("email_taken");
    s.when(
        owner.clone(),
        update(ann, change(|c| c.external_id = Some("ext-pat".into()))),
    )
    .then_error("external_id_taken");
    // And an external id is case-exact (RFC 7643 `caseExact`): another case is another id
    s.when(
        owner,
        update(ann, change(|c| c.external_id = Some("EXT-PAT".into()))),
    )
    .events();
}

#[test]
fn an_invitation_with_a_taken_external_id_is_refused() {
    let mut s = Scenario::new("Acme");
    let pat = s.hire("pat@acme.example", Role::Member);
    let owner = user_actor(s.owner);
    set_external_id(&mut s, pat, "ext-1");
    let invite = Command::InviteUser {
        user: offboard::domain::NewUser {
            email: "zoe@acme.example".into(),
            first_name: "Zoe".into(),
            last_name: "Ng".into(),
            job_title: None,
            external_id: Some("ext-1".into()),
            department: None,
            employee_number: None,
            user_name: None,
        },
        role: Role::Member,
        manager: None,
        active: true,
    };
    s.when(owner, invite).then_error("external_id_taken");
}

#[test]
fn bad_fields_nothing_to_change_and_missing_authority_are_refused() {
    let mut s = Scenario::new("Acme");
    let pat = s.hire("pat@acme.example", Role::Member);
    let ann = s.hire("ann@acme.example", Role::Member);
    let owner = user_actor(s.owner);
    s.when(
        owner.clone(),
        update(pat, change(|c| c.email = Some("not-an-email".into()))),
    )
    .then_error("invalid_input");
    s.when(
        owner.clone(),
        update(pat, change(|c| c.first_name = Some(" ".into()))),
    )
    .then_error("invalid_input");
    s.when(
        owner.clone(),
        update(pat, change(|c| c.external_id = Some("a\u{200B}b".into()))),
    )
    .then_error("invalid_input");
    s.when(owner, update(pat, ProfileChange::default()))
        .then_error("invalid_state");
    // A member changes nobody else's profile, but may correct their own names
    s.when(
        user_actor(ann),
        update(pat, change(|c| c.last_name = Some("Lee".into()))),
    )
    .then_error("forbidden");
    s.when(
        user_actor(pat),
        update(pat, change(|c| c.last_name = Some("Kim-Lee".into()))),
    )
    .events();
}

/// Given Pat holding `value` (set by `set`), deleted; when Ann takes it meanwhile, then
/// Pat's restore is refused with `code`; once Ann lets it go, the restore brings it back
/// with Pat (`holder` finds who holds it).
fn a_delete_frees_and_a_restore_refuses_while_taken(
    set: fn(&mut Scenario, UserId, &str),
    value: &str,
    code: &str,
    holder: fn(&offboard_projections::Directory, &str) -> Option<UserId>,
) {
    let mut s = Scenario::new("Acme");
    let pat = s.hire("pat@acme.example", Role::Member);
    let ann = s.hire("ann@acme.example", Role::Member);
    let owner = user_actor(s.owner);
    set(&mut s, pat, value);
    s.run(
        owner.clone(),
        Command::DeleteUser {
            user: pat,
            confirm: "CONFIRM".into(),
        },
    );
    set(&mut s, ann, value);
    let restore = Command::RestoreUser {
        user: pat,
        return_ownership: false,
        new_email: None,
        reactivate: false,
    };
    s.when(owner.clone(), restore.clone()).then_error(code);
    set(&mut s, ann, "");
    s.run(owner, restore);
    assert_eq!(holder(s.org_state().directory(), value), Some(pat));
}

#[test]
fn a_delete_frees_the_external_id_and_a_restore_refuses_while_it_is_taken() {
    a_delete_frees_and_a_restore_refuses_while_taken(
        set_external_id,
        "ext-1",
        "external_id_taken",
        |d, x| d.user_by_external_id(x).map(|u| u.id),
    );
}

/// Given: the owner sets `user`'s user name (blank clears it).
fn set_user_name(s: &mut Scenario, user: UserId, name: &str) -> Vec<Event> {
    let owner = user_actor(s.owner);
    s.run(
        owner,
        update(user, change(|c| c.user_name = Some(name.into()))),
    )
}

#[test]
fn a_user_name_is_kept_only_when_it_is_not_the_email() {
    // Given Pat, whose user name is their email
    let mut s = Scenario::new("Acme");
    let pat = s.hire("pat@acme.example", Role::Member);
    assert_eq!(profile_of(&s, pat).user_name(), "pat@acme.example");
    // When the identity provider names Pat "pkim"
    set_user_name(&mut s, pat, " pkim ");
    // Then the profile keeps it beside the email, and the directory finds Pat by it
    assert_eq!(profile_of(&s, pat).user_name, Some("pkim".into()));
    assert_eq!(profile_of(&s, pat).email, "pat@acme.example");
    let directory = s.org_state().directory();
    assert_eq!(directory.user_by_user_name("PKIM").unwrap().id, pat);
    assert!(directory.user_by_user_name("pat@acme.example").is_none());
    // When the user name is set to the email (another case): it is not kept twice
    set_user_name(&mut s, pat, "PAT@acme.example");
    assert_eq!(profile_of(&s, pat).user_name, None);
    assert_eq!(
        s.org_state()
            .directory()
            .user_by_user_name("pat@acme.example")
            .unwrap()
            .id,
        pat
    );
    // And a blank one clears it too: the user name follows the email again
    set_user_name(&mut s, pat, "pkim");
    set_user_name(&mut s, pat, "");
    let owner = user_actor(s.owner);
    s.run(
        owner,
        update(
            pat,
            change(|c| c.email = Some("pat.kim@acme.example".into())),
        ),
    );
    assert_eq!(profile_of(&s, pat).user_name(), "pat.kim@acme.example");
}

#[test]
fn user_names_are_unique_caseless_and_against_emails() {
    // Given Pat named "pkim" and Ann
    let mut s = Scenario::new("Acme");
    let pat = s.hire("pat@acme.example", Role::Member);
    let ann = s.hire("ann@acme.example", Role::Member);
    let owner = user_actor(s.owner);
    set_user_name(&mut s, pat, "pkim");
    // When Ann is named "PKim": refused
    s.when(
        owner.clone(),
        update(ann, change(|c| c.user_name = Some("PKim".into()))),
    )
    .then_error("user_name_taken");
    // And a user name that is another user's email (that user's user name) is refused
    s.when(
        owner.clone(),
        update(
            pat,
            change(|c| c.user_name = Some("ann@acme.example".into())),
        ),
    )
    .then_error("user_name_taken");
    // And a new user may not be named so either
    let invite = Command::InviteUser {
        user: offboard::domain::NewUser {
            email: "zoe@acme.example".into(),
            first_name: "Zoe".into(),
            last_name: "Ng".into(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: Some("pKIM".into()),
        },
        role: Role::Member,
        manager: None,
        active: true,
    };
    s.when(owner, invite).then_error("user_name_taken");
}

#[test]
fn a_delete_frees_the_user_name_and_a_restore_refuses_while_it_is_taken() {
    a_delete_frees_and_a_restore_refuses_while_taken(
        |s, user, name| {
            set_user_name(s, user, name);
        },
        "pkim",
        "user_name_taken",
        |d, name| d.user_by_user_name(name).map(|u| u.id),
    );
}
