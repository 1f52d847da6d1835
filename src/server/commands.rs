//! Every command of the domain as a `POST` endpoint. A handler turns its path and body
//! into a [`Command`] (resolving users named by email within the caller's org), and the
//! engine decides it as the caller: the domain's authority rules apply unchanged.
//!
//! Creating an organization is the one command with no endpoint: only the system actor
//! may (`offboard init` on the data directory), and no token is the system.

use std::collections::BTreeMap;

use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::Json;
use offboard_events::{
    CreditAccount, DistributionKind, Event, FollowUp, Member, Policy, PrincipalKind, ResourceKey,
    Role,
};
use offboard_projections::OrgState;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, CorrelationPath, NamePath, UserPath};
use super::refs::{resolve_all, resolve_opt, CommandHeaders, UserRef};
use super::views::{CommandResult, Invited};
use super::AppState;
use crate::domain::{Command, NewUser, OffboardPlan, Recipients, Strategy};
use crate::{Appended, CommandMeta};

type Answer = Result<Json<CommandResult>, ApiError>;

/// Decides `build`'s command as the caller and appends its events.
async fn execute(
    state: &AppState,
    caller: &Caller,
    headers: &CommandHeaders,
    build: impl FnOnce(&OrgState) -> Result<Command, ApiError>,
) -> Result<Appended, ApiError> {
    let (command, on_behalf_of) = {
        let projections = state.engine().state();
        let org = caller.org(&projections)?;
        let on_behalf_of = resolve_opt(headers.on_behalf_of.as_ref(), org)?;
        (build(org)?, on_behalf_of)
    };
    let meta = CommandMeta {
        org_id: caller.org_id,
        actor: caller.actor.clone(),
        on_behalf_of,
        command_id: headers.command_id(caller.org_id, &caller.actor),
        correlation_id: headers.correlation_id,
        causation_id: None,
    };
    Ok(state.engine().execute(meta, command).await?)
}

async fn run(
    state: &AppState,
    caller: &Caller,
    headers: &CommandHeaders,
    build: impl FnOnce(&OrgState) -> Result<Command, ApiError>,
) -> Answer {
    let appended = execute(state, caller, headers, build).await?;
    Ok(Json(CommandResult::from(&appended)))
}

/// How several recipients share resources (R15).
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrategyBody {
    /// Resource i (in key order) goes to recipient i mod n.
    #[default]
    RoundRobin,
    /// Contiguous runs in key order.
    Even,
}

impl From<StrategyBody> for Strategy {
    fn from(s: StrategyBody) -> Self {
        match s {
            StrategyBody::RoundRobin => Strategy::RoundRobin,
            StrategyBody::Even => Strategy::Even,
        }
    }
}

/// A distribution member and its weight.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    user: UserRef,
    weight: u32,
}

fn members(list: &[MemberBody], org: &OrgState) -> Result<Vec<Member>, ApiError> {
    list.iter()
        .map(|m| {
            Ok(Member {
                user: m.user.resolve(org, false)?,
                weight: m.weight,
            })
        })
        .collect()
}

/// A credit account: `"pool"` or a user (id or email).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct AccountRef(String);

impl AccountRef {
    fn resolve(&self, org: &OrgState) -> Result<CreditAccount, ApiError> {
        if self.0 == "pool" {
            Ok(CreditAccount::Pool)
        } else {
            Ok(CreditAccount::User {
                id: UserRef(self.0.clone()).resolve(org, false)?,
            })
        }
    }
}

fn resource_keys(list: &[String]) -> Result<Vec<ResourceKey>, ApiError> {
    list.iter()
        .map(|k| {
            k.parse::<ResourceKey>()
                .map_err(|e| ApiError::bad_request(e.to_string()))
        })
        .collect()
}

// ---- Organization (R3, R5, R8, R10, R11) ----

/// The policy fields to change; the others keep their current value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    deactivate_requires_demotion: Option<bool>,
    confirmation_phrase: Option<String>,
    delete_requires_no_credit_history: Option<bool>,
    retention_days: Option<u32>,
}

