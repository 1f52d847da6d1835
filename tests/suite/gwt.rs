//! Given/When/Then for the domain (cqrs-es style): given these events, when this
//! command, then these events or this error. Pure: `decide` and `State::apply` only, no
//! engine, no I/O, so every rule test runs in microseconds.

use chrono::{DateTime, Duration, TimeZone, Utc};
use offboard::domain::{decide, Command, Context, DomainError, NewUser};
use offboard_events::canonical::GENESIS_HASH;
use offboard_events::*;
use offboard_projections::{OrgState, State};
use uuid::Uuid;

/// One org's history so far, and a way to try commands against it.
pub struct Scenario {
    pub state: State,
    pub org: OrgId,
    pub owner: UserId,
    pub now: DateTime<Utc>,
    commands: u128,
    /// Every envelope applied, in order.
    pub log: Vec<Envelope>,
}

/// What a command decided.
#[derive(Debug)]
#[must_use]
pub struct Outcome(pub Result<Vec<Event>, DomainError>);

impl Outcome {
    /// Then: exactly these events.
    pub fn then_events(self, expected: Vec<Event>) {
        match self.0 {
            Ok(events) => assert_eq!(events, expected),
            Err(e) => panic!("expected events, got {} ({e})", e.code()),
        }
    }

    /// Then: this error code (returns the error for further checks).
    pub fn then_error(self, code: &str) -> DomainError {
        match self.0 {
            Ok(events) => panic!("expected {code}, got {} events: {events:?}", events.len()),
            Err(e) => {
                assert_eq!(e.code(), code, "{e}");
                e
            }
        }
    }

    /// Then: some events (returned for inspection).
    pub fn events(self) -> Vec<Event> {
        self.0
            .unwrap_or_else(|e| panic!("rejected with {}: {e}", e.code()))
    }
}

pub fn user_actor(id: UserId) -> Actor {
    Actor::User { id }
}

pub fn key(s: &str) -> ResourceKey {
    s.parse().unwrap()
}

pub fn keys(kind: &str, ids: impl IntoIterator<Item = u32>) -> Vec<ResourceKey> {
    ids.into_iter()
        .map(|i| key(&format!("{kind}:{i:05}")))
        .collect()
}

