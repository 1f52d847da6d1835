//! Who owns what (R25) as pages: resources and their owners now or as of a time or
//! position, in key order; and every owner one resource had, in log order.

use chrono::{DateTime, Utc};
use offboard_events::{ResourceKey, UserId};
use offboard_projections::OrgState;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::page::{cut, next_link, page_answer, paged, Cursor, Limit};
use super::{email, Query, ReadFailure, Scope};
use crate::server::client::encode_segment;
use crate::server::{OwnedResource, OwnerAt, OwnershipChangeView, PositionView, UserRef};

const OWNERS: &str = "owners";
const CHANGES: &str = "owner_changes";

/// `GET /v1/owners`: resources and their owners, now or as of a time or position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnersQuery {
    /// Only resources of this kind, e.g. `buyer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only resources this user (id or email) owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserRef>,
    /// As of this time (RFC 3339): the org's last position at or before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// As of this log position (R25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    #[serde(default, skip_serializing_if = "Limit::is_default")]
    pub limit: Limit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// One page of resources and their owners, in key order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OwnersPage {
    /// The position the answer is as of; `null` for now.
    pub as_of: Option<u64>,
    pub owners: Vec<OwnedResource>,
    /// The next page's relative URL; `null` on the last page.
    pub next: Option<String>,
}

/// `GET /v1/resources/{resource}/history`: every owner one resource had.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerChangesQuery {
    /// The resource (`kind:id`), from the path.
    #[serde(skip)]
    pub resource: Option<ResourceKey>,
    #[serde(default, skip_serializing_if = "Limit::is_default")]
    pub limit: Limit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// One page of the owners a resource had, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OwnerChangesPage {
    pub changes: Vec<OwnershipChangeView>,
    /// The next page's relative URL; `null` on the last page.
    pub next: Option<String>,
}

/// `GET /v1/resources/{resource}/owner`: who owned a resource, now or as of a time or
/// position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerAtQuery {
    /// The resource (`kind:id`), from the path.
    #[serde(skip)]
    pub resource: Option<ResourceKey>,
    /// RFC 3339 time, e.g. `2026-03-03T09:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// A log position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

impl Query for OwnerAtQuery {
    type Answer = OwnerAt;

    fn path(&self) -> String {
        let key = self.resource.as_ref().map_or("", ResourceKey::as_str);
        format!("/v1/resources/{}/owner", encode_segment(key))
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<OwnerAt, ReadFailure> {
        let key = super::named(self.resource.as_ref(), "a resource")?;
        let last = scope.engine().last_position();
        scope.now(|org| {
            if org.ownership().history(key).is_empty() {
                return Err(ReadFailure::NotFound(format!("resource {key}")));
            }
            let position = as_of(org, self.at, self.position)?.unwrap_or(last);
            let owner = org.owner_at_position(key, position);
            Ok(OwnerAt {
                resource: key.to_string(),
                owner,
                owner_email: owner.map(|o| email(org, o)),
                position,
            })
        })
    }
}

/// `GET /v1/position`: the log's last position, or the org's last one at or before a
/// time ("as of time T" is "as of this position").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionQuery {
    /// RFC 3339 time, e.g. `2026-03-03T09:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

impl Query for PositionQuery {
    type Answer = PositionView;

