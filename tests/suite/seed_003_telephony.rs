//! Seed 003 (telephony CRM): the guided delete. The plan shows how many leads the user
//! has and every workflow automation and integration they are part of, with the
//! suggested distribution once they are removed; the admin reassigns the leads to one
//! active user, keeps or edits each suggestion (a sole member needs a replacement),
//! replaces the user in shared labels, and types CONFIRM.

use std::collections::BTreeMap;

use offboard::domain::{plan, Command, DomainError, OffboardPlan, Recipients, Strategy};
use offboard_events::*;

use super::gwt::{keys, user_actor, Scenario};

struct Telecrm {
    s: Scenario,
    /// The admin running the guided delete.
    ari: UserId,
    /// The leaving user: five leads, three distributions, three labels.
    lou: UserId,
    /// Receives the leads.
    xen: UserId,
    bo: UserId,
    cy: UserId,
    ana: UserId,
}

fn m(user: UserId, weight: u32) -> Member {
    Member { user, weight }
}

/// Given: lou owns five leads; is in the automation "Hot leads" (lou 2, bo 1, cy 1), the
/// integrations "Website form" (lou 1, bo 1, cy 1) and "Inbound calls" (lou 3, bo 3,
/// cy 4); and in the shared labels "VIP" (with ana), "Spanish" (with xen) and
/// "Follow-up" (with bo).
fn telecrm() -> Telecrm {
    let mut s = Scenario::new("Telecrm");
    let ari = s.hire("ari@telecrm.example", Role::Admin);
    let lou = s.hire("lou@telecrm.example", Role::Member);
    let xen = s.hire("xen@telecrm.example", Role::Member);
    let bo = s.hire("bo@telecrm.example", Role::Member);
    let cy = s.hire("cy@telecrm.example", Role::Member);
    let ana = s.hire("ana@telecrm.example", Role::Member);
    s.own(lou, keys("lead", 0..5));
    let by = user_actor(ari);
    for (name, kind, members) in [
        (
            "Hot leads",
            DistributionKind::Automation,
            vec![m(lou, 2), m(bo, 1), m(cy, 1)],
        ),
        (
            "Website form",
            DistributionKind::Integration,
            vec![m(lou, 1), m(bo, 1), m(cy, 1)],
        ),
        (
            "Inbound calls",
            DistributionKind::Integration,
            vec![m(lou, 3), m(bo, 3), m(cy, 4)],
        ),
    ] {
        s.run(
            by.clone(),
            Command::CreateDistribution {
                name: name.into(),
                kind,
                members,
                backup: None,
            },
        );
    }
    for (name, other) in [("VIP", ana), ("Spanish", xen), ("Follow-up", bo)] {
        s.run(
            by.clone(),
            Command::CreateLabel {
                name: name.into(),
                members: vec![lou, other],
            },
        );
    }
    Telecrm {
        s,
        ari,
        lou,
        xen,
        bo,
        cy,
        ana,
    }
}

/// The guided plan: leads to xen, "Hot leads" edited to bo 1 / cy 3, the integrations as
/// suggested, xen replaces lou in "VIP" and "Spanish", "Follow-up" just loses lou.
fn guided_plan(t: &Telecrm) -> OffboardPlan {
    OffboardPlan {
        resources: BTreeMap::from([(
            "lead".to_owned(),
            Recipients {
                to: vec![t.xen],
                strategy: Strategy::RoundRobin,
            },
        )]),
        distributions: BTreeMap::from([("Hot leads".to_owned(), vec![m(t.bo, 1), m(t.cy, 3)])]),
        labels: BTreeMap::from([("VIP".to_owned(), t.xen), ("Spanish".to_owned(), t.xen)]),
        ..OffboardPlan::default()
    }
}

fn guided_delete(user: UserId, plan: OffboardPlan, confirm: Option<&str>) -> Command {
    Command::Offboard {
        user,
        plan,
        then: FollowUp::Delete,
        confirm: confirm.map(str::to_owned),
    }
}

