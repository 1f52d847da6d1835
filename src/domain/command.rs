//! Every command of the domain: what an administrator, support agent or the engine asks
//! for, and the wire contract of the API. `Command` (users by id) is what the domain
//! decides; `Command<UserRef>` (users by id or email) is what the API takes and a client
//! sends, the same serde and JSON Schema definition; [`Command::map_users`] maps one to
//! the other. A command's only output is events or a [`super::DomainError`].

use std::collections::BTreeMap;

use offboard_events::{
    CorrelationId, Deprovision, DistributionKind, FollowUp, HandoverPolicy, Policy, PrincipalKind,
    Reprovision, ResourceKey, Role, ScheduleId, UserId,
};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use super::naming::{UserNaming, UserRef};

/// How several recipients share transferred resources.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Resource i (in key order) goes to recipient i mod n.
    #[default]
    RoundRobin,
    /// Contiguous runs in key order: the first ceil(n/k) to the first recipient, and so on.
    Even,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.replace('-', "_").as_str() {
            "round_robin" => Ok(Self::RoundRobin),
            "even" => Ok(Self::Even),
            other => Err(format!(
                "unknown strategy {other:?}: expected round-robin or even"
            )),
        }
    }
}

/// Recipients for one kind of resource in a guided offboarding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(bound = "", deny_unknown_fields)]
pub struct Recipients<U: UserNaming = UserId> {
    pub to: Vec<U>,
    #[serde(default)]
    pub strategy: Strategy,
}

/// A whole offboarding decided up front: every choice of the guided steps.
/// Anything the user holds that the plan does not mention goes to `default_to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(bound = "", default, deny_unknown_fields)]
pub struct OffboardPlan<U: UserNaming = UserId> {
    /// Kind → who receives that kind.
    pub resources: BTreeMap<String, Recipients<U>>,
    /// Record role → who takes the user's place in it, on every record (R29).
    pub roles: BTreeMap<String, Recipients<U>>,
    /// Who receives whatever is not listed: other kinds, duties, managed users.
    pub default_to: Option<U>,
    /// Distribution name → its new members and weights (the suggested rebalance is used
    /// where a distribution is not listed).
    pub distributions: BTreeMap<String, Vec<U::Member>>,
    /// Label name → who replaces the user in it; unlisted labels just lose the user.
    pub labels: BTreeMap<String, U>,
    /// Duty name → new holder.
    pub duties: BTreeMap<String, U>,
    /// New manager of the user's reports.
    pub reports_to: Option<U>,
    /// Where unused credits go: the pool or a user.
    pub credits_to: Option<U::Account>,
}

// By hand: a derived `Default` would ask `U: Default`, which user names have no use for.
impl<U: UserNaming> Default for OffboardPlan<U> {
    fn default() -> Self {
        Self {
            resources: BTreeMap::new(),
            roles: BTreeMap::new(),
            default_to: None,
            distributions: BTreeMap::new(),
            labels: BTreeMap::new(),
            duties: BTreeMap::new(),
            reports_to: None,
            credits_to: None,
        }
    }
}

/// The policy fields to change; the others keep the value in force when the command is
/// decided (so two changes of different fields never undo each other).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivate_requires_demotion: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_phrase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_requires_no_credit_history: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// `deactivate`, `offboard_to_manager` or `offboard_to:<user id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprovision: Option<Deprovision>,
    /// `deactivate` or `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprovision_then: Option<FollowUp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivate_handover: Option<HandoverPolicy>,
    /// An IANA time zone name, e.g. `Europe/Berlin` (`UTC` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// `refuse` or `restore` (see [`Reprovision`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reprovision: Option<Reprovision>,
}

