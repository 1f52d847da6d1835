//! Builds envelopes for tests: a log with a running position and clock, the org, actor
//! and correlation id of the next events, and short constructors for ids and keys.

#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use offboard_events::canonical::GENESIS_HASH;
use offboard_events::*;
use offboard_projections::State;
use uuid::Uuid;

pub fn user(n: u128) -> UserId {
    UserId(Uuid::from_u128(n))
}

pub fn org(n: u128) -> OrgId {
    OrgId(Uuid::from_u128(0x0_1000_0000 + n))
}

pub fn correlation(n: u128) -> CorrelationId {
    CorrelationId(Uuid::from_u128(0x0_2000_0000 + n))
}

pub fn key(text: &str) -> ResourceKey {
    text.parse().expect("a valid resource key")
}

pub fn keys(texts: &[&str]) -> Vec<ResourceKey> {
    texts.iter().map(|t| key(t)).collect()
}

/// Minutes after the epoch of every test log (2026-01-01 09:00 UTC).
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

pub fn profile(email: &str) -> Profile {
    let name = email.split('@').next().unwrap_or(email);
    Profile {
        email: email.to_owned(),
        first_name: name.to_owned(),
        last_name: "Tester".to_owned(),
        job_title: Some("Sales".to_owned()),
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    }
}

/// One envelope with every metadata field filled in.
pub fn envelope(
    position: u64,
    org_id: OrgId,
    occurred_at: DateTime<Utc>,
    actor: Actor,
    correlation_id: CorrelationId,
    event: Event,
) -> Envelope {
    let command = CommandId(Uuid::from_u128(u128::from(position) << 64));
    Envelope {
        position,
        org_id,
        stream_id: event.stream(org_id),
        stream_version: 1,
        event_id: EventId(Uuid::from_u128(u128::from(position))),
        occurred_at,
        actor,
        on_behalf_of: None,
        command_id: command,
        correlation_id,
        causation_id: command.0,
        prev_hash: GENESIS_HASH.to_owned(),
        hash: String::new(),
        event,
    }
}

/// A log being written: each `push` takes the next position and advances the clock by
/// one minute, under the current org, actor and correlation id.
#[derive(Debug)]
pub struct Log {
    pub envelopes: Vec<Envelope>,
    pub org: OrgId,
    pub actor: Actor,
    pub on_behalf_of: Option<UserId>,
    pub correlation: CorrelationId,
    pub minute: i64,
}

impl Log {
    pub fn new(org_id: OrgId) -> Self {
        Log {
            envelopes: Vec::new(),
            org: org_id,
            actor: Actor::System,
            on_behalf_of: None,
            correlation: correlation(0),
            minute: 0,
        }
    }

    /// A log whose org `name` exists with `owner` invited and active (positions 1–3).
    pub fn with_org(org_id: OrgId, name: &str, owner: UserId) -> Self {
        let mut log = Log::new(org_id);
        log.create_org(name, owner);
        log
    }

    pub fn create_org(&mut self, name: &str, owner: UserId) {
        self.push(OrganizationCreated {
            name: name.to_owned(),
            owner,
        });
        self.push(UserInvited {
            user_id: owner,
            profile: profile(&format!("owner-{}@{}.test", owner.0.as_u128(), name)),
            role: Role::Owner,
            manager: None,
        });
        self.push(UserActivated { user_id: owner });
    }

    pub fn next_position(&self) -> u64 {
        self.envelopes.len() as u64 + 1
    }

    pub fn push(&mut self, event: impl Into<Event>) -> u64 {
        let position = self.next_position();
        self.minute += 1;
        let mut env = envelope(
            position,
            self.org,
            at(self.minute),
            self.actor.clone(),
            self.correlation,
            event.into(),
        );
        env.on_behalf_of = self.on_behalf_of;
        self.envelopes.push(env);
        position
    }

    /// Invites `id` as a member with `email` (and a manager) and activates them.
    pub fn hire(&mut self, id: UserId, email: &str, manager: Option<UserId>) {
        self.push(UserInvited {
            user_id: id,
            profile: profile(email),
            role: Role::Member,
            manager,
        });
        self.push(UserActivated { user_id: id });
    }

    pub fn register(&mut self, owner: UserId, texts: &[&str]) -> u64 {
        self.push(ResourcesRegistered {
            owner,
            resources: keys(texts),
        })
    }

    pub fn transfer(&mut self, from: UserId, handovers: &[(UserId, &[&str])]) -> u64 {
        self.push(ResourcesTransferred {
            from,
            handovers: handovers
                .iter()
                .map(|(to, texts)| Handover {
                    to: *to,
                    resources: keys(texts),
                })
                .collect(),
            reason: TransferReason::Selected,
        })
    }

    /// A state that applied the whole log.
    pub fn state(&self) -> State {
        let mut state = State::default();
        for env in &self.envelopes {
            state.apply(env);
        }
        state
    }
}
