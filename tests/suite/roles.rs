//! R29: every role a person holds on a record (issue 20 §2). A record names users in
//! roles besides its owner (`servicing_specialist`, `watcher`…); a role has one holder
//! per record unless the org declares it multi-holder. Plan, transfers, transfer-account,
//! offboarding plans, delete blockers, the deactivation handover, restore, revert and
//! time travel cover every role, not only ownership.

use offboard::domain::{plan, Command, OffboardPlan, Recipients, Strategy};
use offboard_events::*;

use super::gwt::{key, user_actor, Scenario};

const SPECIALIST: &str = "servicing_specialist";

struct Deals {
    s: Scenario,
    ann: UserId,
    pat: UserId,
    bob: UserId,
}

/// Given: ann owns deals D-1..D-3 and lead L-1; pat is their servicing specialist (and
/// of the lead), and watches D-1.
fn deals() -> Deals {
    let mut s = Scenario::new("Mortgage");
    let ann = s.hire("ann@mortgage.example", Role::Member);
    let pat = s.hire("pat@mortgage.example", Role::Member);
    let bob = s.hire("bob@mortgage.example", Role::Member);
    let mut records = d123();
    records.push(key("lead:L-1"));
    s.own(ann, records.clone());
    set(&mut s, SPECIALIST, pat, records);
    declare(&mut s, "watcher", true);
    set(&mut s, "watcher", pat, vec![key("deal:D-1")]);
    Deals { s, ann, pat, bob }
}

/// Deals D-1, D-2 and D-3.
fn d123() -> Vec<ResourceKey> {
    ["deal:D-1", "deal:D-2", "deal:D-3"].map(key).to_vec()
}

fn set(s: &mut Scenario, role: &str, user: UserId, resources: Vec<ResourceKey>) -> Vec<Event> {
    s.run_by_owner(Command::SetRecordRole {
        role: role.into(),
        user,
        resources,
    })
}

fn declare(s: &mut Scenario, role: &str, multi: bool) {
    s.run_by_owner(Command::DeclareRecordRole {
        role: role.into(),
        multi,
    });
}

fn holders(s: &Scenario, k: &str, role: &str) -> Vec<UserId> {
    let org = s.org_state();
    org.record_roles().holders(org.ownership(), &key(k), role)
}

/// `transfer-account FROM --to TO --then delete`.
fn hand_everything_over_and_delete(from: UserId, to: UserId) -> Command {
    Command::TransferAccount {
        from,
        to,
        then: FollowUp::Delete,
        confirm: Some("CONFIRM".into()),
    }
}

fn to(user: UserId, resources: Vec<ResourceKey>) -> Vec<Handover> {
    vec![Handover {
        to: user,
        resources,
    }]
}

#[test]
fn a_single_holder_role_moves_from_its_holder_and_a_new_one_is_assigned() {
    let Deals {
        mut s, pat, bob, ..
    } = deals();
    let owner = user_actor(s.owner);
    // When: bob is named servicing specialist of D-1 (pat's) and of a record nobody
    // specialises yet. Then: D-1 moves from pat, the other is assigned.
    s.run_by_owner(Command::RegisterResources {
        owner: bob,
        resources: vec![key("deal:D-9")],
    });
    s.when(
        owner,
        Command::SetRecordRole {
            role: SPECIALIST.into(),
            user: bob,
            resources: vec![key("deal:D-1"), key("deal:D-9")],
        },
    )
    .then_events(vec![
        RecordRolesTransferred {
            from: pat,
            role: SPECIALIST.into(),
            handovers: to(bob, vec![key("deal:D-1")]),
            reason: TransferReason::Selected,
        }
        .into(),
        RecordRoleAssigned {
            user: bob,
            role: SPECIALIST.into(),
            resources: vec![key("deal:D-9")],
        }
        .into(),
    ]);
}

#[test]
fn a_multi_holder_role_gains_holders_and_unset_asks_which_when_several_hold_it() {
    let Deals {
        mut s, pat, bob, ..
    } = deals();
    let owner = user_actor(s.owner);
    // When: bob also watches D-1. Then: both watch it.
    set(&mut s, "watcher", bob, vec![key("deal:D-1")]);
    assert_eq!(holders(&s, "deal:D-1", "watcher"), vec![pat, bob]);
    // When: the watcher is unset without a name. Then: refused, naming the count.
    let unset = |user| Command::UnsetRecordRole {
        role: "watcher".into(),
        user,
        resources: vec![key("deal:D-1")],
    };
    s.when(owner.clone(), unset(None))
        .then_error("invalid_input");
    // When: pat stops watching. Then: bob alone watches.
    s.run(owner.clone(), unset(Some(pat)));
    assert_eq!(holders(&s, "deal:D-1", "watcher"), vec![bob]);
    // And: a second unset of pat finds nothing.
    s.when(owner, unset(Some(pat))).then_error("not_found");
}

