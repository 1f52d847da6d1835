//! What the API answers with: the JSON shapes of command results and of every read,
//! each deriving its JSON Schema so the OpenAPI document is generated from them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use offboard_events::{
    Actor, CommandId, CorrelationId, DistributionId, DistributionKind, Envelope, LabelId, Member,
    OrgId, Policy, PrincipalKind, Role, UserId, UserStatus,
};
use offboard_projections::{OrgState, OwnershipChange, User};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use super::error::BlockerView;
use crate::domain::{DistributionPlace, Plan};
use crate::privacy::remnants::KeyRemnants;
use crate::Appended;

/// An envelope in its wire shape (the `offboard-events` contract).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeJson(pub Envelope);

impl Serialize for EnvelopeJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl JsonSchema for EnvelopeJson {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Envelope".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        offboard_events::schema::EnvelopeWire::json_schema(generator)
    }
}

impl<'de> Deserialize<'de> for EnvelopeJson {
    /// Through [`Envelope::from_json`], so an older schema version is upcast as when
    /// reading the log.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let bytes = serde_json::to_vec(&value).map_err(serde::de::Error::custom)?;
        Envelope::from_json(&bytes)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// First and last position a command appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Positions {
    pub first: u64,
    pub last: u64,
}

/// Where a command's events landed. A retry with the same `Idempotency-Key` answers the
/// same, with `duplicate: true`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommandResult {
    pub command_id: CommandId,
    pub correlation_id: CorrelationId,
    /// `null` when the command appended nothing (e.g. a sweep that purged nobody).
    pub positions: Option<Positions>,
    /// How many events the command appended.
    pub events: u64,
    /// `true` for a retry of a command already appended: nothing new was written.
    pub duplicate: bool,
    /// Only for a purge that erased someone: what may still hold the destroyed keys,
    /// and for how long (crypto-shredding's honest limits on this store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_destruction: Option<KeyRemnants>,
}

impl From<&Appended> for CommandResult {
    fn from(a: &Appended) -> Self {
        Self {
            command_id: a.command_id,
            correlation_id: a.correlation_id,
            positions: a.positions.map(|(first, last)| Positions { first, last }),
            events: a.count(),
            duplicate: a.duplicate,
            key_destruction: None,
        }
    }
}

/// The result of inviting a user (`201 Created`, `Location: /v1/users/{user_id}`): the
/// new user's id, and where the events landed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Invited {
    pub user_id: UserId,
    #[serde(flatten)]
    pub result: CommandResult,
}

/// Who the token acts as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WhoAmI {
    pub org_id: OrgId,
    pub org_name: String,
    pub principal: Actor,
    pub token_id: Uuid,
}

/// An outside principal serving the org (R5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PrincipalView {
    pub kind: PrincipalKind,
    pub name: String,
}

/// The caller's organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    pub owner: UserId,
    pub policy: Policy,
    pub principals: Vec<PrincipalView>,
    /// R23: invited, active and deactivated users.
    pub billed_seats: u64,
    /// Credits in the org's pool (R20).
    pub credit_pool: u64,
    /// Users in the directory (deleted and purged ones are not).
    #[serde(default)]
    pub users: u64,
    /// Resources registered in the org.
    #[serde(default)]
    pub resources: u64,
}

impl From<&OrgState> for OrgView {
    fn from(org: &OrgState) -> Self {
        Self {
            id: org.id(),
            name: org.name().to_owned(),
            owner: org.owner(),
            policy: org.policy().clone(),
            principals: org
                .principals()
                .map(|(kind, name)| PrincipalView {
                    kind,
                    name: name.to_owned(),
                })
                .collect(),
            billed_seats: org.billing().billed_seats(),
            credit_pool: org.credits().pool(),
            users: org.directory().listed().count() as u64,
            resources: org.ownership().len() as u64,
        }
    }
}

