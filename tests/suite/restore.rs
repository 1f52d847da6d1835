//! Issue 5 rules (R12, R13), Given/When/Then: restore within the window with everything
//! the deleting offboarding moved away, skip what moved again, email reuse, revert of an
//! offboarding that did not delete, purge and the expiry sweep.

use std::collections::BTreeMap;

use chrono::Duration;
use offboard::domain::{Command, OffboardPlan, Recipients, Strategy};
use offboard_events::*;
use offboard_projections::OrgState;

use super::gwt::{key, keys, user_actor, Scenario};

struct Office {
    s: Scenario,
    leaving: UserId,
    ann: UserId,
    bob: UserId,
    cid: UserId,
}

/// Given: a leaver with 9 buyers, 2 leads, a duty, a place in an automation and a label,
/// 5 unused credits and one report; three colleagues.
fn office() -> Office {
    let mut s = Scenario::new("Office");
    let leaving = s.hire("lee@office.example", Role::Manager);
    let ann = s.hire("ann@office.example", Role::Member);
    let bob = s.hire("bob@office.example", Role::Member);
    let cid = s.hire("cid@office.example", Role::Member);
    let report = s.hire("ray@office.example", Role::Member);
    let owner = user_actor(s.owner);
    s.run(
        owner.clone(),
        Command::SetManager {
            user: report,
            manager: Some(leaving),
        },
    );
    s.own(leaving, keys("buyer", 0..9));
    s.own(leaving, keys("lead", 0..2));
    s.run(
        owner.clone(),
        Command::AssignDuty {
            duty: "billing_contact".into(),
            to: leaving,
        },
    );
    s.run(
        owner.clone(),
        Command::CreateDistribution {
            name: "Inbound".into(),
            kind: DistributionKind::Automation,
            members: vec![
                Member {
                    user: leaving,
                    weight: 2,
                },
                Member {
                    user: ann,
                    weight: 1,
                },
                Member {
                    user: bob,
                    weight: 1,
                },
            ],
            backup: None,
        },
    );
    s.run(
        owner.clone(),
        Command::CreateLabel {
            name: "VIP".into(),
            members: vec![leaving, cid],
        },
    );
    s.run(owner.clone(), Command::AddCreditsToPool { amount: 20 });
    s.run(
        owner,
        Command::GrantCredits {
            user: leaving,
            amount: 5,
        },
    );
    Office {
        s,
        leaving,
        ann,
        bob,
        cid,
    }
}

/// The accidental delete: buyers to three colleagues, the rest to ann, credits to the pool.
fn delete_everything(o: &mut Office) -> Vec<Event> {
    let plan = OffboardPlan {
        resources: BTreeMap::from([(
            "buyer".to_owned(),
            Recipients {
                to: vec![o.ann, o.bob, o.cid],
                strategy: Strategy::RoundRobin,
            },
        )]),
        default_to: Some(o.ann),
        labels: BTreeMap::from([("VIP".to_owned(), o.bob)]),
        credits_to: Some(CreditAccount::Pool),
        ..OffboardPlan::default()
    };
    let owner = user_actor(o.s.owner);
    o.s.run(
        owner,
        Command::Offboard {
            user: o.leaving,
            plan,
            then: FollowUp::Delete,
            confirm: Some("CONFIRM".into()),
        },
    )
}

/// Everything a restore must bring back, as comparable bytes.
fn views(org: &OrgState, user: UserId) -> String {
    let users: Vec<_> = org.directory().users().collect();
    let distributions: Vec<_> = org.distributions().all().collect();
    let labels: Vec<_> = org.labels().all().collect();
    let duties: Vec<_> = org.duties().all().collect();
    serde_json::json!({
        "ownership": org.ownership().list(None, None),
        "users": users,
        "distributions": distributions,
        "labels": labels,
        "duties": duties,
        "credits": [org.credits().pool(), org.credits().balance(user)],
    })
    .to_string()
}

