//! The audit histories (R25) as pages of events in log order: a user's, a resource's
//! (the events that changed its owner), one operation's, and the org's timeline, each
//! optionally between two times and narrowed to one actor or event type. Positions come
//! from the audit indexes, which know every event's time, actor and type: a filtered
//! page is the next `limit` matching events after the cursor's position, found in
//! memory, and only the page's events are read from the log, so a long history never
//! sits in memory whole.

use chrono::{DateTime, Utc};
use offboard_events::{CorrelationId, Event, ResourceKey};
use offboard_projections::{Acting, OrgState, Selection};
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
    /// Only events whose actor, as the history shows it, contains this text in any
    /// case: a user's email, `support:NAME`, `auditor:NAME`, `system`, followed by
    /// ` for EMAIL` when acting on behalf of a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only events of this type (e.g. `ResourcesTransferred`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
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

    /// The page's positions: the first `limit` of the history after position `after`
    /// that the window and filters keep, in log order, and whether more follow.
    fn page(&self, org: &OrgState, after: u64) -> Result<(Vec<u64>, bool), ReadFailure> {
        let since = self.since.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let until = self.until.unwrap_or(DateTime::<Utc>::MAX_UTC);
        let audit = org.audit();
        let selection = self.selection(org)?;
        let wanted = self.limit.get() + 1;
        let mut found: Vec<u64> = match self.listed(org)? {
            None => audit
                .scan(&selection, after, since, until)
                .take(wanted)
                .collect(),
            Some(positions) => positions
                .into_iter()
                .filter(|p| *p > after && audit.keeps(&selection, *p))
                .filter(|p| {
                    audit
                        .event(*p)
                        .is_some_and(|e| e.occurred_at >= since && e.occurred_at <= until)
                })
                .take(wanted)
                .collect(),
        };
        let more = found.len() == wanted;
        found.truncate(self.limit.get());
        Ok((found, more))
    }

    /// The actor and event-type filters, checked: an event type no build knows is
    /// `invalid_input`.
    fn selection(&self, org: &OrgState) -> Result<Selection, ReadFailure> {
        if let Some(t) = self.event_type.as_deref() {
            if !Event::TYPES.contains(&t) {
                return Err(ReadFailure::Invalid(format!("{t:?} is not an event type")));
            }
        }
        let needle = self
            .actor
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_lowercase);
        let keep = needle.map(|n| {
            move |a: &Acting| {
                crate::cli::describe::acting(org, &a.actor, a.on_behalf_of)
                    .to_lowercase()
                    .contains(&n)
            }
        });
        let keep = keep.as_ref().map(|k| k as &dyn Fn(&Acting) -> bool);
        Ok(org.audit().select(keep, self.event_type.as_deref()))
    }

    /// Every position of a user's, resource's or operation's history, in log order;
    /// `None` for the org's timeline (walked in place).
    fn listed(&self, org: &OrgState) -> Result<Option<Vec<u64>>, ReadFailure> {
        let mut positions = match &self.selector {
            HistorySelector::Org => return Ok(None),
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
        Ok(Some(positions))
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
        let (page, more) = scope.now(|org| self.page(org, after.unwrap_or(0)))?;
        let last = more.then(|| page.last().copied()).flatten();
        let events = scope.engine().read_positions(&page)?;
        Ok(HistoryPage {
            events: events.into_iter().map(EnvelopeJson).collect(),
            next: next_link(self, last.map(|p| Cursor::new(LIST, p.to_string()))),
        })
    }
}
