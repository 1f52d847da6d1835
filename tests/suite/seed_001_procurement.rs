//! Seed 001 (procurement platform): managers and admins are demoted before they can be
//! deactivated; a deactivated user cannot sign in; delete is refused while the user owns
//! requests, a local group or a supplier list, or manages buyers — all listed at once;
//! "transfer account" hands everything to one colleague, then deactivates, deletes or
//! does nothing; an admin impersonates a deactivated buyer to move their requests; a
//! removed account cannot be reactivated; the Local Group Administrator of the user's
//! group and the user's Local Group Manager may act, other managers may not.

use offboard::domain::Command;
use offboard_events::*;

use super::gwt::{key, keys, user_actor, Scenario};

struct Procurement {
    s: Scenario,
    /// A Panel Administrator (admin).
    ada: UserId,
    /// The leaving Local Group Manager: owns three requests, the local group "east" and
    /// a supplier list, and manages the buyers `bea` and `ben`.
    max: UserId,
    bea: UserId,
    ben: UserId,
    /// The colleague who takes an account over.
    hal: UserId,
    /// A Local Group Administrator (manager) who owns the local group "north".
    lga: UserId,
    /// A buyer in "north" whom nobody manages.
    cat: UserId,
}

/// Given: the procurement org described above; `bea` is also a member of "east".
fn procurement() -> Procurement {
    let mut s = Scenario::new("Procurement");
    let owner = user_actor(s.owner);
    let ada = s.hire("ada@procurement.example", Role::Admin);
    let max = s.hire("max@procurement.example", Role::Manager);
    let bea = s.hire("bea@procurement.example", Role::Member);
    let ben = s.hire("ben@procurement.example", Role::Member);
    let hal = s.hire("hal@procurement.example", Role::Member);
    let lga = s.hire("lga@procurement.example", Role::Manager);
    let cat = s.hire("cat@procurement.example", Role::Member);
    for buyer in [bea, ben] {
        s.run(
            owner.clone(),
            Command::SetManager {
                user: buyer,
                manager: Some(max),
            },
        );
    }
    s.own(max, keys("request", 0..3));
    s.own(max, vec![key("supplier_list:office-supplies")]);
    for (group, group_owner, member) in [("east", max, bea), ("north", lga, cat)] {
        s.run(
            owner.clone(),
            Command::CreateGroup {
                name: group.into(),
                owner: group_owner,
            },
        );
        s.run(
            owner.clone(),
            Command::JoinGroup {
                group: group.into(),
                user: member,
            },
        );
    }
    Procurement {
        s,
        ada,
        max,
        bea,
        ben,
        hal,
        lga,
        cat,
    }
}

/// Given, in addition: `max` holds the billing-contact duty, a place in the "Request
/// routing" automation, a place in the "Purchasing" label, and 20 unused credits.
fn with_duty_place_label_and_credits(p: &mut Procurement) {
    let owner = user_actor(p.s.owner);
    p.s.run(
        owner.clone(),
        Command::AssignDuty {
            duty: "billing_contact".into(),
            to: p.max,
        },
    );
    p.s.run(
        owner.clone(),
        Command::CreateDistribution {
            name: "Request routing".into(),
            kind: DistributionKind::Automation,
            members: vec![
                Member {
                    user: p.max,
                    weight: 2,
                },
                Member {
                    user: p.bea,
                    weight: 1,
                },
            ],
            backup: None,
        },
    );
    p.s.run(
        owner.clone(),
        Command::CreateLabel {
            name: "Purchasing".into(),
            members: vec![p.max, p.cat],
        },
    );
    p.s.run(owner.clone(), Command::AddCreditsToPool { amount: 50 });
    p.s.run(
        owner,
        Command::GrantCredits {
            user: p.max,
            amount: 20,
        },
    );
}

fn deactivate(user: UserId) -> Command {
    Command::DeactivateUser { user }
}

fn delete(user: UserId) -> Command {
    Command::DeleteUser {
        user,
        confirm: "CONFIRM".into(),
    }
}

#[test]
fn managers_and_admins_cannot_be_deactivated_before_demotion() {
    let Procurement {
        mut s, ada, max, ..
    } = procurement();
    let error = s
        .when(user_actor(ada), deactivate(max))
        .then_error("demotion_required");
    let blockers: Vec<_> = error
        .blockers()
        .iter()
        .map(|b| (b.code, b.subject.as_deref(), b.count, b.message.as_str()))
        .collect();
    assert_eq!(
        blockers,
        vec![(
            "demotion_required",
            Some("manager"),
            1,
            "is a manager: demote to member first"
        )]
    );
    let error = s
        .when(user_actor(s.owner), deactivate(ada))
        .then_error("demotion_required");
    assert_eq!(error.blockers().len(), 1);
    assert_eq!(error.blockers()[0].subject.as_deref(), Some("admin"));
    assert_eq!(
        error.blockers()[0].message,
        "is an admin: demote to member first"
    );
}

