//! The event contract as downstream systems see it: stable JSON round trips, upcasting of
//! stored old versions, the checked-in JSON Schema, and the hash chain helpers.

use chrono::{TimeZone, Utc};
use offboard_events::canonical::{envelope_hash, GENESIS_HASH};
use offboard_events::*;
use uuid::Uuid;

fn envelope(event: Event) -> Envelope {
    let org = OrgId(Uuid::from_u128(0xff));
    let command = CommandId(Uuid::from_u128(1));
    Envelope {
        position: 1,
        org_id: org,
        stream_id: event.stream(org),
        stream_version: 1,
        event_id: EventId(Uuid::from_u128(3)),
        occurred_at: Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap(),
        actor: Actor::Support { name: "sam".into() },
        on_behalf_of: Some(UserId(Uuid::from_u128(0xbb))),
        command_id: command,
        correlation_id: CorrelationId(Uuid::from_u128(2)),
        causation_id: command.0,
        prev_hash: GENESIS_HASH.to_owned(),
        hash: String::new(),
        event,
    }
}

fn user(n: u128) -> UserId {
    UserId(Uuid::from_u128(n))
}

fn key(s: &str) -> ResourceKey {
    s.parse().unwrap()
}

/// One value of every event type, so a new type without a round trip fails `every_type_is_sampled`.
fn samples() -> Vec<Event> {
    let profile = Profile {
        email: "ada@example.com".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        job_title: Some("Sales".into()),
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    };
    let d = DistributionId(Uuid::from_u128(9));
    let l = LabelId(Uuid::from_u128(8));
    vec![
        OrganizationCreated {
            name: "Truck Pros".into(),
            owner: user(1),
        }
        .into(),
        PolicyChanged {
            policy: Policy::default(),
        }
        .into(),
        OrgOwnershipTransferred {
            from: user(1),
            to: user(2),
        }
        .into(),
        PrincipalRegistered {
            kind: PrincipalKind::Support,
            name: "sam".into(),
        }
        .into(),
        LogLossAccepted {
            missing_from: 9,
            missing_to: 11,
            claimed_head_hash: Some("ab".repeat(32)),
            claimed_by: vec!["projection checkpoint at 11".into()],
        }
        .into(),
        UserInvited {
            user_id: user(2),
            profile: profile.clone(),
            role: Role::Manager,
            manager: Some(user(1)),
        }
        .into(),
        UserActivated { user_id: user(2) }.into(),
        UserRoleChanged {
            user_id: user(2),
            from: Role::Manager,
            to: Role::Member,
        }
        .into(),
        UserManagerChanged {
            user_id: user(2),
            from: Some(user(1)),
            to: None,
        }
        .into(),
        UserJoinedGroup {
            user_id: user(2),
            group: key("group:north"),
        }
        .into(),
        UserLeftGroup {
            user_id: user(2),
            group: key("group:north"),
        }
        .into(),
        GroupChanged {
            group: key("group:north"),
            owner: user(1),
            name: "North region".into(),
            external_id: Some("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159".into()),
        }
        .into(),
        UserProfileChanged {
            user_id: user(2),
            profile,
        }
        .into(),
        UserDeactivated { user_id: user(2) }.into(),
        WorkLeftUnattended {
            user_id: user(2),
            items: vec![UnattendedWork {
                code: "holds_duty".into(),
                subject: Some("default_lead_owner".into()),
                count: 1,
                message: "is the default lead owner".into(),
            }],
        }
        .into(),
        UserReactivated { user_id: user(2) }.into(),
        UserDeleted { user_id: user(2) }.into(),
        UserRestored {
            user_id: user(2),
            status: UserStatus::Deactivated,
        }
        .into(),
        UserPurged { user_id: user(2) }.into(),
        DeprovisionPending {
            user_id: user(2),
            pending: vec![PendingItem {
                code: "replacement_required".into(),
                subject: Some("North rotation".into()),
                count: 1,
                message: "is the only member of North rotation".into(),
            }],
        }
        .into(),
        ResourcesRegistered {
            owner: user(2),
            resources: vec![key("buyer:B-17"), key("lead:L-1")],
        }
        .into(),
        ResourcesTransferred {
            from: user(2),
            handovers: vec![Handover {
                to: user(3),
                resources: vec![key("buyer:B-17")],
            }],
            reason: TransferReason::AllOfKind,
        }
        .into(),
        ResourcesRetired {
            owner: user(3),
            resources: vec![key("buyer:B-17")],
            reason: RetireReason::Sync,
        }
        .into(),
        RecordRoleDeclared {
            role: "watcher".into(),
            multi: true,
        }
        .into(),
        RecordRoleAssigned {
            user: user(2),
            role: "servicing_specialist".into(),
            resources: vec![key("deal:D-9")],
        }
        .into(),
        RecordRoleUnassigned {
            user: user(2),
            role: "watcher".into(),
            resources: vec![key("deal:D-9")],
        }
        .into(),
        RecordRolesTransferred {
            from: user(2),
            role: "servicing_specialist".into(),
            handovers: vec![Handover {
                to: user(3),
                resources: vec![key("deal:D-9")],
            }],
            reason: TransferReason::Offboarding,
        }
        .into(),
        DutyAssigned {
            duty: "dealer_trade_contact".into(),
            holder: user(3),
            previous: Some(user(2)),
        }
        .into(),
        DistributionCreated {
            distribution_id: d,
            name: "North rotation".into(),
            kind: DistributionKind::Rotation,
            members: vec![Member {
                user: user(2),
                weight: 2,
            }],
            backup: Some(user(3)),
        }
        .into(),
        DistributionRebalanced {
            distribution_id: d,
            before: vec![Member {
                user: user(2),
                weight: 2,
            }],
            after: vec![Member {
                user: user(3),
                weight: 2,
            }],
        }
        .into(),
        DistributionBackupChanged {
            distribution_id: d,
            from: Some(user(3)),
            to: None,
        }
        .into(),
        LabelCreated {
            label_id: l,
            name: "VIP".into(),
            members: vec![user(2)],
        }
        .into(),
        LabelMemberAdded {
            label_id: l,
            user: user(3),
        }
        .into(),
        LabelMemberRemoved {
            label_id: l,
            user: user(2),
        }
        .into(),
        CreditsAddedToPool { amount: 100 }.into(),
        CreditsGranted {
            user: user(2),
            amount: 10,
        }
        .into(),
        CreditsUsed {
            user: user(2),
            amount: 3,
        }
        .into(),
        CreditsTransferred {
            from: CreditAccount::User { id: user(2) },
            to: CreditAccount::Pool,
            amount: 7,
        }
        .into(),
        OffboardingStarted {
            user: user(2),
            operation: OffboardingOperation::Offboard,
            then: FollowUp::Delete,
        }
        .into(),
        OffboardingCompleted {
            user: user(2),
            resources_moved: 1,
        }
        .into(),
        OffboardingReverted {
            user: user(2),
            reverted: CorrelationId(Uuid::from_u128(2)),
            returned: 1,
            skipped: vec![SkippedItem {
                item: "buyer:B-18".into(),
                reason: "moved again since".into(),
            }],
        }
        .into(),
        OffboardingScheduled {
            schedule_id: ScheduleId(Uuid::from_u128(0x5c)),
            user: user(2),
            at: Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap(),
            plan: Some(serde_json::json!({"default_to": user(3)})),
            then: FollowUp::Deactivate,
            delete_after_days: Some(30),
        }
        .into(),
        ScheduleMoved {
            schedule_id: ScheduleId(Uuid::from_u128(0x5c)),
            user: user(2),
            phase: SchedulePhase::Offboard,
            from: Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2027, 1, 15, 8, 0, 0).unwrap(),
        }
        .into(),
        ScheduleCancelled {
            schedule_id: ScheduleId(Uuid::from_u128(0x5c)),
            user: user(2),
        }
        .into(),
        ScheduleStarted {
            schedule_id: ScheduleId(Uuid::from_u128(0x5c)),
            user: user(2),
            phase: SchedulePhase::Offboard,
            due: Utc.with_ymd_and_hms(2027, 1, 15, 8, 0, 0).unwrap(),
        }
        .into(),
        ScheduleCompleted {
            schedule_id: ScheduleId(Uuid::from_u128(0x5c)),
            user: user(2),
            phase: SchedulePhase::Offboard,
            delete_at: Some(Utc.with_ymd_and_hms(2027, 2, 14, 8, 0, 0).unwrap()),
        }
        .into(),
        ScheduleFailed {
            schedule_id: ScheduleId(Uuid::from_u128(0x5c)),
            user: user(2),
            phase: SchedulePhase::Delete,
            code: "owns_resources".into(),
            message: "cannot delete: owns 2 buyers".into(),
            blockers: vec![UnattendedWork {
                code: "owns_resources".into(),
                subject: Some("buyer".into()),
                count: 2,
                message: "owns 2 buyers".into(),
            }],
            deactivated: false,
        }
        .into(),
    ]
}

