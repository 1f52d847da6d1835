//! R26: deactivation checks what it would break (issue 20 §1). Deactivating the only
//! active member of a distribution, a distribution's backup, a duty holder or the
//! manager of active reports leaves work with nobody; policy `deactivate_handover`
//! records it (`warn`, the default), refuses with every place (`block`) or ignores it
//! (`off`). Distributions skip deactivated members when suggesting a rebalance.

use offboard::domain::{plan, Command, PolicyChange};
use offboard_events::*;

use super::gwt::{user_actor, Scenario};

fn m(user: UserId, weight: u32) -> Member {
    Member { user, weight }
}

struct Leads {
    s: Scenario,
    pat: UserId,
    ann: UserId,
    bob: UserId,
}

/// Given: pat is the only member of the rotation "Website leads", backup of "North"
/// (ann 1, bob 1), the default lead owner, and manages bob (active).
fn leads() -> Leads {
    let mut s = Scenario::new("Leads");
    let pat = s.hire("pat@leads.example", Role::Member);
    let ann = s.hire("ann@leads.example", Role::Member);
    let bob = s.hire("bob@leads.example", Role::Member);
    let owner = user_actor(s.owner);
    distribute(
        &mut s,
        "Website leads",
        DistributionKind::Rotation,
        vec![m(pat, 1)],
        None,
    );
    distribute(
        &mut s,
        "North",
        DistributionKind::Rotation,
        vec![m(ann, 1), m(bob, 1)],
        Some(pat),
    );
    s.run(
        owner.clone(),
        Command::AssignDuty {
            duty: "default_lead_owner".into(),
            to: pat,
        },
    );
    s.run(
        owner,
        Command::SetManager {
            user: bob,
            manager: Some(pat),
        },
    );
    Leads { s, pat, ann, bob }
}

/// Given: the owner creates distribution `name`.
fn distribute(
    s: &mut Scenario,
    name: &str,
    kind: DistributionKind,
    members: Vec<Member>,
    backup: Option<UserId>,
) {
    let owner = user_actor(s.owner);
    s.run(
        owner,
        Command::CreateDistribution {
            name: name.into(),
            kind,
            members,
            backup,
        },
    );
}

fn set_handover(s: &mut Scenario, to: HandoverPolicy) {
    let owner = user_actor(s.owner);
    s.run(
        owner,
        Command::SetPolicy(PolicyChange {
            deactivate_handover: Some(to),
            ..PolicyChange::default()
        }),
    );
}

fn every_gap() -> Vec<UnattendedWork> {
    let item = |code: &str, subject: Option<&str>, count, message: &str| UnattendedWork {
        code: code.into(),
        subject: subject.map(Into::into),
        count,
        message: message.into(),
    };
    vec![
        item(
            "sole_member",
            Some("Website leads"),
            1,
            "is the only active member of \"Website leads\"",
        ),
        item(
            "holds_duty",
            Some("default_lead_owner"),
            1,
            "is the default lead owner",
        ),
        item(
            "distribution_backup",
            Some("North"),
            1,
            "is backup in \"North\"",
        ),
        item("manages_users", None, 1, "manages 1 active user"),
    ]
}

#[test]
fn plan_lists_every_place_a_deactivation_leaves_with_nobody() {
    // Given: the reproduction.
    let Leads { s, pat, .. } = leads();
    // When: the plan is asked for.
    let p = plan(s.org_state(), pat).unwrap();
    // Then: deactivate is not blocked (warn), but every place is listed.
    assert!(
        p.blockers.deactivate.is_empty(),
        "{:?}",
        p.blockers.deactivate
    );
    let codes: Vec<&str> = p.unattended.iter().map(|b| b.code).collect();
    assert_eq!(
        codes,
        [
            "sole_member",
            "holds_duty",
            "distribution_backup",
            "manages_users"
        ]
    );
}

#[test]
fn warn_deactivates_and_records_what_is_left_with_nobody() {
    // Given: the default policy (warn).
    let Leads { mut s, pat, .. } = leads();
    let owner = user_actor(s.owner);
    // When: pat is deactivated. Then: the deactivation goes ahead, recorded first.
    s.when(owner, Command::DeactivateUser { user: pat })
        .then_events(vec![
            WorkLeftUnattended {
                user_id: pat,
                items: every_gap(),
            }
            .into(),
            UserDeactivated { user_id: pat }.into(),
        ]);
}

#[test]
fn block_refuses_with_every_place_and_appends_nothing() {
    // Given: policy block.
    let Leads { mut s, pat, .. } = leads();
    set_handover(&mut s, HandoverPolicy::Block);
    let owner = user_actor(s.owner);
    // When: pat is deactivated. Then: refused, every place a blocker.
    let e = s
        .when(owner, Command::DeactivateUser { user: pat })
        .then_error("sole_member");
    let codes: Vec<&str> = e.blockers().iter().map(|b| b.code).collect();
    assert_eq!(
        codes,
        [
            "sole_member",
            "holds_duty",
            "distribution_backup",
            "manages_users"
        ]
    );
    // And: the plan shows them as deactivate blockers.
    let p = plan(s.org_state(), pat).unwrap();
    assert_eq!(p.blockers.deactivate.len(), 4);
}