fn restore(user: UserId) -> Command {
    Command::RestoreUser {
        user,
        return_ownership: true,
        new_email: None,
        reactivate: true,
    }
}

#[test]
fn restore_with_return_ownership_gives_back_everything_the_delete_moved() {
    let mut o = office();
    let before = views(o.s.org_state(), o.leaving);
    delete_everything(&mut o);
    assert_eq!(o.s.status(o.leaving), UserStatus::Deleted);
    assert_eq!(o.s.owner_of("buyer:00000"), Some(o.ann));
    assert_eq!(o.s.owner_of("buyer:00001"), Some(o.bob));
    assert_eq!(o.s.owner_of("buyer:00002"), Some(o.cid));
    let log_before_restore = o.s.log.len();

    let events = o.s.run(user_actor(o.s.owner), restore(o.leaving));
    assert_eq!(
        views(o.s.org_state(), o.leaving),
        before,
        "every view is as it was before the offboarding"
    );
    let Some(Event::OffboardingReverted(reverted)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(reverted.skipped, vec![]);
    // 11 resources, 1 report, 1 duty, 1 distribution place, 1 label place, 1 credit move.
    assert_eq!(reverted.returned, 16);
    assert!(o.s.log.len() > log_before_restore, "the log only grew");
}

#[test]
fn without_reactivate_the_user_comes_back_deactivated_with_role_manager_and_groups() {
    let mut o = office();
    let owner = user_actor(o.s.owner);
    o.s.run(
        owner.clone(),
        Command::CreateGroup {
            name: "north".into(),
            owner: o.ann,
        },
    );
    o.s.run(
        owner.clone(),
        Command::JoinGroup {
            group: "north".into(),
            user: o.cid,
        },
    );
    o.s.run(
        owner.clone(),
        Command::SetManager {
            user: o.cid,
            manager: Some(o.bob),
        },
    );
    o.s.run(
        owner.clone(),
        Command::DeleteUser {
            user: o.cid,
            confirm: "CONFIRM".into(),
        }
        .clone(),
    );
    let events = o.s.run(
        owner,
        Command::RestoreUser {
            user: o.cid,
            return_ownership: false,
            new_email: None,
            reactivate: false,
        },
    );
    assert_eq!(
        events,
        vec![Event::from(UserRestored {
            user_id: o.cid,
            status: UserStatus::Deactivated
        })]
    );
    let cid = o.s.org_state().directory().user(o.cid).unwrap().clone();
    assert_eq!(cid.status, UserStatus::Deactivated);
    assert_eq!(cid.manager, Some(o.bob));
    assert!(cid.groups.contains(&key("group:north")));
    assert_eq!(cid.role, Role::Member);
}

#[test]
fn a_resource_moved_again_after_the_delete_is_skipped_and_reported() {
    let mut o = office();
    delete_everything(&mut o);
    let owner = user_actor(o.s.owner);
    o.s.run(
        owner.clone(),
        Command::TransferResources {
            from: o.bob,
            resources: vec![key("buyer:00001")],
            to: o.cid,
        },
    );
    let events = o.s.run(owner, restore(o.leaving));
    assert_eq!(
        o.s.owner_of("buyer:00001"),
        Some(o.cid),
        "later work is not overwritten"
    );
    assert_eq!(o.s.owner_of("buyer:00004"), Some(o.leaving));
    let Some(Event::OffboardingReverted(reverted)) = events.last() else {
        panic!()
    };
    assert_eq!(reverted.skipped.len(), 1);
    assert_eq!(reverted.skipped[0].item, "buyer:00001");
    assert!(
        reverted.skipped[0]
            .reason
            .contains("now owned by cid@office.example"),
        "{:?}",
        reverted.skipped
    );
}

#[test]
fn restore_after_the_email_was_reused_needs_a_new_email() {
    let mut o = office();
    delete_everything(&mut o);
    o.s.hire("lee@office.example", Role::Member);
    let owner = user_actor(o.s.owner);
    o.s.when(owner.clone(), restore(o.leaving))
        .then_error("email_taken");
    let command = Command::RestoreUser {
        user: o.leaving,
        return_ownership: false,
        new_email: Some("lee.2@office.example".into()),
        reactivate: false,
    };
    o.s.run(owner, command);
    let user = o.s.org_state().directory().user(o.leaving).unwrap();
    assert_eq!(user.profile.email, "lee.2@office.example");
    assert_eq!(user.profile.first_name, "lee", "names kept");
}

#[test]
fn the_restore_window_is_the_policy_s_retention_days() {
    let mut o = office();
    delete_everything(&mut o);
    o.s.advance(Duration::days(29));
    o.s.when(user_actor(o.s.owner), restore(o.leaving)).events();
    o.s.advance(Duration::days(2));
    let e =
        o.s.when(user_actor(o.s.owner), restore(o.leaving))
            .then_error("restore_window_expired");
    assert!(e.to_string().contains("30 days"), "{e}");
}

#[test]
fn support_serving_the_org_may_restore_others_may_not() {
    let mut o = office();
    delete_everything(&mut o);
    let sam = Actor::Support { name: "sam".into() };
    o.s.when(sam.clone(), restore(o.leaving))
        .then_error("forbidden");
    o.s.when(user_actor(o.ann), restore(o.leaving))
        .then_error("forbidden");
    o.s.when(
        Actor::Auditor {
            name: "audra".into(),
        },
        restore(o.leaving),
    )
    .then_error("forbidden");
    o.s.run(
        user_actor(o.s.owner),
        Command::RegisterPrincipal {
            kind: PrincipalKind::Support,
            name: "sam".into(),
        },
    );
    o.s.run(sam, restore(o.leaving));
    assert_eq!(o.s.status(o.leaving), UserStatus::Active);
}

#[test]
fn only_deleted_users_are_restored() {
    let mut o = office();
    o.s.when(user_actor(o.s.owner), restore(o.ann))
        .then_error("invalid_state");
}

#[test]
fn revert_gives_back_a_mistaken_transfer_all_buyers_once() {
    let mut o = office();
    let owner = user_actor(o.s.owner);
    let before = views(o.s.org_state(), o.leaving);
    let transfer = Command::TransferAll {
        from: o.leaving,
        kind: "buyer".into(),
        to: vec![o.ann, o.bob],
        strategy: Strategy::Even,
    };
    o.s.run(owner.clone(), transfer);
    let correlation = o.s.log.last().unwrap().correlation_id;
    let events = o.s.run(
        owner.clone(),
        Command::RevertOffboarding {
            correlation_id: correlation,
        },
    );
    assert_eq!(views(o.s.org_state(), o.leaving), before);
    assert!(
        matches!(events.last(), Some(Event::OffboardingReverted(r)) if r.returned == 9 && r.reverted == correlation)
    );
    o.s.when(
        owner.clone(),
        Command::RevertOffboarding {
            correlation_id: correlation,
        },
    )
    .then_error("nothing_to_transfer");
    o.s.when(
        owner,
        Command::RevertOffboarding {
            correlation_id: CorrelationId::new(),
        },
    )
    .then_error("not_found");
}

#[test]
fn revert_gives_back_a_hand_picked_transfer_by_its_correlation_id() {
    let mut o = office();
    let owner = user_actor(o.s.owner);
    let picked = vec![key("buyer:00002"), key("lead:00001")];
    // Given a hand-picked transfer, which is one event without offboarding markers,
    let moved = o.s.run(
        owner.clone(),
        Command::TransferResources {
            from: o.leaving,
            resources: picked.clone(),
            to: o.bob,
        },
    );
    assert!(matches!(moved.as_slice(), [Event::ResourcesTransferred(_)]));
    let correlation = o.s.log.last().unwrap().correlation_id;
    // when it is reverted by its correlation id,
    let events = o.s.run(
        owner,
        Command::RevertOffboarding {
            correlation_id: correlation,
        },
    );
    // then what it moved goes back to the user it was taken from.
    for resource in &picked {
        assert_eq!(o.s.owner_of(&resource.to_string()), Some(o.leaving));
    }
    assert!(
        matches!(events.last(), Some(Event::OffboardingReverted(r)) if r.user == o.leaving && r.returned == 2 && r.reverted == correlation),
        "{events:?}"
    );
}

#[test]
fn revert_of_a_deleting_offboarding_points_to_restore() {
    let mut o = office();
    delete_everything(&mut o);
    let correlation = o.s.log.last().unwrap().correlation_id;
    o.s.when(
        user_actor(o.s.owner),
        Command::RevertOffboarding {
            correlation_id: correlation,
        },
    )
    .then_error("invalid_state");
}

#[test]
fn purge_needs_the_owner_the_phrase_and_a_deleted_user_and_is_final() {
    let mut o = office();
    let owner = user_actor(o.s.owner);
    o.s.when(
        owner.clone(),
        Command::PurgeUser {
            user: o.ann,
            confirm: "CONFIRM".into(),
        },
    )
    .then_error("invalid_state");
    delete_everything(&mut o);
    o.s.when(
        owner.clone(),
        Command::PurgeUser {
            user: o.leaving,
            confirm: "confirm".into(),
        },
    )
    .then_error("confirmation_required");
    o.s.run(
        owner.clone(),
        Command::PurgeUser {
            user: o.leaving,
            confirm: "CONFIRM".into(),
        },
    );
    let user = o.s.org_state().directory().user(o.leaving).unwrap();
    assert_eq!(
        (user.status, user.profile.email.as_str()),
        (UserStatus::Purged, "erased")
    );
    o.s.when(owner.clone(), restore(o.leaving))
        .then_error("purged");
    o.s.when(
        owner,
        Command::PurgeUser {
            user: o.leaving,
            confirm: "CONFIRM".into(),
        },
    )
    .then_error("purged");
}

#[test]
fn purge_expired_purges_exactly_the_users_past_the_window() {
    let mut o = office();
    let owner = user_actor(o.s.owner);
    o.s.run(
        owner.clone(),
        Command::DeleteUser {
            user: o.cid,
            confirm: "CONFIRM".into(),
        },
    );
    o.s.advance(Duration::days(20));
    o.s.run(
        owner.clone(),
        Command::DeleteUser {
            user: o.bob,
            confirm: "CONFIRM".into(),
        }
        .clone(),
    );
    o.s.advance(Duration::days(11));
    o.s.when(Actor::System, Command::PurgeExpired)
        .then_events(vec![UserPurged { user_id: o.cid }.into()]);
    o.s.when(user_actor(o.ann), Command::PurgeExpired)
        .then_error("forbidden");
}

#[test]
fn a_restored_user_whose_manager_left_meanwhile_comes_back_without_one() {
    let mut o = office();
    let owner = user_actor(o.s.owner);
    o.s.run(
        owner.clone(),
        Command::SetManager {
            user: o.cid,
            manager: Some(o.bob),
        },
    );
    o.s.run(
        owner.clone(),
        Command::DeleteUser {
            user: o.cid,
            confirm: "CONFIRM".into(),
        },
    );
    o.s.run(
        owner.clone(),
        Command::DeleteUser {
            user: o.bob,
            confirm: "CONFIRM".into(),
        },
    );
    o.s.when(
        owner,
        Command::RestoreUser {
            user: o.cid,
            return_ownership: false,
            new_email: None,
            reactivate: true,
        },
    )
    .then_events(vec![
        UserRestored {
            user_id: o.cid,
            status: UserStatus::Active,
        }
        .into(),
        UserManagerChanged {
            user_id: o.cid,
            from: Some(o.bob),
            to: None,
        }
        .into(),
    ]);
}

#[test]
fn credits_go_back_only_to_a_user_restored_as_active() {
    let mut o = office();
    delete_everything(&mut o);
    let owner = user_actor(o.s.owner);
    let deactivated = Command::RestoreUser {
        user: o.leaving,
        return_ownership: true,
        new_email: None,
        reactivate: false,
    };
    let events = o.s.when(owner, deactivated).events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::CreditsTransferred(_))),
        "{events:?}"
    );
    let Some(Event::OffboardingReverted(r)) = events.last() else {
        panic!()
    };
    assert_eq!(r.skipped.len(), 1);
    assert!(
        r.skipped[0].reason.contains("deactivated"),
        "{:?}",
        r.skipped
    );
}