#[test]
fn after_demotion_to_buyer_a_manager_is_deactivated_and_keeps_everything() {
    let Procurement {
        mut s, ada, max, ..
    } = procurement();
    s.when(
        user_actor(ada),
        Command::ChangeRole {
            user: max,
            role: Role::Member,
        },
    )
    .then_events(vec![UserRoleChanged {
        user_id: max,
        from: Role::Manager,
        to: Role::Member,
    }
    .into()]);
    s.run(
        user_actor(ada),
        Command::ChangeRole {
            user: max,
            role: Role::Member,
        },
    );
    // R26: max still manages two active users; the deactivation records it (warn).
    s.when(user_actor(ada), deactivate(max)).then_events(vec![
        WorkLeftUnattended {
            user_id: max,
            items: vec![UnattendedWork {
                code: "manages_users".into(),
                subject: None,
                count: 2,
                message: "manages 2 active users".into(),
            }],
        }
        .into(),
        UserDeactivated { user_id: max }.into(),
    ]);
    s.run(user_actor(ada), deactivate(max));
    assert_eq!(s.status(max), UserStatus::Deactivated);
    // R8: an inactive account still exists and everything stays theirs.
    assert_eq!(s.owner_of("request:00000"), Some(max));
    assert_eq!(s.owner_of("group:east"), Some(max));
    assert_eq!(s.owner_of("supplier_list:office-supplies"), Some(max));
    assert_eq!(s.org_state().directory().report_count(max), 2);
}

#[test]
fn managers_and_admins_can_be_deleted_without_demotion() {
    let Procurement { mut s, .. } = procurement();
    let mia = s.hire("mia@procurement.example", Role::Manager);
    let ivy = s.hire("ivy@procurement.example", Role::Admin);
    for user in [mia, ivy] {
        s.when(user_actor(s.owner), delete(user)).then_events(vec![
            OffboardingStarted {
                user,
                operation: OffboardingOperation::Delete,
                then: FollowUp::Delete,
            }
            .into(),
            UserDeleted { user_id: user }.into(),
            OffboardingCompleted {
                user,
                resources_moved: 0,
            }
            .into(),
        ]);
    }
}

#[test]
fn a_deactivated_user_cannot_sign_in_so_cannot_act() {
    let Procurement {
        mut s, ada, bea, ..
    } = procurement();
    s.own(bea, keys("request", 10..12));
    let hand_over = Command::TransferResources {
        from: bea,
        resources: keys("request", 10..11),
        to: ada,
    };
    // While active, bea may give away her own request.
    let _accepted = s.when(user_actor(bea), hand_over.clone()).events();
    s.run(user_actor(ada), deactivate(bea));
    s.when(user_actor(bea), hand_over.clone())
        .then_error("forbidden");
    s.when(
        user_actor(bea),
        Command::RegisterResources {
            owner: bea,
            resources: keys("request", 20..21),
        },
    )
    .then_error("forbidden");
    // Reactivated, she can act again.
    s.run(user_actor(ada), Command::ReactivateUser { user: bea });
    let _accepted = s.when(user_actor(bea), hand_over).events();
}

#[test]
fn one_delete_attempt_lists_requests_group_supplier_list_and_managed_users_with_counts() {
    let Procurement {
        mut s, ada, max, ..
    } = procurement();
    let error = s
        .when(user_actor(ada), delete(max))
        .then_error("owns_resources");
    let blockers: Vec<_> = error
        .blockers()
        .iter()
        .map(|b| (b.code, b.subject.as_deref(), b.count, b.message.as_str()))
        .collect();
    assert_eq!(
        blockers,
        vec![
            ("owns_resources", Some("group"), 1, "owns 1 group"),
            ("owns_resources", Some("request"), 3, "owns 3 requests"),
            (
                "owns_resources",
                Some("supplier_list"),
                1,
                "owns 1 supplier list"
            ),
            ("manages_users", None, 2, "manages 2 users"),
        ]
    );
    assert!(
        error.to_string().contains("owns 3 requests")
            && error.to_string().contains("manages 2 users"),
        "{error}"
    );
    assert_eq!(s.status(max), UserStatus::Active);
}

