//! The events the delivery tasks read lately, shared: with ten subscriptions each event
//! used to be read from the log and decoded ten times, and serialized into the same
//! body ten times (`format: envelope` and `cloudevents` bodies do not depend on the
//! subscription). Now the first task to need a position reads it; the others take the
//! same decoded event and, once it is serialized, the same bytes (`callgrind`, see
//! docs/performance.md).
//!
//! Bounded in size ([`CAPACITY`] positions) and in age ([`FRESH`]): an event is
//! decoded with the personal data readable when it was read, so it is not kept long
//! enough for a purge to be passed over — a task that reads later reads the log again,
//! as before. Only durable events enter (tasks read up to the durable position).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use offboard_events::Envelope;

use crate::cloudevents::to_cloudevent;

/// Most positions kept: eight of a task's batches.
pub const CAPACITY: usize = 2048;

/// Longest an event read from the log is handed to another task.
pub const FRESH: Duration = Duration::from_secs(1);

/// One event read from the log, with its bodies once a task serialized them.
#[derive(Debug)]
pub struct Cached {
    pub envelope: Envelope,
    envelope_body: OnceLock<Bytes>,
    cloudevent_body: OnceLock<Bytes>,
}

impl Cached {
    pub fn new(envelope: Envelope) -> Self {
        Self {
            envelope,
            envelope_body: OnceLock::new(),
            cloudevent_body: OnceLock::new(),
        }
    }

    /// The envelope as JSON (`format: envelope`), serialized once.
    pub fn envelope_body(&self) -> Bytes {
        self.envelope_body
            .get_or_init(|| json(&self.envelope))
            .clone()
    }

    /// The CloudEvent as JSON (`format: cloudevents`), serialized once.
    pub fn cloudevent_body(&self) -> Bytes {
        self.cloudevent_body
            .get_or_init(|| json(&to_cloudevent(&self.envelope)))
            .clone()
    }
}

fn json(value: &impl serde::Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("an event always serializes"))
}

/// The shared window of recent events, by position.
#[derive(Debug, Default)]
pub struct Recent(Mutex<BTreeMap<u64, (Instant, Arc<Cached>)>>);

impl Recent {
    /// The events at `from`, `from + 1`, … up to `end` that are here and fresh, stopping
    /// at the first that is not (the caller reads the rest from the log).
    pub fn take(&self, from: u64, end: u64) -> Vec<Arc<Cached>> {
        let now = Instant::now();
        let map = self.lock();
        let mut found = Vec::new();
        for (expected, (position, (at, event))) in (from..=end).zip(map.range(from..=end)) {
            if *position != expected || now.duration_since(*at) > FRESH {
                break;
            }
            found.push(Arc::clone(event));
        }
        found
    }

    /// Keeps `events`, just read from the log, and returns them shared: a position
    /// another task put meanwhile is that task's (so both share one body).
    pub fn put(&self, events: Vec<Envelope>) -> Vec<Arc<Cached>> {
        let now = Instant::now();
        let mut map = self.lock();
        let shared = events
            .into_iter()
            .map(|envelope| match map.entry(envelope.position) {
                Entry::Occupied(mut slot) => {
                    // A stale copy is replaced: its personal data may be older than FRESH.
                    if now.duration_since(slot.get().0) > FRESH {
                        slot.insert((now, Arc::new(Cached::new(envelope))));
                    }
                    Arc::clone(&slot.get().1)
                }
                Entry::Vacant(slot) => {
                    Arc::clone(&slot.insert((now, Arc::new(Cached::new(envelope)))).1)
                }
            })
            .collect();
        // From the lowest position only, so a put costs what it evicts, not the window:
        // a stale entry further up is refused by `take` and replaced by the next `put`.
        loop {
            let full = map.len() > CAPACITY;
            match map.first_entry() {
                Some(first) if full || now.duration_since(first.get().0) > FRESH => {
                    first.remove();
                }
                _ => break,
            }
        }
        shared
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (Instant, Arc<Cached>)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use offboard_events::{
        Actor, CommandId, CorrelationId, EventId, OrgId, StreamId, UserDeleted, UserId,
    };
    use uuid::Uuid;

    use super::*;

    fn at(position: u64) -> Envelope {
        let user = UserId(Uuid::from_u128(7));
        Envelope {
            position,
            org_id: OrgId(Uuid::from_u128(1)),
            stream_id: StreamId::user(user),
            stream_version: position,
            event_id: EventId(Uuid::from_u128(u128::from(position))),
            occurred_at: Utc::now(),
            actor: Actor::System,
            on_behalf_of: None,
            command_id: CommandId(Uuid::from_u128(3)),
            correlation_id: CorrelationId(Uuid::from_u128(4)),
            causation_id: Uuid::from_u128(5),
            prev_hash: String::new(),
            hash: String::new(),
            event: UserDeleted { user_id: user }.into(),
        }
    }

    fn positions(events: &[Arc<Cached>]) -> Vec<u64> {
        events.iter().map(|e| e.envelope.position).collect()
    }

    #[test]
    fn a_task_takes_what_another_read_up_to_the_first_gap() {
        let recent = Recent::default();
        recent.put(vec![at(1), at(2), at(3), at(5)]);
        assert_eq!(positions(&recent.take(1, 10)), [1, 2, 3]);
        assert_eq!(positions(&recent.take(2, 2)), [2]);
        assert!(recent.take(4, 10).is_empty());
        assert_eq!(positions(&recent.take(5, 10)), [5]);
    }

    #[test]
    fn every_task_shares_one_event_and_one_body() {
        let recent = Recent::default();
        let first = recent.put(vec![at(1)]);
        let again = recent.put(vec![at(1)]);
        assert!(Arc::ptr_eq(&first[0], &again[0]));
        let body = first[0].envelope_body();
        assert_eq!(body, serde_json::to_vec(&first[0].envelope).unwrap());
        assert_eq!(body.as_ptr(), again[0].envelope_body().as_ptr());
        let cloudevent = serde_json::to_vec(&to_cloudevent(&first[0].envelope)).unwrap();
        assert_eq!(again[0].cloudevent_body(), cloudevent);
    }

    #[test]
    fn it_keeps_at_most_capacity_positions_the_latest() {
        let recent = Recent::default();
        let last = CAPACITY as u64 + 100;
        recent.put((1..=last).map(at).collect());
        assert!(recent.take(1, 1).is_empty());
        assert_eq!(recent.take(101, last).len(), CAPACITY);
    }

    #[test]
    fn an_event_older_than_fresh_is_read_again() {
        let recent = Recent::default();
        let first = recent.put(vec![at(1)]);
        std::thread::sleep(FRESH + Duration::from_millis(50));
        assert!(recent.take(1, 1).is_empty());
        let again = recent.put(vec![at(1)]);
        assert!(!Arc::ptr_eq(&first[0], &again[0]));
    }
}
