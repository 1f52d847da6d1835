//! Commands whose users are named by id or email (the HTTP API's wire form,
//! `Command<UserRef>`), found by the writer in the very state it decides them on.
//!
//! Finding them in the request's task instead takes the state's read lock, which the
//! writer holds through each group commit (`shared_state.rs`): the task's thread — a
//! tokio worker, with every connection it serves — blocks, and the writer drains its
//! pipeline to let it in. Over HTTP that made every command wait for the groups in
//! flight (`docs/performance.md`, 2026-12-02). The few commands that read history
//! before they are decided (a restore that returns ownership, a revert, a purge) are
//! still resolved first, under the lock, since what they read depends on who they name.

use std::time::Instant;

use offboard_events::UserId;

use super::writer::{Naming, Work};
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
    /// A restore returning ownership, a revert and the purges read history first, so
    /// their users are found up front, in the durable state.
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
        if reads_history(&command) {
            let (meta, command) = {
                let state = self.state();
                let org = org_of(&state, &meta)?;
                let on_behalf_of = on_behalf(org, on_behalf_of.as_ref()).map_err(unfound)?;
                let command = domain::resolve_in(org, command).map_err(unfound)?;
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
        let naming: Naming = Box::new(move |state, meta| {
            let org = org_of(state, meta)?;
            meta.on_behalf_of = on_behalf(org, on_behalf_of.as_ref()).map_err(unfound)?;
            let command = domain::resolve_in(org, command).map_err(unfound)?;
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

/// The `On-Behalf-Of` user, a listed one.
fn on_behalf(
    org: &offboard_projections::OrgState,
    user: Option<&UserRef>,
) -> Result<Option<UserId>, DomainError> {
    user.map(|u| u.lookup(org, false)).transpose()
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

/// Whether deciding `command` needs to read the log first.
fn reads_history<U: UserNaming>(command: &Command<U>) -> bool {
    compensates(command) || purges(command)
}
