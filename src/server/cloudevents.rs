//! The CloudEvents 1.0 (structured JSON) form of an envelope, for `format=cloudevents`.
//! Pure: the same envelope always gives the same JSON.

use offboard_events::Envelope;
use serde_json::{json, Value};

/// `specversion` 1.0; `id` the event id; `source` `/orgs/{org_id}`; `type`
/// `offboard.{EventType}.v{schema_version}`; `subject` the stream; `time` when it was
/// committed; `data` the payload; extensions `position`, `correlationid`, `causationid`.
pub fn to_cloudevent(e: &Envelope) -> Value {
    json!({
        "specversion": "1.0",
        "id": e.event_id,
        "source": format!("/orgs/{}", e.org_id),
        "type": format!("offboard.{}.v{}", e.event.event_type(), e.event.schema_version()),
        "subject": e.stream_id,
        "time": e.occurred_at,
        "datacontenttype": "application/json",
        "data": e.event,
        "position": e.position,
        "correlationid": e.correlation_id,
        "causationid": e.causation_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use offboard_events::*;
    use uuid::Uuid;

    #[test]
    fn maps_every_attribute() {
        let org = OrgId(Uuid::from_u128(1));
        let user = UserId(Uuid::from_u128(2));
        let e = Envelope {
            position: 42,
            org_id: org,
            stream_id: StreamId::user(user),
            stream_version: 3,
            event_id: EventId(Uuid::from_u128(3)),
            occurred_at: chrono::Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap(),
            actor: Actor::System,
            on_behalf_of: None,
            command_id: CommandId(Uuid::from_u128(4)),
            correlation_id: CorrelationId(Uuid::from_u128(5)),
            causation_id: Uuid::from_u128(6),
            prev_hash: String::new(),
            hash: String::new(),
            event: UserDeactivated { user_id: user }.into(),
        };
        let ce = to_cloudevent(&e);
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["id"], Uuid::from_u128(3).to_string());
        assert_eq!(ce["source"], format!("/orgs/{org}"));
        assert_eq!(ce["type"], "offboard.UserDeactivated.v1");
        assert_eq!(ce["subject"], format!("user-{user}"));
        assert_eq!(ce["time"], "2026-03-03T09:00:00Z");
        assert_eq!(ce["datacontenttype"], "application/json");
        assert_eq!(ce["data"]["user_id"], user.to_string());
        assert_eq!(ce["position"], 42);
        assert_eq!(ce["correlationid"], Uuid::from_u128(5).to_string());
        assert_eq!(ce["causationid"], Uuid::from_u128(6).to_string());
    }
}