/// The events of `ada` transferring max's whole account to hal, then `then`.
fn transfer_account_events(p: &Procurement, then: FollowUp) -> Vec<Event> {
    let Procurement {
        s,
        max,
        bea,
        ben,
        hal,
        ..
    } = p;
    let (max, hal) = (*max, *hal);
    let routing = s
        .org_state()
        .distributions()
        .by_name("Request routing")
        .unwrap()
        .id;
    let purchasing = s.org_state().labels().by_name("Purchasing").unwrap().id;
    let mut reports = vec![*bea, *ben];
    reports.sort();
    let mut resources = vec![key("group:east")];
    resources.extend(keys("request", 0..3));
    resources.push(key("supplier_list:office-supplies"));
    let mut events: Vec<Event> = vec![
        OffboardingStarted {
            user: max,
            operation: OffboardingOperation::TransferAccount,
            then,
        }
        .into(),
        ResourcesTransferred {
            from: max,
            handovers: vec![Handover { to: hal, resources }],
            reason: TransferReason::Account,
        }
        .into(),
    ];
    for report in reports {
        events.push(
            UserManagerChanged {
                user_id: report,
                from: Some(max),
                to: Some(hal),
            }
            .into(),
        );
    }
    events.extend([
        DutyAssigned {
            duty: "billing_contact".into(),
            holder: hal,
            previous: Some(max),
        }
        .into(),
        DistributionRebalanced {
            distribution_id: routing,
            before: vec![
                Member {
                    user: max,
                    weight: 2,
                },
                Member {
                    user: p.bea,
                    weight: 1,
                },
            ],
            after: vec![
                Member {
                    user: hal,
                    weight: 2,
                },
                Member {
                    user: p.bea,
                    weight: 1,
                },
            ],
        }
        .into(),
        LabelMemberRemoved {
            label_id: purchasing,
            user: max,
        }
        .into(),
        LabelMemberAdded {
            label_id: purchasing,
            user: hal,
        }
        .into(),
        CreditsTransferred {
            from: CreditAccount::User { id: max },
            to: CreditAccount::User { id: hal },
            amount: 20,
        }
        .into(),
        // "All their permissions": hal becomes a manager, max a buyer.
        UserRoleChanged {
            user_id: hal,
            from: Role::Member,
            to: Role::Manager,
        }
        .into(),
        UserRoleChanged {
            user_id: max,
            from: Role::Manager,
            to: Role::Member,
        }
        .into(),
    ]);
    match then {
        FollowUp::None => {}
        FollowUp::Deactivate => events.push(UserDeactivated { user_id: max }.into()),
        FollowUp::Delete => events.push(UserDeleted { user_id: max }.into()),
    }
    events.push(
        OffboardingCompleted {
            user: max,
            resources_moved: 5,
        }
        .into(),
    );
    events
}

/// Then: everything max was responsible for is hal's.
fn assert_everything_moved_to_hal(p: &Procurement) {
    let Procurement {
        s,
        max,
        bea,
        ben,
        hal,
        ..
    } = p;
    let org = s.org_state();
    assert_eq!(org.ownership().total_owned(*max), 0);
    assert_eq!(
        org.ownership().counts_by_kind(*hal),
        [("group", 1), ("request", 3), ("supplier_list", 1)]
            .into_iter()
            .map(|(k, n)| (k.to_owned(), n))
            .collect()
    );
    for buyer in [bea, ben] {
        assert_eq!(org.directory().user(*buyer).unwrap().manager, Some(*hal));
    }
    assert_eq!(org.directory().user(*hal).unwrap().role, Role::Manager);
    assert_eq!(org.directory().user(*max).unwrap().role, Role::Member);
    assert_eq!(org.duties().holder("billing_contact"), Some(*hal));
    let routing = org.distributions().by_name("Request routing").unwrap();
    assert!(routing.has_member(*hal) && !routing.has_member(*max));
    let purchasing = org.labels().by_name("Purchasing").unwrap();
    assert!(purchasing.members.contains(hal) && !purchasing.members.contains(max));
    assert_eq!(org.credits().balance(*max), 0);
    assert_eq!(org.credits().balance(*hal), 20);
    // hal, as owner of "east", now has authority over its member bea (R4).
    assert!(org
        .directory()
        .user(*bea)
        .unwrap()
        .groups
        .contains(&key("group:east")));
}

#[test]
fn transfer_account_then_deactivate_moves_everything_to_one_user() {
    let mut p = procurement();
    with_duty_place_label_and_credits(&mut p);
    let expected = transfer_account_events(&p, FollowUp::Deactivate);
    let by = user_actor(p.ada);
    let command = Command::TransferAccount {
        from: p.max,
        to: p.hal,
        then: FollowUp::Deactivate,
        confirm: None,
    };
    p.s.when(by.clone(), command.clone()).then_events(expected);
    p.s.run(by, command);
    assert_eq!(p.s.status(p.max), UserStatus::Deactivated);
    assert_everything_moved_to_hal(&p);
}

