//! Named consumers: a downstream system's durable checkpoint in the event stream. A
//! consumer acks the last position it has processed; reconnecting as that consumer
//! resumes right after it, also after a server restart (at-least-once: what was received
//! but not acked comes again).
//!
//! Stored beside the log among the store's named checkpoints, one per consumer under
//! `server.consumer.{org}.{name}`: names are per org, like everything else (R1).

use chrono::{DateTime, Utc};
use offboard_events::OrgId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::store::{LogStore, StoreError};

/// Longest consumer name.
pub const MAX_NAME: usize = 64;

/// A consumer's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConsumerCheckpoint {
    pub name: String,
    /// The last position acked; 0 when nothing was acked yet. A reconnect resumes at
    /// `position + 1`.
    pub position: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    position: u64,
    acked_at: DateTime<Utc>,
}

/// What [`check_name`] accepts, as the API documents it.
pub const NAME_PATTERN: &str = r"^[A-Za-z0-9._-]{1,64}$";

/// A consumer named in the path.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ConsumerPath {
    #[schemars(regex(pattern = NAME_PATTERN))]
    pub name: String,
}

/// Checks a consumer name: 1 to 64 of ASCII letters, digits, `.`, `_` and `-`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "consumer names are 1 to {MAX_NAME} letters, digits, '.', '_' or '-'"
        ))
    }
}

/// Every consumer's record name starts with this.
const RECORD_PREFIX: &str = "server.consumer.";

fn record_name(org: OrgId, name: &str) -> String {
    format!("{RECORD_PREFIX}{org}.{name}")
}

/// Every consumer of every org with its acked position, in record-name order: opening
/// the engine checks none of them is past the log's end.
pub fn all(store: &dyn LogStore) -> Result<Vec<(OrgId, ConsumerCheckpoint)>, StoreError> {
    let mut out = Vec::new();
    for record in store.checkpoint_names(RECORD_PREFIX)? {
        // `{org}.{name}`: an org id has no dot, so the first one ends it.
        let rest = &record[RECORD_PREFIX.len()..];
        let parsed = rest
            .split_once('.')
            .and_then(|(org, name)| Some((org.parse::<uuid::Uuid>().ok()?, name)));
        let Some((org, name)) = parsed else {
            return Err(StoreError::Corrupt(format!(
                "checkpoints/{record} is not named like a consumer's position"
            )));
        };
        // Named as the side file it is, not as damage to the log.
        let consumer = load(store, OrgId(org), name).map_err(|e| match e {
            StoreError::Corrupt(why) => StoreError::Io(format!(
                "checkpoints/{record}, consumer {name}'s acked position, is unreadable ({why}); the log cannot be checked against it: restore the file, or delete it to let the consumer start over from position 1"
            )),
            other => other,
        })?;
        out.push((OrgId(org), consumer));
    }
    Ok(out)
}

/// Moves the checkpoint of consumer `name` back to `position` if it is further (durable
/// when it returns): only `offboard repair --accept-loss` does this, for positions the
/// log lost, so the consumer receives what now stands at them.
pub fn lower(
    store: &dyn LogStore,
    org: OrgId,
    name: &str,
    position: u64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if load(store, org, name)?.position <= position {
        return Ok(());
    }
    let stored = Stored {
        position,
        acked_at: now,
    };
    store.put_checkpoint(
        &record_name(org, name),
        &serde_json::to_vec(&stored).expect("a checkpoint always serializes"),
    )
}

/// The checkpoint of consumer `name` of `org` (position 0 if it never acked).
pub fn load(
    store: &dyn LogStore,
    org: OrgId,
    name: &str,
) -> Result<ConsumerCheckpoint, StoreError> {
    let stored = match store.checkpoint(&record_name(org, name))? {
        Some(bytes) => Some(
            serde_json::from_slice::<Stored>(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("consumer checkpoint {name}: {e}")))?,
        ),
        None => None,
    };
    Ok(ConsumerCheckpoint {
        name: name.to_owned(),
        position: stored.as_ref().map_or(0, |s| s.position),
        acked_at: stored.map(|s| s.acked_at),
    })
}

/// Moves the checkpoint forward to `position` (durable when it returns). An ack behind
/// the checkpoint changes nothing: acks only move forward, so a late duplicate ack from
/// a consumer cannot rewind it. The caller serializes acks of one consumer.
pub fn ack(
    store: &dyn LogStore,
    org: OrgId,
    name: &str,
    position: u64,
    now: DateTime<Utc>,
) -> Result<ConsumerCheckpoint, StoreError> {
    let current = load(store, org, name)?;
    if position <= current.position {
        return Ok(current);
    }
    let stored = Stored {
        position,
        acked_at: now,
    };
    store.put_checkpoint(
        &record_name(org, name),
        &serde_json::to_vec(&stored).expect("a checkpoint always serializes"),
    )?;
    Ok(ConsumerCheckpoint {
        name: name.to_owned(),
        position,
        acked_at: Some(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryLog;

    #[test]
    fn acks_only_move_forward_and_are_per_org() {
        let store = MemoryLog::new();
        let (a, b) = (OrgId::new(), OrgId::new());
        assert_eq!(load(&store, a, "crm").unwrap().position, 0);
        ack(&store, a, "crm", 7, Utc::now()).unwrap();
        assert_eq!(ack(&store, a, "crm", 3, Utc::now()).unwrap().position, 7);
        assert_eq!(load(&store, a, "crm").unwrap().position, 7);
        assert_eq!(load(&store, b, "crm").unwrap().position, 0);
    }

    #[test]
    fn every_consumer_is_listed_and_repair_lowers_only_what_is_past_the_end() {
        let store = MemoryLog::new();
        let (a, b) = (OrgId::new(), OrgId::new());
        ack(&store, a, "crm.v2", 9, Utc::now()).unwrap();
        ack(&store, b, "billing", 5, Utc::now()).unwrap();
        let mut listed: Vec<(OrgId, String, u64)> = all(&store)
            .unwrap()
            .into_iter()
            .map(|(org, c)| (org, c.name, c.position))
            .collect();
        listed.sort();
        let mut expected = vec![(a, "crm.v2".to_owned(), 9), (b, "billing".to_owned(), 5)];
        expected.sort();
        assert_eq!(listed, expected);
        store
            .put_checkpoint(&record_name(b, "torn"), b"{\"posi")
            .unwrap();
        let torn = all(&store).unwrap_err().to_string();
        assert!(
            torn.contains(&format!("checkpoints/server.consumer.{b}.torn")),
            "{torn}"
        );
        assert!(!torn.contains("the log is damaged"), "{torn}");
        store
            .put_checkpoint(
                &record_name(b, "torn"),
                br#"{"position":0,"acked_at":"2026-11-30T22:40:00Z"}"#,
            )
            .unwrap();
        lower(&store, a, "crm.v2", 8, Utc::now()).unwrap();
        lower(&store, b, "billing", 8, Utc::now()).unwrap();
        assert_eq!(load(&store, a, "crm.v2").unwrap().position, 8);
        assert_eq!(load(&store, b, "billing").unwrap().position, 5);
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(check_name("billing-sync.v2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