async fn set_policy(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        let current = org.policy();
        Ok(Command::SetPolicy {
            policy: Policy {
                deactivate_requires_demotion: body
                    .deactivate_requires_demotion
                    .unwrap_or(current.deactivate_requires_demotion),
                confirmation_phrase: body
                    .confirmation_phrase
                    .unwrap_or_else(|| current.confirmation_phrase.clone()),
                delete_requires_no_credit_history: body
                    .delete_requires_no_credit_history
                    .unwrap_or(current.delete_requires_no_credit_history),
                retention_days: body.retention_days.unwrap_or(current.retention_days),
            },
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToBody {
    to: UserRef,
}

async fn transfer_org_ownership(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<ToBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::TransferOrgOwnership {
            to: body.to.resolve(org, false)?,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalBody {
    kind: PrincipalKind,
    name: String,
}

async fn register_principal(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<PrincipalBody>,
) -> Answer {
    run(&state, &caller, &headers, |_| {
        Ok(Command::RegisterPrincipal {
            kind: body.kind,
            name: body.name,
        })
    })
    .await
}

// ---- Users (R2, R4, R7–R11) ----

/// A new user (R2); `active` activates at once (seed 004's toggle).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    email: String,
    first_name: String,
    last_name: String,
    job_title: Option<String>,
    /// Defaults to `member`.
    role: Option<Role>,
    manager: Option<UserRef>,
    #[serde(default)]
    active: bool,
}

async fn invite_user(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<Json<Invited>, ApiError> {
    let appended = execute(&state, &caller, &headers, |org| {
        Ok(Command::InviteUser {
            user: NewUser {
                email: body.email,
                first_name: body.first_name,
                last_name: body.last_name,
                job_title: body.job_title,
            },
            role: body.role.unwrap_or(Role::Member),
            manager: resolve_opt(body.manager.as_ref(), org)?,
            active: body.active,
        })
    })
    .await?;
    let (first, last) = appended.positions.ok_or_else(|| {
        ApiError::from(crate::store::StoreError::Corrupt(
            "an invitation appended nothing".into(),
        ))
    })?;
    let engine = state.engine_arc();
    let events = state
        .blocking(move || engine.read_range(first, last))
        .await??;
    let user_id = events
        .iter()
        .find_map(|e| match &e.event {
            Event::UserInvited(invited) => Some(invited.user_id),
            _ => None,
        })
        .ok_or_else(|| {
            ApiError::from(crate::store::StoreError::Corrupt(
                "an invitation without a UserInvited event".into(),
            ))
        })?;
    Ok(Json(Invited {
        user_id,
        result: CommandResult::from(&appended),
    }))
}

macro_rules! user_command {
    ($name:ident, $variant:ident) => {
        async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            headers: CommandHeaders,
            ApiPath(path): ApiPath<UserPath>,
        ) -> Answer {
            run(&state, &caller, &headers, |org| {
                Ok(Command::$variant {
                    user: path.user.resolve(org, false)?,
                })
            })
            .await
        }
    };
}

user_command!(activate_user, ActivateUser);
user_command!(deactivate_user, DeactivateUser);
user_command!(reactivate_user, ReactivateUser);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: Role,
}

async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::ChangeRole {
            user: path.user.resolve(org, false)?,
            role: body.role,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerBody {
    /// `null` removes the manager.
    manager: Option<UserRef>,
}

async fn set_manager(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<ManagerBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::SetManager {
            user: path.user.resolve(org, false)?,
            manager: resolve_opt(body.manager.as_ref(), org)?,
        })
    })
    .await
}

/// The org's confirmation phrase, typed (R10).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    confirm: String,
}

async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::DeleteUser {
            user: path.user.resolve(org, false)?,
            confirm: body.confirm,
        })
    })
    .await
}

/// R12: restore a deleted user.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    /// Give back everything the deleting offboarding moved away (except what moved again).
    #[serde(default)]
    return_ownership: bool,
    /// A new email, when the old one was taken meanwhile.
    new_email: Option<String>,
    /// Back to `active` instead of `deactivated`.
    #[serde(default)]
    reactivate: bool,
}

async fn restore_user(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<RestoreBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::RestoreUser {
            user: path.user.resolve(org, true)?,
            return_ownership: body.return_ownership,
            new_email: body.new_email,
            reactivate: body.reactivate,
        })
    })
    .await
}

async fn purge_user(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::PurgeUser {
            user: path.user.resolve(org, true)?,
            confirm: body.confirm,
        })
    })
    .await
}

async fn purge_expired(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
) -> Answer {
    run(&state, &caller, &headers, |_| Ok(Command::PurgeExpired)).await
}

async fn revert_offboarding(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<CorrelationPath>,
) -> Answer {
    run(&state, &caller, &headers, |_| {
        Ok(Command::RevertOffboarding {
            correlation_id: path.correlation_id,
        })
    })
    .await
}

// ---- Groups (seed 001) ----

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    name: String,
    owner: UserRef,
}

