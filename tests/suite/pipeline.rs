//! The writer's pipeline (group N+1 is decided while group N is flushed, and flushed
//! while group N is synced) keeps the guarantees of a plain group commit: readers never
//! see an event before it is durable, nothing is answered before a sync that began after
//! its flush, a retry arriving while the first attempt is in flight is answered from it,
//! and a failed write refuses the groups decided on top of it and leaves a consistent
//! engine.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use offboard::domain::{Command, NewUser, UserRef};
use offboard::engine::Options;
use offboard::store::{CommitBatch, LogStore, MemoryLog, StoreError};
use offboard::{clock::SystemClock, CommandMeta, Engine};
use offboard_events::{Actor, OrgId, Role, UserId};

use super::support::{append_one, delegate_reads, touch};

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

    fn close_gate(&self) {
        *self.open.lock().unwrap() = false;
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
    delegate_reads!(inner);
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
async fn a_failed_flush_answers_outcome_unknown_and_refuses_writes_instead_of_guessing() {
    let log = GatedLog::closed();
    log.open_gate();
    let engine = engine_on(&log);
    let first = append_one(touch(1));
    let acknowledged = engine.append(first.clone()).await.unwrap();
    // Given every flush fails from now on,
    log.fail_syncs.store(true, Ordering::SeqCst);
    // when a command is sent, then its outcome is unknown (it was written, maybe stored),
    // and the state goes back to what is durable.
    let second = append_one(touch(2));
    let refused = engine.append(second.clone()).await.unwrap_err();
    assert_eq!(refused.code(), "outcome_unknown");
    assert!(refused
        .to_string()
        .contains("retry with the same Idempotency-Key"));
    assert_eq!(engine.last_position(), 1);
    assert_eq!(engine.state().position(), 1);
    assert_eq!(engine.refusal().unwrap().code, "unavailable");
    // Every later command is refused with nothing written, even once flushes would
    // work again: only a restart knows what reached the disk.
    log.fail_syncs.store(false, Ordering::SeqCst);
    let later = engine.append(append_one(touch(3))).await.unwrap_err();
    assert_eq!(later.code(), "unavailable", "{later}");
    assert!(
        later.to_string().starts_with("nothing was written"),
        "{later}"
    );
    assert_eq!(log.syncs.load(Ordering::SeqCst), 1);
    // A retry of the acknowledged command still answers its first result, and a retry
    // of the unknown one hears that its outcome is unknown.
    let retry = engine.append(first).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.positions, acknowledged.positions);
    let unknown = engine.append(second).await.unwrap_err();
    assert_eq!(unknown.code(), "outcome_unknown");
    // Reads keep answering, from what is durable.
    assert_eq!(engine.read_range(1, u64::MAX).unwrap().len(), 1);
}

/// A memory log whose writes (`stuck_writing`), syncs (`stuck`) or head notes
/// (`stuck_noting`) never return once set: a PostgreSQL write on a partitioned network,
/// a full disk in sled's `make_stable`, a frozen filesystem under the note's `pwrite`.
#[derive(Debug, Default)]
struct StuckLog {
    inner: MemoryLog,
    stuck: AtomicBool,
    stuck_writing: AtomicBool,
    stuck_noting: AtomicBool,
}

impl StuckLog {
    fn release(&self) {
        self.stuck.store(false, Ordering::SeqCst);
        self.stuck_writing.store(false, Ordering::SeqCst);
        self.stuck_noting.store(false, Ordering::SeqCst);
    }
}