#[test]
fn the_plan_shows_the_lead_count_and_every_distribution_with_its_suggested_rebalance() {
    let t = telecrm();
    let (lou, bo, cy) = (t.lou, t.bo, t.cy);
    let p = plan(t.s.org_state(), lou).unwrap();
    assert_eq!(p.resources, BTreeMap::from([("lead".to_owned(), 5)]));
    let places: Vec<_> = p
        .distributions
        .iter()
        .map(|d| {
            (
                d.name.as_str(),
                d.kind,
                d.members.clone(),
                d.member,
                d.backup,
                d.suggested.clone(),
                d.replacement_required,
            )
        })
        .collect();
    assert_eq!(
        places,
        vec![
            // 4 over bo 1 + cy 1: 2 each.
            (
                "Hot leads",
                DistributionKind::Automation,
                vec![m(lou, 2), m(bo, 1), m(cy, 1)],
                true,
                false,
                Some(vec![m(bo, 2), m(cy, 2)]),
                false,
            ),
            // 10 over bo 3 + cy 4: 4.29 and 5.71, the spare unit to the larger fraction.
            (
                "Inbound calls",
                DistributionKind::Integration,
                vec![m(lou, 3), m(bo, 3), m(cy, 4)],
                true,
                false,
                Some(vec![m(bo, 4), m(cy, 6)]),
                false,
            ),
            // 3 over bo 1 + cy 1: 1.5 each, the tie to the member listed first.
            (
                "Website form",
                DistributionKind::Integration,
                vec![m(lou, 1), m(bo, 1), m(cy, 1)],
                true,
                false,
                Some(vec![m(bo, 2), m(cy, 1)]),
                false,
            ),
        ]
    );
    assert_eq!(p.labels.len(), 3);
    assert!(p.blockers.delete.iter().any(|b| b.code == "owns_resources"
        && b.subject.as_deref() == Some("lead")
        && b.count == 5));
}

#[test]
fn a_tie_goes_to_the_member_listed_first() {
    let mut t = telecrm();
    let (lou, bo, cy) = (t.lou, t.bo, t.cy);
    t.s.run(
        user_actor(t.ari),
        Command::CreateDistribution {
            name: "Callbacks".into(),
            kind: DistributionKind::Automation,
            members: vec![m(lou, 1), m(cy, 1), m(bo, 1)],
            backup: None,
        },
    );
    let p = plan(t.s.org_state(), lou).unwrap();
    let callbacks = p
        .distributions
        .iter()
        .find(|d| d.name == "Callbacks")
        .unwrap();
    assert_eq!(callbacks.suggested, Some(vec![m(cy, 2), m(bo, 1)]));
}