    fn path(&self) -> String {
        "/v1/position".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<PositionView, ReadFailure> {
        let position = match self.at {
            Some(at) => scope.now(|org| Ok(org.audit().last_position_at_or_before(at)))?,
            None => scope.engine().last_position(),
        };
        Ok(PositionView { position })
    }
}

paged!(OwnersQuery, OwnerChangesQuery);
page_answer!(OwnersPage, OwnerChangesPage);

/// The position a query's `at` (a time) or `position` names in `org`; `None`: now.
/// Both at once is `invalid_input`.
pub fn as_of(
    org: &OrgState,
    at: Option<DateTime<Utc>>,
    position: Option<u64>,
) -> Result<Option<u64>, ReadFailure> {
    match (at, position) {
        (Some(_), Some(_)) => Err(ReadFailure::Invalid(
            "give `at` or `position`, not both".to_owned(),
        )),
        (Some(at), None) => Ok(Some(org.audit().last_position_at_or_before(at))),
        (None, position) => Ok(position),
    }
}

/// The user `r` (an id or email) names in `org`, deleted ones included; a stranger is
/// not found.
pub fn known_user(org: &OrgState, r: &UserRef) -> Result<UserId, ReadFailure> {
    let id = r.resolve(org, true).map_err(ReadFailure::from_api)?;
    org.directory()
        .user(id)
        .map(|u| u.id)
        .ok_or_else(|| ReadFailure::NotFound(format!("user {}", r.0)))
}

impl OwnersQuery {
    /// The owner filter and the position asked about (`None`: now).
    fn resolve(&self, org: &OrgState) -> Result<(Option<UserId>, Option<u64>), ReadFailure> {
        let owner = self
            .owner
            .as_ref()
            .map(|r| known_user(org, r))
            .transpose()?;
        Ok((owner, as_of(org, self.at, self.position)?))
    }

    /// The page after `after` of `org` (the views as of the position asked about),
    /// with emails from `now`.
    fn page(
        &self,
        scope: &Scope<'_>,
        (org, now): (Option<&OrgState>, &OrgState),
        (owner, as_of): (Option<UserId>, Option<u64>),
        after: Option<&str>,
    ) -> (Vec<OwnedResource>, Option<String>) {
        let Some(org) = org else {
            return (Vec::new(), None);
        };
        let (kind, limit) = (self.kind.as_deref(), self.limit.get());
        let ownership = org.ownership();
        let walk = format!("owners {kind:?} {owner:?} {as_of:?}");
        let (page, more) = match scope.shared(&walk, || ownership.order(kind, owner)) {
            Some(order) => ownership.page_in(&order, after, limit),
            None => ownership.page(kind, owner, after, limit),
        };
        let last = more.then(|| page.last().map(|(key, _)| key.to_string()));
        let owned = page
            .into_iter()
            .map(|(key, owner)| OwnedResource {
                resource: key.to_string(),
                kind: key.kind().to_owned(),
                owner,
                owner_email: email(now, owner),
            })
            .collect();
        (owned, last.flatten())
    }
}

impl Query for OwnersQuery {
    type Answer = OwnersPage;

    fn path(&self) -> String {
        "/v1/owners".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<OwnersPage, ReadFailure> {
        let after = self
            .cursor
            .as_ref()
            .map(|c| c.key_for(OWNERS))
            .transpose()?;
        let (owner, as_of) = scope.now(|org| self.resolve(org))?;
        let (owners, last) = match as_of {
            None => {
                scope.now(|org| Ok(self.page(scope, (Some(org), org), (owner, None), after)))?
            }
            Some(p) => scope.at(p, |past, now| {
                Ok(self.page(scope, (past, now), (owner, as_of), after))
            })?,
        };
        Ok(OwnersPage {
            as_of,
            owners,
            next: next_link(self, last.map(|k| Cursor::new(OWNERS, k))),
        })
    }
}

impl Query for OwnerChangesQuery {
    type Answer = OwnerChangesPage;

    fn path(&self) -> String {
        let key = self.resource.as_ref().map_or("", ResourceKey::as_str);
        format!("/v1/resources/{}/history", encode_segment(key))
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<OwnerChangesPage, ReadFailure> {
        let key = super::named(self.resource.as_ref(), "a resource")?;
        let after = self
            .cursor
            .as_ref()
            .map(|c| c.position_for(CHANGES))
            .transpose()?;
        let (changes, last) = scope.now(|org| {
            let changes = org.owner_history(key);
            if changes.is_empty() {
                return Err(ReadFailure::NotFound(format!("resource {key}")));
            }
            let (page, last) = cut(changes, |c| c.position, after.as_ref(), self.limit);
            let views = page
                .into_iter()
                .map(|c| OwnershipChangeView::of(org, c))
                .collect();
            Ok((views, last))
        })?;
        Ok(OwnerChangesPage {
            changes,
            next: next_link(self, last.map(|p| Cursor::new(CHANGES, p.to_string()))),
        })
    }
}
