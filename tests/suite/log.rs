//! Issue 2: the log is gapless, ordered, idempotent, concurrent-safe, tamper-evident and
//! durable across reopening.

use std::collections::HashMap;
use std::sync::Arc;

use offboard::store::{LogStore, SledLog};
use offboard::{AppendError, Engine, ExpectedVersion};
use offboard_events::{Event, StreamId, UserDeactivated};

use super::stores::{places, Place};
use super::support::{append_one, touch, user};

/// Every stored event's bytes, by position.
fn dump(engine: &Engine) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    engine
        .store()
        .scan(1, u64::MAX, &mut |p, b| {
            out.push((p, b.to_vec()));
            true
        })
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_writers_10k_events_500_streams_gapless_verified_and_durable() {
    for place in places() {
        eprintln!("store: {}", place.name);
        sixty_four_writers_on(&place).await;
    }
}

async fn sixty_four_writers_on(place: &Place) {
    let engine = Arc::new(place.open());
    let mut tasks = Vec::new();
    for task in 0..64u64 {
        let engine = Arc::clone(&engine);
        tasks.push(tokio::spawn(async move {
            let mut appended = Vec::new();
            // 10,000 events in all: tasks 0..16 append 157, the others 156.
            let count = 10_000 / 64 + u64::from(task < 10_000 % 64);
            for i in 0..count {
                let stream = (task + i * 64) % 500;
                let done = engine.append(append_one(touch(stream))).await.unwrap();
                appended.push(done.positions.unwrap().0);
            }
            appended
        }));
    }
    let mut positions = Vec::new();
    for t in tasks {
        positions.extend(t.await.unwrap());
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=10_000).collect::<Vec<u64>>());

    let events = engine.read_range(1, u64::MAX).unwrap();
    assert_eq!(events.len(), 10_000);
    let mut versions: HashMap<StreamId, Vec<u64>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1);
        versions
            .entry(e.stream_id.clone())
            .or_default()
            .push(e.stream_version);
    }
    assert_eq!(versions.len(), 500);
    for (stream, v) in &versions {
        assert_eq!(
            *v,
            (1..=v.len() as u64).collect::<Vec<_>>(),
            "stream {stream} has gaps"
        );
        assert_eq!(engine.read_stream(stream, 1).unwrap().len(), v.len());
    }
    let report = engine.verify(&mut |_| {}).unwrap();
    assert_eq!(report.events, 10_000);

    let before = dump(&engine);
    let head = engine.store().head().unwrap();
    drop(Arc::try_unwrap(engine).expect("all tasks are done"));

    let reopened = place.open();
    assert_eq!(
        dump(&reopened),
        before,
        "reopened log differs byte for byte"
    );
    assert_eq!(reopened.store().head().unwrap(), head);
    assert_eq!(reopened.last_position(), 10_000);
    // The chain continues where it stopped.
    let next = reopened.append(append_one(touch(1))).await.unwrap();
    assert_eq!(next.positions, Some((10_001, 10_001)));
    assert_eq!(reopened.read_one(10_001).unwrap().prev_hash, head.last_hash);
    reopened.verify(&mut |_| {}).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exact_expected_versions_let_exactly_one_writer_win_each_version() {
    for place in places() {
        eprintln!("store: {}", place.name);
        exactly_one_writer_wins_on(&place).await;
    }
}

