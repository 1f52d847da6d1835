//! The one place that knows where each command names users: [`Command::map_users`]
//! turns a command naming users one way into the same command naming them another way.
//! The server resolves a wire command (`Command<UserRef>`, emails or ids) with it; a
//! client writes a domain command on the wire with it.

use std::collections::BTreeMap;

use offboard_events::UserId;

use super::command::{Command, Holding, OffboardPlan, Recipients, RoleHolders};
use super::naming::{ById, Lookup, MapUsers, Resolve, UserNaming, UserRef};

impl Command<UserRef> {
    /// The domain command: every user resolved by `user`, which is told whether a
    /// deleted user may be named (restore and purge act on one). Stops at the first
    /// user `user` refuses, with its error.
    pub fn resolve<E>(
        self,
        user: impl FnMut(&UserRef, Lookup) -> Result<UserId, E>,
    ) -> Result<Command, E> {
        self.map_users(&mut Resolve(user))
    }
}

impl Command {
    /// The command as the API takes it, users by id.
    pub fn to_wire(&self) -> Command<UserRef> {
        match self.clone().map_users(&mut ById) {
            Ok(wire) => wire,
            Err(never) => match never {},
        }
    }
}

impl<A: UserNaming> Command<A> {
    /// The same command with every user, member and credit account mapped by `m`.
    /// One arm per command, so a new command that names users cannot be forgotten here.
    pub fn map_users<B: UserNaming, M: MapUsers<A, B>>(
        self,
        m: &mut M,
    ) -> Result<Command<B>, M::Error> {
        use Command as C;
        use Lookup::{DeletedToo, Listed};
        Ok(match self {
            C::CreateOrganization { name, owner } => C::CreateOrganization { name, owner },
            C::SetPolicy(change) => C::SetPolicy(change),
            // Named by id or email inside, resolved as each change is decided.
            C::ApplyUserChanges { changes } => C::ApplyUserChanges { changes },
            C::TransferOrgOwnership { to } => C::TransferOrgOwnership {
                to: m.user(to, Listed)?,
            },
            C::RegisterPrincipal { kind, name } => C::RegisterPrincipal { kind, name },
            C::InviteUser {
                user,
                role,
                manager,
                active,
            } => C::InviteUser {
                user,
                role,
                manager: opt(m, manager)?,
                active,
            },
            C::ActivateUser { user } => C::ActivateUser {
                user: m.user(user, Listed)?,
            },
            C::UpdateProfile { user, change } => C::UpdateProfile {
                user: m.user(user, Listed)?,
                change,
            },
            C::ChangeRole { user, role } => C::ChangeRole {
                user: m.user(user, Listed)?,
                role,
            },
            C::SetManager { user, manager } => C::SetManager {
                user: m.user(user, Listed)?,
                manager: opt(m, manager)?,
            },
            C::CreateGroup { name, owner } => C::CreateGroup {
                name,
                owner: m.user(owner, Listed)?,
            },
            C::JoinGroup { group, user } => C::JoinGroup {
                group,
                user: m.user(user, Listed)?,
            },
            C::LeaveGroup { group, user } => C::LeaveGroup {
                group,
                user: m.user(user, Listed)?,
            },
            C::UpdateGroup {
                group,
                name,
                external_id,
            } => C::UpdateGroup {
                group,
                name,
                external_id,
            },
            C::DeleteGroup { group } => C::DeleteGroup { group },
            C::DeactivateUser { user } => C::DeactivateUser {
                user: m.user(user, Listed)?,
            },
            C::ReactivateUser { user } => C::ReactivateUser {
                user: m.user(user, Listed)?,
            },
            C::Deprovision {
                user,
                deactivate_only,
            } => C::Deprovision {
                user: m.user(user, Listed)?,
                deactivate_only,
            },
            C::DeleteUser { user, confirm } => C::DeleteUser {
                user: m.user(user, Listed)?,
                confirm,
            },
            C::RegisterResources { owner, resources } => C::RegisterResources {
                owner: m.user(owner, Listed)?,
                resources,
            },
            C::TransferResources {
                from,
                resources,
                to,
            } => C::TransferResources {
                from: m.user(from, Listed)?,
                resources,
                to: m.user(to, Listed)?,
            },
            C::TransferAll {
                from,
                kind,
                to,
                strategy,
            } => C::TransferAll {
                from: m.user(from, Listed)?,
                kind,
                to: all(m, to)?,
                strategy,
            },
            C::TransferAccount {
                from,
                to,
                then,
                confirm,
            } => C::TransferAccount {
                from: m.user(from, Listed)?,
                to: m.user(to, Listed)?,
                then,
                confirm,
            },
            C::RetireResources { resources } => C::RetireResources { resources },
            C::SyncResources {
                owners,
                retire,
                roles,
            } => C::SyncResources {
                owners: owners
                    .into_iter()
                    .map(|h| {
                        Ok(Holding {
                            owner: m.user(h.owner, Listed)?,
                            resources: h.resources,
                        })
                    })
                    .collect::<Result<_, _>>()?,
                retire,
                roles: roles
                    .into_iter()
                    .map(|r| {
                        Ok(RoleHolders {
                            role: r.role,
                            resource: r.resource,
                            holders: all(m, r.holders)?,
                        })
                    })
                    .collect::<Result<_, _>>()?,
            },
            C::DeclareRecordRole { role, multi } => C::DeclareRecordRole { role, multi },
            C::SetRecordRole {
                role,
                user,
                resources,
            } => C::SetRecordRole {
                role,
                user: m.user(user, Listed)?,
                resources,
            },
            C::UnsetRecordRole {
                role,
                user,
                resources,
            } => C::UnsetRecordRole {
                role,
                user: opt(m, user)?,
                resources,
            },
            C::TransferRecordRoles {
                from,
                role,
                kind,
                to,
                strategy,
            } => C::TransferRecordRoles {
                from: m.user(from, Listed)?,
                role,
                kind,
                to: all(m, to)?,
                strategy,
            },
            C::AssignDuty { duty, to } => C::AssignDuty {
                duty,
                to: m.user(to, Listed)?,
            },
            C::CreateDistribution {
                name,
                kind,
                members,
                backup,
            } => C::CreateDistribution {
                name,
                kind,
                members: members_of(m, members)?,
                backup: opt(m, backup)?,
            },
            C::RemoveDistributionMember {
                distribution,
                user,
                members,
            } => C::RemoveDistributionMember {
                distribution,
                user: m.user(user, Listed)?,
                members: members.map(|list| members_of(m, list)).transpose()?,
            },
            C::SetDistributionMembers {
                distribution,
                members,
            } => C::SetDistributionMembers {
                distribution,
                members: members_of(m, members)?,
            },
            C::SetDistributionBackup {
                distribution,
                backup,
            } => C::SetDistributionBackup {
                distribution,
                backup: opt(m, backup)?,
            },
            C::CreateLabel { name, members } => C::CreateLabel {
                name,
                members: all(m, members)?,
            },
            C::AddLabelMember { label, user } => C::AddLabelMember {
                label,
                user: m.user(user, Listed)?,
            },
            C::RemoveLabelMember {
                label,
                user,
                replacement,
            } => C::RemoveLabelMember {
                label,
                user: m.user(user, Listed)?,
                replacement: opt(m, replacement)?,
            },
            C::AddCreditsToPool { amount } => C::AddCreditsToPool { amount },
            C::GrantCredits { user, amount } => C::GrantCredits {
                user: m.user(user, Listed)?,
                amount,
            },
            C::UseCredits { user, amount } => C::UseCredits {
                user: m.user(user, Listed)?,
                amount,
            },
            C::TransferCredits { from, to, amount } => C::TransferCredits {
                from: m.account(from)?,
                to: m.account(to)?,
                amount,
            },
            C::RestoreUser {
                user,
                return_ownership,
                new_email,
                reactivate,
            } => C::RestoreUser {
                user: m.user(user, DeletedToo)?,
                return_ownership,
                new_email,
                reactivate,
            },
            C::RevertOffboarding { correlation_id } => C::RevertOffboarding { correlation_id },
            C::PurgeUser { user, confirm } => C::PurgeUser {
                user: m.user(user, DeletedToo)?,
                confirm,
            },
            C::PurgeExpired => C::PurgeExpired,
            C::ScheduleOffboarding {
                user,
                at,
                plan,
                then,
                delete_after_days,
                confirm,
            } => C::ScheduleOffboarding {
                user: m.user(user, Listed)?,
                at,
                plan: plan.map(|p| plan_of(m, p)).transpose()?,
                then,
                delete_after_days,
                confirm,
            },
            C::MoveSchedule { schedule, at } => C::MoveSchedule { schedule, at },
            C::CancelSchedule { schedule } => C::CancelSchedule { schedule },
            C::RunSchedule { schedule } => C::RunSchedule { schedule },
            C::Offboard {
                user,
                plan,
                then,
                confirm,
            } => C::Offboard {
                user: m.user(user, Listed)?,
                plan: plan_of(m, plan)?,
                then,
                confirm,
            },
        })
    }
}