impl PolicyChange {
    /// `current` with the fields this change names replaced.
    pub fn applied_to(&self, current: &Policy) -> Policy {
        Policy {
            deactivate_requires_demotion: self
                .deactivate_requires_demotion
                .unwrap_or(current.deactivate_requires_demotion),
            confirmation_phrase: self
                .confirmation_phrase
                .clone()
                .unwrap_or_else(|| current.confirmation_phrase.clone()),
            delete_requires_no_credit_history: self
                .delete_requires_no_credit_history
                .unwrap_or(current.delete_requires_no_credit_history),
            retention_days: self.retention_days.unwrap_or(current.retention_days),
            deprovision: self.deprovision.unwrap_or(current.deprovision),
            deprovision_then: self.deprovision_then.unwrap_or(current.deprovision_then),
            deactivate_handover: self
                .deactivate_handover
                .unwrap_or(current.deactivate_handover),
            time_zone: self
                .time_zone
                .clone()
                .unwrap_or_else(|| current.time_zone.clone()),
            reprovision: self.reprovision.unwrap_or(current.reprovision),
        }
    }
}

/// Resources one owner must end up with (a batch of `SyncResources`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(bound = "", deny_unknown_fields)]
pub struct Holding<U: UserNaming = UserId> {
    pub owner: U,
    #[serde(deserialize_with = "checked_keys")]
    pub resources: Vec<ResourceKey>,
}

/// Who must hold `role` on `resource` after a sync (R29): exactly `holders` (none:
/// nobody).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(bound = "", deny_unknown_fields)]
pub struct RoleHolders<U: UserNaming = UserId> {
    pub role: String,
    #[serde(deserialize_with = "checked_key")]
    pub resource: ResourceKey,
    pub holders: Vec<U>,
}

/// A new user's details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// The identity provider's id for the person (SCIM `externalId`), unique per org.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    /// The identity provider's unique name for the person (SCIM `userName`) when it is
    /// not the email; unique per org, compared caseless. Absent (or the email): the
    /// user name is the email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// A change of a user's profile: the fields given replace the current ones, the others
