//! The domain: rules R1–R29 as pure decisions. `decide` turns a command into the events
//! it causes, or a [`DomainError`], by reading the projected [`State`]; it does no I/O,
//! so the single writer can call it inside a group commit and tests can call it directly.
//!
//! The org's policy (R8, R10, R11) is part of its state (its `PolicyChanged` events), so
//! `decide` reads it there rather than taking it as a separate argument.

mod authority;
mod command;
mod compensation;
mod context;
mod credits;
mod deprovision;
mod distributions;
mod duties;
mod error;
mod groups;
mod handover;
mod holdings;
mod labels;
mod lookup;
mod map_users;
mod naming;
mod offboarding;
mod org;
mod plan;
mod profile;
mod record_roles;
mod resources;
mod restore;
mod schedule;
mod schedule_run;
mod schedule_time;
mod spelling;
mod sync;
mod user_changes;
mod users;
mod validate;

use offboard_events::Event;
use offboard_projections::State;

pub use authority::Scope;
pub use command::{
    Command, CommandKind, Holding, NewUser, OffboardPlan, PolicyChange, ProfileChange, Recipients,
    RoleHolders, Strategy,
};
pub use context::Context;
pub use credits::MAX_CREDITS;
pub use error::{Blocker, Decided, DomainError};
pub use holdings::{plural, Holdings};
pub use lookup::resolve_in;
pub use naming::{AccountRef, ById, Lookup, MapUsers, MemberRef, Resolve, UserNaming, UserRef};
pub use plan::{plan, DistributionPlace, FollowUpBlockers, Plan};
pub use resources::{split, MAX_REGISTER};
pub use restore::compensated_correlation;
pub use schedule::MAX_DELETE_AFTER_DAYS;
pub use schedule_time::resolve as resolve_schedule_time;
pub use sync::MAX_SYNC_BATCH;
pub use user_changes::MAX_USER_CHANGES;
pub use validate::{is_hidden, new_key_refusal, resource_key};

/// Decides `command` in `ctx` against `state`: the events to append, or why not.
pub fn decide(state: &State, ctx: &Context, command: &Command) -> Decided<Vec<Event>> {
    if let Command::CreateOrganization { name, owner } = command {
        return org::create(state, ctx, name, owner);
    }
    // R1: nothing crosses organizations; an unknown org is simply not found.
    let org = state
        .org(ctx.org_id)
        .ok_or_else(|| DomainError::NotFound(format!("organization {}", ctx.org_id)))?;
    decide_in(Scope { org, ctx }, command)
}

