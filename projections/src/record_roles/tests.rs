use super::*;

fn user(n: u128) -> UserId {
    UserId(uuid::Uuid::from_u128(n))
}

fn key(s: &str) -> ResourceKey {
    s.parse().unwrap()
}

/// An ownership view with `keys` registered to user 99, and a role view beside it.
fn views(keys: &[&str]) -> (Ownership, RecordRoles) {
    let mut o = Ownership::default();
    let keys: Vec<ResourceKey> = keys.iter().map(|k| key(k)).collect();
    o.apply(&env(
        1,
        offboard_events::ResourcesRegistered {
            owner: user(99),
            resources: keys,
        }
        .into(),
    ));
    (o, RecordRoles::default())
}

fn env(position: u64, event: Event) -> Envelope {
    use offboard_events::{Actor, CommandId, CorrelationId, EventId, OrgId};
    let org = OrgId(uuid::Uuid::from_u128(0xff));
    let command = CommandId(uuid::Uuid::from_u128(position.into()));
    Envelope {
        position,
        org_id: org,
        stream_id: event.stream(org),
        stream_version: 1,
        event_id: EventId(uuid::Uuid::from_u128(position.into())),
        occurred_at: chrono::DateTime::UNIX_EPOCH,
        actor: Actor::System,
        on_behalf_of: None,
        command_id: command,
        correlation_id: CorrelationId(command.0),
        causation_id: command.0,
        prev_hash: String::new(),
        hash: String::new(),
        event,
    }
}

#[test]
fn assignments_transfers_and_retirement_keep_holders_lists_and_history_exact() {
    let (mut o, mut r) = views(&["deal:1", "deal:2", "lead:1"]);
    let (a, b, c) = (user(1), user(2), user(3));
    let assigned = |u, role: &str, ks: &[&str]| {
        offboard_events::RecordRoleAssigned {
            user: u,
            role: role.into(),
            resources: ks.iter().map(|k| key(k)).collect(),
        }
        .into()
    };
    r.apply(
        &env(
            2,
            assigned(a, "specialist", &["deal:1", "deal:2", "lead:1"]),
        ),
        &o,
    );
    r.apply(&env(3, assigned(b, "watcher", &["deal:1"])), &o);
    r.apply(&env(4, assigned(c, "watcher", &["deal:1"])), &o);
    r.apply(
        &env(
            5,
            offboard_events::RecordRolesTransferred {
                from: a,
                role: "specialist".into(),
                handovers: vec![offboard_events::Handover {
                    to: b,
                    resources: vec![key("deal:1")],
                }],
                reason: offboard_events::TransferReason::Selected,
            }
            .into(),
        ),
        &o,
    );
    assert_eq!(r.holders(&o, &key("deal:1"), "specialist"), vec![b]);
    assert_eq!(r.holders(&o, &key("deal:1"), "watcher"), vec![b, c]);
    assert_eq!(
        r.records_of(&o, a, Some("specialist"), Some("deal")),
        vec![key("deal:2")]
    );
    assert_eq!(r.records_of(&o, b, None, None), vec![key("deal:1")]);
    assert_eq!(
        r.counts_of(b),
        BTreeMap::from([("specialist".into(), 1), ("watcher".into(), 1)])
    );
    assert_eq!(r.holders_at(&o, &key("deal:1"), "specialist", 4), vec![a]);
    assert_eq!(r.holders_at(&o, &key("deal:1"), "specialist", 1), vec![]);
    assert_eq!(r.holders_at(&o, &key("deal:1"), "watcher", 3), vec![b]);

    let json = serde_json::to_string(&r).unwrap();
    let mut back: RecordRoles = serde_json::from_str(&json).unwrap();
    back.rebuild().unwrap();
    assert_eq!(back.held_of(&o, b), r.held_of(&o, b));
    assert_eq!(
        back.history(&o, &key("deal:1")),
        r.history(&o, &key("deal:1"))
    );

    // Retired: every role on the record ends; its history stays.
    let retired = offboard_events::ResourcesRetired {
        owner: user(99),
        resources: vec![key("deal:1")],
        reason: offboard_events::RetireReason::Removed,
    };
    o.apply(&env(6, retired.clone().into()));
    r.apply(&env(6, retired.into()), &o);
    assert!(r.roles_of_record(&o, &key("deal:1")).is_empty());
    assert_eq!(r.counts_of(c), BTreeMap::new());
    assert_eq!(r.holders_at(&o, &key("deal:1"), "watcher", 5), vec![b, c]);
    let history = r.history(&o, &key("deal:1"));
    assert_eq!(history.len(), 8);
    assert!(history[5..].iter().all(|c| c.position == 6 && !c.assigned));
}

#[test]
fn a_damaged_arena_is_refused() {
    let (o, mut r) = views(&["deal:1"]);
    r.apply(
        &env(
            2,
            offboard_events::RecordRoleAssigned {
                user: user(1),
                role: "watcher".into(),
                resources: vec![key("deal:1"), key("deal:404")],
            }
            .into(),
        ),
        &o,
    );
    assert_eq!(r.changes.len(), 1, "an unregistered record is skipped");
    let mut bad = r.clone();
    bad.changes[0].user = 7;
    assert!(bad.rebuild().is_err());
}