impl Scenario {
    /// Given: an org whose owner is `owner@<org>.example`.
    pub fn new(org_name: &str) -> Self {
        let mut s = Self {
            state: State::default(),
            org: OrgId(Uuid::from_u128(0x00_0f0f)),
            owner: UserId(Uuid::nil()),
            now: Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap(),
            commands: 0,
            log: Vec::new(),
        };
        let owner = NewUser {
            email: format!("owner@{}.example", org_name.to_lowercase().replace(' ', "")),
            first_name: "Olive".into(),
            last_name: "Owner".into(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        };
        let events = s.run(
            Actor::System,
            Command::CreateOrganization {
                name: org_name.into(),
                owner,
            },
        );
        let Event::OrganizationCreated(created) = &events[0] else {
            unreachable!()
        };
        s.owner = created.owner;
        s
    }

    pub fn org_state(&self) -> &OrgState {
        self.state.org(self.org).expect("the scenario's org exists")
    }

    fn context(&mut self, actor: Actor, on_behalf_of: Option<UserId>) -> Context {
        self.commands += 1;
        Context {
            org_id: self.org,
            actor,
            on_behalf_of,
            command_id: CommandId(Uuid::from_u128(0xc0de_0000 + self.commands)),
            now: self.now,
            compensating: Vec::new(),
            plaintext_profiles: Default::default(),
        }
    }

    /// What the engine reads from the log for a restore or revert (`Engine::execute`
    /// does the same): the events of the offboarding being compensated.
    fn compensating(&self, command: &Command) -> Vec<Envelope> {
        let Some(org) = self.state.org(self.org) else {
            return Vec::new();
        };
        let correlation = offboard::domain::compensated_correlation(org, command);
        correlation.map_or_else(Vec::new, |id| {
            self.log
                .iter()
                .filter(|e| e.correlation_id == id)
                .cloned()
                .collect()
        })
    }

    /// When: `actor` issues `command` (nothing is applied).
    pub fn when(&mut self, actor: Actor, command: Command) -> Outcome {
        let mut ctx = self.context(actor, None);
        ctx.compensating = self.compensating(&command);
        Outcome(decide(&self.state, &ctx, &command))
    }

    /// When: `actor` issues `command` on behalf of a deactivated user (R6).
    pub fn when_impersonating(
        &mut self,
        actor: Actor,
        on_behalf_of: UserId,
        command: Command,
    ) -> Outcome {
        let ctx = self.context(actor, Some(on_behalf_of));
        Outcome(decide(&self.state, &ctx, &command))
    }

    /// Given: applies events as if they had been appended (by the system actor).
    pub fn given(&mut self, events: Vec<Event>) -> &mut Self {
        let ctx = self.context(Actor::System, None);
        self.apply(&ctx, events);
        self
    }

    /// Decides and applies a command that must succeed; returns its events.
    pub fn run(&mut self, actor: Actor, command: Command) -> Vec<Event> {
        let mut ctx = self.context(actor, None);
        ctx.compensating = self.compensating(&command);
        let events = decide(&self.state, &ctx, &command)
            .unwrap_or_else(|e| panic!("{} rejected with {}: {e}", command.name(), e.code()));
        self.apply(&ctx, events.clone());
        events
    }

    /// Like [`Self::run`], on behalf of a deactivated user.
    /// [`Scenario::run`] by the org's owner.
    pub fn run_by_owner(&mut self, command: Command) -> Vec<Event> {
        self.run(user_actor(self.owner), command)
    }

    pub fn run_impersonating(
        &mut self,
        actor: Actor,
        on_behalf_of: UserId,
        command: Command,
    ) -> Vec<Envelope> {
        let ctx = self.context(actor, Some(on_behalf_of));
        let events = decide(&self.state, &ctx, &command)
            .unwrap_or_else(|e| panic!("{} rejected with {}: {e}", command.name(), e.code()));
        let from = self.log.len();
        self.apply(&ctx, events);
        self.log[from..].to_vec()
    }

    /// Decides `command` (on behalf of `on_behalf_of`, if given) and applies its events
    /// only when it is accepted; a rejection leaves the scenario as it was.
    pub fn attempt(
        &mut self,
        actor: Actor,
        on_behalf_of: Option<UserId>,
        command: &Command,
    ) -> Result<Vec<Event>, DomainError> {
        let mut ctx = self.context(actor, on_behalf_of);
        ctx.compensating = self.compensating(command);
        let events = decide(&self.state, &ctx, command)?;
        self.apply(&ctx, events.clone());
        Ok(events)
    }

    /// Decides and applies the outcome of an accepted outcome.
    pub fn apply_outcome(&mut self, actor: Actor, events: Vec<Event>) {
        let ctx = self.context(actor, None);
        self.apply(&ctx, events);
    }

    fn apply(&mut self, ctx: &Context, events: Vec<Event>) {
        for event in events {
            let position = self.state.position() + 1;
            let envelope = Envelope {
                position,
                org_id: self.org,
                stream_id: event.stream(self.org),
                stream_version: 0,
                event_id: EventId(Uuid::from_u128(position as u128)),
                occurred_at: self.now,
                actor: ctx.actor.clone(),
                on_behalf_of: ctx.on_behalf_of,
                command_id: ctx.command_id,
                correlation_id: CorrelationId(ctx.command_id.0),
                causation_id: ctx.command_id.0,
                prev_hash: GENESIS_HASH.to_owned(),
                hash: String::new(),
                event,
            };
            self.state.apply(&envelope);
            self.log.push(envelope);
        }
    }

    /// Lets time pass.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Adds an active user with `role`, invited by the owner; returns the id.
    pub fn hire(&mut self, email: &str, role: Role) -> UserId {
        let (first, last) = email.split_once('@').map(|(l, _)| (l, "Tester")).unwrap();
        let command = Command::InviteUser {
            user: NewUser {
                email: email.into(),
                first_name: first.into(),
                last_name: last.into(),
                job_title: None,
                external_id: None,
                department: None,
                employee_number: None,
                user_name: None,
            },
            role,
            manager: None,
            active: true,
        };
        let events = self.run(user_actor(self.owner), command);
        let Event::UserInvited(invited) = &events[0] else {
            unreachable!()
        };
        invited.user_id
    }

    /// The id of the listed user with this email.
    pub fn user(&self, email: &str) -> UserId {
        self.org_state()
            .directory()
            .user_by_email(email)
            .unwrap_or_else(|| panic!("no user {email}"))
            .id
    }

    /// Registers resources to `owner` (by the org owner).
    pub fn own(&mut self, owner: UserId, resources: Vec<ResourceKey>) {
        self.run(
            user_actor(self.owner),
            Command::RegisterResources { owner, resources },
        );
    }

    pub fn owner_of(&self, k: &str) -> Option<UserId> {
        self.org_state().ownership().owner_of(&key(k))
    }

    pub fn status(&self, user: UserId) -> UserStatus {
        self.org_state().directory().user(user).unwrap().status
    }
}
