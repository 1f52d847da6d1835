//! `/livez` and `/readyz`: unauthenticated; ready while writes are accepted, 503 with a
//! stable code, the reason and `Retry-After` once a read met a damaged log (issue 15,
//! section 2) — while reads keep answering.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use offboard::clock::SystemClock;
use offboard::server::{self, AppState};
use offboard::store::{ChainHead, CommandRecord, CommitBatch, LogStore, MemoryLog, StoreError};
use offboard::{AppendRequest, CommandMeta, Engine};
use offboard_events::{Actor, CommandId, OrgId, UserActivated, UserId};
use uuid::Uuid;

use super::support::{send, world};

/// A memory log whose stored events read as damaged once `damaged` is set (sled's
/// checksum failing on a page behind the checkpoint).
#[derive(Debug, Default)]
struct DamagedLog {
    inner: MemoryLog,
    damaged: AtomicBool,
}

impl DamagedLog {
    fn check(&self) -> Result<(), StoreError> {
        if self.damaged.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt(
                "sled: a page fails its checksum (simulated)".into(),
            ));
        }
        Ok(())
    }
}

impl LogStore for DamagedLog {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.inner.write(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        self.inner.sync()
    }
    fn head(&self) -> Result<ChainHead, StoreError> {
        self.inner.head()
    }
    fn get(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.inner.get(position)
    }
    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.scan(from, to, visit)
    }
    fn command(&self, id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        self.inner.command(id)
    }
    fn put_checkpoint(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_checkpoint(name, bytes)
    }
    fn checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.checkpoint(name)
    }
    fn checkpoint_names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.checkpoint_names(prefix)
    }
    fn tamper(&self, position: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.tamper(position, bytes)
    }
}

fn touch(n: u128) -> AppendRequest {
    AppendRequest {
        meta: CommandMeta::new(OrgId(Uuid::from_u128(7)), Actor::System),
        expected: Vec::new(),
        events: vec![UserActivated {
            user_id: UserId(Uuid::from_u128(n)),
        }
        .into()],
    }
}

#[tokio::test]
async fn a_healthy_server_is_live_and_ready_without_a_token() {
    let w = world().await;
    let live = send(&w.app, "GET", "/livez", None, None, &[]).await;
    assert_eq!(live.status, 200);
    let ready = send(&w.app, "GET", "/readyz", None, None, &[]).await.ok();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["position"], w.engine.last_position());
}

#[tokio::test]
async fn a_read_that_meets_damage_answers_log_corrupt_stops_writes_and_readyz_says_so() {
    // Given an engine with two events and a server over it,
    let log = Arc::new(DamagedLog::default());
    let store: Arc<dyn LogStore> = Arc::clone(&log) as Arc<dyn LogStore>;
    let engine = Arc::new(Engine::with_store(store, Arc::new(SystemClock)).unwrap());
    let first = touch(1);
    let acknowledged = engine.append(first.clone()).await.unwrap();
    engine.append(touch(2)).await.unwrap();
    let app = server::app(AppState::new(Arc::clone(&engine)).unwrap());
    // when a page of the log turns out damaged under a read,
    log.damaged.store(true, Ordering::SeqCst);
    let read = engine.read_one(1).unwrap_err();
    // then the read answers log_corrupt, the engine accepts no more writes (nothing of
    // the refused command is written),
    assert_eq!(read.code(), "log_corrupt");
    let refused = engine.append(touch(3)).await.unwrap_err();
    assert_eq!(refused.code(), "log_corrupt");
    assert!(
        refused.to_string().starts_with("nothing was written"),
        "{refused}"
    );
    assert_eq!(engine.last_position(), 2);
    // a retry of an acknowledged command still gets its first result,
    let retry = engine.append(first).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.positions, acknowledged.positions);
    // the projections still answer,
    assert_eq!(engine.state().position(), 2);
    // and /readyz reports it with a stable code (every 503 carries Retry-After: see the
    // unit tests of `server::error`).
    let answer = send(&app, "GET", "/readyz", None, None, &[]).await;
    let body = answer.error(503, "log_corrupt");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("checksum"));
    let live = send(&app, "GET", "/livez", None, None, &[]).await;
    assert_eq!(live.status, 200);
}

#[tokio::test]
async fn the_background_pass_finds_damage_no_read_has_met_and_stops_writes() {
    // Given an engine with three events, one page of which is damaged where no request
    // has read (behind the checkpoint, as far as opening is concerned),
    let log = Arc::new(DamagedLog::default());
    let store: Arc<dyn LogStore> = Arc::clone(&log) as Arc<dyn LogStore>;
    let engine = Arc::new(Engine::with_store(store, Arc::new(SystemClock)).unwrap());
    for n in 1..=3 {
        engine.append(touch(n)).await.unwrap();
    }
    log.damaged.store(true, Ordering::SeqCst);
    assert!(
        engine.refusal().is_none(),
        "nothing has read the damage yet"
    );
    // when the pass `serve` starts in the background reads the log through,
    let weak = Arc::downgrade(&engine);
    let found = tokio::task::spawn_blocking(move || offboard::engine::scan_for_damage(&weak))
        .await
        .unwrap();
    // then it names the damage and writes are refused before one builds on it.
    assert_eq!(found.unwrap_err().code(), "log_corrupt");
    let refused = engine.append(touch(4)).await.unwrap_err();
    assert_eq!(refused.code(), "log_corrupt");
    assert_eq!(engine.last_position(), 3);
}

#[tokio::test]
async fn the_background_pass_reads_a_sound_log_through_and_stops_when_the_engine_goes() {
    // Given a sound log, the pass reads every position and leaves writes accepted;
    let engine = Arc::new(
        Engine::with_store(Arc::new(MemoryLog::default()), Arc::new(SystemClock)).unwrap(),
    );
    for n in 1..=3 {
        engine.append(touch(n)).await.unwrap();
    }
    let weak = Arc::downgrade(&engine);
    assert_eq!(offboard::engine::scan_for_damage(&weak).unwrap(), 3);
    assert!(engine.refusal().is_none());
    // when the engine is gone, the pass ends at once without holding anything.
    drop(engine);
    assert_eq!(offboard::engine::scan_for_damage(&weak).unwrap(), 0);
}
