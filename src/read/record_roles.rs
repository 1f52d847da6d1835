//! Record roles (R29) as reads: who holds each role on one record, now or as of a time
//! or position, with every change it had ("who was the servicing specialist of D-9 on
//! March 3rd"); and every record where one user holds a role.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use offboard_events::{CorrelationId, ResourceKey, UserId};
use offboard_projections::OrgState;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ownership::{as_of, known_user};
use super::{email, named, Query, ReadFailure, Scope};
use crate::server::client::encode_segment;
use crate::server::UserRef;

/// `GET /v1/resources/{resource}/roles`: the roles on one record and their holders,
/// now or as of a time or position, and every change of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRolesQuery {
    /// The resource (`kind:id`), from the path.
    #[serde(skip)]
    pub resource: Option<ResourceKey>,
    /// Only this role, e.g. `servicing_specialist`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// RFC 3339 time, e.g. `2026-03-03T09:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// A log position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

/// A user named in an answer, with their email today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HolderView {
    pub user: UserId,
    pub email: String,
}

/// One role on a record and who held it at the position asked about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoleHoldersView {
    pub role: String,
    /// Whether the org declared the role multi-holder.
    pub multi: bool,
    /// In the order they began holding it; empty: nobody.
    pub holders: Vec<HolderView>,
}

/// One change of a role on a record: who began or stopped holding it, when, and under
/// which operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoleChangeView {
    pub position: u64,
    pub occurred_at: DateTime<Utc>,
    pub role: String,
    pub user: UserId,
    pub email: String,
    /// `true`: began holding the role; `false`: stopped.
    pub assigned: bool,
    pub correlation_id: CorrelationId,
}

/// The answer of [`RecordRolesQuery`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordRolesView {
    pub resource: String,
    /// The position the holders are as of.
    pub position: u64,
    /// Every role that had a holder on the record at some time (or the one asked
    /// about), by name; `holders` as of `position`.
    pub roles: Vec<RoleHoldersView>,
    /// Every change, oldest first (whatever `position` says).
    pub history: Vec<RoleChangeView>,
}

impl Query for RecordRolesQuery {
    type Answer = RecordRolesView;

    fn path(&self) -> String {
        let key = self.resource.as_ref().map_or("", ResourceKey::as_str);
        format!("/v1/resources/{}/roles", encode_segment(key))
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<RecordRolesView, ReadFailure> {
        let key = named(self.resource.as_ref(), "a resource")?;
        let last = scope.engine().last_position();
        scope.now(|org| {
            if org.ownership().history(key).is_empty() {
                return Err(ReadFailure::NotFound(format!("resource {key}")));
            }
            let position = as_of(org, self.at, self.position)?.unwrap_or(last);
            Ok(record_roles(org, key, self.role.as_deref(), position))
        })
    }
}

fn record_roles(org: &OrgState, key: &ResourceKey, role: Option<&str>, at: u64) -> RecordRolesView {
    let (roles, ownership) = (org.record_roles(), org.ownership());
    let history: Vec<RoleChangeView> = roles
        .history(ownership, key)
        .into_iter()
        .filter(|c| role.is_none_or(|r| r == c.role))
        .filter_map(|c| {
            let event = org.audit().event(c.position)?;
            Some(RoleChangeView {
                position: c.position,
                occurred_at: event.occurred_at,
                email: email(org, c.user),
                role: c.role,
                user: c.user,
                assigned: c.assigned,
                correlation_id: event.correlation_id,
            })
        })
        .collect();
    let mut names: Vec<String> = history.iter().map(|c| c.role.clone()).collect();
    names.extend(role.map(str::to_owned));
    names.sort_unstable();
    names.dedup();
    RecordRolesView {
        resource: key.to_string(),
        position: at,
        roles: names
            .into_iter()
            .map(|name| RoleHoldersView {
                multi: roles.is_multi(&name),
                holders: roles
                    .holders_at(ownership, key, &name, at)
                    .into_iter()
                    .map(|user| HolderView {
                        user,
                        email: email(org, user),
                    })
                    .collect(),
                role: name,
            })
            .collect(),
        history,
    }
}

/// `GET /v1/users/{user}/roles`: every record where a user holds a role now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRolesQuery {
    /// The user's id or email, from the path.
    #[serde(skip)]
    pub user: Option<UserRef>,
    /// Only this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Only records of this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// One record where the user holds a role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeldRoleView {
    pub role: String,
    pub resource: String,
}

/// The answer of [`UserRolesQuery`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserRolesView {
    pub user: UserId,
    pub email: String,
    /// Role → on how many records the user holds it (all of them, whatever the filters).
    pub counts: BTreeMap<String, u64>,
    /// The records, by role then key, filtered by `role` and `kind`.
    pub roles: Vec<HeldRoleView>,
}

impl Query for UserRolesQuery {
    type Answer = UserRolesView;

    fn path(&self) -> String {
        let user = self.user.as_ref().map_or("", |u| u.0.as_str());
        format!("/v1/users/{}/roles", encode_segment(user))
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<UserRolesView, ReadFailure> {
        let user = named(self.user.as_ref(), "a user")?;
        scope.now(|org| {
            let id = known_user(org, user)?;
            let (roles, ownership) = (org.record_roles(), org.ownership());
            let counts = roles.counts_of(id);
            let mut held = Vec::new();
            for role in counts.keys() {
                if self.role.as_ref().is_some_and(|r| r != role) {
                    continue;
                }
                let kind = self.kind.as_deref();
                held.extend(
                    roles
                        .records_of(ownership, id, Some(role), kind)
                        .into_iter()
                        .map(|key| HeldRoleView {
                            role: role.clone(),
                            resource: key.to_string(),
                        }),
                );
            }
            Ok(UserRolesView {
                user: id,
                email: email(org, id),
                counts,
                roles: held,
            })
        })
    }
}