async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<GroupBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::CreateGroup {
            name: body.name,
            owner: body.owner.resolve(org, false)?,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    user: UserRef,
}

async fn join_group(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<NamePath>,
    ApiJson(body): ApiJson<UserBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::JoinGroup {
            group: path.name,
            user: body.user.resolve(org, false)?,
        })
    })
    .await
}

async fn leave_group(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<NamePath>,
    ApiJson(body): ApiJson<UserBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::LeaveGroup {
            group: path.name,
            user: body.user.resolve(org, false)?,
        })
    })
    .await
}

// ---- Resources (R14–R16) ----

/// Resources as `kind:id` strings, e.g. `buyer:B-1042`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesBody {
    resources: Vec<String>,
}

async fn register_resources(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<ResourcesBody>,
) -> Answer {
    let resources = resource_keys(&body.resources)?;
    run(&state, &caller, &headers, |org| {
        Ok(Command::RegisterResources {
            owner: path.user.resolve(org, false)?,
            resources,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferResourcesBody {
    resources: Vec<String>,
    to: UserRef,
}

async fn transfer_resources(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<TransferResourcesBody>,
) -> Answer {
    let resources = resource_keys(&body.resources)?;
    run(&state, &caller, &headers, |org| {
        Ok(Command::TransferResources {
            from: path.user.resolve(org, false)?,
            resources,
            to: body.to.resolve(org, false)?,
        })
    })
    .await
}

/// R15: every resource of `kind` (e.g. `buyer`: seed 000's "Transfer All Buyers").
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferAllBody {
    kind: String,
    to: Vec<UserRef>,
    #[serde(default)]
    strategy: StrategyBody,
}

async fn transfer_all(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<TransferAllBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::TransferAll {
            from: path.user.resolve(org, false)?,
            kind: body.kind,
            to: resolve_all(&body.to, org)?,
            strategy: body.strategy.into(),
        })
    })
    .await
}

/// R16: everything to one user, then the follow-up.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferAccountBody {
    to: UserRef,
    #[serde(default)]
    then: FollowUp,
    /// The confirmation phrase, when `then` is `delete`.
    confirm: Option<String>,
}

async fn transfer_account(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<TransferAccountBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::TransferAccount {
            from: path.user.resolve(org, false)?,
            to: body.to.resolve(org, false)?,
            then: body.then,
            confirm: body.confirm,
        })
    })
    .await
}

/// Who receives one kind of resource.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientsBody {
    to: Vec<UserRef>,
    #[serde(default)]
    strategy: StrategyBody,
}

/// Every choice of a guided offboarding (R21, R22); whatever is not named goes to
/// `default_to`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OffboardPlanBody {
    /// Resource kind → recipients.
    resources: BTreeMap<String, RecipientsBody>,
    default_to: Option<UserRef>,
    /// Distribution name → new members and weights (else the suggested rebalance).
    distributions: BTreeMap<String, Vec<MemberBody>>,
    /// Label name → who replaces the user.
    labels: BTreeMap<String, UserRef>,
    /// Duty name → new holder.
    duties: BTreeMap<String, UserRef>,
    /// New manager of the user's reports.
    reports_to: Option<UserRef>,
    /// Where unused credits go: `"pool"` or a user.
    credits_to: Option<AccountRef>,
}

impl OffboardPlanBody {
    fn resolve(self, org: &OrgState) -> Result<OffboardPlan, ApiError> {
        Ok(OffboardPlan {
            resources: self
                .resources
                .into_iter()
                .map(|(kind, r)| {
                    Ok((
                        kind,
                        Recipients {
                            to: resolve_all(&r.to, org)?,
                            strategy: r.strategy.into(),
                        },
                    ))
                })
                .collect::<Result<_, ApiError>>()?,
            default_to: resolve_opt(self.default_to.as_ref(), org)?,
            distributions: self
                .distributions
                .into_iter()
                .map(|(name, list)| Ok((name, members(&list, org)?)))
                .collect::<Result<_, ApiError>>()?,
            labels: self
                .labels
                .into_iter()
                .map(|(name, user)| Ok((name, user.resolve(org, false)?)))
                .collect::<Result<_, ApiError>>()?,
            duties: self
                .duties
                .into_iter()
                .map(|(name, user)| Ok((name, user.resolve(org, false)?)))
                .collect::<Result<_, ApiError>>()?,
            reports_to: resolve_opt(self.reports_to.as_ref(), org)?,
            credits_to: self.credits_to.map(|a| a.resolve(org)).transpose()?,
        })
    }
}

