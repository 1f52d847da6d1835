//! Bench data built through the public command API: an org, its users, their resources.

use std::sync::Arc;
use std::time::Instant;

use offboard_events::{Actor, FollowUp, OrgId, ResourceKey, Role, UserId};
use tokio::task::JoinSet;

use super::{fail, BenchError};
use crate::domain::{Command, NewUser, OffboardPlan};
use crate::{CommandMeta, Engine};

/// Resources per `RegisterResources` command when loading data.
pub const CHUNK: usize = 10_000;

/// An org with users, on an engine.
pub struct Fixture {
    pub engine: Arc<Engine>,
    pub org: OrgId,
    pub owner: UserId,
    pub users: Vec<UserId>,
}

impl Fixture {
    /// A command by the org's owner.
    pub fn as_owner(&self) -> CommandMeta {
        CommandMeta::new(self.org, Actor::User { id: self.owner })
    }

    /// Runs a command by the owner; any rejection fails the benchmark.
    pub async fn run(&self, command: Command) -> Result<crate::Appended, BenchError> {
        self.engine
            .execute(self.as_owner(), command)
            .await
            .map_err(fail)
    }

    /// Offboards `leaver` along `plan`, then deletes them (confirmed); returns the
    /// seconds it took.
    pub async fn offboard_and_delete(
        &self,
        leaver: UserId,
        plan: OffboardPlan,
    ) -> Result<f64, BenchError> {
        let started = Instant::now();
        self.run(Command::Offboard {
            user: leaver,
            plan,
            then: FollowUp::Delete,
            confirm: Some("CONFIRM".into()),
        })
        .await?;
        Ok(started.elapsed().as_secs_f64())
    }

    /// Restores a deleted `leaver`, active, with everything they owned; returns the
    /// seconds it took.
    pub async fn restore_with_ownership(&self, leaver: UserId) -> Result<f64, BenchError> {
        let started = Instant::now();
        self.run(Command::RestoreUser {
            user: leaver,
            return_ownership: true,
            new_email: None,
            reactivate: true,
        })
        .await?;
        Ok(started.elapsed().as_secs_f64())
    }

    /// Creates the org and `users` active members, concurrently (group commit batches them).
    pub async fn new(engine: Engine, users: usize) -> Result<Self, BenchError> {
        let engine = Arc::new(engine);
        let org = OrgId::new();
        let owner = new_user("owner");
        engine
            .execute(
                CommandMeta::new(org, Actor::System),
                Command::CreateOrganization {
                    name: "Bench".into(),
                    owner,
                },
            )
            .await
            .map_err(fail)?;
        let owner = engine
            .state()
            .org(org)
            .ok_or_else(|| fail("org missing"))?
            .owner();
        let mut tasks = JoinSet::new();
        for i in 0..users {
            let engine = Arc::clone(&engine);
            tasks.spawn(async move {
                let invite = Command::InviteUser {
                    user: new_user(&format!("u{i}")),
                    role: Role::Member,
                    manager: None,
                    active: true,
                };
                engine
                    .execute(CommandMeta::new(org, Actor::User { id: owner }), invite)
                    .await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(fail)?.map_err(fail)?;
        }
        let users = (0..users)
            .map(|i| {
                engine.state().org(org).and_then(|o| {
                    o.directory()
                        .user_by_email(&format!("u{i}@bench.example"))
                        .map(|u| u.id)
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| fail("invited user missing"))?;
        Ok(Self {
            engine,
            org,
            owner,
            users,
        })
    }

    /// Registers `keys` to `owner` in chunks, concurrently.
    pub async fn register(&self, owner: UserId, keys: Vec<ResourceKey>) -> Result<(), BenchError> {
        let mut tasks = JoinSet::new();
        for chunk in keys.chunks(CHUNK) {
            let engine = Arc::clone(&self.engine);
            let meta = self.as_owner();
            let command = Command::RegisterResources {
                owner,
                resources: chunk.to_vec(),
            };
            tasks.spawn(async move { engine.execute(meta, command).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(fail)?.map_err(fail)?;
        }
        Ok(())
    }
}

/// A bench user named `name`: `NAME@bench.example`.
pub fn new_user(name: &str) -> NewUser {
    NewUser {
        email: format!("{name}@bench.example"),
        first_name: name.to_owned(),
        last_name: "Bench".into(),
        job_title: None,
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    }
}

/// `kind:prefix-i` for i in `range`.
pub fn keys(kind: &str, prefix: &str, range: std::ops::Range<u64>) -> Vec<ResourceKey> {
    range
        .map(|i| ResourceKey::new(kind, &format!("{prefix}-{i}")).expect("a valid key"))
        .collect()
}
