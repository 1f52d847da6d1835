//! User lifecycle events (R2, R7–R13) and the values they carry.
//!
//! Personal data (email, names, job title) travels only inside a [`Profile`], so the
//! engine can seal and later erase it in one place (R13).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::resource::ResourceKey;

/// Rank order (R4): owner > admin > manager > member.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Manager,
    Admin,
    Owner,
}

impl Role {
    /// Higher outranks lower.
    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Manager => "manager",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "member" => Ok(Role::Member),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(format!(
                "unknown role {other:?}: expected owner, admin, manager or member"
            )),
        }
    }
}

/// Lifecycle states (R7).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Invited,
    Active,
    Deactivated,
    Deleted,
    Purged,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
            UserStatus::Deleted => "deleted",
            UserStatus::Purged => "purged",
        }
    }

    /// R23: invited, active and deactivated users take a billed seat.
    pub fn is_billed(self) -> bool {
        matches!(
            self,
            UserStatus::Invited | UserStatus::Active | UserStatus::Deactivated
        )
    }
}

impl std::str::FromStr for UserStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "invited" => Ok(UserStatus::Invited),
            "active" => Ok(UserStatus::Active),
            "deactivated" => Ok(UserStatus::Deactivated),
            "deleted" => Ok(UserStatus::Deleted),
            "purged" => Ok(UserStatus::Purged),
            other => Err(format!("unknown status {other:?}")),
        }
    }
}

/// A person's personal data. After a purge every field reads as `erased` (R13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Profile {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// The identity provider's own id for the person (SCIM `externalId`), unique per
    /// org among listed users. Absent from profiles written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The identity provider's unique name for the person (SCIM `userName`, RFC 7643
    /// §4.1.1) when it is not the email: unique per org among listed users, compared
    /// caseless. Absent when the user name is the email, and from profiles written
    /// before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The department the directory names (SCIM enterprise `department`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The HR system's number for the person (SCIM enterprise `employeeNumber`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
}

impl Profile {
    /// The person's user name (SCIM `userName`): the stored one, else the email.
    pub fn user_name(&self) -> &str {
        self.user_name.as_deref().unwrap_or(&self.email)
    }
}

/// A user was added to the directory (seed 004: "Add New"). Schema v2 split v1's single
/// `name` into first and last name and added the optional job title.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserInvited {
    pub user_id: UserId,
    #[schemars(with = "crate::schema::ProfileWire")]
    pub profile: Profile,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<UserId>,
}

/// The user can sign in (seed 004's "active" toggle, or accepting the invitation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserActivated {
    pub user_id: UserId,
}

/// Promotion or demotion (seed 001: demote before deactivating).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserRoleChanged {
    pub user_id: UserId,
    pub from: Role,
    pub to: Role,
}

/// The user's manager changed (`None` means no manager).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserManagerChanged {
    pub user_id: UserId,
    pub from: Option<UserId>,
    pub to: Option<UserId>,
}

/// The user became a member of a group (a resource of kind `group`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserJoinedGroup {
    pub user_id: UserId,
    pub group: ResourceKey,
}

/// The user stopped being a member of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserLeftGroup {
    pub user_id: UserId,
    pub group: ResourceKey,
}

/// A group's (a resource of kind `group`) details changed: `name` is what it is shown as
/// (SCIM `displayName`; its key `group:NAME`, which members join by, never changes) and
/// `external_id` the identity provider's id for it (SCIM `externalId`), both as they now
/// are. Recorded in the stream of the group's owner at the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupChanged {
    pub group: ResourceKey,
    pub owner: UserId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// The user's personal data was replaced: `user update`, SCIM, or a new email on restore.
/// `profile` is the whole new profile, not a difference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserProfileChanged {
    pub user_id: UserId,
    #[schemars(with = "crate::schema::ProfileWire")]
    pub profile: Profile,
}

/// R8: can no longer sign in; keeps everything; still billed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserDeactivated {
    pub user_id: UserId,
}

/// One place a deactivation leaves work with nobody (R26), e.g. code `holds_duty`,
/// subject `default_lead_owner`, count 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnattendedWork {
    /// `sole_member` (the only active member of a distribution), `distribution_backup`,
    /// `holds_duty` or `manages_users` (active reports).
    pub code: String,
    /// The distribution's name or the duty; absent for `manages_users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub count: u64,
    /// A sentence for people, e.g. `is the default lead owner`.
    pub message: String,
}

/// R26: the user was deactivated (the `UserDeactivated` that follows in the same
/// command) although work is left with nobody; policy `deactivate_handover` was `warn`,
/// or a scheduled offboarding removed access whatever its plan could no longer hand over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WorkLeftUnattended {
    pub user_id: UserId,
    pub items: Vec<UnattendedWork>,
}

/// R9: deactivated → active.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserReactivated {
    pub user_id: UserId,
}

/// R11: gone from the directory, no longer billed, email free; restorable for the
/// retention window. Role, manager and groups stay on record for a restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserDeleted {
    pub user_id: UserId,
}

/// R12: a deleted user is back, `deactivated` or `active`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserRestored {
    pub user_id: UserId,
    pub status: UserStatus,
}

/// R13: the user's personal data is unreadable forever; the user can never be restored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserPurged {
    pub user_id: UserId,
}