/// One user of the directory (R2), as the API and `offboard user list|show --json`
/// answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// The identity provider's id for the user (SCIM `externalId`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    /// The user's name in the identity provider (SCIM `userName`): the email unless the
    /// provider names them otherwise.
    #[serde(default)]
    pub user_name: String,
    pub role: Role,
    pub manager: Option<UserId>,
    /// The manager's email (`null` without a manager).
    #[serde(default)]
    pub manager_email: Option<String>,
    /// Group names.
    pub groups: Vec<String>,
    pub status: UserStatus,
    /// When the user was deleted, while deleted (the restore window counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    pub credit_balance: u64,
    /// How many resources the user owns.
    #[serde(default)]
    pub resources: u64,
}

impl UserView {
    pub fn of(org: &OrgState, u: &User) -> Self {
        Self {
            id: u.id,
            email: u.profile.email.clone(),
            first_name: u.profile.first_name.clone(),
            last_name: u.profile.last_name.clone(),
            job_title: u.profile.job_title.clone(),
            external_id: u.profile.external_id.clone(),
            department: u.profile.department.clone(),
            employee_number: u.profile.employee_number.clone(),
            user_name: u.profile.user_name().to_owned(),
            role: u.role,
            manager: u.manager,
            manager_email: u.manager.map(|m| crate::read::email(org, m)),
            groups: u.groups.iter().map(|g| g.id().to_owned()).collect(),
            status: u.status,
            deleted_at: u.deleted_at.map(|(_, at)| at),
            credit_balance: org.credits().balance(u.id),
            resources: org.ownership().total_owned(u.id),
        }
    }
}

/// One distribution the user takes part in, with the suggested rebalance (R18).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DistributionPlaceView {
    pub id: DistributionId,
    pub name: String,
    pub kind: DistributionKind,
    pub members: Vec<Member>,
    pub member: bool,
    pub backup: bool,
    pub suggested: Option<Vec<Member>>,
    pub replacement_required: bool,
}

impl From<&DistributionPlace> for DistributionPlaceView {
    fn from(d: &DistributionPlace) -> Self {
        Self {
            id: d.id,
            name: d.name.clone(),
            kind: d.kind,
            members: d.members.clone(),
            member: d.member,
            backup: d.backup,
            suggested: d.suggested.clone(),
            replacement_required: d.replacement_required,
        }
    }
}

/// What blocks each follow-up now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FollowUpBlockersView {
    pub deactivate: Vec<BlockerView>,
    pub delete: Vec<BlockerView>,
}

/// R21: what offboarding the user involves, read-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanView {
    pub user: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub status: UserStatus,
    /// Resource kind → how many the user owns.
    pub resources: BTreeMap<String, u64>,
    /// Record role → on how many records the user holds it (R29).
    #[serde(default)]
    pub roles: BTreeMap<String, u64>,
    pub duties: Vec<String>,
    pub distributions: Vec<DistributionPlaceView>,
    pub labels: Vec<String>,
    pub manages: Vec<UserId>,
    pub credit_balance: u64,
    pub credits_used: u64,
    pub blockers: FollowUpBlockersView,
    /// R26: where deactivating the user now leaves work with nobody (recorded by the
    /// deactivation under policy `deactivate_handover: warn`; blockers under `block`).
    #[serde(default)]
    pub unattended: Vec<BlockerView>,
    /// R28: the user's scheduled offboardings, a failed run with its blockers.
    #[serde(default)]
    pub schedules: Vec<crate::read::ScheduleView>,
}

impl From<&Plan> for PlanView {
    fn from(p: &Plan) -> Self {
        Self {
            user: p.user,
            email: p.email.clone(),
            name: p.name.clone(),
            role: p.role,
            status: p.status,
            resources: p.resources.clone(),
            roles: p.roles.clone(),
            duties: p.duties.clone(),
            distributions: p.distributions.iter().map(Into::into).collect(),
            labels: p.labels.clone(),
            manages: p.manages.clone(),
            credit_balance: p.credit_balance,
            credits_used: p.credits_used,
            blockers: FollowUpBlockersView {
                deactivate: p.blockers.deactivate.iter().map(Into::into).collect(),
                delete: p.blockers.delete.iter().map(Into::into).collect(),
            },
            unattended: p.unattended.iter().map(Into::into).collect(),
            // The read layer fills these in (they name the org's schedules).
            schedules: Vec::new(),
        }
    }
}

