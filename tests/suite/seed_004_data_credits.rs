//! Seed 004 (data-credits product): adding a user needs first name, last name and a
//! valid email that no other user has (job title optional); the active toggle decides
//! whether the user can start at once; credits are assigned only to added users and only
//! from the pool; deactivation needs zero unused credits (move them to the company pool
//! first); deletion only if no credits were ever used; deleting frees the email.

use offboard::domain::{Command, NewUser};
use offboard_events::*;
use uuid::Uuid;

use super::gwt::{user_actor, Scenario};

struct Fleet {
    s: Scenario,
    /// The Account Administrator.
    adm: UserId,
    /// A user with nothing yet.
    uma: UserId,
}

/// Given: an admin and one active user; the pool is empty.
fn fleet() -> Fleet {
    let mut s = Scenario::new("ProsperFleet");
    let adm = s.hire("adm@prosperfleet.example", Role::Admin);
    let uma = s.hire("uma@prosperfleet.example", Role::Member);
    Fleet { s, adm, uma }
}

fn person(email: &str, first: &str, last: &str, title: Option<&str>) -> NewUser {
    NewUser {
        email: email.into(),
        first_name: first.into(),
        last_name: last.into(),
        job_title: title.map(str::to_owned),
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    }
}

fn add(user: NewUser, active: bool) -> Command {
    Command::InviteUser {
        user,
        role: Role::Member,
        manager: None,
        active,
    }
}

fn invited_id(events: &[Event]) -> UserId {
    match &events[0] {
        Event::UserInvited(e) => e.user_id,
        other => panic!("expected UserInvited, got {other:?}"),
    }
}

#[test]
fn first_name_last_name_and_email_are_required() {
    let Fleet { mut s, adm, .. } = fleet();
    for (user, why) in [
        (
            person("vic@prosperfleet.example", "", "Vance", None),
            "first name is required",
        ),
        (
            person("vic@prosperfleet.example", "   ", "Vance", None),
            "first name is required",
        ),
        (
            person("vic@prosperfleet.example", "Vic", "", None),
            "last name is required",
        ),
        (person("", "Vic", "Vance", None), "email is required"),
        (person("  ", "Vic", "Vance", None), "email is required"),
    ] {
        let error = s
            .when(user_actor(adm), add(user, true))
            .then_error("invalid_input");
        assert!(error.to_string().contains(why), "{error}");
    }
}

#[test]
fn malformed_emails_are_refused() {
    let Fleet { mut s, adm, .. } = fleet();
    for email in [
        "vic",
        "vic@",
        "@prosperfleet.example",
        "vic@prosperfleet",
        "vic vance@prosperfleet.example",
        "vic@@prosperfleet.example",
        "vic@prosper@fleet.example",
        "vic@prosperfleet..example",
        "vic@.example",
    ] {
        let error = s
            .when(
                user_actor(adm),
                add(person(email, "Vic", "Vance", None), true),
            )
            .then_error("invalid_input");
        assert!(
            error.to_string().contains("not a valid email address"),
            "{email}: {error}"
        );
    }
}

#[test]
fn an_email_is_the_unique_identifier_in_any_case() {
    let Fleet { mut s, adm, .. } = fleet();
    for email in [
        "uma@prosperfleet.example",
        "UMA@ProsperFleet.Example",
        " Uma@prosperfleet.example ",
    ] {
        s.when(
            user_actor(adm),
            add(person(email, "Other", "Person", None), true),
        )
        .then_error("email_taken");
    }
}

#[test]
fn the_job_title_is_optional() {
    let Fleet { mut s, adm, .. } = fleet();
    let with_title = s
        .when(
            user_actor(adm),
            add(
                person(
                    "vic@prosperfleet.example",
                    " Vic ",
                    "Vance",
                    Some("Fleet buyer"),
                ),
                false,
            ),
        )
        .events();
    assert_eq!(
        with_title,
        vec![UserInvited {
            user_id: invited_id(&with_title),
            profile: Profile {
                email: "vic@prosperfleet.example".into(),
                first_name: "Vic".into(),
                last_name: "Vance".into(),
                job_title: Some("Fleet buyer".into()),
                external_id: None,
                department: None,
                employee_number: None,
                user_name: None,
            },
            role: Role::Member,
            manager: None,
        }
        .into()]
    );
    for title in [None, Some(""), Some("  ")] {
        let events = s
            .when(
                user_actor(adm),
                add(
                    person("vic@prosperfleet.example", "Vic", "Vance", title),
                    false,
                ),
            )
            .events();
        let Event::UserInvited(invited) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(invited.profile.job_title, None, "{title:?}");
    }
}