async fn exactly_one_writer_wins_on(place: &Place) {
    let engine = Arc::new(place.open());
    let stream = StreamId::user(user(7));
    for version in 0..20u64 {
        let mut contenders = Vec::new();
        for _ in 0..8 {
            let engine = Arc::clone(&engine);
            let stream = stream.clone();
            contenders.push(tokio::spawn(async move {
                let mut request = append_one(touch(7));
                let expect = if version == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::Exact(version)
                };
                request.expected = vec![(stream, expect)];
                engine.append(request).await
            }));
        }
        let mut wins = 0;
        for c in contenders {
            match c.await.unwrap() {
                Ok(_) => wins += 1,
                Err(AppendError::Conflict {
                    expected, actual, ..
                }) => {
                    assert_eq!(actual, version + 1, "loser sees the winner's version");
                    assert!(matches!(
                        expected,
                        ExpectedVersion::NoStream | ExpectedVersion::Exact(_)
                    ));
                }
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert_eq!(wins, 1, "version {version}");
    }
    assert_eq!(engine.read_stream(&stream, 1).unwrap().len(), 20);
    assert_eq!(engine.last_position(), 20, "losers appended nothing");
}

#[tokio::test]
async fn conflict_names_expected_and_actual_and_has_a_stable_code() {
    let engine = Engine::in_memory();
    engine.append(append_one(touch(1))).await.unwrap();
    let mut request = append_one(touch(1));
    request.expected = vec![(StreamId::user(user(1)), ExpectedVersion::NoStream)];
    let err = engine.append(request).await.unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert!(
        err.to_string()
            .contains("expected no stream, but it is at version 1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_repeated_command_id_appends_nothing_and_returns_the_first_result() {
    for place in places() {
        eprintln!("store: {}", place.name);
        a_repeated_command_id_on(&place).await;
    }
}

async fn a_repeated_command_id_on(place: &Place) {
    let engine = place.open();
    let request = append_one(touch(3));
    let first = engine.append(request.clone()).await.unwrap();
    assert!(!first.duplicate);
    let again = engine.append(request.clone()).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.positions, again.correlation_id),
        (first.positions, first.correlation_id)
    );
    assert_eq!(engine.last_position(), 1);

    // The same id with another payload is not a retry.
    let mut other = request.clone();
    other.events = vec![Event::from(UserDeactivated { user_id: user(3) })];
    let err = engine.append(other).await.unwrap_err();
    assert!(matches!(err, AppendError::CommandIdReused { .. }), "{err}");
    assert_eq!(err.code(), "conflict");
    assert_eq!(engine.last_position(), 1);
}

#[tokio::test]
async fn idempotency_survives_reopening() {
    for place in places() {
        let request = append_one(touch(4));
        let first = place.open().append(request.clone()).await.unwrap();
        let engine = place.open();
        let again = engine.append(request).await.unwrap();
        assert!(again.duplicate, "{}", place.name);
        assert_eq!(again.positions, first.positions, "{}", place.name);
        assert_eq!(engine.last_position(), 1, "{}", place.name);
    }
}

#[tokio::test]
async fn a_retry_after_reopening_is_answered_from_the_log_once_its_command_ids_are_listed() {
    for place in places() {
        // Given a command stored before a restart,
        let request = append_one(touch(5));
        let first = place.open().append(request.clone()).await.unwrap();
        let engine = place.open();
        // when the reopened engine has had time to list the stored command ids (the
        // writer then looks up only the ids the list may hold),
        std::thread::sleep(std::time::Duration::from_millis(300));
        let again = engine.append(request).await.unwrap();
        let new = engine.append(append_one(touch(6))).await.unwrap();
        // then the retry gets the first answer and a new id is decided as new.
        assert!(again.duplicate, "{}", place.name);
        assert_eq!(again.positions, first.positions, "{}", place.name);
        assert!(!new.duplicate, "{}", place.name);
        assert_eq!(engine.last_position(), 2, "{}", place.name);
    }
}

#[tokio::test]
async fn changing_one_byte_of_a_stored_event_makes_verify_name_its_position() {
    for place in places() {
        eprintln!("store: {}", place.name);
        changing_one_byte_on(&place).await;
    }
}

async fn changing_one_byte_on(place: &Place) {
    {
        let engine = place.open();
        for n in 0..50 {
            engine.append(append_one(touch(n))).await.unwrap();
        }
        engine.verify(&mut |_| {}).unwrap();
    }
    let store = place.raw_store();
    let mut bytes = store.get(23).unwrap().unwrap();
    // Flip one character inside the user id of the payload.
    let at = bytes.windows(9).position(|w| w == b"\"user_id\"").unwrap() + 12;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    store.tamper(23, &bytes).unwrap();
    drop(store);

    let engine = place.open();
    let err = engine.verify(&mut |_| {}).unwrap_err();
    assert_eq!(err.code(), "integrity_broken");
    assert!(
        matches!(
            err,
            offboard::integrity::VerifyError::Broken { position: 23, .. }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_removed_event_is_reported_as_a_gap() {
    let store = Arc::new(offboard::store::MemoryLog::new());
    let engine = Engine::with_store(store.clone(), Arc::new(offboard::clock::SystemClock)).unwrap();
    for n in 0..5 {
        engine.append(append_one(touch(n))).await.unwrap();
    }
    // Replace event 3 by a copy of event 4: the chain breaks at 3.
    let four = store.get(4).unwrap().unwrap();
    store.tamper(3, &four).unwrap();
    let err = engine.verify(&mut |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            offboard::integrity::VerifyError::Broken { position: 3, .. }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_acknowledges_many_commands_per_flush() {
    for place in places() {
        eprintln!("store: {}", place.name);
        group_commit_on(&place).await;
    }
}

async fn group_commit_on(place: &Place) {
    let engine = Arc::new(place.open());
    let mut tasks = Vec::new();
    for task in 0..64u64 {
        let engine = Arc::clone(&engine);
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                engine
                    .append(append_one(touch(task * 40 + i)))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = engine.stats();
    assert_eq!(stats.commands, 64 * 40);
    assert_eq!(stats.events, 64 * 40);
    // With 64 writers waiting on each fsync, groups hold many commands; one flush per
    // command would make these equal.
    assert!(
        stats.flushes * 4 <= stats.commands,
        "expected at least 4 commands per flush, got {} flushes for {} commands",
        stats.flushes,
        stats.commands
    );
    eprintln!(
        "group commit on {}: {} commands in {} flushes",
        place.name, stats.commands, stats.flushes
    );
}

#[tokio::test]
async fn an_empty_append_is_invalid_input_and_writes_nothing() {
    let engine = Engine::in_memory();
    let mut request = append_one(touch(1));
    request.events.clear();
    let err = engine.append(request).await.unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert_eq!(engine.last_position(), 0);
}

#[tokio::test]
async fn reads_by_range_stream_and_tail() {
    for place in places() {
        eprintln!("store: {}", place.name);
        reads_on(&place).await;
    }
}

async fn reads_on(place: &Place) {
    let engine = place.open();
    for n in 0..10 {
        engine.append(append_one(touch(n % 3))).await.unwrap();
    }
    let range: Vec<u64> = engine
        .read_range(4, 6)
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(range, vec![4, 5, 6]);
    let tail: Vec<u64> = engine.tail(3).unwrap().iter().map(|e| e.position).collect();
    assert_eq!(tail, vec![8, 9, 10]);
    let stream: Vec<u64> = engine
        .read_stream(&StreamId::user(user(1)), 2)
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(
        stream,
        vec![5, 8],
        "user 1 is at positions 2, 5, 8; from version 2 on"
    );
}

#[tokio::test]
async fn stream_versions_and_reads_survive_reopening_with_or_without_a_checkpoint() {
    for place in places() {
        eprintln!("store: {}", place.name);
        reopening_on(&place).await;
    }
}

async fn reopening_on(place: &Place) {
    {
        let engine = place.open();
        for n in 0..6 {
            engine.append(append_one(touch(n % 2))).await.unwrap();
        }
        // Shut down cleanly: a checkpoint holds the stream index.
    }
    let stream = StreamId::user(user(1));
    for round in 0..2 {
        let engine = place.open();
        let positions: Vec<u64> = engine
            .read_stream(&stream, 1)
            .unwrap()
            .iter()
            .map(|e| e.position)
            .collect();
        let expected: &[u64] = if round == 0 {
            &[2, 4, 6]
        } else {
            &[2, 4, 6, 7]
        };
        assert_eq!(positions, expected, "round {round}");
        // The next event of the stream gets version 4, and `Exact(3)` is the right guess.
        let mut next = append_one(touch(1));
        next.expected = vec![(stream.clone(), ExpectedVersion::Exact(3 + round))];
        engine.append(next).await.unwrap();
        assert_eq!(engine.read_stream(&stream, 4 + round).unwrap().len(), 1);
        drop(engine);
        if round == 0 {
            // Without a checkpoint, the index comes from replaying the whole log.
            place
                .raw_store()
                .put_checkpoint("projections", b"not a checkpoint")
                .unwrap();
        }
    }
}

#[test]
fn a_directory_in_use_is_reported_as_locked_not_as_a_raw_error() {
    let dir = tempfile::tempdir().unwrap();
    let _owner = Engine::open(dir.path()).unwrap();
    let err = SledLog::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), "data_dir_locked");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    // A second engine is refused by the directory's own lock, before it reads the key
    // vault or the checkpoint files beside sled.
    let err = Engine::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), "data_dir_locked");
}

#[test]
fn checkpoints_an_earlier_build_kept_inside_sled_move_to_files_when_the_log_opens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let old = db.open_tree("checkpoints").unwrap();
        old.insert("server.tokens", &b"the token book"[..]).unwrap();
        old.insert("server.consumer.o.billing", &b"acked 7"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let log = SledLog::open(dir.path()).unwrap();
    assert_eq!(
        log.checkpoint("server.tokens").unwrap().as_deref(),
        Some(&b"the token book"[..])
    );
    assert_eq!(
        std::fs::read(dir.path().join("checkpoints/server.consumer.o.billing")).unwrap(),
        b"acked 7"
    );
    drop(log);
    // sled's flusher lets go of the directory a moment after the last handle drops.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let db = loop {
        match sled::open(dir.path()) {
            Ok(db) => break db,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(
        !db.tree_names()
            .iter()
            .any(|name| name.as_ref() == b"checkpoints"),
        "the old tree is still there"
    );
}

/// Replays decode on one thread and apply on another: the envelopes still arrive in log
/// order across batch boundaries, and an undecodable event stops the replay with its
/// position after everything before it was visited.
#[tokio::test]
async fn a_replay_visits_in_order_and_stops_at_an_undecodable_event() {
    let engine = Engine::in_memory();
    let mut events = Vec::new();
    for n in 0..2_500 {
        events.push(touch(n % 7));
    }
    for chunk in events.chunks(500) {
        let mut request = append_one(chunk[0].clone());
        request.events = chunk.to_vec();
        engine.append(request).await.unwrap();
    }
    let (store, vault) = (engine.store().as_ref(), engine.vault());
    let mut seen = Vec::new();
    offboard::engine::replay_range(store, vault, 1, 2_500, &mut |e| seen.push(e.position)).unwrap();
    assert_eq!(seen, (1..=2_500).collect::<Vec<u64>>());

    store.tamper(2_100, b"not an envelope").unwrap();
    let mut seen = Vec::new();
    let err =
        offboard::engine::replay_range(store, vault, 1, 2_500, &mut |e| seen.push(e.position))
            .unwrap_err();
    assert_eq!(err.code(), "log_unreadable");
    assert!(err.to_string().contains("2100"), "{err}");
    assert_eq!(seen, (1..2_100).collect::<Vec<u64>>());
}

/// Events are stored a block per group commit. A data directory written by a build that
/// stored one canonical JSON envelope per key (`e` ++ position) keeps working: its events
/// are read before
/// the blocks appended after it, `verify` walks across the seam, and ranges that start
/// or end inside a block (or inside the old events) return exactly what they name.
#[tokio::test]
async fn events_stored_one_per_key_by_an_earlier_build_and_blocks_after_them_read_as_one_log() {
    // The old layout, made from a log the current engine wrote in memory.
    let old = Engine::in_memory();
    for n in 0..30 {
        old.append(append_one(touch(n))).await.unwrap();
    }
    let old_events: Vec<(u64, Vec<u8>)> = dump(&old)
        .into_iter()
        .map(|(p, bytes)| {
            (
                p,
                offboard_events::stored::to_json(&bytes)
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect();
    assert!(old_events.iter().all(|(_, b)| b.starts_with(b"{")));
    let head = old.store().head().unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let log = db.open_tree("log").unwrap();
        for (position, bytes) in &old_events {
            let mut key = vec![b'e'];
            key.extend_from_slice(&position.to_be_bytes());
            log.insert(key, bytes.as_slice()).unwrap();
        }
        log.insert("h", serde_json::to_vec(&head).unwrap()).unwrap();
        db.flush().unwrap();
    }

    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.last_position(), 30);
    // Big appends (each one block or more) and small ones after the old events.
    for chunk in 0..4u64 {
        let mut request = append_one(touch(0));
        request.events = (0..250).map(|n| touch(chunk * 1_000 + n)).collect();
        engine.append(request).await.unwrap();
        engine.append(append_one(touch(chunk))).await.unwrap();
    }
    assert_eq!(engine.last_position(), 30 + 4 * 251);
    engine.verify(&mut |_| {}).unwrap();
    let all = dump(&engine);
    assert_eq!(
        all.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        (1..=1_034).collect::<Vec<u64>>()
    );
    assert_eq!(&all[..30], old_events.as_slice());

    let store = engine.store();
    for (from, to) in [
        (5, 12),
        (25, 40),
        (31, 31),
        (100, 290),
        (281, 282),
        (1_030, 2_000),
    ] {
        let mut seen = Vec::new();
        store
            .scan(from, to, &mut |p, b| {
                seen.push((p, b.to_vec()));
                true
            })
            .unwrap();
        let expected: Vec<_> = all
            .iter()
            .filter(|(p, _)| (from..=to).contains(p))
            .cloned()
            .collect();
        assert_eq!(seen, expected, "scan {from}..={to}");
    }
    for (position, bytes) in all.iter().step_by(37) {
        assert_eq!(store.get(*position).unwrap().as_ref(), Some(bytes));
    }
    assert_eq!(store.get(1_035).unwrap(), None);

    // Stopping early stops inside a block too.
    let mut seen = 0;
    store
        .scan(40, 1_000, &mut |_, _| {
            seen += 1;
            seen < 3
        })
        .unwrap();
    assert_eq!(seen, 3);

    // Reopening finds the same head, and the rebuilt projections see every event.
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.last_position(), 1_034);
    assert_eq!(engine.rebuild_projections(&mut |_| {}).unwrap(), 1_034);
    engine.verify(&mut |_| {}).unwrap();
}

#[tokio::test]
async fn reading_many_positions_answers_each_stored_one_once_in_log_order() {
    for place in places() {
        // Given 40 events, the last 30 of them appended as one command
        let engine = place.open();
        for n in 0..10 {
            engine.append(append_one(touch(n))).await.unwrap();
        }
        let mut request = append_one(touch(10));
        request.events = (10..40).map(touch).collect();
        engine.append(request).await.unwrap();
        let store = engine.store();
        // When positions are asked out of order, one twice, one past the head
        let found = store.get_many(&[33, 2, 41, 17, 2, 40]).unwrap();
        // Then each stored one comes once, in log order, with the bytes `get` gives
        let expected: Vec<(u64, Vec<u8>)> = [2, 17, 33, 40]
            .into_iter()
            .map(|p| (p, store.get(p).unwrap().unwrap()))
            .collect();
        assert_eq!(found, expected, "store: {}", place.name);
        assert_eq!(
            store.get_many(&[]).unwrap(),
            Vec::new(),
            "store: {}",
            place.name
        );
    }
}