/// A resource and its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OwnedResource {
    /// `kind:id`, e.g. `buyer:B-1042`.
    pub resource: String,
    /// The kind part of `resource`, e.g. `buyer`.
    pub kind: String,
    pub owner: UserId,
    /// The owner's email today (their id if the org no longer knows it).
    pub owner_email: String,
}

/// Who owned a resource at a point of the log (R25).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OwnerAt {
    pub resource: String,
    /// `null` when the resource did not exist yet.
    pub owner: Option<UserId>,
    /// The owner's email today.
    #[serde(default)]
    pub owner_email: Option<String>,
    /// The position the answer is as of.
    pub position: u64,
}

/// One owner a resource had: from which event, after whom, moved by whom and under
/// which operation (R25). `owner` and `owner_email` are `null` where the resource was
/// retired (`ResourcesRetired`: owned by nobody from that position on).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OwnershipChangeView {
    pub position: u64,
    pub occurred_at: DateTime<Utc>,
    pub owner: Option<UserId>,
    pub owner_email: Option<String>,
    pub previous: Option<UserId>,
    pub previous_email: Option<String>,
    pub correlation_id: CorrelationId,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<UserId>,
}

impl OwnershipChangeView {
    /// `c` with today's emails of the users it names.
    pub fn of(org: &OrgState, c: OwnershipChange) -> Self {
        Self {
            position: c.position,
            occurred_at: c.occurred_at,
            owner: c.owner,
            owner_email: c.owner.map(|o| crate::read::email(org, o)),
            previous: c.previous,
            previous_email: c.previous.map(|p| crate::read::email(org, p)),
            correlation_id: c.correlation_id,
            actor: c.actor,
            on_behalf_of: c.on_behalf_of,
        }
    }
}

/// The result of walking the hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VerifyView {
    pub intact: bool,
    /// Events checked (when intact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<String>,
    /// The first bad position (when broken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A point of the log: as-of reads name one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PositionView {
    pub position: u64,
}

/// A singleton duty and who holds it (R17).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DutyView {
    pub duty: String,
    pub holder: UserId,
    pub holder_email: String,
    /// The holder's status today: a holder who is not `active` leaves the duty's work
    /// with nobody (R26).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_status: Option<UserStatus>,
}

/// A user's place in a distribution or label, with the user's email today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberView {
    pub user: UserId,
    pub email: String,
    /// The share of new work (distributions; absent for labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// The user's status today; in a distribution only `active` members receive new
    /// work (R8: deactivated members are skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UserStatus>,
}

/// A lead rotation, workflow automation or integration, with its weighted members (R18).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DistributionView {
    pub id: DistributionId,
    pub name: String,
    pub kind: DistributionKind,
    pub members: Vec<MemberView>,
    pub backup: Option<UserId>,
    pub backup_email: Option<String>,
    /// The backup's status today (a backup who is not `active` takes no work, R26).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_status: Option<UserStatus>,
}

/// A shared label and its members (R19).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LabelView {
    pub id: LabelId,
    pub name: String,
    pub members: Vec<MemberView>,
}

/// One user's credits (R20).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BalanceView {
    pub user: UserId,
    pub email: String,
    /// Unused credits.
    pub balance: u64,
    /// Credits used, ever.
    pub used: u64,
}

/// The org's pool and every user who holds or ever used credits (R20).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreditsView {
    pub pool: u64,
    /// One page of the users who hold or used credits, by user id.
    pub users: Vec<BalanceView>,
    /// The next page's relative URL; `null` on the last page.
    #[serde(default)]
    pub next: Option<String>,
}