fn opt<A: UserNaming, B: UserNaming, M: MapUsers<A, B>>(
    m: &mut M,
    user: Option<A>,
) -> Result<Option<B>, M::Error> {
    user.map(|u| m.user(u, Lookup::Listed)).transpose()
}

fn all<A: UserNaming, B: UserNaming, M: MapUsers<A, B>>(
    m: &mut M,
    users: Vec<A>,
) -> Result<Vec<B>, M::Error> {
    users
        .into_iter()
        .map(|u| m.user(u, Lookup::Listed))
        .collect()
}

fn members_of<A: UserNaming, B: UserNaming, M: MapUsers<A, B>>(
    m: &mut M,
    members: Vec<A::Member>,
) -> Result<Vec<B::Member>, M::Error> {
    members.into_iter().map(|x| m.member(x)).collect()
}

fn map_values<A: UserNaming, B: UserNaming, M: MapUsers<A, B>>(
    m: &mut M,
    named: BTreeMap<String, A>,
) -> Result<BTreeMap<String, B>, M::Error> {
    named
        .into_iter()
        .map(|(k, u)| Ok((k, m.user(u, Lookup::Listed)?)))
        .collect()
}

fn plan_of<A: UserNaming, B: UserNaming, M: MapUsers<A, B>>(
    m: &mut M,
    plan: OffboardPlan<A>,
) -> Result<OffboardPlan<B>, M::Error> {
    Ok(OffboardPlan {
        resources: recipients_of(m, plan.resources)?,
        roles: recipients_of(m, plan.roles)?,
        default_to: opt(m, plan.default_to)?,
        distributions: plan
            .distributions
            .into_iter()
            .map(|(name, list)| Ok((name, members_of(m, list)?)))
            .collect::<Result<_, M::Error>>()?,
        labels: map_values(m, plan.labels)?,
        duties: map_values(m, plan.duties)?,
        reports_to: opt(m, plan.reports_to)?,
        credits_to: plan.credits_to.map(|a| m.account(a)).transpose()?,
    })
}

fn recipients_of<A: UserNaming, B: UserNaming, M: MapUsers<A, B>>(
    m: &mut M,
    named: BTreeMap<String, Recipients<A>>,
) -> Result<BTreeMap<String, Recipients<B>>, M::Error> {
    named
        .into_iter()
        .map(|(name, r)| {
            let to = all(m, r.to)?;
            Ok((
                name,
                Recipients {
                    to,
                    strategy: r.strategy,
                },
            ))
        })
        .collect()
}