fn wait_while(flag: &AtomicBool) {
    while flag.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl LogStore for StuckLog {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        wait_while(&self.stuck_writing);
        self.inner.write(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        wait_while(&self.stuck);
        Ok(())
    }
    fn note_head(&self, _head: &offboard::store::ChainHead) -> Result<(), StoreError> {
        wait_while(&self.stuck_noting);
        Ok(())
    }
    delegate_reads!(inner);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_that_never_returns_hangs_neither_commands_nor_reads_nor_shutdown() {
    a_stuck_call_hangs_nothing(|log| &log.stuck).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_never_returns_hangs_neither_commands_nor_reads_nor_shutdown() {
    // The committer's own thread stays stuck in the call, with the groups queued
    // behind it: their commands hear of the stall instead (`patience.rs`).
    a_stuck_call_hangs_nothing(|log| &log.stuck_writing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_note_that_never_returns_hangs_neither_commands_nor_reads_nor_shutdown() {
    // The note is written after the sync, before anyone is answered: a frozen disk
    // holds its `pwrite` as long as any other call's.
    a_stuck_call_hangs_nothing(|log| &log.stuck_noting).await;
}

async fn a_stuck_call_hangs_nothing(stuck: fn(&StuckLog) -> &AtomicBool) {
    let log = Arc::new(StuckLog::default());
    let options = Options {
        storage_patience: Duration::from_millis(300),
        ..Options::default()
    };
    let store: Arc<dyn LogStore> = Arc::clone(&log) as Arc<dyn LogStore>;
    let vault = Arc::new(offboard::privacy::KeyVault::in_memory());
    let engine =
        Arc::new(Engine::with_options(store, vault, Arc::new(SystemClock), options).unwrap());
    engine.append(append_one(touch(1))).await.unwrap();
    // Given the next call never returns,
    stuck(&log).store(true, Ordering::SeqCst);
    // when 8 clients send commands at once, then every one is answered within the
    // patience (outcome unknown for those in the stuck group, refused for the others),
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|n| {
            let engine = Arc::clone(&engine);
            tokio::spawn(async move { engine.append(append_one(touch(10 + n))).await })
        })
        .collect();
    for client in clients {
        let answer = tokio::time::timeout(Duration::from_secs(5), client)
            .await
            .expect("a command hung")
            .unwrap();
        let code = answer.unwrap_err().code();
        assert!(matches!(code, "outcome_unknown" | "unavailable"), "{code}");
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    // reads answer with what is durable,
    let reader = {
        let engine = Arc::clone(&engine);
        tokio::task::spawn_blocking(move || engine.state().position())
    };
    let position = tokio::time::timeout(Duration::from_secs(2), reader)
        .await
        .expect("a read hung");
    assert_eq!(position.unwrap(), 1);
    assert_eq!(engine.refusal().unwrap().code, "unavailable");
    // and shutting down finishes although the flush thread is still stuck.
    super::support::shut_down_in_time(engine).await;
    log.release();
}

/// A memory log on a slow disk: every write takes 400 ms, whatever its size.
#[derive(Debug, Default)]
struct SlowLog {
    inner: MemoryLog,
}

impl LogStore for SlowLog {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        std::thread::sleep(Duration::from_millis(400));
        self.inner.write(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
    delegate_reads!(inner);
}

#[tokio::test]
async fn a_write_of_many_bytes_may_take_longer_than_one_of_a_few_before_it_counts_as_stuck() {
    // Given 200 ms of storage patience plus a second for every 300 KB, over a disk
    // where every write takes 400 ms
    let options = Options {
        storage_patience: Duration::from_millis(200),
        slowest_disk: 300_000,
        ..Options::default()
    };
    let store: Arc<dyn LogStore> = Arc::new(SlowLog::default());
    let vault = Arc::new(offboard::privacy::KeyVault::in_memory());
    let engine = Engine::with_options(store, vault, Arc::new(SystemClock), options).unwrap();
    // When one command appends 1,000 events (~1 s more patience for its bytes)
    let mut request = append_one(touch(0));
    request.events = (0..1_000).map(touch).collect();
    let big = engine.append(request).await;
    // Then it is written and acknowledged
    assert_eq!(big.unwrap().positions, Some((1, 1_000)));
    // and a command of one event, whose write takes as long, overran its patience: its
    // outcome is unknown and the engine refuses writes from then on.
    let small = engine.append(append_one(touch(1))).await.unwrap_err();
    assert_eq!(small.code(), "outcome_unknown", "{small}");
    assert!(small.to_string().contains("within 0.2"), "{small}");
    assert_eq!(engine.refusal().unwrap().code, "unavailable");
}

/// A memory log with both halves of a sync: `flush` notes how far the log was written,
/// `sync_flushed` makes durable how far the log was flushed when it started — each
/// taking a little time, so the flush of one round runs while the sync of another does.
#[derive(Debug, Default)]
struct TwoHalvesLog {
    inner: MemoryLog,
    written: AtomicU64,
    flushed: AtomicU64,
    durable: AtomicU64,
    syncing: AtomicBool,
    overlaps: AtomicU64,
}

impl LogStore for TwoHalvesLog {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.inner.write(batch)?;
        if let Some(head) = &batch.head {
            self.written.store(head.last_position, Ordering::SeqCst);
        }
        Ok(())
    }
    fn sync(&self) -> Result<(), StoreError> {
        self.flush()?;
        self.sync_flushed()
    }
    fn flush(&self) -> Result<(), StoreError> {
        let written = self.written.load(Ordering::SeqCst);
        if self.syncing.load(Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        std::thread::sleep(Duration::from_micros(300));
        self.flushed.store(written, Ordering::SeqCst);
        Ok(())
    }
    fn sync_flushed(&self) -> Result<(), StoreError> {
        self.syncing.store(true, Ordering::SeqCst);
        let flushed = self.flushed.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1));
        self.durable.fetch_max(flushed, Ordering::SeqCst);
        self.syncing.store(false, Ordering::SeqCst);
        Ok(())
    }
    delegate_reads!(inner);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_is_answered_only_after_a_sync_that_began_after_its_flush() {
    // Given a log whose flush and device sync are separate, slow halves,
    let log = Arc::new(TwoHalvesLog::default());
    let store: Arc<dyn LogStore> = Arc::clone(&log) as Arc<dyn LogStore>;
    let engine = Arc::new(Engine::with_store(store, Arc::new(SystemClock)).unwrap());
    // when 16 clients append 25 commands each, waiting for each answer,
    let mut clients = Vec::new();
    for c in 0..16u64 {
        let (engine, log) = (Arc::clone(&engine), Arc::clone(&log));
        clients.push(tokio::spawn(async move {
            for n in 0..25 {
                let appended = engine.append(append_one(touch(c * 100 + n))).await.unwrap();
                // then every answer names a position a finished sync had covered,
                let (_, last) = appended.positions.unwrap();
                let durable = log.durable.load(Ordering::SeqCst);
                assert!(
                    last <= durable,
                    "position {last} answered while only {durable} was durable"
                );
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(engine.last_position(), 400);
    // and the pipeline did flush one round while syncing another.
    assert!(
        log.overlaps.load(Ordering::SeqCst) > 0,
        "no flush ever ran during a sync"
    );
}

/// Executes, on a task of its own, a command creating an organization owned by `email`.
fn create_org(
    engine: &Arc<Engine>,
    email: &str,
) -> tokio::task::JoinHandle<Result<offboard::Appended, offboard::AppendError>> {
    let owner = NewUser {
        email: email.into(),
        first_name: "Ada".into(),
        last_name: "Pike".into(),
        job_title: None,
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    };
    let command = Command::CreateOrganization {
        name: format!("Org of {email}"),
        owner,
    };
    let meta = CommandMeta::new(OrgId::new(), Actor::System);
    let engine = Arc::clone(engine);
    tokio::spawn(async move { engine.execute(meta, command).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_is_decided_and_written_while_the_group_before_it_waits_for_its_flush() {
    let log = GatedLog::closed();
    let engine = engine_on(&log);
    // Given a domain command written to the log whose flush has not finished,
    let first = create_org(&engine, "ada@one.example");
    log.wait_for_writes(1);
    // when a second command is executed meanwhile,
    let second = create_org(&engine, "ada@two.example");
    // then it is decided and written during that flush (executing a command does not
    // wait for the state as a reader, which would make the writer drain its pipeline),
    log.wait_for_writes(2);
    assert_eq!(
        log.syncs.load(Ordering::SeqCst),
        0,
        "nothing was synced yet"
    );
    // and both are answered once durable, in log order.
    log.open_gate();
    let (first, second) = (
        first.await.unwrap().unwrap(),
        second.await.unwrap().unwrap(),
    );
    let (first_last, second_first) = (first.positions.unwrap().1, second.positions.unwrap().0);
    assert_eq!(second_first, first_last + 1);
}

/// An org created and made durable with the gate open; the gate is left open.
async fn durable_org(engine: &Arc<Engine>, log: &GatedLog, email: &str) -> (OrgId, UserId) {
    log.open_gate();
    create_org(engine, email).await.unwrap().unwrap();
    let state = engine.state();
    let org = state.orgs().next().expect("the org");
    (org.id(), org.owner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_naming_users_by_email_is_decided_during_the_flush_before_it_and_finds_who_that_group_invited(
) {
    let log = GatedLog::closed();
    let engine = engine_on(&log);
    let (org, owner) = durable_org(&engine, &log, "ada@one.example").await;
    log.close_gate();
    let as_owner = || CommandMeta::new(org, Actor::User { id: owner });
    // Given an invitation of ann@one.example written to the log, its flush not finished,
    let invite = tokio::spawn({
        let (engine, meta) = (Arc::clone(&engine), as_owner());
        let ann = NewUser {
            email: "ann@one.example".into(),
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        };
        let command = Command::InviteUser {
            user: ann,
            role: Role::Member,
            manager: None,
            active: true,
        };
        async move { engine.execute(meta, command).await }
    });
    log.wait_for_writes(2);
    // when a command naming Ann by her email (as the HTTP API takes it) is sent meanwhile,
    let register = tokio::spawn({
        let (engine, meta) = (Arc::clone(&engine), as_owner());
        let command: Command<UserRef> = Command::RegisterResources {
            owner: UserRef::from("ANN@one.example"),
            resources: vec!["task:t-1".parse().unwrap()],
        };
        async move { engine.execute_named(meta, None, command).await }
    });
    // then the writer finds her in the state it decides on and writes the command during
    // that flush (finding her in the caller would have waited for the state's lock),
    log.wait_for_writes(3);
    assert_eq!(
        log.syncs.load(Ordering::SeqCst),
        1,
        "only the org is durable yet"
    );
    log.open_gate();
    let invited = invite.await.unwrap().unwrap();
    let registered = register.await.unwrap().unwrap();
    assert_eq!(
        registered.positions.unwrap().0,
        invited.positions.unwrap().1 + 1
    );
    let state = engine.state();
    let org = state.org(org).unwrap();
    let ann = org.directory().user_by_email("ann@one.example").unwrap().id;
    assert_eq!(
        org.ownership().owner_of(&"task:t-1".parse().unwrap()),
        Some(ann)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_naming_users_by_email_answers_a_retry_by_ids_as_the_same_command_and_refuses_strangers(
) {
    let log = GatedLog::closed();
    let engine = engine_on(&log);
    let (org, owner) = durable_org(&engine, &log, "ada@two.example").await;
    let meta = CommandMeta::new(org, Actor::User { id: owner });
    let named = |who: &str| Command::<UserRef>::RegisterResources {
        owner: UserRef::from(who),
        resources: vec!["task:t-2".parse().unwrap()],
    };
    // Given a command that named its owner by email,
    let first = engine
        .execute_named(meta.clone(), None, named("ADA@two.example"))
        .await
        .unwrap();
    // when the same command id comes again with every user by id (as the CLI and
    // commands stored before users were found by the writer fingerprint it),
    let by_ids = Command::RegisterResources {
        owner,
        resources: vec!["task:t-2".parse().unwrap()],
    };
    let again = engine.execute(meta.clone(), by_ids).await.unwrap();
    // then it is the same command: the first answer, nothing appended;
    assert!(again.duplicate);
    assert_eq!(again.positions, first.positions);
    // and a user no one has, or text that names no one, is refused and appends nothing.
    let head = engine.last_position();
    let stranger = engine
        .execute_named(
            CommandMeta::new(org, Actor::User { id: owner }),
            None,
            named("zed@two.example"),
        )
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), "not_found", "{stranger}");
    let nobody = engine
        .execute_named(
            CommandMeta::new(org, Actor::User { id: owner }),
            Some(UserRef::from("ada")),
            named("ada@two.example"),
        )
        .await
        .unwrap_err();
    assert_eq!(nobody.code(), "invalid_input", "{nobody}");
    assert_eq!(engine.last_position(), head);
}