#[test]
fn revert_skips_a_report_who_now_sits_above_the_user() {
    let mut o = office();
    let owner = user_actor(o.s.owner);
    let ray = o.s.user("ray@office.example");
    let transfer = Command::TransferAccount {
        from: o.leaving,
        to: o.ann,
        then: FollowUp::None,
        confirm: None,
    };
    o.s.run(owner.clone(), transfer);
    let correlation = o.s.log.last().unwrap().correlation_id;
    // Meanwhile the leaver is put under Ray, their former report.
    o.s.run(
        owner.clone(),
        Command::SetManager {
            user: o.leaving,
            manager: Some(ray),
        },
    );
    let events = o.s.run(
        owner,
        Command::RevertOffboarding {
            correlation_id: correlation,
        },
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::UserManagerChanged(m) if m.user_id == ray)),
        "{events:?}"
    );
    let Some(Event::OffboardingReverted(r)) = events.last() else {
        panic!()
    };
    assert!(
        r.skipped
            .iter()
            .any(|s| s.item == "report:ray@office.example" && s.reason.contains("loop")),
        "{:?}",
        r.skipped
    );
    assert_eq!(
        o.s.org_state().directory().user(ray).unwrap().manager,
        Some(o.ann)
    );
}

#[test]
fn revert_skips_a_distribution_that_would_bring_back_a_member_who_is_gone() {
    // Given: the leaver's offboarding left Inbound to bob alone (ann dropped with them),
    let mut o = office();
    let owner = user_actor(o.s.owner);
    let plan = OffboardPlan {
        distributions: BTreeMap::from([(
            "Inbound".to_owned(),
            vec![Member {
                user: o.bob,
                weight: 4,
            }],
        )]),
        default_to: Some(o.cid),
        ..OffboardPlan::default()
    };
    o.s.run(
        owner.clone(),
        Command::Offboard {
            user: o.leaving,
            plan,
            then: FollowUp::None,
            confirm: None,
        },
    );
    let correlation = o.s.log.last().unwrap().correlation_id;
    // and ann was deleted since,
    o.s.run(
        owner.clone(),
        Command::DeleteUser {
            user: o.ann,
            confirm: "CONFIRM".into(),
        },
    );
    // When: the offboarding is reverted,
    let events = o.s.run(
        owner,
        Command::RevertOffboarding {
            correlation_id: correlation,
        },
    );
    // Then: Inbound stays bob's, reported as skipped naming ann (a property test found
    // the deleted colleague given her place back), and the rest comes back.
    let inbound =
        o.s.org_state()
            .distributions()
            .all()
            .find(|d| d.name == "Inbound")
            .unwrap()
            .clone();
    assert_eq!(
        inbound.members,
        vec![Member {
            user: o.bob,
            weight: 4
        }]
    );
    let Some(Event::OffboardingReverted(reverted)) = events.last() else {
        panic!("{events:?}");
    };
    assert!(
        reverted
            .skipped
            .iter()
            .any(|s| s.item == "distribution:Inbound" && s.reason.contains("ann@office.example")),
        "{:?}",
        reverted.skipped
    );
    assert!(reverted.returned >= 11, "{reverted:?}");
}
