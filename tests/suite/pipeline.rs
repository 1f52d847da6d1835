//! The writer's pipeline (group N+1 is decided while group N is flushed) keeps the
//! guarantees of a plain group commit: readers never see an event before it is durable,
//! a retry arriving while the first attempt is in flight is answered from it, and a
//! failed write refuses the groups decided on top of it and leaves a consistent engine.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use offboard::store::{ChainHead, CommandRecord, CommitBatch, LogStore, MemoryLog, StoreError};
use offboard::{clock::SystemClock, Engine};
use offboard_events::CommandId;

use super::support::{append_one, touch};

/// A memory log whose flush waits at a gate, and whose next write can be made to fail.
#[derive(Debug, Default)]
struct GatedLog {
    inner: MemoryLog,
    open: Mutex<bool>,
    opened: Condvar,
    writes: AtomicU64,
    syncs: AtomicU64,
    fail_next_write: AtomicBool,
    fail_syncs: AtomicBool,
}

impl GatedLog {
    fn closed() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn open_gate(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    fn wait_for_writes(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.writes.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "the writer never wrote");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl LogStore for GatedLog {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        if self.fail_next_write.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Io("disk full (simulated)".to_owned()));
        }
        self.inner.write(batch)?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn sync(&self) -> Result<(), StoreError> {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        if self.fail_syncs.load(Ordering::SeqCst) {
            return Err(StoreError::Io("fsync failed (simulated)".to_owned()));
        }
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn head(&self) -> Result<ChainHead, StoreError> {
        self.inner.head()
    }
    fn get(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(position)
    }
    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
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

fn engine_on(log: &Arc<GatedLog>) -> Arc<Engine> {
    let store: Arc<dyn LogStore> = Arc::clone(log) as Arc<dyn LogStore>;
    Arc::new(Engine::with_store(store, Arc::new(SystemClock)).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_never_sees_an_event_before_its_flush() {
    let log = GatedLog::closed();
    let engine = engine_on(&log);
    // Given a command written to the log whose flush has not finished,
    let command = tokio::spawn({
        let engine = Arc::clone(&engine);
        async move { engine.append(append_one(touch(1))).await }
    });
    log.wait_for_writes(1);
    // when a reader looks at the state meanwhile,
    let reader = std::thread::spawn({
        let (engine, log) = (Arc::clone(&engine), Arc::clone(&log));
        move || {
            let seen = engine.state().position();
            (seen, log.syncs.load(Ordering::SeqCst))
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(engine.last_position(), 0, "nothing is durable yet");
    log.open_gate();
    // then it sees the event only once it is durable.
    let (seen, syncs_when_seen) = reader.join().unwrap();
    assert!(
        seen == 0 || syncs_when_seen >= 1,
        "the reader saw position {seen} before any flush"
    );
    assert_eq!(command.await.unwrap().unwrap().positions, Some((1, 1)));
    assert_eq!(engine.state().position(), 1);
    assert_eq!(engine.last_position(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_arriving_while_the_first_attempt_is_in_flight_appends_nothing() {
    let log = GatedLog::closed();
    let engine = engine_on(&log);
    let request = append_one(touch(1));
    // Given a command written but not yet flushed,
    let first = tokio::spawn({
        let (engine, request) = (Arc::clone(&engine), request.clone());
        async move { engine.append(request).await }
    });
    log.wait_for_writes(1);
    // when the same command id arrives again before the flush,
    let retry = tokio::spawn({
        let engine = Arc::clone(&engine);
        async move { engine.append(request).await }
    });
    std::thread::sleep(Duration::from_millis(20));
    log.open_gate();
    // then both get the first answer and the log holds one event.
    let (first, retry) = (first.await.unwrap().unwrap(), retry.await.unwrap().unwrap());
    assert_eq!(first.positions, Some((1, 1)));
    assert!(!first.duplicate);
    assert_eq!(retry.positions, Some((1, 1)));
    assert!(retry.duplicate);
    assert_eq!(engine.read_range(1, u64::MAX).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_refuses_its_group_and_the_engine_goes_on_from_the_log() {
    let log = GatedLog::closed();
    log.open_gate();
    let engine = engine_on(&log);
    engine.append(append_one(touch(1))).await.unwrap();
    // Given the next write fails,
    log.fail_next_write.store(true, Ordering::SeqCst);
    // when a command is sent, then it is refused with the storage code, nothing of it
    // is visible, and the next command lands right after the first one.
    let refused = engine.append(append_one(touch(2))).await.unwrap_err();
    assert_eq!(refused.code(), "storage");
    assert_eq!(engine.state().position(), 1);
    let next = engine.append(append_one(touch(3))).await.unwrap();
    assert_eq!(next.positions, Some((2, 2)));
    assert_eq!(engine.state().position(), 2);
    let report = engine.verify(&mut |_| {}).unwrap();
    assert_eq!(report.events, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_stops_the_writer_instead_of_guessing_what_is_on_disk() {
    let log = GatedLog::closed();
    log.open_gate();
    log.fail_syncs.store(true, Ordering::SeqCst);
    let engine = engine_on(&log);
    let refused = engine.append(append_one(touch(1))).await.unwrap_err();
    assert_eq!(refused.code(), "storage");
    assert_eq!(engine.last_position(), 0);
    // Every later command is refused too: only a restart recovers what is on disk.
    log.fail_syncs.store(false, Ordering::SeqCst);
    let later = engine.append(append_one(touch(2))).await.unwrap_err();
    assert!(
        matches!(later.code(), "storage" | "unavailable"),
        "{later:?}"
    );
    assert_eq!(log.syncs.load(Ordering::SeqCst), 0);
}
