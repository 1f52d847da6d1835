//! Seed 002 (mortgage-broker CRM): deleting a user allocates all their work — deals,
//! contacts, tasks, notes — to one user; disabling keeps everything under their name
//! and can be undone; disabled users are still billed, deleted ones are not; and only
//! the organization owner disables or deletes (an org with no admins: brokers and
//! processors are plain members).

use offboard::domain::{Command, NewUser, OffboardPlan};
use offboard_events::*;

use super::gwt::{keys, user_actor, Scenario};

struct Brokerage {
    s: Scenario,
    /// A broker who stays and takes the work over.
    bri: UserId,
    /// A processor (assistant).
    pia: UserId,
    /// The leaving broker: 3 deals, 2 contacts, 2 tasks, 2 notes.
    leo: UserId,
}

/// Given: the owner, two brokers and a processor, all members; no admin.
fn brokerage() -> Brokerage {
    let mut s = Scenario::new("Salestrekker");
    let bri = s.hire("bri@salestrekker.example", Role::Member);
    let pia = s.hire("pia@salestrekker.example", Role::Member);
    let leo = s.hire("leo@salestrekker.example", Role::Member);
    s.own(leo, keys("deal", 0..3));
    s.own(leo, keys("contact", 0..2));
    s.own(leo, keys("task", 0..2));
    s.own(leo, keys("note", 0..2));
    Brokerage { s, bri, pia, leo }
}

/// Everything leo owns, in the order a transfer deals it: by kind, then by key.
fn leos_work() -> Vec<ResourceKey> {
    let mut all = keys("contact", 0..2);
    all.extend(keys("deal", 0..3));
    all.extend(keys("note", 0..2));
    all.extend(keys("task", 0..2));
    all
}

fn delete_allocating_to(user: UserId, to: UserId) -> Command {
    Command::Offboard {
        user,
        plan: OffboardPlan {
            default_to: Some(to),
            ..OffboardPlan::default()
        },
        then: FollowUp::Delete,
        confirm: Some("CONFIRM".into()),
    }
}

#[test]
fn delete_without_allocating_the_work_is_refused_with_counts_by_kind() {
    let Brokerage { mut s, leo, .. } = brokerage();
    let error = s
        .when(
            user_actor(s.owner),
            Command::DeleteUser {
                user: leo,
                confirm: "CONFIRM".into(),
            },
        )
        .then_error("owns_resources");
    let blockers: Vec<_> = error
        .blockers()
        .iter()
        .map(|b| (b.subject.as_deref(), b.count, b.message.as_str()))
        .collect();
    assert_eq!(
        blockers,
        vec![
            (Some("contact"), 2, "owns 2 contacts"),
            (Some("deal"), 3, "owns 3 deals"),
            (Some("note"), 2, "owns 2 notes"),
            (Some("task"), 2, "owns 2 tasks"),
        ]
    );
}

#[test]
fn delete_allocates_deals_contacts_tasks_and_notes_to_one_user() {
    let Brokerage {
        mut s, bri, leo, ..
    } = brokerage();
    let command = delete_allocating_to(leo, bri);
    s.when(user_actor(s.owner), command.clone())
        .then_events(vec![
            OffboardingStarted {
                user: leo,
                operation: OffboardingOperation::Offboard,
                then: FollowUp::Delete,
            }
            .into(),
            ResourcesTransferred {
                from: leo,
                handovers: vec![Handover {
                    to: bri,
                    resources: leos_work(),
                }],
                reason: TransferReason::Offboarding,
            }
            .into(),
            UserDeleted { user_id: leo }.into(),
            OffboardingCompleted {
                user: leo,
                resources_moved: 9,
            }
            .into(),
        ]);
    s.run(user_actor(s.owner), command);
    for k in leos_work() {
        assert_eq!(s.owner_of(k.as_str()), Some(bri), "{k}");
    }
    assert_eq!(s.org_state().ownership().total_owned(leo), 0);
    assert_eq!(s.status(leo), UserStatus::Deleted);
}

#[test]
fn delete_needs_the_confirmation_phrase() {
    let Brokerage {
        mut s, bri, leo, ..
    } = brokerage();
    let Command::Offboard { user, plan, .. } = delete_allocating_to(leo, bri) else {
        unreachable!()
    };
    s.when(
        user_actor(s.owner),
        Command::Offboard {
            user,
            plan,
            then: FollowUp::Delete,
            confirm: None,
        },
    )
    .then_error("confirmation_required");
}

