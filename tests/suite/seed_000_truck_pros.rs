//! Seed 000 (dealership CRM): a sales manager transfers all buyers of a leaving Truck Pro
//! to two colleagues; deletion is refused while the user is backup in lead rotation or
//! the dealer-trade contact, and succeeds after reassignment; a plain member cannot.

use offboard::domain::{Command, Strategy};
use offboard_events::*;

use super::gwt::{keys, user_actor, Scenario};

struct Dealership {
    s: Scenario,
    manager: UserId,
    leaving: UserId,
    ann: UserId,
    bob: UserId,
}

/// Given: a sales manager, the leaving Truck Pro (managed by them) with ten buyers, two
/// colleagues; the leaver is backup in "North rotation" and the dealer-trade contact.
fn dealership() -> Dealership {
    let mut s = Scenario::new("Truck Pros");
    let manager = s.hire("sam@truckpros.example", Role::Manager);
    let leaving = s.hire("pat@truckpros.example", Role::Member);
    let ann = s.hire("ann@truckpros.example", Role::Member);
    let bob = s.hire("bob@truckpros.example", Role::Member);
    let owner = user_actor(s.owner);
    s.run(
        owner.clone(),
        Command::SetManager {
            user: leaving,
            manager: Some(manager),
        },
    );
    s.own(leaving, keys("buyer", 0..10));
    s.run(
        owner.clone(),
        Command::CreateDistribution {
            name: "North rotation".into(),
            kind: DistributionKind::Rotation,
            members: vec![
                Member {
                    user: ann,
                    weight: 1,
                },
                Member {
                    user: bob,
                    weight: 1,
                },
            ],
            backup: Some(leaving),
        },
    );
    s.run(
        owner,
        Command::AssignDuty {
            duty: "dealer_trade_contact".into(),
            to: leaving,
        },
    );
    Dealership {
        s,
        manager,
        leaving,
        ann,
        bob,
    }
}

#[test]
fn transfer_all_buyers_shares_them_evenly_between_two_colleagues() {
    let Dealership {
        mut s,
        manager,
        leaving,
        ann,
        bob,
    } = dealership();
    let all = keys("buyer", 0..10);
    let (even, odd): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    s.when(
        user_actor(manager),
        Command::TransferAll {
            from: leaving,
            kind: "buyer".into(),
            to: vec![ann, bob],
            strategy: Strategy::RoundRobin,
        },
    )
    .then_events(vec![
        OffboardingStarted {
            user: leaving,
            operation: OffboardingOperation::TransferAll,
            then: FollowUp::None,
        }
        .into(),
        ResourcesTransferred {
            from: leaving,
            handovers: vec![
                Handover {
                    to: ann,
                    resources: even.into_iter().map(|(_, k)| k).collect(),
                },
                Handover {
                    to: bob,
                    resources: odd.into_iter().map(|(_, k)| k).collect(),
                },
            ],
            reason: TransferReason::AllOfKind,
        }
        .into(),
        OffboardingCompleted {
            user: leaving,
            resources_moved: 10,
        }
        .into(),
    ]);
}

#[test]
fn the_even_strategy_splits_in_contiguous_runs() {
    let Dealership {
        mut s,
        manager,
        leaving,
        ann,
        bob,
    } = dealership();
    let carl = s.hire("carl@truckpros.example", Role::Member);
    let events = s
        .when(
            user_actor(manager),
            Command::TransferAll {
                from: leaving,
                kind: "buyer".into(),
                to: vec![ann, bob, carl],
                strategy: Strategy::Even,
            },
        )
        .events();
    let Event::ResourcesTransferred(t) = &events[1] else {
        panic!("{events:?}")
    };
    let all = keys("buyer", 0..10);
    assert_eq!(t.handovers[0].resources, all[0..4]);
    assert_eq!(t.handovers[1].resources, all[4..8]);
    assert_eq!(t.handovers[2].resources, all[8..10]);
}

