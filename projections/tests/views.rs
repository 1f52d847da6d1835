//! Given events, each view answers what DOMAIN.md says it should.

mod support;

use std::collections::BTreeMap;

use offboard_events::*;
use offboard_projections::*;
use support::*;

const OWNER: u128 = 1;

fn truck_pros() -> Log {
    Log::with_org(org(1), "Truck Pros", user(OWNER))
}

fn reports(org: &OrgState, manager: UserId) -> Vec<UserId> {
    org.directory().reports_of(manager).collect()
}

#[test]
fn directory_follows_the_lifecycle() {
    // R7
    let mut log = truck_pros();
    let ann = user(10);
    let invited = log.next_position();
    log.push(UserInvited {
        user_id: ann,
        profile: profile("ann@truck.test"),
        role: Role::Manager,
        manager: Some(user(OWNER)),
    });
    let status = |log: &Log| {
        log.state()
            .org(org(1))
            .unwrap()
            .directory()
            .user(ann)
            .unwrap()
            .status
    };
    assert_eq!(status(&log), UserStatus::Invited);
    log.push(UserActivated { user_id: ann });
    assert_eq!(status(&log), UserStatus::Active);
    log.push(UserDeactivated { user_id: ann });
    assert_eq!(status(&log), UserStatus::Deactivated);
    log.push(UserReactivated { user_id: ann });
    assert_eq!(status(&log), UserStatus::Active);
    log.push(UserDeactivated { user_id: ann });
    let deleted = log.push(UserDeleted { user_id: ann });
    assert_eq!(status(&log), UserStatus::Deleted);
    let state = log.state();
    let user = state.org(org(1)).unwrap().directory().user(ann).unwrap();
    assert_eq!(user.deleted_at, Some((deleted, at(log.minute))));
    assert_eq!(user.created_position, invited);
    assert!(!user.is_listed());

    log.push(UserRestored {
        user_id: ann,
        status: UserStatus::Deactivated,
    });
    let state = log.state();
    let user = state.org(org(1)).unwrap().directory().user(ann).unwrap();
    assert_eq!(
        (user.status, user.deleted_at),
        (UserStatus::Deactivated, None)
    );
    assert_eq!(user.role, Role::Manager);

    log.push(UserDeleted { user_id: ann });
    log.push(UserPurged { user_id: ann });
    // R13: nothing brings a purged user back.
    log.push(UserRestored {
        user_id: ann,
        status: UserStatus::Active,
    });
    let state = log.state();
    let user = state.org(org(1)).unwrap().directory().user(ann).unwrap();
    assert_eq!(user.status, UserStatus::Purged);
    assert_eq!(
        user.profile,
        Profile {
            email: ERASED.into(),
            first_name: ERASED.into(),
            last_name: ERASED.into(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        }
    );
}

#[test]
fn delete_frees_the_email_and_restore_takes_it_back() {
    // R2, R11, R12
    let mut log = truck_pros();
    let (ann, bea) = (user(10), user(11));
    log.hire(ann, "Ann@Truck.test", None);
    let email_owner = |log: &Log, email: &str| {
        let state = log.state();
        let dir = state.org(org(1)).unwrap().directory();
        dir.user_by_email(email).map(|u| u.id)
    };
    assert_eq!(email_owner(&log, "ann@TRUCK.test"), Some(ann));

    log.push(UserDeleted { user_id: ann });
    assert_eq!(email_owner(&log, "ann@truck.test"), None);
    log.hire(bea, "ann@truck.test", None);
    assert_eq!(email_owner(&log, "ann@truck.test"), Some(bea));

    // The restore gives Ann a new email, as R12 requires when hers was taken.
    log.push(UserProfileChanged {
        user_id: ann,
        profile: profile("ann.again@truck.test"),
    });
    assert_eq!(
        email_owner(&log, "ann.again@truck.test"),
        None,
        "still deleted"
    );
    log.push(UserRestored {
        user_id: ann,
        status: UserStatus::Active,
    });
    assert_eq!(email_owner(&log, "ann.again@truck.test"), Some(ann));
    assert_eq!(email_owner(&log, "ann@truck.test"), Some(bea));

    log.push(UserProfileChanged {
        user_id: bea,
        profile: profile("bea@truck.test"),
    });
    assert_eq!(email_owner(&log, "ann@truck.test"), None);
    assert_eq!(email_owner(&log, "bea@truck.test"), Some(bea));
    log.push(UserPurged { user_id: bea });
    assert_eq!(email_owner(&log, "bea@truck.test"), None);
    assert_eq!(email_owner(&log, ERASED), None);
}

#[test]
fn managers_see_only_their_listed_reports() {
    // R10: "manages users"
    let mut log = truck_pros();
    let (boss, ann, bea, cid) = (user(10), user(11), user(12), user(13));
    log.hire(boss, "boss@t.test", None);
    log.hire(ann, "ann@t.test", Some(boss));
    log.hire(bea, "bea@t.test", Some(boss));
    log.hire(cid, "cid@t.test", None);
    let state = log.state();
    let o = state.org(org(1)).unwrap();
    assert_eq!(reports(o, boss), vec![ann, bea]);
    assert_eq!(o.directory().report_count(boss), 2);

    log.push(UserDeleted { user_id: ann });
    log.push(UserManagerChanged {
        user_id: cid,
        from: None,
        to: Some(boss),
    });
    log.push(UserManagerChanged {
        user_id: bea,
        from: Some(boss),
        to: Some(cid),
    });
    let state = log.state();
    let o = state.org(org(1)).unwrap();
    assert_eq!(reports(o, boss), vec![cid]);
    assert_eq!(reports(o, cid), vec![bea]);

    log.push(UserRestored {
        user_id: ann,
        status: UserStatus::Deactivated,
    });
    let state = log.state();
    assert_eq!(reports(state.org(org(1)).unwrap(), boss), vec![ann, cid]);
}

#[test]
fn group_members_follow_joins_leaves_and_deletes() {
    let mut log = truck_pros();
    let (ann, bea) = (user(10), user(11));
    let sales = key("group:sales");
    log.hire(ann, "ann@t.test", None);
    log.hire(bea, "bea@t.test", None);
    for u in [ann, bea] {
        log.push(UserJoinedGroup {
            user_id: u,
            group: sales.clone(),
        });
    }
    log.push(UserLeftGroup {
        user_id: bea,
        group: sales.clone(),
    });
    log.push(UserDeleted { user_id: ann });
    let state = log.state();
    let dir = state.org(org(1)).unwrap().directory();
    assert_eq!(dir.group_members(&sales).count(), 0);
    assert!(
        dir.user(ann).unwrap().groups.contains(&sales),
        "kept for a restore"
    );
    log.push(UserRestored {
        user_id: ann,
        status: UserStatus::Deactivated,
    });
    let state = log.state();
    let dir = state.org(org(1)).unwrap().directory();
    assert_eq!(dir.group_members(&sales).collect::<Vec<_>>(), vec![ann]);
}

#[test]
fn transfers_move_resources_to_several_recipients() {
    // R14, R15
    let mut log = truck_pros();
    let (ann, bea, cid) = (user(10), user(11), user(12));
    for (u, e) in [
        (ann, "ann@t.test"),
        (bea, "bea@t.test"),
        (cid, "cid@t.test"),
    ] {
        log.hire(u, e, None);
    }
    log.register(
        ann,
        &[
            "buyer:B-3",
            "buyer:B-1",
            "buyer:B-2",
            "lead:L-1",
            "group:sales",
        ],
    );
    log.transfer(
        ann,
        &[(bea, &["buyer:B-1", "buyer:B-3"]), (cid, &["buyer:B-2"])],
    );
    let state = log.state();
    let own = state.org(org(1)).unwrap().ownership();
    assert_eq!(own.len(), 5);
    assert_eq!(own.owner_of(&key("buyer:B-2")), Some(cid));
    assert_eq!(own.owner_of(&key("buyer:B-9")), None);
    assert_eq!(
        own.resources_of(bea, Some("buyer")),
        keys(&["buyer:B-1", "buyer:B-3"])
    );
    assert_eq!(
        own.resources_of(ann, None),
        keys(&["group:sales", "lead:L-1"])
    );
    assert_eq!(
        own.resources_of(ann, Some("buyer")),
        Vec::<ResourceKey>::new()
    );
    assert_eq!(
        own.counts_by_kind(ann),
        BTreeMap::from([("group".into(), 1), ("lead".into(), 1)])
    );
    assert_eq!(own.total_owned(bea), 2);
    assert_eq!(
        own.kinds().collect::<Vec<_>>(),
        vec!["buyer", "group", "lead"]
    );
    assert_eq!(own.count_of_kind("buyer"), 3);
    assert_eq!(
        own.list(Some("buyer"), None),
        vec![
            (key("buyer:B-1"), bea),
            (key("buyer:B-2"), cid),
            (key("buyer:B-3"), bea)
        ]
    );
    assert_eq!(own.list(None, Some(cid)), vec![(key("buyer:B-2"), cid)]);
}

#[test]
fn owner_history_and_owner_at_a_past_position_or_time() {
    // R25
    let mut log = truck_pros();
    let (ann, bea, cid) = (user(10), user(11), user(12));
    for (u, e) in [
        (ann, "ann@t.test"),
        (bea, "bea@t.test"),
        (cid, "cid@t.test"),
    ] {
        log.hire(u, e, None);
    }
    let b17 = key("buyer:B-17");
    let registered = log.register(ann, &["buyer:B-17"]);
    log.correlation = correlation(7);
    log.actor = Actor::User { id: user(OWNER) };
    let first_move = log.transfer(ann, &[(bea, &["buyer:B-17"])]);
    let unrelated = log.push(DutyAssigned {
        duty: "billing_contact".into(),
        holder: cid,
        previous: None,
    });
    log.correlation = correlation(8);
    log.actor = Actor::Support { name: "sam".into() };
    log.on_behalf_of = Some(bea);
    let second_move = log.transfer(bea, &[(cid, &["buyer:B-17"])]);
    let state = log.state();
    let o = state.org(org(1)).unwrap();

    assert_eq!(o.owner_at_position(&b17, registered - 1), None);
    assert_eq!(o.owner_at_position(&b17, registered), Some(ann));
    assert_eq!(o.owner_at_position(&b17, unrelated), Some(bea));
    assert_eq!(o.owner_at_position(&b17, second_move), Some(cid));
    assert_eq!(o.owner_at_time(&b17, at(log.minute - 1)), Some(bea));
    assert_eq!(o.owner_at_time(&b17, at(10_000)), Some(cid));

    let history = o.owner_history(&b17);
    let owners: Vec<_> = history
        .iter()
        .map(|c| (c.position, c.previous, c.owner))
        .collect();
    assert_eq!(
        owners,
        vec![
            (registered, None, Some(ann)),
            (first_move, Some(ann), Some(bea)),
            (second_move, Some(bea), Some(cid))
        ]
    );
    assert_eq!(history[1].correlation_id, correlation(7));
    assert_eq!(history[1].actor, Actor::User { id: user(OWNER) });
    assert_eq!(history[2].actor, Actor::Support { name: "sam".into() });
    assert_eq!(history[2].on_behalf_of, Some(bea));
    assert_eq!(history[2].occurred_at, at(log.minute));
    assert!(o.owner_history(&key("buyer:none")).is_empty());
}

#[test]
fn billed_seats_now_and_as_of_the_past() {
    // R23
    let mut log = truck_pros();
    let (ann, bea) = (user(10), user(11));
    let before = log.next_position() - 1;
    log.push(UserInvited {
        user_id: ann,
        profile: profile("ann@t.test"),
        role: Role::Member,
        manager: None,
    });
    log.hire(bea, "bea@t.test", None);
    let three_seats = log.push(UserDeactivated { user_id: bea });
    let three_seats_minute = log.minute;
    let deleted = log.push(UserDeleted { user_id: bea });
    let state = log.state();
    let billing = state.org(org(1)).unwrap().billing();
    assert_eq!(billing.billed_seats(), 2);
    assert_eq!(billing.billed_seats_at_position(before), 1);
    assert_eq!(billing.billed_seats_at_position(three_seats), 3);
    assert_eq!(billing.billed_seats_at_position(deleted), 2);
    assert_eq!(billing.billed_seats_at_position(0), 0);
    assert_eq!(billing.billed_seats_at_time(at(three_seats_minute)), 3);
    assert_eq!(billing.billed_seats_at_time(at(-5)), 0);
    assert_eq!(state.org(org(1)).unwrap().directory().billed_count(), 2);
}

#[test]
fn credits_move_between_pool_and_users_and_usage_is_kept() {
    // R20
    let mut log = truck_pros();
    let (ann, bea) = (user(10), user(11));
    log.hire(ann, "ann@t.test", None);
    log.hire(bea, "bea@t.test", None);
    log.push(CreditsAddedToPool { amount: 100 });
    log.push(CreditsGranted {
        user: ann,
        amount: 30,
    });
    let used = log.push(CreditsUsed {
        user: ann,
        amount: 12,
    });
    log.push(CreditsTransferred {
        from: CreditAccount::User { id: ann },
        to: CreditAccount::User { id: bea },
        amount: 8,
    });
    log.push(CreditsTransferred {
        from: CreditAccount::User { id: ann },
        to: CreditAccount::Pool,
        amount: 10,
    });
    let state = log.state();
    let credits = state.org(org(1)).unwrap().credits();
    assert_eq!(
        (credits.pool(), credits.balance(ann), credits.balance(bea)),
        (80, 0, 8)
    );
    assert_eq!(credits.used_total(ann), 12);
    assert!(credits.ever_used(ann) && !credits.ever_used(bea));
    assert_eq!(
        credits.usage(),
        &[CreditUsage {
            position: used,
            user: ann,
            amount: 12
        }]
    );
    assert_eq!(credits.holders().collect::<Vec<_>>(), vec![(bea, 8)]);

    // More than the source holds moves what there is and creates nothing.
    log.push(CreditsGranted {
        user: bea,
        amount: 1_000,
    });
    log.push(CreditsUsed {
        user: bea,
        amount: 5_000,
    });
    let state = log.state();
    let credits = state.org(org(1)).unwrap().credits();
    assert_eq!(
        (
            credits.pool(),
            credits.balance(bea),
            credits.used_total(bea)
        ),
        (0, 0, 5_000)
    );
}

#[test]
fn credit_events_that_would_overflow_change_nothing_and_are_reported() {
    // Issue 15: `credits add 18446744073709551615` then `credits add 1` made the pool
    // saturate and earlier credits vanish. `decide` no longer writes such events; a log
    // that holds them anyway keeps every credit it had and names the positions.
    let mut log = truck_pros();
    let ann = user(10);
    log.hire(ann, "ann@t.test", None);
    log.push(CreditsAddedToPool { amount: 5 });
    log.push(CreditsGranted {
        user: ann,
        amount: 5,
    });
    let too_much = log.push(CreditsAddedToPool { amount: u64::MAX });
    log.push(CreditsAddedToPool {
        amount: u64::MAX - 5,
    });
    let past = log.push(CreditsAddedToPool { amount: 1 });
    log.push(CreditsUsed {
        user: ann,
        amount: 3,
    });
    let state = log.state();
    let credits = state.org(org(1)).unwrap().credits();
    assert_eq!(credits.pool(), u64::MAX - 5, "the pool holds what fits");
    assert_eq!(credits.balance(ann), 2, "ann's credits did not vanish");
    assert_eq!(credits.overflows(), &[too_much, past]);
    // Moves keep the circulation, so at the top of the range they still add up.
    log.push(CreditsTransferred {
        from: CreditAccount::User { id: ann },
        to: CreditAccount::Pool,
        amount: 2,
    });
    let state = log.state();
    let credits = state.org(org(1)).unwrap().credits();
    assert_eq!((credits.pool(), credits.balance(ann)), (u64::MAX - 3, 0));
    assert_eq!(credits.used_total(ann), 3);
    assert_eq!(credits.overflows(), &[too_much, past]);
    // A usage history past u64 keeps its total and the balance; the use is reported.
    log.push(CreditsGranted {
        user: ann,
        amount: 1,
    });
    log.push(CreditsUsed {
        user: ann,
        amount: u64::MAX - 3,
    });
    let too_used = log.push(CreditsUsed {
        user: ann,
        amount: 1,
    });
    let state = log.state();
    let credits = state.org(org(1)).unwrap().credits();
    assert_eq!(
        (credits.used_total(ann), credits.balance(ann)),
        (u64::MAX, 0)
    );
    assert_eq!(credits.overflows(), &[too_much, past, too_used]);
}

#[test]
fn duties_distributions_and_labels() {
    // R17, R18, R19
    let mut log = truck_pros();
    let (ann, bea) = (user(10), user(11));
    log.hire(ann, "ann@t.test", None);
    log.hire(bea, "bea@t.test", None);
    log.push(DutyAssigned {
        duty: "dealer_trade_contact".into(),
        holder: ann,
        previous: None,
    });
    log.push(DutyAssigned {
        duty: "backup_in_lead_rotation".into(),
        holder: ann,
        previous: None,
    });
    log.push(DutyAssigned {
        duty: "dealer_trade_contact".into(),
        holder: bea,
        previous: Some(ann),
    });
    let north = DistributionId(uuid::Uuid::from_u128(50));
    let members = |w: &[(UserId, u32)]| -> Vec<Member> {
        w.iter()
            .map(|(user, weight)| Member {
                user: *user,
                weight: *weight,
            })
            .collect()
    };
    log.push(DistributionCreated {
        distribution_id: north,
        name: "North rotation".into(),
        kind: DistributionKind::Rotation,
        members: members(&[(ann, 2), (bea, 1)]),
        backup: Some(bea),
    });
    let vip = LabelId(uuid::Uuid::from_u128(60));
    log.push(LabelCreated {
        label_id: vip,
        name: "VIP".into(),
        members: vec![ann],
    });
    log.push(LabelMemberAdded {
        label_id: vip,
        user: bea,
    });

    let state = log.state();
    let o = state.org(org(1)).unwrap();
    assert_eq!(
        o.duties().duties_of(ann),
        vec!["backup_in_lead_rotation".to_owned()]
    );
    assert_eq!(o.duties().holder("dealer_trade_contact"), Some(bea));
    let d = o.distributions().by_name("north ROTATION").unwrap();
    assert_eq!(d.id, north);
    assert_eq!(o.distributions().distributions_of(ann).count(), 1);
    assert_eq!(
        o.distributions()
            .backup_of(bea)
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        vec![north]
    );
    assert_eq!(
        suggested_rebalance(&d.members, ann),
        Some(members(&[(bea, 3)]))
    );
    assert_eq!(
        o.labels().labels_of(bea).map(|l| l.id).collect::<Vec<_>>(),
        vec![vip]
    );

    log.push(DistributionRebalanced {
        distribution_id: north,
        before: members(&[(ann, 2), (bea, 1)]),
        after: members(&[(bea, 3)]),
    });
    log.push(DistributionBackupChanged {
        distribution_id: north,
        from: Some(bea),
        to: None,
    });
    log.push(LabelMemberRemoved {
        label_id: vip,
        user: ann,
    });
    let state = log.state();
    let o = state.org(org(1)).unwrap();
    let d = o.distributions().get(north).unwrap();
    assert!(d.is_sole_member(bea) && d.backup.is_none());
    assert_eq!(o.distributions().distributions_of(ann).count(), 0);
    assert_eq!(o.labels().labels_of(ann).count(), 0);
    assert_eq!(o.labels().by_name("vip").unwrap().members.len(), 1);
}

#[test]
fn audit_indexes_by_user_correlation_and_time() {
    // R25
    let mut log = truck_pros();
    let (ann, bea) = (user(10), user(11));
    log.hire(ann, "ann@t.test", None);
    log.hire(bea, "bea@t.test", None);
    log.register(ann, &["buyer:1"]);
    log.correlation = correlation(42);
    let started = log.push(OffboardingStarted {
        user: ann,
        operation: OffboardingOperation::Offboard,
        then: FollowUp::Delete,
    });
    let moved = log.transfer(ann, &[(bea, &["buyer:1"])]);
    let deleted = log.push(UserDeleted { user_id: ann });
    log.correlation = correlation(43);
    let other = log.push(PolicyChanged {
        policy: Policy::default(),
    });
    log.correlation = correlation(42);
    let done = log.push(OffboardingCompleted {
        user: ann,
        resources_moved: 1,
    });
    let state = log.state();
    let audit = state.org(org(1)).unwrap().audit();
    assert_eq!(
        audit.positions_for_correlation(correlation(42)),
        &[started, moved, deleted, done]
    );
    assert_eq!(audit.positions_for_correlation(correlation(43)), &[other]);
    assert!(audit.positions_for_correlation(correlation(44)).is_empty());
    assert_eq!(audit.positions_for_user(bea), &[6, 7, moved]);
    assert_eq!(audit.positions_for_user(ann).len(), 7);
    assert_eq!(audit.last_position_at_or_before(at(5)), 5);
    assert_eq!(audit.last_position_at_or_before(at(0)), 0);
    assert_eq!(audit.last_position_at_or_before(at(999)), done);
    let window: Vec<u64> = audit.between(at(2), at(4)).map(|e| e.position).collect();
    assert_eq!(window, vec![2, 3, 4]);
    assert_eq!(audit.event(moved).unwrap().correlation_id, correlation(42));
    assert_eq!(audit.len(), done as usize);
}

#[test]
fn the_timeline_is_filtered_by_actor_and_type_in_log_order_from_a_position() {
    // Given registrations by the owner and an admin, and transfers by the admin
    let mut log = truck_pros();
    let (ann, bea) = (user(10), user(11));
    log.hire(ann, "ann@t.test", None);
    log.hire(bea, "bea@t.test", None);
    log.actor = Actor::User { id: ann };
    let r1 = log.register(ann, &["buyer:1", "buyer:2", "buyer:3"]);
    let t1 = log.transfer(ann, &[(bea, &["buyer:1"])]);
    log.actor = Actor::User { id: user(OWNER) };
    let r2 = log.register(bea, &["buyer:4"]);
    log.actor = Actor::User { id: ann };
    let t2 = log.transfer(ann, &[(bea, &["buyer:2"])]);
    let t3 = log.transfer(ann, &[(bea, &["buyer:3"])]);
    let state = log.state();
    let audit = state.org(org(1)).unwrap().audit();
    let (from, to) = (at(0), at(999));
    let by_ann = |a: &Acting| a.actor == Actor::User { id: ann };
    // When filtered by type, Then every event of that type, after any position
    let transfers = audit.select(None, Some("ResourcesTransferred"));
    assert_eq!(
        audit.scan(&transfers, 0, from, to).collect::<Vec<_>>(),
        [t1, t2, t3]
    );
    assert_eq!(
        audit.scan(&transfers, t1, from, to).collect::<Vec<_>>(),
        [t2, t3]
    );
    assert_eq!(audit.event(t2).unwrap().event_type, "ResourcesTransferred");
    // By actor, and by both
    let anns = audit.select(Some(&by_ann), None);
    assert_eq!(
        audit.scan(&anns, 0, from, to).collect::<Vec<_>>(),
        [r1, t1, t2, t3]
    );
    let ann_registering = audit.select(Some(&by_ann), Some("ResourcesRegistered"));
    assert_eq!(
        audit
            .scan(&ann_registering, 0, from, to)
            .collect::<Vec<_>>(),
        [r1]
    );
    assert!(audit.keeps(&anns, t1) && !audit.keeps(&anns, r2));
    // Within a time window, and a type the org never recorded keeps nothing
    let window: Vec<u64> = audit.scan(&anns, 0, at(t1 as i64), at(t2 as i64)).collect();
    assert_eq!(window, [t1, t2]);
    let never = audit.select(None, Some("UserPurged"));
    assert_eq!(audit.scan(&never, 0, from, to).count(), 0);
    // And the types survive a checkpoint
    let back = State::from_checkpoint_bytes(&state.to_checkpoint_bytes()).unwrap();
    let audit = back.org(org(1)).unwrap().audit();
    let transfers = audit.select(None, Some("ResourcesTransferred"));
    assert_eq!(
        audit.scan(&transfers, 0, from, to).collect::<Vec<_>>(),
        [t1, t2, t3]
    );
}

#[test]
fn org_owner_policy_and_principals() {
    // R3, R5
    let mut log = truck_pros();
    let ann = user(10);
    log.hire(ann, "ann@t.test", None);
    log.push(OrgOwnershipTransferred {
        from: user(OWNER),
        to: ann,
    });
    log.push(PolicyChanged {
        policy: Policy {
            retention_days: 7,
            ..Policy::default()
        },
    });
    log.push(PrincipalRegistered {
        kind: PrincipalKind::Support,
        name: "sam".into(),
    });
    let state = log.state();
    let o = state.org_by_name("TRUCK pros").unwrap();
    assert_eq!(o.id(), org(1));
    assert_eq!(o.owner(), ann);
    let dir = o.directory();
    assert_eq!(dir.user(ann).unwrap().role, Role::Owner);
    assert_eq!(dir.user(user(OWNER)).unwrap().role, Role::Admin);
    assert_eq!(o.policy().retention_days, 7);
    assert!(o.serves(PrincipalKind::Support, "sam"));
    assert!(!o.serves(PrincipalKind::Auditor, "sam"));
    assert_eq!(state.orgs().count(), 1);
}

#[test]
fn odd_but_valid_input_changes_what_it_can() {
    let mut log = truck_pros();
    let ghost = user(99);
    log.push(UserActivated { user_id: ghost });
    log.push(LabelMemberAdded {
        label_id: LabelId(uuid::Uuid::from_u128(1)),
        user: ghost,
    });
    log.push(CreditsTransferred {
        from: CreditAccount::User { id: ghost },
        to: CreditAccount::Pool,
        amount: 5,
    });
    // A transfer of a resource nobody registered puts it with its recipient.
    log.transfer(ghost, &[(user(OWNER), &["buyer:stray"])]);
    let state = log.state();
    let o = state.org(org(1)).unwrap();
    assert!(o.directory().user(ghost).is_none());
    assert_eq!(o.credits().pool(), 0);
    assert_eq!(
        o.ownership().owner_of(&key("buyer:stray")),
        Some(user(OWNER))
    );
    assert_eq!(o.owner_history(&key("buyer:stray"))[0].previous, None);
}

#[test]
fn applied_positions_are_skipped_and_replay_stops_at_a_position() {
    let mut log = truck_pros();
    log.hire(user(10), "ann@t.test", None);
    log.push(UserDeactivated { user_id: user(10) });
    let mut state = log.state();
    let bytes = state.to_checkpoint_bytes();
    state.apply(&log.envelopes[3]);
    assert_eq!(
        state.to_checkpoint_bytes(),
        bytes,
        "a replayed envelope is a no-op"
    );

    let earlier = replay_until(log.envelopes.clone(), 5);
    assert_eq!(earlier.position(), 5);
    let dir = earlier.org(org(1)).unwrap().directory();
    assert_eq!(dir.user(user(10)).unwrap().status, UserStatus::Active);

    // An org that was never created does not appear; the position still advances.
    let mut stray = Log::new(org(2));
    stray.push(UserActivated { user_id: user(1) });
    let mut state = State::default();
    state.apply(&stray.envelopes[0]);
    assert_eq!((state.position(), state.orgs().count()), (1, 0));
}

#[test]
fn a_checkpoint_restores_every_index() {
    let mut log = truck_pros();
    let (ann, bea) = (user(10), user(11));
    log.hire(ann, "ann@t.test", Some(user(OWNER)));
    log.hire(bea, "bea@t.test", Some(ann));
    log.push(UserJoinedGroup {
        user_id: bea,
        group: key("group:g"),
    });
    log.register(ann, &["buyer:1", "buyer:2", "group:g"]);
    log.transfer(ann, &[(bea, &["buyer:2"])]);
    let state = log.state();
    let back = State::from_checkpoint_bytes(&state.to_checkpoint_bytes()).unwrap();
    assert_eq!(back.to_checkpoint_bytes(), state.to_checkpoint_bytes());
    let o = back.org_by_name("truck pros").unwrap();
    assert_eq!(reports(o, ann), vec![bea]);
    assert_eq!(
        o.directory()
            .group_members(&key("group:g"))
            .collect::<Vec<_>>(),
        vec![bea]
    );
    assert_eq!(o.directory().user_by_email("BEA@t.test").unwrap().id, bea);
    assert_eq!(o.directory().billed_count(), 3);
    assert_eq!(
        o.ownership().resources_of(ann, None),
        keys(&["buyer:1", "group:g"])
    );
    assert_eq!(o.ownership().owner_of(&key("buyer:2")), Some(bea));
    assert_eq!(o.owner_history(&key("buyer:2")).len(), 2);
}

#[test]
fn a_damaged_checkpoint_is_refused_not_loaded() {
    use base64::Engine as _;
    let packed = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut log = truck_pros();
    log.register(user(OWNER), &["buyer:1"]);
    let bytes = log.state().to_checkpoint_bytes();
    let (header, body) = bytes.split_at(12);
    let org_id = org(1).to_string();
    // The registration names user slot 9 of 1; the resource's newest move is move 0 of
    // none. Either would make a later read index out of range.
    let registration = [&2u64.to_le_bytes()[..], &9u32.to_le_bytes()].concat();
    let damages = [
        ("first", packed(&registration)),
        ("last_move", packed(&0u32.to_le_bytes())),
    ];
    for (table, damage) in damages {
        let mut json: serde_json::Value = serde_json::from_slice(body).unwrap();
        json["orgs"][&org_id]["ownership"][table] = damage.into();
        let damaged = [header, &serde_json::to_vec(&json).unwrap()].concat();
        assert!(
            matches!(
                State::from_checkpoint_bytes(&damaged),
                Err(CheckpointError::Corrupt(_))
            ),
            "{table}"
        );
    }
}

#[test]
fn the_state_names_the_hash_of_its_position_and_a_loss_record_changes_no_view() {
    // Given a log whose envelopes carry hashes, ending with an accepted loss,
    let mut log = truck_pros();
    let lost = log.push(LogLossAccepted {
        missing_from: 4,
        missing_to: 6,
        claimed_head_hash: None,
        claimed_by: vec!["head record at 6".into()],
    });
    for env in &mut log.envelopes {
        env.hash = format!("{:064x}", env.position);
    }
    let state = log.state();
    // then the state names the hash of its last position, also after a checkpoint,
    assert_eq!(state.position(), lost);
    assert_eq!(state.hash(), format!("{lost:064x}"));
    let loaded = State::from_checkpoint_bytes(&state.to_checkpoint_bytes()).unwrap();
    assert_eq!(loaded.hash(), state.hash());
    // and the loss record is in the org's timeline but changes no view.
    let org = state.org(org(1)).unwrap();
    assert!(org.audit().event(lost).is_some());
    assert_eq!(org.directory().users().count(), 1);
}