#[test]
fn disable_keeps_every_deal_and_contact_under_the_users_name() {
    let Brokerage { mut s, leo, .. } = brokerage();
    let before = s.org_state().ownership().counts_by_kind(leo);
    s.when(user_actor(s.owner), Command::DeactivateUser { user: leo })
        .then_events(vec![UserDeactivated { user_id: leo }.into()]);
    s.run(user_actor(s.owner), Command::DeactivateUser { user: leo });
    assert_eq!(s.status(leo), UserStatus::Deactivated);
    assert_eq!(s.org_state().ownership().counts_by_kind(leo), before);
    for k in leos_work() {
        assert_eq!(s.owner_of(k.as_str()), Some(leo), "{k}");
    }
    // They lose access.
    s.when(
        user_actor(leo),
        Command::RegisterResources {
            owner: leo,
            resources: keys("deal", 10..11),
        },
    )
    .then_error("forbidden");
}

#[test]
fn a_disabled_user_can_be_enabled_again_and_regains_access() {
    let Brokerage { mut s, leo, .. } = brokerage();
    s.run(user_actor(s.owner), Command::DeactivateUser { user: leo });
    s.when(user_actor(s.owner), Command::ReactivateUser { user: leo })
        .then_events(vec![UserReactivated { user_id: leo }.into()]);
    s.run(user_actor(s.owner), Command::ReactivateUser { user: leo });
    assert_eq!(s.status(leo), UserStatus::Active);
    assert_eq!(s.org_state().ownership().total_owned(leo), 9);
    s.when(
        user_actor(leo),
        Command::RegisterResources {
            owner: leo,
            resources: keys("deal", 10..11),
        },
    )
    .then_events(vec![ResourcesRegistered {
        owner: leo,
        resources: keys("deal", 10..11),
    }
    .into()]);
}

#[test]
fn billed_seats_count_invited_active_and_disabled_users_but_not_deleted_ones() {
    let Brokerage {
        mut s, bri, leo, ..
    } = brokerage();
    let seats = |s: &Scenario| {
        let org = s.org_state();
        assert_eq!(
            org.billing().billed_seats(),
            org.directory().billed_count(),
            "the billing history and the directory agree"
        );
        org.billing().billed_seats()
    };
    assert_eq!(seats(&s), 4, "the owner and three active members");

    s.run(
        user_actor(s.owner),
        Command::InviteUser {
            user: NewUser {
                email: "ina@salestrekker.example".into(),
                first_name: "Ina".into(),
                last_name: "Invited".into(),
                job_title: None,
                external_id: None,
                department: None,
                employee_number: None,
                user_name: None,
            },
            role: Role::Member,
            manager: None,
            active: false,
        },
    );
    assert_eq!(
        s.status(s.user("ina@salestrekker.example")),
        UserStatus::Invited
    );
    assert_eq!(seats(&s), 5, "an invited user is billed");

    s.run(user_actor(s.owner), Command::DeactivateUser { user: leo });
    assert_eq!(seats(&s), 5, "a disabled user is still billed");
    let disabled_at = s.state.position();

    s.run(user_actor(s.owner), Command::ReactivateUser { user: leo });
    s.run(user_actor(s.owner), delete_allocating_to(leo, bri));
    assert_eq!(seats(&s), 4, "a deleted user is not billed");
    assert_eq!(
        s.org_state()
            .billing()
            .billed_seats_at_position(disabled_at),
        5,
        "R23: as of the time leo was disabled"
    );
}

#[test]
fn only_the_owner_may_disable_or_delete() {
    let Brokerage {
        mut s,
        bri,
        pia,
        leo,
    } = brokerage();
    for member in [bri, pia] {
        let by = user_actor(member);
        s.when(by.clone(), Command::DeactivateUser { user: leo })
            .then_error("forbidden");
        s.when(by.clone(), delete_allocating_to(leo, bri))
            .then_error("forbidden");
        s.when(
            by,
            Command::DeleteUser {
                user: leo,
                confirm: "CONFIRM".into(),
            },
        )
        .then_error("forbidden");
    }
    s.run(user_actor(s.owner), Command::DeactivateUser { user: leo });
    for member in [bri, pia] {
        s.when(user_actor(member), Command::ReactivateUser { user: leo })
            .then_error("forbidden");
    }
    s.run(user_actor(s.owner), Command::ReactivateUser { user: leo });
    let events = s.run(user_actor(s.owner), delete_allocating_to(leo, pia));
    assert!(events.contains(&UserDeleted { user_id: leo }.into()));
    assert_eq!(s.status(leo), UserStatus::Deleted);
}
