//! Issue 15, section 2, on the engine: whatever durable record says the log went further
//! than it does — the projection checkpoint, the head record, a consumer's acked position
//! — or recorded another hash at one of its positions, the engine refuses to open with
//! `integrity_broken`, so no position is handed out twice.

use std::sync::Arc;

use chrono::Utc;
use offboard::clock::SystemClock;
use offboard::privacy::KeyVault;
use offboard::server::consumers;
use offboard::store::{ChainHead, CommitBatch, LogStore, MemoryLog, StoredEvent};
use offboard::{Engine, ReadError};

use super::support::{append_one, org, touch};

/// A log of `n` events, closed cleanly (checkpoint and head record saved at `n`), and
/// the vault its checkpoint is sealed with.
async fn closed_log(n: u64) -> (Arc<MemoryLog>, Arc<KeyVault>) {
    let store = Arc::new(MemoryLog::new());
    let vault = Arc::new(KeyVault::in_memory());
    let engine = Engine::with_parts(store.clone(), vault.clone(), Arc::new(SystemClock)).unwrap();
    for i in 0..n {
        engine.append(append_one(touch(i))).await.unwrap();
    }
    engine.shutdown();
    (store, vault)
}

/// A copy of `store` whose log ends at `keep` (its tail lost) and whose checkpoint
/// files are the original's.
fn shortened(store: &MemoryLog, keep: u64) -> Arc<MemoryLog> {
    let copy = Arc::new(MemoryLog::new());
    let mut batch = CommitBatch::default();
    store
        .scan(1, keep, &mut |position, bytes| {
            batch.events.push(StoredEvent {
                position,
                bytes: bytes.to_vec(),
            });
            true
        })
        .unwrap();
    let hash = offboard::anchor::hash_at(store, keep).unwrap().unwrap();
    batch.head = Some(ChainHead {
        last_position: keep,
        last_hash: hash,
    });
    copy.commit(&batch).unwrap();
    for name in store.checkpoint_names("").unwrap() {
        let bytes = store.checkpoint(&name).unwrap().unwrap();
        copy.put_checkpoint(&name, &bytes).unwrap();
    }
    copy
}

fn refusal(opened: Result<Engine, ReadError>) -> String {
    match opened {
        Ok(_) => panic!("the engine opened a damaged log"),
        Err(e) => {
            assert_eq!(e.code(), "integrity_broken", "{e}");
            e.to_string()
        }
    }
}

#[tokio::test]
async fn a_log_shorter_than_its_checkpoint_and_head_record_never_opens() {
    // Given a log closed at 9 whose last event is then lost,
    let (store, vault) = closed_log(9).await;
    let lost = shortened(&store, 8);
    // when an engine opens it,
    let opened = Engine::with_parts(lost.clone(), vault, Arc::new(SystemClock));
    // then it refuses naming the missing position and both records that claim it, so
    // nothing can be appended at 9 again.
    let why = refusal(opened);
    assert!(why.contains("positions 9..=9 are missing"), "{why}");
    assert!(why.contains("projection checkpoint at 9"), "{why}");
    assert!(why.contains("head record at 9"), "{why}");
    assert_eq!(lost.head().unwrap().last_position, 8);
}

#[tokio::test]
async fn a_consumer_acked_past_the_end_stops_the_engine_from_opening() {
    // Given a log of 5 events and a consumer whose ack says it processed position 7,
    let (store, vault) = closed_log(5).await;
    consumers::ack(store.as_ref(), org(), "crm", 5, Utc::now()).unwrap();
    let lost = shortened(&store, 5);
    consumers::ack(lost.as_ref(), org(), "crm", 7, Utc::now()).unwrap();
    // when an engine opens it, then it names the consumer and positions 6..=7.
    let why = refusal(Engine::with_parts(lost, vault, Arc::new(SystemClock)));
    assert!(why.contains("consumer crm of org"), "{why}");
    assert!(why.contains("positions 6..=7 are missing"), "{why}");
}

