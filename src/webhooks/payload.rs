//! The `connector` body (issue 18 §2): the event, and beside it what a CRM connector
//! needs to act without a lookup per id — each user the event names with their email,
//! external id (where set) and status, each resource key it names as `kind` + `id`, and
//! the operation's correlation id.
//!
//! Users and resources are found by walking the event's payload: every string that is
//! the id of a user of the org, and every string that is a resource key, so each event
//! type (transfers, offboardings, deletes, restores…) is covered without a list to keep
//! in step with the event contract. Emails and external ids are the directory's as the
//! event is delivered: a purged user's are never sent (their personal data stays
//! unreadable).

use std::collections::BTreeMap;

use offboard_events::{CorrelationId, Envelope, ResourceKey, UserId, UserStatus};
use offboard_projections::OrgState;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// A user named by the event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Person {
    /// Absent once the user is purged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The id the user has in the identity provider or HR system (SCIM `externalId`);
    /// absent when none is set, and once the user is purged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub status: UserStatus,
}

/// A resource key named by the event, split.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct ResourceRef {
    /// `kind:id`, as in the event.
    pub key: String,
    pub kind: String,
    pub id: String,
}

/// The delivered body with `format: connector`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ConnectorBody<'a> {
    /// The envelope, exactly as `format: envelope` delivers it.
    #[schemars(with = "crate::server::EnvelopeJson")]
    pub event: &'a Envelope,
    pub correlation_id: CorrelationId,
    /// Every user of the org the event names (its actor included), by id.
    pub users: BTreeMap<UserId, Person>,
    /// Every resource key the event names, sorted, once each.
    pub resources: Vec<ResourceRef>,
}

/// The connector body of `event`, with users looked up in `org` (the event's org).
pub fn connector_body<'a>(event: &'a Envelope, org: Option<&OrgState>) -> ConnectorBody<'a> {
    let mut users = BTreeMap::new();
    let mut resources = Vec::new();
    let mut found = |text: &str| {
        if let (Ok(id), Some(org)) = (text.parse::<uuid::Uuid>(), org) {
            if let Some(user) = org.directory().user(UserId(id)) {
                let readable = user.status != UserStatus::Purged;
                users.insert(
                    user.id,
                    Person {
                        email: readable.then(|| user.profile.email.clone()),
                        external_id: user.profile.external_id.clone().filter(|_| readable),
                        status: user.status,
                    },
                );
            }
        } else if let Ok(key) = text.parse::<ResourceKey>() {
            resources.push(ResourceRef {
                key: key.as_str().to_owned(),
                kind: key.kind().to_owned(),
                id: key.id().to_owned(),
            });
        }
    };
    let data = serde_json::to_value(&event.event).expect("an event always serializes");
    walk(&data, &mut found);
    let actor = serde_json::to_value(&event.actor).expect("an actor always serializes");
    walk(&actor, &mut found);
    if let Some(on_behalf_of) = event.on_behalf_of {
        found(&on_behalf_of.0.to_string());
    }
    resources.sort();
    resources.dedup();
    ConnectorBody {
        event,
        correlation_id: event.correlation_id,
        users,
        resources,
    }
}

/// Where the connector body's JSON Schema is checked in, relative to the repository.
pub const SCHEMA_FILE: &str = "events/schema/webhook-connector.schema.json";

/// The connector body's JSON Schema as pretty JSON, exactly as checked in at
/// [`SCHEMA_FILE`] (with a trailing newline).
pub fn connector_schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&schemars::schema_for!(ConnectorBody<'static>))
        .expect("a schema always serializes");
    text.push('\n');
    text
}

fn walk(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => found(s),
        Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
        Value::Object(map) => map.values().for_each(|v| walk(v, found)),
        _ => {}
    }
}