#[test]
fn transfer_account_then_delete_needs_the_confirmation_phrase() {
    let mut p = procurement();
    with_duty_place_label_and_credits(&mut p);
    let by = user_actor(p.ada);
    let command = |confirm: Option<&str>| Command::TransferAccount {
        from: p.max,
        to: p.hal,
        then: FollowUp::Delete,
        confirm: confirm.map(str::to_owned),
    };
    for phrase in [None, Some("confirm"), Some("CONFIRM ")] {
        let error =
            p.s.when(by.clone(), command(phrase))
                .then_error("confirmation_required");
        assert_eq!(
            error,
            offboard::domain::DomainError::ConfirmationRequired {
                expected: "CONFIRM".into()
            }
        );
    }
    let expected = transfer_account_events(&p, FollowUp::Delete);
    let command = command(Some("CONFIRM"));
    p.s.when(by.clone(), command.clone()).then_events(expected);
    p.s.run(by, command);
    assert_eq!(p.s.status(p.max), UserStatus::Deleted);
    assert!(p
        .s
        .org_state()
        .directory()
        .user_by_email("max@procurement.example")
        .is_none());
    assert_everything_moved_to_hal(&p);
}

#[test]
fn transfer_account_then_nothing_leaves_the_account_active() {
    let mut p = procurement();
    with_duty_place_label_and_credits(&mut p);
    let expected = transfer_account_events(&p, FollowUp::None);
    let by = user_actor(p.ada);
    let command = Command::TransferAccount {
        from: p.max,
        to: p.hal,
        then: FollowUp::None,
        confirm: None,
    };
    p.s.when(by.clone(), command.clone()).then_events(expected);
    p.s.run(by, command);
    assert_eq!(p.s.status(p.max), UserStatus::Active);
    assert_everything_moved_to_hal(&p);
    // Now a plain buyer holding nothing, max can be deleted outright.
    let _deleted = p.s.when(user_actor(p.ada), delete(p.max)).events();
}

#[test]
fn an_admin_impersonating_a_deactivated_buyer_moves_their_requests() {
    let Procurement {
        mut s,
        ada,
        bea,
        ben,
        ..
    } = procurement();
    let requests = keys("request", 10..12);
    s.own(bea, requests.clone());
    s.run(user_actor(ada), deactivate(bea));
    s.when(user_actor(ada), delete(bea))
        .then_error("owns_resources");

    let envelopes = s.run_impersonating(
        user_actor(ada),
        bea,
        Command::TransferResources {
            from: bea,
            resources: requests.clone(),
            to: ben,
        },
    );
    let events: Vec<Event> = envelopes.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        events,
        vec![ResourcesTransferred {
            from: bea,
            handovers: vec![Handover {
                to: ben,
                resources: requests.clone(),
            }],
            reason: TransferReason::Selected,
        }
        .into()],
        "a hand-picked transfer is one event, without offboarding markers"
    );
    for envelope in &envelopes {
        assert_eq!(envelope.actor, user_actor(ada), "R6: the admin acted");
        assert_eq!(envelope.on_behalf_of, Some(bea), "R6: for bea");
    }
    let history = s.org_state().owner_history(&requests[0]);
    let last = history.last().unwrap();
    assert_eq!(
        (last.owner, last.previous, &last.actor, last.on_behalf_of),
        (Some(ben), Some(bea), &user_actor(ada), Some(bea))
    );
    // With her requests gone, the buyer can be removed.
    let _deleted = s.when(user_actor(ada), delete(bea)).events();
}

#[test]
fn impersonation_is_only_of_deactivated_users_and_only_by_someone_with_authority() {
    let Procurement {
        mut s,
        ada,
        bea,
        ben,
        ..
    } = procurement();
    s.own(bea, keys("request", 10..11));
    let move_request = Command::TransferResources {
        from: bea,
        resources: keys("request", 10..11),
        to: ben,
    };
    s.when_impersonating(user_actor(ada), bea, move_request.clone())
        .then_error("invalid_input");
    s.run(user_actor(ada), deactivate(bea));
    // A fellow buyer has no authority over bea.
    s.when_impersonating(user_actor(ben), bea, move_request.clone())
        .then_error("forbidden");
    let _accepted = s
        .when_impersonating(user_actor(ada), bea, move_request)
        .events();
}

