//! The CloudEvents 1.0 wire format of an envelope (JSON event format), for downstream
//! consumers that speak CloudEvents. A pure mapping: the CLI's `events --format
//! cloudevents` and the HTTP stream use the same function.
//!
//! | CloudEvents | envelope |
//! | --- | --- |
//! | `specversion` | `"1.0"` |
//! | `id` | `event_id` |
//! | `source` | `/orgs/{org_id}` |
//! | `type` | `offboard.{event_type}.v{schema_version}`, e.g. `offboard.UserDeleted.v1` |
//! | `subject` | `stream_id` |
//! | `time` | `occurred_at` (RFC 3339) |
//! | `datacontenttype` | `"application/json"` |
//! | `data` | the payload |
//! | `position`, `correlationid`, `causationid` | extension attributes (lowercase, as the spec requires) |

use chrono::SecondsFormat;
use offboard_events::Envelope;
use serde_json::{json, Value};

/// The CloudEvents 1.0 JSON document of `env`.
pub fn to_cloudevent(env: &Envelope) -> Value {
    json!({
        "specversion": "1.0",
        "id": env.event_id.to_string(),
        "source": format!("/orgs/{}", env.org_id),
        "type": format!("offboard.{}.v{}", env.event.event_type(), env.event.schema_version()),
        "subject": env.stream_id.as_str(),
        "time": env.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "datacontenttype": "application/json",
        "data": env.event,
        "position": env.position,
        "correlationid": env.correlation_id.to_string(),
        "causationid": env.causation_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use offboard_events::{
        Actor, CommandId, CorrelationId, EventId, OrgId, StreamId, UserDeleted, UserId,
    };
    use uuid::Uuid;

    use super::*;

    #[test]
    fn maps_every_required_attribute_and_the_extensions() {
        let user = UserId(Uuid::from_u128(7));
        let env = Envelope {
            position: 42,
            org_id: OrgId(Uuid::from_u128(1)),
            stream_id: StreamId::user(user),
            stream_version: 3,
            event_id: EventId(Uuid::from_u128(2)),
            occurred_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap(),
            actor: Actor::System,
            on_behalf_of: None,
            command_id: CommandId(Uuid::from_u128(3)),
            correlation_id: CorrelationId(Uuid::from_u128(4)),
            causation_id: Uuid::from_u128(5),
            prev_hash: String::new(),
            hash: String::new(),
            event: UserDeleted { user_id: user }.into(),
        };
        let ce = to_cloudevent(&env);
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["id"], "00000000-0000-0000-0000-000000000002");
        assert_eq!(ce["source"], "/orgs/00000000-0000-0000-0000-000000000001");
        assert_eq!(ce["type"], "offboard.UserDeleted.v1");
        assert_eq!(ce["subject"], format!("user-{user}"));
        assert_eq!(ce["time"], "2026-03-01T09:30:00Z");
        assert_eq!(ce["datacontenttype"], "application/json");
        assert_eq!(ce["data"]["user_id"], user.to_string());
        assert_eq!(ce["position"], 42);
        assert_eq!(ce["correlationid"], "00000000-0000-0000-0000-000000000004");
        assert_eq!(ce["causationid"], "00000000-0000-0000-0000-000000000005");
        // CloudEvents attribute names: lowercase letters and digits only.
        for key in ce.as_object().unwrap().keys() {
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{key}"
            );
        }
    }
}