/// R22: a whole offboarding in one atomic command.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OffboardBody {
    #[serde(default)]
    plan: OffboardPlanBody,
    #[serde(default)]
    then: FollowUp,
    confirm: Option<String>,
}

async fn offboard(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<OffboardBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::Offboard {
            user: path.user.resolve(org, false)?,
            plan: body.plan.resolve(org)?,
            then: body.then,
            confirm: body.confirm,
        })
    })
    .await
}

// ---- Duties, distributions, labels (R17–R19) ----

async fn assign_duty(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<NamePath>,
    ApiJson(body): ApiJson<ToBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::AssignDuty {
            duty: path.name,
            to: body.to.resolve(org, false)?,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistributionBody {
    name: String,
    kind: DistributionKind,
    members: Vec<MemberBody>,
    backup: Option<UserRef>,
}

async fn create_distribution(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<DistributionBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::CreateDistribution {
            name: body.name,
            kind: body.kind,
            members: members(&body.members, org)?,
            backup: resolve_opt(body.backup.as_ref(), org)?,
        })
    })
    .await
}

/// R18: remove a member; `members` overrides the suggested rebalance.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveMemberBody {
    user: UserRef,
    members: Option<Vec<MemberBody>>,
}

async fn remove_distribution_member(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<NamePath>,
    ApiJson(body): ApiJson<RemoveMemberBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::RemoveDistributionMember {
            distribution: path.name,
            user: body.user.resolve(org, false)?,
            members: body.members.map(|m| members(&m, org)).transpose()?,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersBody {
    members: Vec<MemberBody>,
}

async fn set_distribution_members(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<NamePath>,
    ApiJson(body): ApiJson<MembersBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::SetDistributionMembers {
            distribution: path.name,
            members: members(&body.members, org)?,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupBody {
    /// `null` removes the backup.
    backup: Option<UserRef>,
}

async fn set_distribution_backup(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<NamePath>,
    ApiJson(body): ApiJson<BackupBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::SetDistributionBackup {
            distribution: path.name,
            backup: resolve_opt(body.backup.as_ref(), org)?,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelBody {
    name: String,
    members: Vec<UserRef>,
}

async fn create_label(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<LabelBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::CreateLabel {
            name: body.name,
            members: resolve_all(&body.members, org)?,
        })
    })
    .await
}

async fn add_label_member(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<NamePath>,
    ApiJson(body): ApiJson<UserBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::AddLabelMember {
            label: path.name,
            user: body.user.resolve(org, false)?,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveLabelMemberBody {
    user: UserRef,
    replacement: Option<UserRef>,
}

async fn remove_label_member(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<NamePath>,
    ApiJson(body): ApiJson<RemoveLabelMemberBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::RemoveLabelMember {
            label: path.name,
            user: body.user.resolve(org, false)?,
            replacement: resolve_opt(body.replacement.as_ref(), org)?,
        })
    })
    .await
}

// ---- Credits (R20) ----

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountBody {
    amount: u64,
}

async fn add_credits_to_pool(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<AmountBody>,
) -> Answer {
    run(&state, &caller, &headers, |_| {
        Ok(Command::AddCreditsToPool {
            amount: body.amount,
        })
    })
    .await
}

async fn grant_credits(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<AmountBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::GrantCredits {
            user: path.user.resolve(org, false)?,
            amount: body.amount,
        })
    })
    .await
}

async fn use_credits(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(body): ApiJson<AmountBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::UseCredits {
            user: path.user.resolve(org, false)?,
            amount: body.amount,
        })
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditTransferBody {
    from: AccountRef,
    to: AccountRef,
    amount: u64,
}

async fn transfer_credits(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<CreditTransferBody>,
) -> Answer {
    run(&state, &caller, &headers, |org| {
        Ok(Command::TransferCredits {
            from: body.from.resolve(org)?,
            to: body.to.resolve(org)?,
            amount: body.amount,
        })
    })
    .await
}

fn doc(
    summary: &'static str,
) -> impl for<'a> FnOnce(TransformOperation<'a>) -> TransformOperation<'a> {
    move |op: TransformOperation<'_>| op.summary(summary).tag("commands")
}

