//! Commands whose users are named by id or email (the HTTP API's wire form,
//! `Command<UserRef>`), found by the writer in the very state it decides them on.
//!
//! Finding them in the request's task instead takes the state's read lock, which the
//! writer holds through each group commit (`shared_state.rs`): the task's thread — a
//! tokio worker, with every connection it serves — blocks, and the writer drains its
//! pipeline to let it in. Over HTTP that made every command wait for the groups in
//! flight (`docs/performance.md`, 2026-12-02). A few rare commands are still resolved
//! first, under the lock: those that read history before they are decided (a restore
//! that returns ownership, a revert, a purge), since what they read depends on who they
//! name, and every restore, whose lookup of a deleted user walks the directory.

use std::time::Instant;

use offboard_events::UserId;

use super::writer::{Naming, Retry, Work};
use super::{command_fingerprint, deciding, undated_context, AppendError, Appended, CommandMeta};
use crate::domain::{self, Command, DomainError, UserNaming, UserRef};
use crate::Engine;

impl Engine {
    /// [`Self::execute`] for a command whose users — and the `on_behalf_of` user, which
    /// replaces `meta.on_behalf_of` — are named by id or email, found in `meta.org_id` as
    /// the command is decided ([`UserRef::lookup`]). A user not found is `Rejected`
    /// (`not_found`); text that is neither an id nor an email is `Invalid`. Either
    /// appends nothing.
    ///
    /// A restore, a revert and the purges are resolved up front instead, in the durable
    /// state: the first two and the purges read history first, and a restore looks for a
    /// deleted user through the whole directory.
    ///
    /// **Durability: as [`Self::execute`] — when this returns `Ok`, every event of the
    /// command is on stable storage; on `Err`, nothing was written, except
    /// [`AppendError::OutcomeUnknown`].**
    pub async fn execute_named(
        &self,
        meta: CommandMeta,
        on_behalf_of: Option<UserRef>,
        command: Command<UserRef>,
    ) -> Result<Appended, AppendError> {
        if resolved_up_front(&command) {
            let (meta, command) = {
                let state = self.state();
                let org = org_of(&state, &meta)?;
                let on_behalf_of = on_behalf(org, on_behalf_of.as_ref(), false).map_err(unfound)?;
                let command = domain::resolve_in(org, command, false).map_err(unfound)?;
                (
                    CommandMeta {
                        on_behalf_of,
                        ..meta
                    },
                    command,
                )
            };
            return self.execute(meta, command).await;
        }
        let started = Instant::now();
        let name = domain::CommandKind::from(&command).tag();
        let naming: Naming = Box::new(move |state, meta, retry| {
            let org = org_of(state, meta)?;
            let deleted_too = retry == Retry::Yes;
            meta.on_behalf_of =
                on_behalf(org, on_behalf_of.as_ref(), deleted_too).map_err(unfound)?;
            let command = domain::resolve_in(org, command, deleted_too).map_err(unfound)?;
            let fingerprint = command_fingerprint(meta, &[], &command);
            Ok((fingerprint, deciding(undated_context(meta), command)))
        });
        let result = self.submit(meta, Vec::new(), Work::Named(naming)).await;
        self.parts
            .metrics
            .answered(name, &result, started.elapsed());
        result
    }
}

/// A user reference that finds no one: text that is neither an id nor an email is a
/// malformed request (`Invalid`, HTTP 400), an email no user has a refusal
/// (`not_found`, 404).
fn unfound(e: DomainError) -> AppendError {
    match e {
        DomainError::InvalidInput(message) => AppendError::Invalid(message),
        other => AppendError::Rejected(other),
    }
}

/// The organization `meta` acts in.
fn org_of<'a>(
    state: &'a offboard_projections::State,
    meta: &CommandMeta,
) -> Result<&'a offboard_projections::OrgState, DomainError> {
    state
        .org(meta.org_id)
        .ok_or_else(|| DomainError::NotFound(format!("organization {}", meta.org_id)))
}

/// The `On-Behalf-Of` user: a listed one (or, for a retry, a deleted one too).
fn on_behalf(
    org: &offboard_projections::OrgState,
    user: Option<&UserRef>,
    deleted_too: bool,
) -> Result<Option<UserId>, DomainError> {
    user.map(|u| u.lookup(org, deleted_too)).transpose()
}

/// Whether deciding `command` needs the events of an earlier offboarding, read from the
/// log before it is decided ([`Engine::compensating`]).
pub(super) fn compensates<U: UserNaming>(command: &Command<U>) -> bool {
    matches!(
        command,
        Command::RestoreUser {
            return_ownership: true,
            ..
        } | Command::RevertOffboarding { .. }
    )
}

/// Whether `command` may purge users, so it first looks for the profiles a purge
/// cannot erase ([`Engine::plaintext_profiles`]).
pub(super) fn purges<U: UserNaming>(command: &Command<U>) -> bool {
    matches!(command, Command::PurgeUser { .. } | Command::PurgeExpired)
}

/// Whether `command`'s users are found before it is queued, under the state's lock:
/// those that read the log first, and every restore, whose lookup of a deleted user by
/// email walks the whole directory (too long for the writer's thread in a large org).
fn resolved_up_front<U: UserNaming>(command: &Command<U>) -> bool {
    compensates(command) || purges(command) || matches!(command, Command::RestoreUser { .. })
}

#[cfg(test)]
mod tests {
    use offboard_events::{Actor, CommandId, CorrelationId, OrgId, UserId};
    use serde_json::json;
    use uuid::Uuid;

    use super::super::fingerprint;
    use super::*;

    /// The command index keeps each command's fingerprint, and a retry is told from
    /// another command by it: a change to what is fingerprinted would make every retry
    /// straddling an upgrade a `conflict`. The payload below is the one earlier builds
    /// hashed (`Engine::execute_expecting` before users were found by the writer).
    #[test]
    fn a_commands_fingerprint_is_the_one_earlier_builds_stored() {
        let id = |n: u128| Uuid::from_u128(n);
        let meta = CommandMeta {
            org_id: OrgId(id(1)),
            actor: Actor::User { id: UserId(id(2)) },
            on_behalf_of: Some(UserId(id(3))),
            command_id: CommandId(id(9)),
            correlation_id: Some(CorrelationId(id(4))),
            causation_id: None,
        };
        let command = Command::RegisterResources {
            owner: UserId(id(5)),
            resources: vec!["task:t-1".parse().unwrap()],
        };
        let earlier = fingerprint(&json!({
            "kind": "command",
            "org_id": meta.org_id,
            "actor": meta.actor,
            "on_behalf_of": meta.on_behalf_of,
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
            "expected": Vec::<(offboard_events::StreamId, super::super::ExpectedVersion)>::new(),
            "command": command,
        }));
        let now = command_fingerprint(&meta, &[], &command);
        assert_eq!(now, earlier);
        assert_eq!(
            now,
            "62c952c25fdef6f2c01f973bae4ba93759249076b4c65a34be3c46a3c001080d"
        );
    }
}