#[test]
fn role_names_are_identifiers_and_owner_is_not_a_role() {
    let Deals { mut s, bob, .. } = deals();
    let owner = user_actor(s.owner);
    for role in ["owner", "Servicing", "servicing specialist", "", "1st"] {
        s.when(
            owner.clone(),
            Command::SetRecordRole {
                role: role.into(),
                user: bob,
                resources: vec![key("deal:D-1")],
            },
        )
        .then_error("invalid_input");
    }
}

#[test]
fn a_role_needs_a_registered_record_an_active_holder_and_authority() {
    let Deals {
        mut s,
        ann,
        pat,
        bob,
    } = deals();
    let owner = user_actor(s.owner);
    let name = |user, k: &str| Command::SetRecordRole {
        role: "subscriber".into(),
        user,
        resources: vec![key(k)],
    };
    // Not registered: not found.
    s.when(owner.clone(), name(bob, "dashboard:404"))
        .then_error("not_found");
    // A member names roles only on records they own: bob does not own D-1, ann does.
    s.when(user_actor(bob), name(bob, "deal:D-1"))
        .then_error("forbidden");
    s.when(user_actor(ann), name(bob, "deal:D-1")).events();
    // A deactivated user cannot be given a role.
    s.run(owner.clone(), Command::DeactivateUser { user: pat });
    s.when(owner, name(pat, "deal:D-2"))
        .then_error("invalid_input");
}

#[test]
fn a_role_cannot_become_single_holder_while_records_have_several_holders() {
    let Deals { mut s, bob, .. } = deals();
    set(&mut s, "watcher", bob, vec![key("deal:D-1")]);
    let owner = user_actor(s.owner);
    let declare = Command::DeclareRecordRole {
        role: "watcher".into(),
        multi: false,
    };
    s.when(owner.clone(), declare.clone())
        .then_error("invalid_state");
    // A member may not declare roles at all.
    s.when(user_actor(bob), declare).then_error("forbidden");
}

#[test]
fn transfer_by_kind_and_role_moves_only_those_records() {
    let Deals {
        mut s, pat, bob, ..
    } = deals();
    let owner = user_actor(s.owner);
    // When: every deal where pat is servicing specialist goes to bob.
    let events = s
        .when(
            owner,
            Command::TransferRecordRoles {
                from: pat,
                role: SPECIALIST.into(),
                kind: Some("deal".into()),
                to: vec![bob],
                strategy: Strategy::RoundRobin,
            },
        )
        .events();
    // Then: one event between offboarding markers, the lead and the watcher role stay.
    assert_eq!(
        events[1],
        RecordRolesTransferred {
            from: pat,
            role: SPECIALIST.into(),
            handovers: to(bob, d123()),
            reason: TransferReason::AllOfKind,
        }
        .into()
    );
    assert!(matches!(events[0], Event::OffboardingStarted(_)));
    s.apply_outcome(user_actor(s.owner), events);
    assert_eq!(holders(&s, "lead:L-1", SPECIALIST), vec![pat]);
    assert_eq!(holders(&s, "deal:D-2", SPECIALIST), vec![bob]);
    assert_eq!(holders(&s, "deal:D-1", "watcher"), vec![pat]);
}

#[test]
fn plan_lists_the_roles_and_delete_is_blocked_with_counts_per_role() {
    let Deals { mut s, pat, .. } = deals();
    let p = plan(s.org_state(), pat).unwrap();
    assert_eq!(
        p.roles,
        [(SPECIALIST.to_owned(), 4), ("watcher".to_owned(), 1)].into()
    );
    let owner = user_actor(s.owner);
    s.run(owner.clone(), Command::DeactivateUser { user: pat });
    let e = s
        .when(
            owner,
            Command::DeleteUser {
                user: pat,
                confirm: "CONFIRM".into(),
            },
        )
        .then_error("holds_roles");
    let blockers: Vec<(&str, Option<&str>, u64, &str)> = e
        .blockers()
        .iter()
        .map(|b| (b.code, b.subject.as_deref(), b.count, b.message.as_str()))
        .collect();
    assert_eq!(
        blockers,
        [
            (
                "holds_roles",
                Some(SPECIALIST),
                4,
                "is servicing specialist on 4 records"
            ),
            ("holds_roles", Some("watcher"), 1, "is watcher on 1 record"),
        ]
    );
}

