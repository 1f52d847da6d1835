//! The audit histories (R25) as pages of events in log order: a user's, a resource's
//! (the events that changed its owner), one operation's, and the org's timeline, each
//! optionally between two times. Positions come from the audit indexes; only the
//! page's events are read from the log, so a long history never sits in memory whole.

use chrono::{DateTime, Utc};
use offboard_events::{CorrelationId, ResourceKey};
use offboard_projections::OrgState;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ownership::known_user;
use super::page::{next_link, page_answer, paged, Cursor, Limit};
use super::{Query, ReadFailure, Scope};
use crate::server::client::encode_segment;
use crate::server::{EnvelopeJson, UserRef};

const LIST: &str = "events";

/// Whose history: named by the endpoint's path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HistorySelector {
    /// `/v1/users/{user}/history`: every event about the user.
    User(UserRef),
    /// `/v1/resources/{resource}/events`: the events that changed the resource's owner.
    Resource(ResourceKey),
    /// `/v1/correlations/{id}/history`: every event one operation wrote.
    Correlation(CorrelationId),
    /// `/v1/history`: the org's timeline.
    #[default]
    Org,
}

/// A history, optionally between two times (both included).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    #[serde(skip)]
    pub selector: HistorySelector,
    /// Only events at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Only events at or before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Limit::is_default")]
    pub limit: Limit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// One page of events, in log order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryPage {
    pub events: Vec<EnvelopeJson>,
    /// The next page's relative URL; `null` on the last page.
    pub next: Option<String>,
}

paged!(HistoryQuery);
page_answer!(HistoryPage);

impl HistoryQuery {
    pub fn new(selector: HistorySelector) -> Self {
        Self {
            selector,
            ..Self::default()
        }
    }

    /// Every position of the history in the window, in log order.
    fn positions(&self, org: &OrgState) -> Result<Vec<u64>, ReadFailure> {
        let since = self.since.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let until = self.until.unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut positions = match &self.selector {
            HistorySelector::Org => {
                return Ok(org
                    .audit()
                    .between(since, until)
                    .map(|r| r.position)
                    .collect())
            }
            HistorySelector::User(r) => {
                org.audit().positions_for_user(known_user(org, r)?).to_vec()
            }
            HistorySelector::Resource(key) => {
                let changes = org.owner_history(key);
                if changes.is_empty() {
                    return Err(ReadFailure::NotFound(format!("resource {key}")));
                }
                // Role changes on the record too (R29): its history is every role's.
                let roles = org.record_roles().history(org.ownership(), key);
                let owners = changes.iter().map(|c| c.position);
                owners.chain(roles.iter().map(|c| c.position)).collect()
            }
            HistorySelector::Correlation(id) => {
                let positions = org.audit().positions_for_correlation(*id);
                if positions.is_empty() {
                    return Err(ReadFailure::NotFound(format!("operation {id}")));
                }
                positions
            }
        };
        positions.sort_unstable();
        positions.dedup();
        if self.since.is_some() || self.until.is_some() {
            let audit = org.audit();
            positions.retain(|p| {
                audit
                    .event(*p)
                    .is_some_and(|e| e.occurred_at >= since && e.occurred_at <= until)
            });
        }
        Ok(positions)
    }
}

impl Query for HistoryQuery {
    type Answer = HistoryPage;

    fn path(&self) -> String {
        match &self.selector {
            HistorySelector::User(r) => format!("/v1/users/{}/history", encode_segment(&r.0)),
            HistorySelector::Resource(key) => {
                format!("/v1/resources/{}/events", encode_segment(key.as_str()))
            }
            HistorySelector::Correlation(id) => format!("/v1/correlations/{id}/history"),
            HistorySelector::Org => "/v1/history".to_owned(),
        }
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<HistoryPage, ReadFailure> {
        let after = self
            .cursor
            .as_ref()
            .map(|c| c.position_for(LIST))
            .transpose()?;
        let positions = scope.now(|org| self.positions(org))?;
        let start = after.map_or(0, |a| positions.partition_point(|p| *p <= a));
        let end = (start + self.limit.get()).min(positions.len());
        let page = &positions[start..end];
        let last = (end < positions.len())
            .then(|| page.last().copied())
            .flatten();
        let events = scope.engine().read_positions(page)?;
        Ok(HistoryPage {
            events: events.into_iter().map(EnvelopeJson).collect(),
            next: next_link(self, last.map(|p| Cursor::new(LIST, p.to_string()))),
        })
    }
}