#[test]
fn the_active_toggle_decides_whether_the_user_can_start() {
    let Fleet { mut s, adm, .. } = fleet();
    let off = s.run(
        user_actor(adm),
        add(
            person("off@prosperfleet.example", "Off", "Toggle", None),
            false,
        ),
    );
    let off_id = invited_id(&off);
    assert_eq!(off.len(), 1, "{off:?}");
    assert_eq!(s.status(off_id), UserStatus::Invited);

    let on = s.run(
        user_actor(adm),
        add(
            person("on@prosperfleet.example", "On", "Toggle", None),
            true,
        ),
    );
    let on_id = invited_id(&on);
    assert_eq!(on[1], UserActivated { user_id: on_id }.into());
    assert_eq!(on.len(), 2);
    assert_eq!(s.status(on_id), UserStatus::Active);

    // Without the toggle the user cannot use the product yet; with it, they can.
    let own_report = |id: UserId| Command::RegisterResources {
        owner: id,
        resources: vec![format!("report:{id}").parse().unwrap()],
    };
    s.when(user_actor(off_id), own_report(off_id))
        .then_error("forbidden");
    let _accepted = s.when(user_actor(on_id), own_report(on_id)).events();

    // Moving the toggle later activates the invited user.
    s.when(user_actor(adm), Command::ActivateUser { user: off_id })
        .then_events(vec![UserActivated { user_id: off_id }.into()]);
}

#[test]
fn credits_are_assigned_only_to_added_users_and_only_from_the_pool() {
    let Fleet {
        mut s, adm, uma, ..
    } = fleet();
    let by = user_actor(adm);
    let stranger = UserId(Uuid::from_u128(0x5742));
    s.when(
        by.clone(),
        Command::GrantCredits {
            user: stranger,
            amount: 5,
        },
    )
    .then_error("not_found");
    // Added but not switched to active: cannot use the product yet.
    let off = s.run(
        by.clone(),
        add(
            person("off@prosperfleet.example", "Off", "Toggle", None),
            false,
        ),
    );
    s.run(by.clone(), Command::AddCreditsToPool { amount: 100 });
    s.when(
        by.clone(),
        Command::GrantCredits {
            user: invited_id(&off),
            amount: 5,
        },
    )
    .then_error("invalid_input");

    s.when(
        by.clone(),
        Command::GrantCredits {
            user: uma,
            amount: 101,
        },
    )
    .then_error("insufficient_credits");
    s.when(
        by.clone(),
        Command::GrantCredits {
            user: uma,
            amount: 40,
        },
    )
    .then_events(vec![CreditsGranted {
        user: uma,
        amount: 40,
    }
    .into()]);
    s.run(
        by.clone(),
        Command::GrantCredits {
            user: uma,
            amount: 40,
        },
    );
    let error = s
        .when(
            by,
            Command::GrantCredits {
                user: uma,
                amount: 61,
            },
        )
        .then_error("insufficient_credits");
    assert_eq!(
        error,
        offboard::domain::DomainError::InsufficientCredits {
            account: "the pool".into(),
            available: 60,
            requested: 61,
        }
    );
    assert_eq!(s.org_state().credits().balance(uma), 40);
    assert_eq!(s.org_state().credits().pool(), 60);
}