/// Decides `command` in `scope` (an org's state, possibly a scratch copy of it).
fn decide_in(scope: Scope, command: &Command) -> Decided<Vec<Event>> {
    let command = &*spelling::as_stored(scope.org.ownership(), command)?;
    scope.check_impersonation()?;
    scope.check_provisioner(CommandKind::from(command))?;
    match command {
        Command::CreateOrganization { .. } => unreachable!("handled above"),
        Command::SetPolicy(change) => org::set_policy(scope, change),
        Command::TransferOrgOwnership { to } => org::transfer_ownership(scope, *to),
        Command::RegisterPrincipal { kind, name } => org::register_principal(scope, *kind, name),

        Command::InviteUser {
            user,
            role,
            manager,
            active,
        } => users::invite(scope, user, *role, *manager, *active),
        Command::ActivateUser { user } => users::activate(scope, *user),
        Command::UpdateProfile { user, change } => profile::update(scope, *user, change),
        Command::ChangeRole { user, role } => users::change_role(scope, *user, *role),
        Command::SetManager { user, manager } => users::set_manager(scope, *user, *manager),
        Command::CreateGroup { name, owner } => users::create_group(scope, name, *owner),
        Command::JoinGroup { group, user } => users::membership(scope, group, *user, true),
        Command::LeaveGroup { group, user } => users::membership(scope, group, *user, false),
        Command::UpdateGroup {
            group,
            name,
            external_id,
        } => groups::update(scope, group, name.as_deref(), external_id.as_deref()),
        Command::DeleteGroup { group } => groups::delete(scope, group),
        Command::DeactivateUser { user } => users::deactivate(scope, *user),
        Command::ReactivateUser { user } => users::reactivate(scope, *user),
        Command::DeleteUser { user, confirm } => offboarding::delete(scope, *user, confirm),
        Command::Deprovision {
            user,
            deactivate_only,
        } => deprovision::deprovision(scope, *user, *deactivate_only),

        Command::RegisterResources { owner, resources } => {
            resources::register(scope, *owner, resources)
        }
        Command::TransferResources {
            from,
            resources,
            to,
        } => resources::transfer_selected(scope, *from, resources, *to),
        Command::TransferAll {
            from,
            kind,
            to,
            strategy,
        } => resources::transfer_all(scope, *from, kind, to, *strategy),
        Command::TransferAccount {
            from,
            to,
            then,
            confirm,
        } => offboarding::transfer_account(scope, *from, *to, *then, confirm.as_deref()),
        Command::RetireResources { resources } => sync::retire(scope, resources),
        Command::SyncResources {
            owners,
            retire,
            roles,
        } => {
            // A batch of roles alone (a sync sends roles after every owner batch).
            let mut events = match owners.is_empty() && retire.is_empty() && !roles.is_empty() {
                true => Vec::new(),
                false => sync::sync(scope, owners, retire)?,
            };
            events.extend(record_roles::sync(scope, roles)?);
            Ok(events)
        }

        Command::DeclareRecordRole { role, multi } => record_roles::declare(scope, role, *multi),
        Command::SetRecordRole {
            role,
            user,
            resources,
        } => record_roles::set(scope, role, *user, resources),
        Command::UnsetRecordRole {
            role,
            user,
            resources,
        } => record_roles::unset(scope, role, *user, resources),
        Command::TransferRecordRoles {
            from,
            role,
            kind,
            to,
            strategy,
        } => record_roles::transfer(scope, *from, role, kind.as_deref(), to, *strategy),
        Command::ApplyUserChanges { changes } => user_changes::apply(scope, changes),

        Command::AssignDuty { duty, to } => duties::assign(scope, duty, *to),
        Command::CreateDistribution {
            name,
            kind,
            members,
            backup,
        } => distributions::create(scope, name, *kind, members, *backup),
        Command::RemoveDistributionMember {
            distribution,
            user,
            members,
        } => distributions::remove_member(scope, distribution, *user, members.as_deref()),
        Command::SetDistributionMembers {
            distribution,
            members,
        } => distributions::set_members(scope, distribution, members),
        Command::SetDistributionBackup {
            distribution,
            backup,
        } => distributions::set_backup(scope, distribution, *backup),
        Command::CreateLabel { name, members } => labels::create(scope, name, members),
        Command::AddLabelMember { label, user } => labels::add(scope, label, *user),
        Command::RemoveLabelMember {
            label,
            user,
            replacement,
        } => labels::remove(scope, label, *user, *replacement),

        Command::AddCreditsToPool { amount } => credits::add_to_pool(scope, *amount),
        Command::GrantCredits { user, amount } => credits::grant(scope, *user, *amount),
        Command::UseCredits { user, amount } => credits::use_credits(scope, *user, *amount),
        Command::TransferCredits { from, to, amount } => {
            credits::transfer(scope, *from, *to, *amount)
        }

        Command::RestoreUser {
            user,
            return_ownership,
            new_email,
            reactivate,
        } => restore::restore(
            scope,
            *user,
            *return_ownership,
            new_email.as_deref(),
            *reactivate,
        ),
        Command::RevertOffboarding { correlation_id } => restore::revert(scope, *correlation_id),
        Command::PurgeUser { user, confirm } => restore::purge(scope, *user, confirm),
        Command::PurgeExpired => restore::purge_expired(scope),

        Command::Offboard {
            user,
            plan,
            then,
            confirm,
        } => offboarding::offboard(scope, *user, plan, *then, confirm.as_deref()),

        Command::ScheduleOffboarding {
            user,
            at,
            plan,
            then,
            delete_after_days,
            confirm,
        } => schedule::schedule(
            scope,
            schedule::NewSchedule {
                user: *user,
                at,
                plan: plan.as_ref(),
                then: *then,
                delete_after_days: *delete_after_days,
                confirm: confirm.as_deref(),
            },
        ),
        Command::MoveSchedule { schedule, at } => schedule::move_to(scope, *schedule, at),
        Command::CancelSchedule { schedule } => schedule::cancel(scope, *schedule),
        Command::RunSchedule { schedule } => schedule_run::run(scope, *schedule),
    }
}