#[test]
fn deactivating_a_role_holder_reports_the_roles_per_policy() {
    // warn (default): recorded before the deactivation.
    let Deals { mut s, pat, .. } = deals();
    let owner = user_actor(s.owner);
    let events = s
        .when(owner.clone(), Command::DeactivateUser { user: pat })
        .events();
    let Event::WorkLeftUnattended(left) = &events[0] else {
        panic!("expected WorkLeftUnattended first: {events:?}");
    };
    let subjects: Vec<_> = left
        .items
        .iter()
        .map(|i| (&*i.code, i.subject.as_deref(), i.count))
        .collect();
    assert_eq!(
        subjects,
        [
            ("holds_roles", Some(SPECIALIST), 4),
            ("holds_roles", Some("watcher"), 1)
        ]
    );
    // block: refused with the roles as blockers.
    s.run_by_owner(Command::SetPolicy(offboard::domain::PolicyChange {
        deactivate_handover: Some(HandoverPolicy::Block),
        ..Default::default()
    }));
    s.when(owner, Command::DeactivateUser { user: pat })
        .then_error("holds_roles");
    // And: the plan lists them as unattended.
    assert_eq!(plan(s.org_state(), pat).unwrap().unattended.len(), 2);
}

#[test]
fn transfer_account_moves_every_role_then_delete_succeeds() {
    let Deals {
        mut s, pat, bob, ..
    } = deals();
    let owner = user_actor(s.owner);
    s.run(owner, hand_everything_over_and_delete(pat, bob));
    assert_eq!(s.status(pat), UserStatus::Deleted);
    for k in ["deal:D-1", "deal:D-3", "lead:L-1"] {
        assert_eq!(holders(&s, k, SPECIALIST), vec![bob], "{k}");
    }
    assert_eq!(holders(&s, "deal:D-1", "watcher"), vec![bob]);
}

#[test]
fn an_offboarding_plan_hands_each_role_to_its_recipients() {
    let Deals {
        mut s,
        ann,
        pat,
        bob,
    } = deals();
    let owner = user_actor(s.owner);
    let plan_of = |role: &str| OffboardPlan {
        roles: [(
            role.to_owned(),
            Recipients {
                to: vec![ann, bob],
                strategy: Strategy::Even,
            },
        )]
        .into(),
        ..OffboardPlan::default()
    };
    let offboard = |plan| Command::Offboard {
        user: pat,
        plan,
        then: FollowUp::None,
        confirm: None,
    };
    // A plan naming a role pat does not hold is refused, not ignored.
    s.when(owner.clone(), offboard(plan_of("subscriber")))
        .then_error("invalid_input");
    // The specialist role is dealt out evenly; the watcher role (not in the plan, no
    // default) stays with pat.
    s.run(owner, offboard(plan_of(SPECIALIST)));
    assert_eq!(holders(&s, "deal:D-1", SPECIALIST), vec![ann]);
    assert_eq!(holders(&s, "deal:D-3", SPECIALIST), vec![bob]);
    assert_eq!(holders(&s, "deal:D-1", "watcher"), vec![pat]);
}

#[test]
fn restore_with_ownership_returns_roles_skipping_those_reassigned_since() {
    let Deals {
        mut s,
        ann,
        pat,
        bob,
    } = deals();
    let owner = user_actor(s.owner);
    // Given: pat's roles went to bob with the delete; then D-2's specialist became ann.
    s.run(owner.clone(), hand_everything_over_and_delete(pat, bob));
    set(&mut s, SPECIALIST, ann, vec![key("deal:D-2")]);
    // When: pat is restored with ownership.
    let events = s
        .when(
            owner.clone(),
            Command::RestoreUser {
                user: pat,
                return_ownership: true,
                new_email: None,
                reactivate: true,
            },
        )
        .events();
    let Some(Event::OffboardingReverted(reverted)) = events.last() else {
        panic!("expected OffboardingReverted last: {events:?}");
    };
    // Then: D-2 is skipped with why; every other role comes back.
    assert_eq!(reverted.skipped.len(), 1, "{:?}", reverted.skipped);
    assert_eq!(reverted.skipped[0].item, "deal:D-2 (servicing_specialist)");
    assert_eq!(
        reverted.skipped[0].reason,
        "reassigned since; now held by ann@mortgage.example"
    );
    s.apply_outcome(owner, events);
    assert_eq!(holders(&s, "deal:D-1", SPECIALIST), vec![pat]);
    assert_eq!(holders(&s, "lead:L-1", SPECIALIST), vec![pat]);
    assert_eq!(holders(&s, "deal:D-2", SPECIALIST), vec![ann]);
    assert_eq!(holders(&s, "deal:D-1", "watcher"), vec![pat]);
}