#[test]
fn a_plain_member_cannot_transfer_or_delete() {
    let Dealership {
        mut s,
        leaving,
        ann,
        bob,
        ..
    } = dealership();
    s.when(
        user_actor(ann),
        Command::TransferAll {
            from: leaving,
            kind: "buyer".into(),
            to: vec![bob],
            strategy: Strategy::RoundRobin,
        },
    )
    .then_error("forbidden");
    s.when(
        user_actor(ann),
        Command::DeleteUser {
            user: leaving,
            confirm: "CONFIRM".into(),
        },
    )
    .then_error("forbidden");
}

#[test]
fn delete_is_refused_while_backup_in_lead_rotation_or_dealer_trade_contact_then_succeeds() {
    let Dealership {
        mut s,
        manager,
        leaving,
        ann,
        bob,
    } = dealership();
    let by = user_actor(manager);
    s.run(
        by.clone(),
        Command::TransferAll {
            from: leaving,
            kind: "buyer".into(),
            to: vec![ann, bob],
            strategy: Strategy::RoundRobin,
        },
    );
    assert_eq!(s.org_state().ownership().total_owned(leaving), 0);

    let refused = s.when(
        by.clone(),
        Command::DeleteUser {
            user: leaving,
            confirm: "CONFIRM".into(),
        },
    );
    let error = refused.then_error("holds_duty");
    let blockers: Vec<(&str, Option<&str>)> = error
        .blockers()
        .iter()
        .map(|b| (b.code, b.subject.as_deref()))
        .collect();
    assert_eq!(
        blockers,
        vec![
            ("holds_duty", Some("dealer_trade_contact")),
            ("distribution_backup", Some("North rotation"))
        ]
    );
    assert!(
        error
            .to_string()
            .contains("is backup in \"North rotation\""),
        "{error}"
    );

    // Reassign both roles, then delete.
    s.run(
        by.clone(),
        Command::SetDistributionBackup {
            distribution: "North rotation".into(),
            backup: Some(bob),
        },
    );
    s.when(
        by.clone(),
        Command::DeleteUser {
            user: leaving,
            confirm: "CONFIRM".into(),
        },
    )
    .then_error("holds_duty");
    s.run(
        by.clone(),
        Command::AssignDuty {
            duty: "dealer_trade_contact".into(),
            to: ann,
        },
    );
    let events = s.run(
        by,
        Command::DeleteUser {
            user: leaving,
            confirm: "CONFIRM".into(),
        },
    );
    assert!(
        events.contains(&UserDeleted { user_id: leaving }.into()),
        "{events:?}"
    );
    assert_eq!(s.status(leaving), UserStatus::Deleted);
    assert!(
        s.org_state()
            .directory()
            .user_by_email("pat@truckpros.example")
            .is_none(),
        "email freed (R11)"
    );
}

#[test]
fn delete_lists_every_blocker_with_counts_when_nothing_was_moved() {
    let Dealership {
        mut s,
        manager,
        leaving,
        ..
    } = dealership();
    s.own(leaving, keys("lead", 0..3));
    let error = s
        .when(
            user_actor(manager),
            Command::DeleteUser {
                user: leaving,
                confirm: "CONFIRM".into(),
            },
        )
        .then_error("owns_resources");
    let messages: Vec<&str> = error
        .blockers()
        .iter()
        .map(|b| b.message.as_str())
        .collect();
    assert_eq!(
        messages,
        vec![
            "owns 10 buyers",
            "owns 3 leads",
            "is the dealer trade contact",
            "is backup in \"North rotation\""
        ]
    );
}

#[test]
fn recipients_must_be_active_colleagues() {
    let Dealership {
        mut s,
        manager,
        leaving,
        ann,
        ..
    } = dealership();
    let by = user_actor(manager);
    let transfer = |to: Vec<UserId>| Command::TransferAll {
        from: leaving,
        kind: "buyer".into(),
        to,
        strategy: Strategy::RoundRobin,
    };
    s.when(by.clone(), transfer(vec![leaving]))
        .then_error("invalid_input");
    s.when(by.clone(), transfer(vec![]))
        .then_error("invalid_input");
    s.when(by.clone(), transfer(vec![ann, ann]))
        .then_error("invalid_input");
    s.run(user_actor(s.owner), Command::DeactivateUser { user: ann });
    s.when(by, transfer(vec![ann])).then_error("invalid_input");
}
