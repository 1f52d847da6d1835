//! R1: events of one org never change another org's views, even when they name the
//! other org's users, resources, labels or distributions.

mod support;

use offboard_events::*;
use offboard_projections::State;
use support::*;

fn org_json(state: &State, id: OrgId) -> String {
    serde_json::to_string(state.org(id).expect("org exists")).unwrap()
}

#[test]
fn events_of_org_b_never_change_org_a() {
    let (a, b) = (org(1), org(2));
    let (ann, bea) = (user(10), user(11));
    let label = LabelId(uuid::Uuid::from_u128(5));
    let rotation = DistributionId(uuid::Uuid::from_u128(6));

    let mut log = Log::with_org(a, "Alpha", user(1));
    log.hire(ann, "ann@shared.test", None);
    log.hire(bea, "bea@shared.test", Some(ann));
    log.register(ann, &["buyer:1", "buyer:2"]);
    log.push(LabelCreated {
        label_id: label,
        name: "VIP".into(),
        members: vec![ann],
    });
    log.push(DistributionCreated {
        distribution_id: rotation,
        name: "North".into(),
        kind: DistributionKind::Rotation,
        members: vec![Member {
            user: ann,
            weight: 1,
        }],
        backup: None,
    });
    log.push(CreditsAddedToPool { amount: 10 });
    log.push(CreditsGranted {
        user: ann,
        amount: 10,
    });
    let before = org_json(&log.state(), a);

    // Org B, in the same log, acts on ids that also exist in org A.
    log.org = b;
    log.create_org("Beta", user(2));
    log.hire(ann, "ann@shared.test", None);
    log.push(UserDeleted { user_id: ann });
    log.push(UserManagerChanged {
        user_id: bea,
        from: Some(ann),
        to: None,
    });
    log.transfer(ann, &[(user(2), &["buyer:1"])]);
    log.register(user(2), &["buyer:2"]);
    log.push(LabelMemberRemoved {
        label_id: label,
        user: ann,
    });
    log.push(DistributionRebalanced {
        distribution_id: rotation,
        before: vec![Member {
            user: ann,
            weight: 1,
        }],
        after: vec![],
    });
    log.push(CreditsUsed {
        user: ann,
        amount: 10,
    });
    log.push(OrgOwnershipTransferred {
        from: user(1),
        to: ann,
    });
    log.push(PolicyChanged {
        policy: Policy::default(),
    });

    let state = log.state();
    assert_eq!(org_json(&state, a), before);
    let beta = state.org(b).unwrap();
    assert_eq!(beta.ownership().owner_of(&key("buyer:1")), Some(user(2)));
    assert!(beta.directory().user_by_email("ann@shared.test").is_none());
    let alpha = state.org(a).unwrap();
    assert_eq!(
        alpha
            .directory()
            .user_by_email("ann@shared.test")
            .unwrap()
            .id,
        ann
    );
    assert_eq!(state.org_by_name("beta").unwrap().id(), b);
}