#[test]
fn revert_gives_back_a_role_transfer_once() {
    let Deals {
        mut s, pat, bob, ..
    } = deals();
    let owner = user_actor(s.owner);
    s.run_by_owner(Command::TransferRecordRoles {
        from: pat,
        role: SPECIALIST.into(),
        kind: None,
        to: vec![bob],
        strategy: Strategy::RoundRobin,
    });
    let correlation = s.log.last().unwrap().correlation_id;
    let revert = Command::RevertOffboarding {
        correlation_id: correlation,
    };
    s.run(owner.clone(), revert.clone());
    assert_eq!(holders(&s, "deal:D-3", SPECIALIST), vec![pat]);
    // A second revert has nothing left to give back.
    s.when(owner, revert).then_error("nothing_to_transfer");
}

#[test]
fn time_travel_answers_who_held_a_role_at_a_position() {
    let Deals {
        mut s, pat, bob, ..
    } = deals();
    let before = s.state.position();
    set(&mut s, SPECIALIST, bob, vec![key("deal:D-1")]);
    let org = s.org_state();
    let at = |p| {
        org.record_roles()
            .holders_at(org.ownership(), &key("deal:D-1"), SPECIALIST, p)
    };
    assert_eq!(at(before), vec![pat]);
    assert_eq!(at(s.state.position()), vec![bob]);
    assert_eq!(at(1), Vec::<UserId>::new());
}

#[test]
fn a_retired_record_loses_its_roles_and_blocks_nothing() {
    let Deals {
        mut s, ann, pat, ..
    } = deals();
    s.run(
        user_actor(ann),
        Command::RetireResources {
            resources: vec![key("deal:D-1")],
        },
    );
    assert!(holders(&s, "deal:D-1", SPECIALIST).is_empty());
    assert!(holders(&s, "deal:D-1", "watcher").is_empty());
    let p = plan(s.org_state(), pat).unwrap();
    assert_eq!(p.roles, [(SPECIALIST.to_owned(), 3)].into());
}

#[test]
fn a_sync_batch_sets_each_records_holders_exactly() {
    let Deals {
        mut s,
        ann,
        pat,
        bob,
    } = deals();
    let owner = user_actor(s.owner);
    let wanted = |k: &str, role: &str, holders: Vec<UserId>| offboard::domain::RoleHolders {
        role: role.into(),
        resource: key(k),
        holders,
    };
    // When: the system of record names bob specialist of D-1, nobody of D-2, and ann and
    // bob watchers of D-1.
    let events = s
        .when(
            owner.clone(),
            Command::SyncResources {
                owners: Vec::new(),
                retire: Vec::new(),
                roles: vec![
                    wanted("deal:D-1", SPECIALIST, vec![bob]),
                    wanted("deal:D-2", SPECIALIST, vec![]),
                    wanted("deal:D-1", "watcher", vec![ann, bob]),
                ],
            },
        )
        .events();
    // Then: pat's watch ends, the specialist moves (reason sync), the rest is assigned.
    assert!(events.contains(
        &RecordRolesTransferred {
            from: pat,
            role: SPECIALIST.into(),
            handovers: to(bob, vec![key("deal:D-1")]),
            reason: TransferReason::Sync,
        }
        .into()
    ));
    s.apply_outcome(owner.clone(), events);
    assert_eq!(holders(&s, "deal:D-1", SPECIALIST), vec![bob]);
    assert!(holders(&s, "deal:D-2", SPECIALIST).is_empty());
    let mut watchers = holders(&s, "deal:D-1", "watcher");
    watchers.sort();
    let mut expected = vec![ann, bob];
    expected.sort();
    assert_eq!(watchers, expected);
    // A second identical batch appends nothing; two holders of a single-holder role
    // are refused.
    let again = Command::SyncResources {
        owners: Vec::new(),
        retire: Vec::new(),
        roles: vec![wanted("deal:D-1", SPECIALIST, vec![bob])],
    };
    assert!(s.when(owner.clone(), again).events().is_empty());
    let two = Command::SyncResources {
        owners: Vec::new(),
        retire: Vec::new(),
        roles: vec![wanted("deal:D-3", SPECIALIST, vec![ann, bob])],
    };
    s.when(owner, two).then_error("invalid_input");
}
