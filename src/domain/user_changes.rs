//! `ApplyUserChanges` (issue 17): the changes of a directory import, or of one SCIM
//! request, as ONE command. Each change is decided by its own rule, as the caller would
//! be if it sent it alone, against a scratch copy of the org updated by the changes
//! before it; every problem is collected, and the command appends every event or none.
//! So a refusal at change N never leaves changes 1..N-1 written.

use offboard_events::{CommandId, CorrelationId, Envelope, Event, EventId};
use offboard_projections::OrgState;
use uuid::Uuid;

use super::authority::Scope;
use super::command::{Command, CommandKind};
use super::error::{Decided, DomainError};
use super::naming::{Lookup, UserRef};
use super::{decide_in, Context};

/// Most changes one `ApplyUserChanges` may carry (a directory of thousands of users,
/// a few changes each).
pub const MAX_USER_CHANGES: usize = 100_000;

/// At most this many refused changes are named in the error.
const NAMED: usize = 10;

/// The kinds a user change may be: what a directory or an identity provider changes.
fn allowed(kind: CommandKind) -> bool {
    use CommandKind as K;
    matches!(
        kind,
        K::InviteUser
            | K::UpdateProfile
            | K::ChangeRole
            | K::SetManager
            | K::ActivateUser
            | K::DeactivateUser
            | K::ReactivateUser
    )
}

/// `ApplyUserChanges`: every change decided in order against the state the ones before
/// it leave; all their events, or the first refusal naming every refused change.
pub fn apply(scope: Scope, changes: &[Command<UserRef>]) -> Decided<Vec<Event>> {
    match changes.len() {
        0 => return Err(DomainError::InvalidInput("no changes given".to_owned())),
        n if n > MAX_USER_CHANGES => {
            return Err(DomainError::InvalidInput(format!(
                "at most {MAX_USER_CHANGES} changes per command; split the import"
            )))
        }
        _ => {}
    }
    let mut scratch: Option<OrgState> = None;
    let mut events = Vec::new();
    let mut refused: Vec<(usize, &Command<UserRef>, DomainError)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let org = scratch.as_ref().unwrap_or(scope.org);
        match decide_change(org, scope.ctx, i, change) {
            Ok(decided) if decided.is_empty() => {}
            Ok(decided) => {
                // The copy is made for the changes after this one, if any.
                if i + 1 < changes.len() {
                    let org = scratch.get_or_insert_with(|| scope.org.scratch());
                    fold(org, scope.ctx, &decided, events.len());
                }
                events.extend(decided);
            }
            Err(e) => refused.push((i, change, e)),
        }
    }
    match refused.is_empty() {
        true => Ok(events),
        false => Err(refusal(refused, changes.len())),
    }
}

/// One change, decided as its own command (with its own derived command id, so two
/// invitations get two user ids) in `org`.
fn decide_change(
    org: &OrgState,
    ctx: &Context,
    i: usize,
    change: &Command<UserRef>,
) -> Decided<Vec<Event>> {
    let kind = CommandKind::from(change);
    if !allowed(kind) {
        return Err(DomainError::InvalidInput(format!(
            "{} is not a user change (invite_user, update_profile, change_role, set_manager, activate_user, deactivate_user or reactivate_user)",
            kind.tag()
        )));
    }
    let command = change
        .clone()
        .resolve(|u, _: Lookup| u.lookup(org, false))?;
    let ctx = Context {
        command_id: CommandId(ctx.new_id(i as u32)),
        ..ctx.clone()
    };
    decide_in(Scope { org, ctx: &ctx }, &command)
}

/// Folds decided events into the scratch copy, as the writer would apply them.
fn fold(org: &mut OrgState, ctx: &Context, events: &[Event], before: usize) {
    for (n, event) in events.iter().enumerate() {
        let env = Envelope {
            // Past any real position: the copy only needs them increasing.
            position: u64::MAX / 2 + (before + n) as u64,
            org_id: ctx.org_id,
            stream_id: event.stream(ctx.org_id),
            stream_version: 0,
            event_id: EventId(Uuid::nil()),
            occurred_at: ctx.now,
            actor: ctx.actor.clone(),
            on_behalf_of: ctx.on_behalf_of,
            command_id: ctx.command_id,
            correlation_id: CorrelationId(Uuid::nil()),
            causation_id: ctx.command_id.0,
            prev_hash: String::new(),
            hash: String::new(),
            event: event.clone(),
        };
        org.fold(&env);
    }
}

/// The first refusal, its message naming its change (when there are several) and every
/// other refused change.
fn refusal(refused: Vec<(usize, &Command<UserRef>, DomainError)>, total: usize) -> DomainError {
    let mut all = refused.into_iter();
    let Some((i, change, first)) = all.next() else {
        return DomainError::InvalidInput("no change refused".to_owned());
    };
    if total == 1 {
        return first;
    }
    let rest: Vec<String> = all
        .map(|(i, change, e)| format!("{}: {e}", label(i, change, total)))
        .collect();
    let mut prefix = label(i, change, total);
    if !rest.is_empty() {
        let more = rest.len().saturating_sub(NAMED);
        let named = rest.into_iter().take(NAMED).collect::<Vec<_>>().join("; ");
        let tail = match more {
            0 => String::new(),
            n => format!("; and {n} more"),
        };
        prefix = format!("(also refused: {named}{tail}) {prefix}");
    }
    prefixed(first, &prefix)
}

/// `change 3 of 7 (set_manager)`.
fn label(i: usize, change: &Command<UserRef>, total: usize) -> String {
    format!("change {} of {total} ({})", i + 1, change.name())
}

/// `e` with `prefix` before its message, same variant (so the same code and status).
fn prefixed(e: DomainError, prefix: &str) -> DomainError {
    let p = |m: String| format!("{prefix}: {m}");
    match e {
        DomainError::NotFound(m) => DomainError::NotFound(p(m)),
        DomainError::Forbidden(m) => DomainError::Forbidden(p(m)),
        DomainError::InvalidInput(m) => DomainError::InvalidInput(p(m)),
        DomainError::AlreadyExists(m) => DomainError::AlreadyExists(p(m)),
        DomainError::InvalidState(m) => DomainError::InvalidState(p(m)),
        // Their messages are fixed shapes (an email, a user): kept as they are.
        other => other,
    }
}