#[tokio::test]
async fn a_log_rewritten_behind_its_checkpoint_never_opens() {
    // Given the state of one log at 6,
    let vault = Arc::new(KeyVault::in_memory());
    let first = Engine::in_memory();
    for i in 0..6 {
        first.append(append_one(touch(i))).await.unwrap();
    }
    let checkpointed = first.state().clone();
    // and another log of the same length (each event hashed and chained: it verifies),
    let other = Arc::new(MemoryLog::new());
    let engine = Engine::with_parts(other.clone(), vault.clone(), Arc::new(SystemClock)).unwrap();
    for i in 100..106 {
        engine.append(append_one(touch(i))).await.unwrap();
    }
    assert!(engine.verify(&mut |_| {}).is_ok());
    drop(engine);
    // with the first log's state saved as its checkpoint (sealed under the current key),
    let key = vault.checkpoint_key().unwrap();
    other
        .put_checkpoint(
            "projections",
            &key.encrypt(&checkpointed.to_checkpoint_bytes()),
        )
        .unwrap();
    // when an engine opens it, then it refuses: the log was rewritten behind the
    // checkpoint (loading it would answer from events the log does not hold).
    let why = refusal(Engine::with_parts(other, vault, Arc::new(SystemClock)));
    assert!(
        why.contains("projection checkpoint at 6 recorded hash"),
        "{why}"
    );
    assert!(why.contains("rewritten"), "{why}");
}

#[tokio::test]
async fn every_checkpoint_records_the_hash_of_its_position() {
    // Given a log closed cleanly at 4,
    let (store, vault) = closed_log(4).await;
    let engine = Engine::with_parts(store.clone(), vault, Arc::new(SystemClock)).unwrap();
    // then its checkpoint was loaded, and the checkpoint and head record name the hash of
    // the event at 4.
    assert_eq!(engine.recovery().checkpoint_position, Some(4));
    let head = engine.head().unwrap();
    assert_eq!(head.position, 4);
    assert_eq!(engine.state().hash(), head.hash);
    assert_eq!(
        offboard::anchor::load_record(store.as_ref()).unwrap(),
        Some(head)
    );
}

#[tokio::test]
async fn a_checkpoint_of_an_earlier_build_without_its_hash_still_opens_and_is_superseded() {
    // Given a log of 3 events and its state saved as an earlier build saved it (no hash),
    let (store, vault) = closed_log(3).await;
    let engine = Engine::with_parts(store.clone(), vault.clone(), Arc::new(SystemClock)).unwrap();
    let bytes = engine.state().to_checkpoint_bytes();
    let hash = engine.head().unwrap().hash;
    drop(engine);
    let (header, body) = bytes.split_at(12);
    let body = String::from_utf8(body.to_vec()).unwrap();
    let old_body = body.replacen(&format!(r#""hash":"{hash}","#), "", 1);
    assert_ne!(old_body, body, "the hash was in the checkpoint");
    let key = vault.checkpoint_key().unwrap();
    let old = [header, old_body.as_bytes()].concat();
    store
        .put_checkpoint("projections", &key.encrypt(&old))
        .unwrap();
    // when the engine opens it and saves a checkpoint with no event since,
    let engine = Engine::with_parts(store.clone(), vault.clone(), Arc::new(SystemClock)).unwrap();
    assert_eq!(engine.recovery().checkpoint_position, Some(3));
    assert_eq!(engine.state().hash(), "");
    engine.checkpoint_now().unwrap();
    drop(engine);
    // then the head record names the hash the log holds, and the directory opens again.
    let record = offboard::anchor::load_record(store.as_ref())
        .unwrap()
        .unwrap();
    assert_eq!((record.position, record.hash), (3, hash));
    Engine::with_parts(store, vault, Arc::new(SystemClock)).unwrap();
}