#[test]
fn deactivation_needs_zero_unused_credits_so_move_them_to_the_company_pool_first() {
    let Fleet {
        mut s, adm, uma, ..
    } = fleet();
    let by = user_actor(adm);
    s.run(by.clone(), Command::AddCreditsToPool { amount: 100 });
    s.run(
        by.clone(),
        Command::GrantCredits {
            user: uma,
            amount: 40,
        },
    );
    s.run(
        user_actor(uma),
        Command::UseCredits {
            user: uma,
            amount: 15,
        },
    );
    let error = s
        .when(by.clone(), Command::DeactivateUser { user: uma })
        .then_error("credits_balance");
    let blockers: Vec<_> = error
        .blockers()
        .iter()
        .map(|b| (b.code, b.count, b.message.as_str()))
        .collect();
    assert_eq!(
        blockers,
        vec![(
            "credits_balance",
            25,
            "holds 25 unused credits: move them to the pool or a user first"
        )]
    );

    let to_pool = Command::TransferCredits {
        from: CreditAccount::User { id: uma },
        to: CreditAccount::Pool,
        amount: 25,
    };
    s.when(by.clone(), to_pool.clone())
        .then_events(vec![CreditsTransferred {
            from: CreditAccount::User { id: uma },
            to: CreditAccount::Pool,
            amount: 25,
        }
        .into()]);
    s.run(by.clone(), to_pool);
    assert_eq!(s.org_state().credits().balance(uma), 0);
    assert_eq!(s.org_state().credits().pool(), 85);
    s.when(by, Command::DeactivateUser { user: uma })
        .then_events(vec![UserDeactivated { user_id: uma }.into()]);
}

#[test]
fn unused_credits_can_also_move_to_another_user_before_deactivation() {
    let Fleet {
        mut s, adm, uma, ..
    } = fleet();
    let by = user_actor(adm);
    let wes = s.hire("wes@prosperfleet.example", Role::Member);
    s.run(by.clone(), Command::AddCreditsToPool { amount: 10 });
    s.run(
        by.clone(),
        Command::GrantCredits {
            user: uma,
            amount: 10,
        },
    );
    s.run(
        by.clone(),
        Command::TransferCredits {
            from: CreditAccount::User { id: uma },
            to: CreditAccount::User { id: wes },
            amount: 10,
        },
    );
    assert_eq!(s.org_state().credits().balance(wes), 10);
    s.run(by, Command::DeactivateUser { user: uma });
    assert_eq!(s.status(uma), UserStatus::Deactivated);
}

#[test]
fn a_user_who_used_credits_cannot_be_deleted_even_with_a_zero_balance() {
    let Fleet {
        mut s, adm, uma, ..
    } = fleet();
    let by = user_actor(adm);
    s.run(by.clone(), Command::AddCreditsToPool { amount: 10 });
    s.run(
        by.clone(),
        Command::GrantCredits {
            user: uma,
            amount: 10,
        },
    );
    s.run(
        user_actor(uma),
        Command::UseCredits {
            user: uma,
            amount: 10,
        },
    );
    assert_eq!(s.org_state().credits().balance(uma), 0);
    let delete = Command::DeleteUser {
        user: uma,
        confirm: "CONFIRM".into(),
    };
    let error = s
        .when(by.clone(), delete.clone())
        .then_error("credit_history");
    let blockers: Vec<_> = error
        .blockers()
        .iter()
        .map(|b| (b.code, b.count, b.message.as_str()))
        .collect();
    assert_eq!(
        blockers,
        vec![(
            "credit_history",
            10,
            "has used 10 credits (deactivate instead)"
        )]
    );
    // The alternative: deactivate. The email stays taken.
    s.run(by.clone(), Command::DeactivateUser { user: uma });
    s.when(by.clone(), delete).then_error("credit_history");
    s.when(
        by,
        add(
            person("uma@prosperfleet.example", "Uma", "Again", None),
            true,
        ),
    )
    .then_error("email_taken");
}

#[test]
fn deleting_a_user_who_never_used_credits_frees_the_email_for_a_new_user() {
    let Fleet {
        mut s, adm, uma, ..
    } = fleet();
    let by = user_actor(adm);
    let again = || {
        add(
            person("Uma@ProsperFleet.example", "Uma", "Again", None),
            true,
        )
    };
    s.when(by.clone(), again()).then_error("email_taken");
    s.run(
        by.clone(),
        Command::DeleteUser {
            user: uma,
            confirm: "CONFIRM".into(),
        },
    );
    let events = s.run(by, again());
    let new_uma = invited_id(&events);
    assert_ne!(new_uma, uma);
    assert_eq!(s.user("uma@prosperfleet.example"), new_uma);
    assert_eq!(s.status(new_uma), UserStatus::Active);
    assert_eq!(s.status(uma), UserStatus::Deleted);
}