#[test]
fn the_guided_delete_reassigns_leads_rebalances_replaces_labels_and_deletes_in_one_step() {
    let t = telecrm();
    let (lou, xen, bo, cy, ana) = (t.lou, t.xen, t.bo, t.cy, t.ana);
    let command = guided_delete(lou, guided_plan(&t), Some("CONFIRM"));
    let org = t.s.org_state();
    let mut rebalances: Vec<(DistributionId, Vec<Member>, Vec<Member>)> = vec![
        (
            "Hot leads",
            vec![m(lou, 2), m(bo, 1), m(cy, 1)],
            vec![m(bo, 1), m(cy, 3)], // edited
        ),
        (
            "Website form",
            vec![m(lou, 1), m(bo, 1), m(cy, 1)],
            vec![m(bo, 2), m(cy, 1)], // suggested
        ),
        (
            "Inbound calls",
            vec![m(lou, 3), m(bo, 3), m(cy, 4)],
            vec![m(bo, 4), m(cy, 6)], // suggested
        ),
    ]
    .into_iter()
    .map(|(name, before, after)| (org.distributions().by_name(name).unwrap().id, before, after))
    .collect();
    rebalances.sort_by_key(|r| r.0);
    let mut labels: Vec<(LabelId, Option<UserId>)> = [("VIP", Some(xen)), ("Spanish", None)]
        .into_iter()
        .chain([("Follow-up", None)])
        .map(|(name, added)| (org.labels().by_name(name).unwrap().id, added))
        .collect();
    labels.sort_by_key(|l| l.0);

    let mut expected: Vec<Event> = vec![
        OffboardingStarted {
            user: lou,
            operation: OffboardingOperation::Offboard,
            then: FollowUp::Delete,
        }
        .into(),
        ResourcesTransferred {
            from: lou,
            handovers: vec![Handover {
                to: xen,
                resources: keys("lead", 0..5),
            }],
            reason: TransferReason::Offboarding,
        }
        .into(),
    ];
    for (distribution_id, before, after) in rebalances {
        expected.push(
            DistributionRebalanced {
                distribution_id,
                before,
                after,
            }
            .into(),
        );
    }
    for (label_id, added) in labels {
        expected.push(
            LabelMemberRemoved {
                label_id,
                user: lou,
            }
            .into(),
        );
        if let Some(user) = added {
            expected.push(LabelMemberAdded { label_id, user }.into());
        }
    }
    expected.push(UserDeleted { user_id: lou }.into());
    expected.push(
        OffboardingCompleted {
            user: lou,
            resources_moved: 5,
        }
        .into(),
    );

    let mut s = t.s;
    s.when(user_actor(t.ari), command.clone())
        .then_events(expected);
    s.run(user_actor(t.ari), command);

    let org = s.org_state();
    assert_eq!(s.status(lou), UserStatus::Deleted);
    assert_eq!(
        org.ownership().resources_of(xen, Some("lead")),
        keys("lead", 0..5)
    );
    let members = |name: &str| org.distributions().by_name(name).unwrap().members.clone();
    assert_eq!(members("Hot leads"), vec![m(bo, 1), m(cy, 3)]);
    assert_eq!(members("Website form"), vec![m(bo, 2), m(cy, 1)]);
    assert_eq!(members("Inbound calls"), vec![m(bo, 4), m(cy, 6)]);
    let label = |name: &str| {
        org.labels()
            .by_name(name)
            .unwrap()
            .members
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(label("VIP"), [ana, xen].into());
    assert_eq!(label("Spanish"), [xen].into());
    assert_eq!(label("Follow-up"), [bo].into());
}

#[test]
fn a_wrong_or_missing_phrase_decides_nothing() {
    let mut t = telecrm();
    let plan = guided_plan(&t);
    let before = t.s.state.to_checkpoint_bytes();
    for phrase in [None, Some(""), Some("confirm"), Some("DELETE")] {
        let error =
            t.s.when(
                user_actor(t.ari),
                guided_delete(t.lou, plan.clone(), phrase),
            )
            .then_error("confirmation_required");
        assert_eq!(
            error,
            DomainError::ConfirmationRequired {
                expected: "CONFIRM".into()
            }
        );
    }
    assert_eq!(t.s.state.to_checkpoint_bytes(), before);
    assert_eq!(t.s.status(t.lou), UserStatus::Active);
    assert_eq!(t.s.org_state().ownership().total_owned(t.lou), 5);
}

#[test]
fn a_sole_member_needs_a_replacement_and_the_plan_can_name_one() {
    let mut t = telecrm();
    let (lou, ana) = (t.lou, t.ana);
    t.s.run(
        user_actor(t.ari),
        Command::CreateDistribution {
            name: "Night shift".into(),
            kind: DistributionKind::Automation,
            members: vec![m(lou, 3)],
            backup: None,
        },
    );
    let p = plan(t.s.org_state(), lou).unwrap();
    let night = p
        .distributions
        .iter()
        .find(|d| d.name == "Night shift")
        .unwrap();
    assert_eq!(
        (night.suggested.clone(), night.replacement_required),
        (None, true)
    );
    assert!(p
        .blockers
        .delete
        .iter()
        .any(|b| b.code == "sole_member" && b.subject.as_deref() == Some("Night shift")));

    let mut plan = guided_plan(&t);
    t.s.when(
        user_actor(t.ari),
        guided_delete(lou, plan.clone(), Some("CONFIRM")),
    )
    .then_error("replacement_required");
    // Plain delete lists it as a blocker.
    let error =
        t.s.when(
            user_actor(t.ari),
            Command::DeleteUser {
                user: lou,
                confirm: "CONFIRM".into(),
            },
        )
        .then_error("owns_resources");
    assert!(error
        .blockers()
        .iter()
        .any(|b| b.code == "sole_member" && b.count == 1));

    plan.distributions
        .insert("Night shift".to_owned(), vec![m(ana, 3)]);
    let events =
        t.s.run(user_actor(t.ari), guided_delete(lou, plan, Some("CONFIRM")));
    let night_id =
        t.s.org_state()
            .distributions()
            .by_name("Night shift")
            .unwrap()
            .id;
    assert!(events.contains(
        &DistributionRebalanced {
            distribution_id: night_id,
            before: vec![m(lou, 3)],
            after: vec![m(ana, 3)],
        }
        .into()
    ));
    assert_eq!(t.s.status(lou), UserStatus::Deleted);
}

#[test]
fn an_edited_distribution_must_keep_its_total_and_leave_the_user_out() {
    let mut t = telecrm();
    let (lou, bo, cy, xen) = (t.lou, t.bo, t.cy, t.xen);
    for (edited, why) in [
        (
            vec![m(bo, 2), m(cy, 3)],
            "\"Hot leads\": weights must add up to 4 as before, not 5",
        ),
        (
            vec![m(bo, 1), m(cy, 1)],
            "\"Hot leads\": weights must add up to 4 as before, not 2",
        ),
        (
            vec![m(lou, 1), m(bo, 1), m(cy, 2)],
            "\"Hot leads\" still lists the user who is leaving",
        ),
        (
            vec![m(bo, 0), m(cy, 4)],
            "\"Hot leads\": weights must be positive",
        ),
        (
            vec![m(bo, 2), m(bo, 2)],
            "\"Hot leads\" lists a member twice",
        ),
    ] {
        let mut plan = guided_plan(&t);
        plan.distributions.insert("Hot leads".to_owned(), edited);
        let error =
            t.s.when(user_actor(t.ari), guided_delete(lou, plan, Some("CONFIRM")))
                .then_error("invalid_input");
        assert!(error.to_string().contains(why), "{error}");
    }
    // Members must be active users.
    t.s.run(user_actor(t.ari), Command::DeactivateUser { user: xen });
    let mut plan = guided_plan(&t);
    plan.resources.clear();
    plan.labels.clear();
    plan.default_to = Some(bo);
    plan.distributions
        .insert("Hot leads".to_owned(), vec![m(xen, 2), m(cy, 2)]);
    let error =
        t.s.when(user_actor(t.ari), guided_delete(lou, plan, Some("CONFIRM")))
            .then_error("invalid_input");
    assert!(
        error
            .to_string()
            .contains("xen@telecrm.example is deactivated"),
        "{error}"
    );
}

#[test]
fn leads_go_only_to_an_active_user() {
    let mut t = telecrm();
    let mut plan = guided_plan(&t);
    plan.resources.get_mut("lead").unwrap().to = vec![t.lou];
    let error =
        t.s.when(
            user_actor(t.ari),
            guided_delete(t.lou, plan, Some("CONFIRM")),
        )
        .then_error("invalid_input");
    assert!(error.to_string().contains("their own owner"), "{error}");
    t.s.run(user_actor(t.ari), Command::DeactivateUser { user: t.xen });
    let error =
        t.s.when(
            user_actor(t.ari),
            guided_delete(t.lou, guided_plan(&t), Some("CONFIRM")),
        )
        .then_error("invalid_input");
    assert!(
        error
            .to_string()
            .contains("xen@telecrm.example is deactivated"),
        "{error}"
    );
}

#[test]
fn leads_left_without_a_recipient_block_the_delete() {
    let mut t = telecrm();
    let mut plan = guided_plan(&t);
    plan.resources.clear();
    let error =
        t.s.when(
            user_actor(t.ari),
            guided_delete(t.lou, plan, Some("CONFIRM")),
        )
        .then_error("owns_resources");
    let blockers: Vec<_> = error
        .blockers()
        .iter()
        .map(|b| (b.code, b.subject.as_deref(), b.count))
        .collect();
    assert_eq!(blockers, vec![("owns_resources", Some("lead"), 5)]);
}

#[test]
fn plan_entries_match_names_in_any_case_and_unknown_names_are_refused() {
    let Telecrm {
        mut s,
        ari,
        lou,
        xen,
        bo,
        cy,
        ..
    } = telecrm();
    let base = OffboardPlan {
        resources: BTreeMap::from([(
            "lead".to_owned(),
            Recipients {
                to: vec![xen],
                strategy: Strategy::RoundRobin,
            },
        )]),
        ..OffboardPlan::default()
    };
    let offboard = |plan: OffboardPlan| Command::Offboard {
        user: lou,
        plan,
        then: FollowUp::None,
        confirm: None,
    };

    // "hot LEADS" is "Hot leads": the admin's edit is used, not the suggestion.
    let mut edited = base.clone();
    edited
        .distributions
        .insert("hot LEADS".into(), vec![m(bo, 3), m(cy, 1)]);
    let events = s.when(user_actor(ari), offboard(edited)).events();
    assert!(events.iter().any(
        |e| matches!(e, Event::DistributionRebalanced(r) if r.after == vec![m(bo, 3), m(cy, 1)])
    ));

    for plan in [
        OffboardPlan {
            distributions: BTreeMap::from([("Cold leads".to_owned(), vec![m(bo, 4)])]),
            ..base.clone()
        },
        OffboardPlan {
            labels: BTreeMap::from([("Gold".to_owned(), bo)]),
            ..base.clone()
        },
        OffboardPlan {
            duties: BTreeMap::from([("billing_contact".to_owned(), bo)]),
            ..base.clone()
        },
    ] {
        s.when(user_actor(ari), offboard(plan))
            .then_error("invalid_input");
    }
}