/// stay. A blank `job_title`, `external_id`, `department`, `employee_number` or
/// `user_name` clears it (a cleared user name is the email again). (No `deny_unknown_fields`
/// here: it is flattened into [`Command::UpdateProfile`], which refuses unknown fields.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// A command. Serialized with a `type` tag, e.g. `{"type":"deactivate_user","user":"…"}`.
///
/// Users are ids in the domain (`Command`, the default) and ids or emails on the wire
/// (`Command<UserRef>`). Unknown fields are refused.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::EnumDiscriminants,
)]
#[strum_discriminants(
    name(CommandKind),
    vis(pub),
    derive(Hash, PartialOrd, Ord, strum::EnumIter, strum::IntoStaticStr),
    strum(serialize_all = "snake_case")
)]
#[serde(
    bound = "",
    tag = "type",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Command<U: UserNaming = UserId> {
    // Organization (R3, R5, R8, R10, R11).
    /// Not in the API's schema: only the system actor creates organizations.
    #[schemars(skip)]
    CreateOrganization {
        name: String,
        owner: NewUser,
    },
    /// Change the fields named; the others keep their value.
    SetPolicy(PolicyChange),
    TransferOrgOwnership {
        to: U,
    },
    RegisterPrincipal {
        kind: PrincipalKind,
        name: String,
    },

    // Users (R2, R4, R7–R11).
    InviteUser {
        #[serde(flatten)]
        user: NewUser,
        #[serde(default = "member")]
        role: Role,
        #[serde(default)]
        manager: Option<U>,
        /// Activate right away (the default); `false` leaves the user invited.
        #[serde(default = "yes")]
        active: bool,
    },
    ActivateUser {
        user: U,
    },
    /// Change the profile fields named (email, names, job title, external id).
    UpdateProfile {
        user: U,
        #[serde(flatten)]
        change: ProfileChange,
    },
    ChangeRole {
        user: U,
        role: Role,
    },
    SetManager {
        user: U,
        manager: Option<U>,
    },
    CreateGroup {
        name: String,
        owner: U,
    },
    JoinGroup {
        group: String,
        user: U,
    },
    LeaveGroup {
        group: String,
        user: U,
    },
    /// Change how a group is shown (`name`; its key `group:GROUP` stays) or its
    /// external id (blank clears it); the fields given replace the current ones.
    UpdateGroup {
        group: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
    },
    /// Take every member out of a group and retire it.
    DeleteGroup {
        group: String,
    },
    DeactivateUser {
        user: U,
    },
    ReactivateUser {
        user: U,
    },
    DeleteUser {
        user: U,
        confirm: String,
    },
    /// The identity provider took the user's access away (SCIM `active: false` or
    /// `DELETE`): the org's `deprovision` policy in one command. The handover is made
    /// if it can be; if not, the user is still deactivated and what is pending recorded.
    /// `deactivate_only` (SCIM `active: false`: the provider disabled the user and may
    /// enable them again) ends in a deactivation whatever `deprovision_then` says.
    Deprovision {
        user: U,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        deactivate_only: bool,
    },

    // Resources (R14–R16).
    RegisterResources {
        owner: U,
        #[serde(deserialize_with = "checked_keys")]
        resources: Vec<ResourceKey>,
    },
    TransferResources {
        from: U,
        #[serde(deserialize_with = "checked_keys")]
        resources: Vec<ResourceKey>,
        to: U,
    },
    TransferAll {
        from: U,
        kind: String,
        to: Vec<U>,
        #[serde(default)]
        strategy: Strategy,
    },
    TransferAccount {
        from: U,
        to: U,
        #[serde(default)]
        then: FollowUp,
        #[serde(default)]
        confirm: Option<String>,
    },
    /// Retire resources by hand: each belongs to nobody from then on, keeps its history,
    /// blocks nothing and may be registered again.
    RetireResources {
        #[serde(deserialize_with = "checked_keys")]
        resources: Vec<ResourceKey>,
    },
    /// One batch of a sync with a system of record (admins and the owner): each resource
    /// in `owners` ends up with its owner (registered, or moved with reason `sync`), each
    /// in `retire` is retired; what already agrees is left alone.
    SyncResources {
        #[serde(default)]
        owners: Vec<Holding<U>>,
        #[serde(default, deserialize_with = "checked_keys")]
        retire: Vec<ResourceKey>,
        /// Record roles the system of record names (R29), after `owners` and `retire`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        roles: Vec<RoleHolders<U>>,
    },

    // Record roles besides the owner (R29).
    /// Declare how many holders a record role may have per record: one (the default
    /// for a role never declared) or, with `multi`, any number (e.g. `watcher`).
    DeclareRecordRole {
        role: String,
        #[serde(default)]
        multi: bool,
    },
    /// `user` holds `role` on each record (a single-holder role moves from its holder).
    SetRecordRole {
        role: String,
        user: U,
        #[serde(deserialize_with = "checked_keys")]
        resources: Vec<ResourceKey>,
    },
    /// Nobody (or, with `user`, that user no longer) holds `role` on each record.
    UnsetRecordRole {
        role: String,
        #[serde(default)]
        user: Option<U>,
        #[serde(deserialize_with = "checked_keys")]
        resources: Vec<ResourceKey>,
    },
    /// Every record (of `kind`, or of every kind) where `from` holds `role` goes to `to`.
    TransferRecordRoles {
        from: U,
        role: String,
        #[serde(default)]
        kind: Option<String>,
        to: Vec<U>,
        #[serde(default)]
        strategy: Strategy,
    },

    // A directory import or one SCIM request (issue 17).
    /// Several changes to users decided in order, each against the state as the ones
    /// before it left it, and written together or not at all (one correlation id). Each
    /// change is an `invite_user`, `update_profile`, `change_role`, `set_manager`,
    /// `activate_user`, `deactivate_user` or `reactivate_user` naming users by id or
    /// email, so a change may name a user an earlier change invites.
    ApplyUserChanges {
        changes: Vec<Command<UserRef>>,
    },

    // Duties, distributions, labels (R17–R19).
    AssignDuty {
        duty: String,
        to: U,
    },
    CreateDistribution {
        name: String,
        kind: DistributionKind,
        members: Vec<U::Member>,
        #[serde(default)]
        backup: Option<U>,
    },
    /// Remove a member; `members` overrides the suggested rebalance.
    RemoveDistributionMember {
        distribution: String,
        user: U,
        #[serde(default)]
        members: Option<Vec<U::Member>>,
    },
    SetDistributionMembers {
        distribution: String,
        members: Vec<U::Member>,
    },
    SetDistributionBackup {
        distribution: String,
        backup: Option<U>,
    },
    CreateLabel {
        name: String,
        members: Vec<U>,
    },
    AddLabelMember {
        label: String,
        user: U,
    },
    RemoveLabelMember {
        label: String,
        user: U,
        #[serde(default)]
        replacement: Option<U>,
    },

    // Credits (R20).
    AddCreditsToPool {
        amount: u64,
    },
    GrantCredits {
        user: U,
        amount: u64,
    },
    UseCredits {
        user: U,
        amount: u64,
    },
    TransferCredits {
        from: U::Account,
        to: U::Account,
        amount: u64,
    },

    // Restore, revert, retention (R12, R13).
    RestoreUser {
        user: U,
        #[serde(default)]
        return_ownership: bool,
        #[serde(default)]
        new_email: Option<String>,
        #[serde(default)]
        reactivate: bool,
    },
    RevertOffboarding {
        correlation_id: CorrelationId,
    },
    PurgeUser {
        user: U,
        confirm: String,
    },
    PurgeExpired,

    // Scheduled offboarding (R28).
    /// Schedule an offboarding of `user` at `at`; it runs once, checked against the
    /// state then.
    ScheduleOffboarding {
        user: U,
        /// RFC 3339 with an offset (`2026-12-31T17:00:00+01:00`), or a date
        /// `YYYY-MM-DD`: the start of that day in the org's `time_zone` policy.
        at: String,
        /// The plan to carry out; without one, `then` alone (a deactivate, or a delete
        /// as `delete_user` does it).
        #[serde(default)]
        plan: Option<OffboardPlan<U>>,
        /// `deactivate` (the default) or `delete`.
        #[serde(default = "deactivate")]
        then: FollowUp,
        /// Delete this many days after the run (with `then: deactivate`).
        #[serde(default)]
        delete_after_days: Option<u32>,
        /// The org's confirmation phrase, for a schedule that deletes.
        #[serde(default)]
        confirm: Option<String>,
    },
    /// Move a schedule's next run to another time.
    MoveSchedule {
        schedule: ScheduleId,
        /// As `schedule_offboarding`'s `at`.
        at: String,
    },
    CancelSchedule {
        schedule: ScheduleId,
    },
    /// Run a schedule's due run now (what the scheduler does; the run's command id is
    /// the schedule id, so it happens once). Refused before its time.
    RunSchedule {
        schedule: ScheduleId,
    },

    // The guided offboarding (R22).
    Offboard {
        user: U,
        #[serde(default)]
        plan: OffboardPlan<U>,
        #[serde(default)]
        then: FollowUp,
        #[serde(default)]
        confirm: Option<String>,
    },
}

fn member() -> Role {
    Role::Member
}

fn yes() -> bool {
    true
}

fn deactivate() -> FollowUp {
    FollowUp::Deactivate
}

/// Resource keys read from outside are checked as they are read
/// ([`super::validate::resource_key`]): `ResourceKey`'s own `Deserialize` trusts what it
/// reads (stored events, checked when written) for replay speed.
fn checked_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ResourceKey>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|k| super::validate::resource_key(k).map_err(serde::de::Error::custom))
        .collect()
}

/// One resource key read from outside, checked (see [`checked_keys`]).
fn checked_key<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceKey, D::Error> {
    super::validate::resource_key(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

impl<U: UserNaming> Command<U> {
    /// The command's name as its `type` tag spells it.
    pub fn name(&self) -> String {
        CommandKind::from(self).tag().to_owned()
    }
}

impl CommandKind {
    /// The kind's `type` tag, e.g. `deactivate_user`.
    pub fn tag(self) -> &'static str {
        self.into()
    }
}