#[test]
fn every_type_is_sampled() {
    let sampled: Vec<&str> = samples().iter().map(Event::event_type).collect();
    assert_eq!(sampled, Event::TYPES);
}

#[test]
fn every_event_round_trips_through_its_stored_form_and_its_json() {
    for event in samples() {
        let mut env = envelope(event);
        let bytes = env.seal_hash();
        assert!(stored::is_binary(&bytes));
        let back = Envelope::from_stored(&bytes).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.compute_hash(), env.hash);
        let json = stored::to_json(&bytes).unwrap();
        assert_eq!(Envelope::from_json(&json).unwrap(), env);
        assert_eq!(Envelope::from_stored(&json).unwrap(), env);
    }
}

/// The stored form writes the envelope's canonical JSON itself (the hash covers those
/// bytes): for every event type, every kind of actor, with and without an impersonated
/// user, whole and fractional seconds, it must be byte for byte what the generic
/// canonical writer makes of the envelope's JSON.
#[test]
fn the_stored_form_hashes_exactly_the_canonical_json_of_the_envelope() {
    let actors = [
        Actor::User { id: user(0x77) },
        Actor::Support {
            name: "sam \"the\" fixer ✓".into(),
        },
        Actor::Auditor { name: "ann".into() },
        Actor::System,
        Actor::Provisioner {
            name: "okta".into(),
        },
    ];
    let times = [
        Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap(),
        Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap(),
        Utc.timestamp_opt(1_790_000_000, 120_000_000).unwrap(),
    ];
    let mut checked = 0;
    for (i, event) in samples().into_iter().enumerate() {
        let mut env = envelope(event);
        env.actor = actors[i % actors.len()].clone();
        env.occurred_at = times[i % times.len()];
        env.on_behalf_of = (i % 2 == 0).then(|| user(0xbb));
        env.position = 1 + i as u64 * 1_000_003;
        env.stream_version = 7 + i as u64;
        env.prev_hash = canonical::sha256_hex(&[i as u8]);
        let bytes = env.seal_hash();
        let parsed = StoredEnvelope::parse(&bytes).unwrap();
        let expected = canonical::canonical_without_hash(&env.to_value());
        assert_eq!(
            String::from_utf8(parsed.canonical_json(false)).unwrap(),
            String::from_utf8(expected).unwrap()
        );
        assert_eq!(env.hash, envelope_hash(&env.to_value()));
        let mut with_hash = Vec::new();
        canonical::write_canonical(&env.to_value(), &mut with_hash);
        assert_eq!(
            stored::to_json(&bytes).unwrap().as_ref(),
            with_hash.as_slice()
        );
        // An exported line converts back to the same stored bytes.
        let raw = RawEnvelope::parse(&with_hash).unwrap();
        assert_eq!(StoredEnvelope::from_raw(&raw).unwrap().encode(), bytes);
        checked += 1;
    }
    assert_eq!(checked, Event::TYPES.len());
}