/// The command endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/v1/org/policy",
            post_with(set_policy, doc("Change the org's policy (owner)")),
        )
        .api_route(
            "/v1/org/transfer-ownership",
            post_with(
                transfer_org_ownership,
                doc("Hand the org to another active user (R3)"),
            ),
        )
        .api_route(
            "/v1/org/principals",
            post_with(
                register_principal,
                doc("Let a support or auditor principal serve the org (R5)"),
            ),
        )
        .api_route(
            "/v1/users",
            post_with(invite_user, doc("Invite (add) a user (R2)")),
        )
        .api_route(
            "/v1/users/{user}/activate",
            post_with(activate_user, doc("Activate an invited user")),
        )
        .api_route(
            "/v1/users/{user}/role",
            post_with(change_role, doc("Change a user's role (R4)")),
        )
        .api_route(
            "/v1/users/{user}/manager",
            post_with(set_manager, doc("Set or clear a user's manager")),
        )
        .api_route(
            "/v1/users/{user}/deactivate",
            post_with(deactivate_user, doc("Deactivate a user (R8)")),
        )
        .api_route(
            "/v1/users/{user}/reactivate",
            post_with(reactivate_user, doc("Reactivate a deactivated user (R9)")),
        )
        .api_route(
            "/v1/users/{user}/delete",
            post_with(
                delete_user,
                doc("Delete a user with the confirmation phrase (R10, R11)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/restore",
            post_with(restore_user, doc("Restore a deleted user (R12)")),
        )
        .api_route(
            "/v1/users/{user}/purge",
            post_with(
                purge_user,
                doc("Erase a deleted user's personal data for good (R13)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/resources",
            post_with(
                register_resources,
                doc("Register resources owned by the user (R14)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/transfer-resources",
            post_with(
                transfer_resources,
                doc("Move chosen resources to one user (R15)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/transfer-all",
            post_with(
                transfer_all,
                doc("Move every resource of one kind to one or several users (R15)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/transfer-account",
            post_with(
                transfer_account,
                doc("Move everything to one user, then deactivate, delete or nothing (R16)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/offboard",
            post_with(
                offboard,
                doc("Carry out a whole offboarding plan atomically (R22)"),
            ),
        )
        .api_route(
            "/v1/users/{user}/credits/grant",
            post_with(grant_credits, doc("Grant credits from the pool (R20)")),
        )
        .api_route(
            "/v1/users/{user}/credits/use",
            post_with(use_credits, doc("Record credits used (R20)")),
        )
        .api_route(
            "/v1/groups",
            post_with(create_group, doc("Create a group owned by a user")),
        )
        .api_route(
            "/v1/groups/{name}/join",
            post_with(join_group, doc("Add a user to a group")),
        )
        .api_route(
            "/v1/groups/{name}/leave",
            post_with(leave_group, doc("Remove a user from a group")),
        )
        .api_route(
            "/v1/duties/{name}/assign",
            post_with(assign_duty, doc("Give a singleton duty to a user (R17)")),
        )
        .api_route(
            "/v1/distributions",
            post_with(
                create_distribution,
                doc("Create a lead rotation, automation or integration (R18)"),
            ),
        )
        .api_route(
            "/v1/distributions/{name}/remove-member",
            post_with(
                remove_distribution_member,
                doc("Remove a member, rebalancing the rest (R18)"),
            ),
        )
        .api_route(
            "/v1/distributions/{name}/members",
            post_with(
                set_distribution_members,
                doc("Replace the members and weights (R18)"),
            ),
        )
        .api_route(
            "/v1/distributions/{name}/backup",
            post_with(
                set_distribution_backup,
                doc("Set or clear the backup (R18)"),
            ),
        )
        .api_route(
            "/v1/labels",
            post_with(create_label, doc("Create a shared label (R19)")),
        )
        .api_route(
            "/v1/labels/{name}/add",
            post_with(add_label_member, doc("Add a user to a label (R19)")),
        )
        .api_route(
            "/v1/labels/{name}/remove",
            post_with(
                remove_label_member,
                doc("Remove a user from a label, optionally adding a replacement (R19)"),
            ),
        )
        .api_route(
            "/v1/credits/pool",
            post_with(
                add_credits_to_pool,
                doc("Add credits to the org's pool (R20)"),
            ),
        )
        .api_route(
            "/v1/credits/transfer",
            post_with(
                transfer_credits,
                doc("Move credits between the pool and users (R20)"),
            ),
        )
        .api_route(
            "/v1/offboardings/{correlation_id}/revert",
            post_with(
                revert_offboarding,
                doc("Give back what an offboarding that did not delete moved away (R12)"),
            ),
        )
        .api_route(
            "/v1/purge-expired",
            post_with(
                purge_expired,
                doc("Purge every deleted user past the retention window (R13)"),
            ),
        )
}