#[test]
fn off_deactivates_without_looking() {
    let Leads { mut s, pat, .. } = leads();
    set_handover(&mut s, HandoverPolicy::Off);
    let owner = user_actor(s.owner);
    s.when(owner, Command::DeactivateUser { user: pat })
        .then_events(vec![UserDeactivated { user_id: pat }.into()]);
    assert!(plan(s.org_state(), pat).unwrap().unattended.is_empty());
}

#[test]
fn nothing_is_recorded_when_someone_else_still_receives_the_work() {
    // Given: a user who is one of two active members and holds nothing else.
    let mut s = Scenario::new("Quiet");
    let ann = s.hire("ann@quiet.example", Role::Member);
    let bob = s.hire("bob@quiet.example", Role::Member);
    let owner = user_actor(s.owner);
    distribute(
        &mut s,
        "Inbound",
        DistributionKind::Integration,
        vec![m(ann, 1), m(bob, 1)],
        None,
    );
    // When: ann is deactivated. Then: just the deactivation.
    s.when(owner, Command::DeactivateUser { user: ann })
        .then_events(vec![UserDeactivated { user_id: ann }.into()]);
}

#[test]
fn the_only_active_member_counts_even_beside_deactivated_members() {
    // Given: "North" has ann and bob; bob is deactivated (off, so nothing is recorded).
    let Leads {
        mut s, ann, bob, ..
    } = leads();
    let owner = user_actor(s.owner);
    s.run(
        owner.clone(),
        Command::SetManager {
            user: bob,
            manager: None,
        },
    );
    s.run(owner.clone(), Command::DeactivateUser { user: bob });
    // When: ann's plan is asked for.
    let p = plan(s.org_state(), ann).unwrap();
    // Then: ann is the only active member of "North", and no rebalance onto bob (who
    // receives no work) is suggested: a replacement is required.
    assert_eq!(p.unattended[0].code, "sole_member");
    assert_eq!(p.unattended[0].subject.as_deref(), Some("North"));
    let north = p.distributions.iter().find(|d| d.name == "North").unwrap();
    assert!(north.replacement_required);
    assert_eq!(north.suggested, None);
}

#[test]
fn a_suggested_rebalance_skips_deactivated_members() {
    // Given: "Pool" with ann 2, bob 1, cai 1; cai is deactivated.
    let mut s = Scenario::new("Pool");
    let ann = s.hire("ann@pool.example", Role::Member);
    let bob = s.hire("bob@pool.example", Role::Member);
    let cai = s.hire("cai@pool.example", Role::Member);
    let owner = user_actor(s.owner);
    distribute(
        &mut s,
        "Pool",
        DistributionKind::Rotation,
        vec![m(ann, 2), m(bob, 1), m(cai, 1)],
        None,
    );
    s.run(owner.clone(), Command::DeactivateUser { user: cai });
    // When: ann leaves the distribution with the suggested rebalance.
    let events = s.run(
        owner,
        Command::RemoveDistributionMember {
            distribution: "Pool".into(),
            user: ann,
            members: None,
        },
    );
    // Then: bob alone takes the whole total; cai, who receives no work, is dropped.
    let Event::DistributionRebalanced(r) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(r.after, vec![m(bob, 4)]);
}

#[test]
fn an_offboarding_that_hands_everything_over_deactivates_without_a_record() {
    // Given: pat's places; policy block.
    let Leads {
        mut s, pat, ann, ..
    } = leads();
    set_handover(&mut s, HandoverPolicy::Block);
    let owner = user_actor(s.owner);
    // When: pat's account goes to ann, then deactivate.
    let events = s.run(
        owner,
        Command::TransferAccount {
            from: pat,
            to: ann,
            then: FollowUp::Deactivate,
            confirm: None,
        },
    );
    // Then: deactivated, nothing left with nobody.
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::UserDeactivated(d) if d.user_id == pat)));
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::WorkLeftUnattended(_))));
}

#[test]
fn a_time_zone_must_be_one_the_tz_database_knows() {
    let mut s = Scenario::new("Zones");
    let owner = user_actor(s.owner);
    let change = |tz: &str| {
        Command::SetPolicy(PolicyChange {
            time_zone: Some(tz.into()),
            ..PolicyChange::default()
        })
    };
    s.when(owner.clone(), change("Mars/Olympus"))
        .then_error("invalid_input");
    let events = s.run(owner, change("Europe/Berlin"));
    let Event::PolicyChanged(p) = &events[0] else {
        panic!()
    };
    assert_eq!(p.policy.time_zone, "Europe/Berlin");
}