#[test]
fn a_damaged_stored_envelope_is_an_error_not_a_panic() {
    let mut env = envelope(UserDeleted { user_id: user(2) }.into());
    let bytes = env.seal_hash();
    for cut in [1, 9, 100, 200, bytes.len() - 1] {
        assert!(
            Envelope::from_stored(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut bad = bytes.clone();
    let len_at = bytes.len() - env_data_len(&env) - 4 - 3 - 4 - "UserDeleted".len() - 4;
    bad[len_at..len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Envelope::from_stored(&bad).is_err());
}

fn env_data_len(env: &Envelope) -> usize {
    let mut text = Vec::new();
    canonical::write_canonical(&serde_json::to_value(&env.event).unwrap(), &mut text);
    text.len()
}

#[test]
fn wire_json_has_the_r24_fields_and_a_type_tag() {
    let env = envelope(UserDeleted { user_id: user(2) }.into());
    let v = env.to_value();
    for field in [
        "position",
        "org_id",
        "stream_id",
        "stream_version",
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "actor",
        "on_behalf_of",
        "command_id",
        "correlation_id",
        "causation_id",
        "data",
        "prev_hash",
        "hash",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    assert_eq!(v["event_type"], "UserDeleted");
    assert_eq!(v["data"]["user_id"], user(2).to_string());
    assert_eq!(
        v["actor"],
        serde_json::json!({"kind": "support", "name": "sam"})
    );
}

#[test]
fn a_stored_v1_user_invited_reads_as_todays_type() {
    let stored = include_bytes!("fixtures/user_invited_v1.json");
    let env = Envelope::from_json(stored).unwrap();
    let Event::UserInvited(invited) = &env.event else {
        panic!("decoded as {:?}", env.event)
    };
    assert_eq!(invited.profile.email, "mary.smith@example.com");
    assert_eq!(invited.profile.first_name, "Mary Ann");
    assert_eq!(invited.profile.last_name, "Smith");
    assert_eq!(invited.profile.job_title, None);
    assert_eq!(invited.role, Role::Member);
    assert_eq!(
        env.event.schema_version(),
        2,
        "upcast events report today's version"
    );
    assert_eq!(env.position, 7);
}

#[test]
fn unknown_and_future_versions_are_clear_errors() {
    assert!(matches!(
        Event::decode("NoSuchEvent", 1, "{}"),
        Err(DecodeError::UnknownType(_))
    ));
    assert!(matches!(
        Event::decode("UserDeleted", 9, "{}"),
        Err(DecodeError::FromTheFuture {
            version: 9,
            current: 1,
            ..
        })
    ));
}

#[test]
fn hash_covers_prev_hash() {
    let a = envelope(UserDeleted { user_id: user(2) }.into());
    let mut b = a.clone();
    b.prev_hash = "1".repeat(64);
    assert_ne!(a.compute_hash(), b.compute_hash());
    assert_eq!(a.compute_hash(), envelope_hash(&a.to_value()));
}

#[test]
fn checked_in_json_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/envelope.schema.json");
    let generated = offboard_events::schema::envelope_schema_json();
    if std::env::var_os("OFFBOARD_WRITE_SCHEMA").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "events/schema/envelope.schema.json is stale: run `OFFBOARD_WRITE_SCHEMA=1 cargo test -p offboard-events`"
    );
}

#[test]
fn schema_names_every_wire_field_and_event_type() {
    let schema: serde_json::Value =
        serde_json::from_str(&offboard_events::schema::envelope_schema_json()).unwrap();
    let text = schema.to_string();
    let wire = envelope(UserDeleted { user_id: user(2) }.into()).to_value();
    for key in wire.as_object().unwrap().keys() {
        assert!(
            text.contains(&format!("\"{key}\"")),
            "schema lacks field {key}"
        );
    }
    for ty in Event::TYPES {
        assert!(
            text.contains(&format!("\"{ty}\"")),
            "schema lacks event type {ty}"
        );
        assert!(
            text.contains(&format!("\"title\":\"{ty}Event\"")),
            "the alternative of {ty} is not named {ty}Event"
        );
    }
}

// ---- The published schema accepts every real envelope and refuses broken ones ----

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&offboard_events::schema::envelope_schema_json()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the checked-in schema compiles")
}

fn wire(event: Event) -> serde_json::Value {
    let mut env = envelope(event);
    env.hash = env.compute_hash();
    env.to_value()
}

fn refusal(validator: &jsonschema::Validator, value: &serde_json::Value) -> Option<String> {
    validator.validate(value).err().map(|e| e.to_string())
}

#[test]
fn every_sampled_envelope_validates_against_the_schema() {
    let validator = validator();
    for event in samples() {
        let value = wire(event);
        assert_eq!(refusal(&validator, &value), None, "{value}");
    }
}

#[test]
fn a_sealed_profile_validates_as_export_writes_it() {
    // Given an invitation as the log stores it: the profile sealed under the user's key.
    let mut value = wire(
        UserInvited {
            user_id: user(2),
            profile: Profile {
                email: "ada@example.com".into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                job_title: None,
                external_id: None,
                department: None,
                employee_number: None,
                user_name: None,
            },
            role: Role::Member,
            manager: None,
        }
        .into(),
    );
    value["data"]["profile"] = serde_json::json!({ "sealed": "6whjA6XIfqkqRBTe+/8=" });
    // Then the schema accepts it, and refuses a sealed profile with a stray field.
    let validator = validator();
    assert_eq!(refusal(&validator, &value), None);
    value["data"]["profile"]["email"] = "ada@example.com".into();
    assert!(refusal(&validator, &value).is_some());
}

#[test]
fn the_schema_refuses_broken_envelopes() {
    let validator = validator();
    let good = wire(UserDeleted { user_id: user(2) }.into());
    type Break = fn(&mut serde_json::Value);
    let breaks: [(&str, Break); 7] = [
        ("an unknown envelope field", |v| v["extra"] = 1.into()),
        ("an unknown payload field", |v| {
            v["data"]["extra"] = 1.into()
        }),
        ("a missing payload field", |v| {
            v["data"].as_object_mut().unwrap().remove("user_id");
        }),
        ("a payload of another event type", |v| {
            v["event_type"] = "GroupCreated".into()
        }),
        ("an unknown event type", |v| {
            v["event_type"] = "UserVanished".into()
        }),
        ("a hash that is not hex SHA-256", |v| {
            v["hash"] = "XYZ".into()
        }),
        ("an id that is not a UUID", |v| {
            v["event_id"] = "not-a-uuid".into()
        }),
    ];
    for (what, break_it) in breaks {
        let mut value = good.clone();
        break_it(&mut value);
        assert!(
            refusal(&validator, &value).is_some(),
            "the schema accepted {what}: {value}"
        );
    }
}