#[test]
fn a_deleted_user_cannot_be_reactivated() {
    let Procurement {
        mut s, ada, cat, ..
    } = procurement();
    s.run(user_actor(ada), delete(cat));
    let error = s
        .when(user_actor(ada), Command::ReactivateUser { user: cat })
        .then_error("invalid_state");
    assert!(error.to_string().contains("restore"), "{error}");
    s.when(user_actor(ada), deactivate(cat))
        .then_error("not_found");
    // Someone without authority over the user learns nothing about their state.
    let ben = s.user("ben@procurement.example");
    s.when(user_actor(ben), Command::ReactivateUser { user: cat })
        .then_error("forbidden");
}

#[test]
fn the_local_group_administrator_of_the_users_group_may_deactivate_and_delete_them() {
    let Procurement {
        mut s, lga, cat, ..
    } = procurement();
    let by = user_actor(lga);
    s.when(by.clone(), deactivate(cat))
        .then_events(vec![UserDeactivated { user_id: cat }.into()]);
    s.run(by.clone(), deactivate(cat));
    s.when(by.clone(), Command::ReactivateUser { user: cat })
        .then_events(vec![UserReactivated { user_id: cat }.into()]);
    s.when(by, delete(cat)).then_events(vec![
        OffboardingStarted {
            user: cat,
            operation: OffboardingOperation::Delete,
            then: FollowUp::Delete,
        }
        .into(),
        UserDeleted { user_id: cat }.into(),
        OffboardingCompleted {
            user: cat,
            resources_moved: 0,
        }
        .into(),
    ]);
}

#[test]
fn the_local_group_manager_set_to_manage_the_user_may_deactivate_them() {
    let Procurement {
        mut s, max, ben, ..
    } = procurement();
    s.when(user_actor(max), deactivate(ben))
        .then_events(vec![UserDeactivated { user_id: ben }.into()]);
}

#[test]
fn a_manager_who_neither_manages_the_user_nor_owns_their_group_may_not() {
    let Procurement {
        mut s,
        lga,
        max,
        ben,
        hal,
        cat,
        ..
    } = procurement();
    let by = user_actor(lga);
    s.when(by.clone(), deactivate(ben)).then_error("forbidden");
    s.when(by.clone(), delete(ben)).then_error("forbidden");
    s.when(
        by.clone(),
        Command::TransferAccount {
            from: ben,
            to: hal,
            then: FollowUp::Deactivate,
            confirm: None,
        },
    )
    .then_error("forbidden");
    // Nor may max act on cat, in lga's group but not managed by max.
    s.when(user_actor(max), deactivate(cat))
        .then_error("forbidden");
}

#[test]
fn a_manager_cannot_gain_authority_by_pulling_a_stranger_into_their_own_group() {
    let Procurement {
        mut s, lga, ben, ..
    } = procurement();
    let by = user_actor(lga);
    s.when(
        by.clone(),
        Command::JoinGroup {
            group: "north".into(),
            user: ben,
        },
    )
    .then_error("forbidden");
    s.run(
        by.clone(),
        Command::CreateGroup {
            name: "west".into(),
            owner: lga,
        },
    );
    s.when(
        by.clone(),
        Command::JoinGroup {
            group: "west".into(),
            user: ben,
        },
    )
    .then_error("forbidden");
    s.when(by, deactivate(ben)).then_error("forbidden");
}

#[test]
fn transferring_an_account_to_someone_below_a_managed_user_keeps_the_chain_free_of_loops() {
    let Procurement {
        mut s,
        ada,
        max,
        bea,
        ben,
        ..
    } = procurement();
    // max manages bea and ben; bea manages dan; max reports to lga.
    let dan = s.hire("dan@procurement.example", Role::Member);
    let lga = s.user("lga@procurement.example");
    for (user, manager) in [(dan, bea), (max, lga)] {
        s.run(
            user_actor(s.owner),
            Command::SetManager {
                user,
                manager: Some(manager),
            },
        );
    }
    let events = s.run(
        user_actor(ada),
        Command::TransferAccount {
            from: max,
            to: dan,
            then: FollowUp::None,
            confirm: None,
        },
    );
    // ben now reports to dan; bea, above dan, reports to max's own manager.
    for (user, to) in [(bea, lga), (ben, dan)] {
        assert!(
            events.contains(
                &UserManagerChanged {
                    user_id: user,
                    from: Some(max),
                    to: Some(to),
                }
                .into()
            ),
            "{events:?}"
        );
    }
    let directory = s.org_state().directory();
    let manager = |u: UserId| directory.user(u).unwrap().manager;
    assert_eq!(
        (manager(bea), manager(ben), manager(dan)),
        (Some(lga), Some(dan), Some(bea))
    );
}
