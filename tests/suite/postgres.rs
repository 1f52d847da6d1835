//! What only the PostgreSQL store has: its single-writer lock, the position fence, its
//! errors naming the server without the password, and its versioned schema. The shared
//! contract (log, domain, restore) runs on both stores in the other modules.

use offboard::store::{ChainHead, CommitBatch, LogStore, PgPool, PostgresLog, StoredEvent};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use offboard::clock::SystemClock;
use offboard::Engine;

use super::stores::{places, Place};
use super::support::{append_one, raw_session, touch};

fn batch(from: u64, bytes: &[&[u8]]) -> CommitBatch {
    let events: Vec<StoredEvent> = (from..)
        .zip(bytes)
        .map(|(position, b)| StoredEvent {
            position,
            bytes: b.to_vec(),
        })
        .collect();
    let last = events.last().map(|e| e.position).unwrap_or(0);
    CommitBatch {
        events,
        commands: Vec::new(),
        head: Some(ChainHead {
            last_position: last,
            last_hash: format!("hash-{last}"),
        }),
    }
}

#[test]
fn a_second_writer_is_refused_with_store_in_use_until_the_first_lets_go() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let url = place.url().unwrap();
    // Given a writer holding the database
    let first = PostgresLog::open(url).unwrap();
    // When a second one opens it
    let err = PostgresLog::open(url).unwrap_err();
    // Then it is refused, naming the server, and may open once the first is gone
    assert_eq!(err.code(), "store_in_use");
    assert!(err.to_string().contains("127.0.0.1:"), "{err}");
    drop(first);
    PostgresLog::open(url).unwrap();
}

#[test]
fn a_write_at_a_taken_position_fails_with_position_taken_and_writes_nothing() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let log = PostgresLog::open(place.url().unwrap()).unwrap();
    log.write(&batch(1, &[b"one", b"two"])).unwrap();
    // Given positions 1 and 2 stored, when a batch of 2 and 3 is written
    let err = log.write(&batch(2, &[b"other", b"three"])).unwrap_err();
    // Then nothing of it is stored and nothing is overwritten
    assert_eq!(err.code(), "position_taken");
    assert_eq!(log.get(2).unwrap().as_deref(), Some(&b"two"[..]));
    assert_eq!(log.get(3).unwrap(), None);
    assert_eq!(log.head().unwrap().last_position, 2);
}

#[test]
fn an_unreachable_server_is_store_unreachable_naming_host_and_port_never_the_password() {
    // Port 1 on loopback: nothing listens there.
    let err = PgPool::connect("postgresql://app:s3cret@127.0.0.1:1/offboard").unwrap_err();
    assert_eq!(err.code(), "store_unreachable");
    let message = err.to_string();
    assert!(message.contains("127.0.0.1:1/offboard"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn the_schema_is_created_once_and_reopening_applies_no_migration_twice() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let url = place.url().unwrap();
    drop(PostgresLog::open(url).unwrap());
    let log = PostgresLog::open(url).unwrap();
    let versions: Vec<i32> = log
        .pool()
        .run(|client| async move {
            let rows = client
                .query(
                    "SELECT version FROM refinery_schema_history ORDER BY version",
                    &[],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .unwrap();
    assert_eq!(
        versions,
        vec![1, 2, 3],
        "the log, the personal-data keys, then what several nodes share"
    );
}

#[test]
fn every_session_commits_synchronously_even_where_the_database_says_otherwise() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let url = place.url().unwrap();
    // Given a database whose own setting would acknowledge commits before they are durable
    let db = url.rsplit('/').next().unwrap().to_owned();
    let sql = format!("ALTER DATABASE {db} SET synchronous_commit = off");
    PgPool::connect(url)
        .unwrap()
        .run(move |client| async move {
            client.batch_execute(&sql).await?;
            Ok(())
        })
        .unwrap();
    // When the log opens it, then its sessions still commit with synchronous_commit on
    let log = PostgresLog::open(url).unwrap();
    let setting: String = log
        .pool()
        .run(|client| async move {
            Ok(client
                .query_one("SHOW synchronous_commit", &[])
                .await?
                .get(0))
        })
        .unwrap();
    assert_eq!(setting, "on");
}

/// The `plan_cache_mode` of one of `log`'s sessions.
fn plan_cache_mode(log: &PostgresLog) -> String {
    let show = |client: deadpool_postgres::Object| async move {
        let row = client.query_one("SHOW plan_cache_mode", &[]).await?;
        Ok(row.get(0))
    };
    log.pool().run(show).unwrap()
}

#[test]
fn every_session_plans_lookups_for_the_table_as_it_is_unless_the_url_says_otherwise() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let url = place.url().unwrap();
    // Given the log's sessions (a generic plan frozen while log_commands was nearly
    // empty was a sequential scan: 4-5 ms a group once it held 32,000 commands)
    // When the log opens the database, then every execution is planned afresh
    assert_eq!(
        plan_cache_mode(&PostgresLog::open(url).unwrap()),
        "force_custom_plan"
    );
    // And an operator's own choice in the URL's options wins
    let separator = if url.contains('?') { '&' } else { '?' };
    let chosen = format!("{url}{separator}options=-c%20plan_cache_mode%3Dauto");
    assert_eq!(
        plan_cache_mode(&PostgresLog::open(&chosen).unwrap()),
        "auto"
    );
}

#[test]
fn scans_cross_chunk_boundaries_in_order_and_stop_when_told() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let log = PostgresLog::open(place.url().unwrap()).unwrap();
    let bodies: Vec<Vec<u8>> = (1..=5000u32).map(|n| n.to_string().into_bytes()).collect();
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    log.write(&batch(1, &refs)).unwrap();
    let mut seen = Vec::new();
    log.scan(2, 4500, &mut |p, b| {
        assert_eq!(b, p.to_string().as_bytes());
        seen.push(p);
        true
    })
    .unwrap();
    assert_eq!(seen, (2..=4500).collect::<Vec<u64>>());
    let mut visited = 0;
    log.scan(1, u64::MAX, &mut |_, _| {
        visited += 1;
        visited < 3000
    })
    .unwrap();
    assert_eq!(visited, 3000);
}

/// A store that counts its writes: each is one transaction on PostgreSQL.
#[derive(Debug)]
struct Counting {
    inner: Box<dyn LogStore>,
    writes: AtomicU64,
}

impl LogStore for Counting {
    fn write(&self, batch: &CommitBatch) -> Result<(), offboard::store::StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write(batch)
    }
    fn sync(&self) -> Result<(), offboard::store::StoreError> {
        self.inner.sync()
    }
    super::support::delegate_reads!(inner);
}

/// A measurement, not a check: 64 writers append 10,240 one-event commands on each
/// store; prints the rate, how many commands each write (transaction) carried, and the
/// rate of a rebuild from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement: cargo test --test suite -- --ignored group_commit_figures --nocapture"]
async fn group_commit_figures_on_every_store() {
    for place in places() {
        let store = Arc::new(Counting {
            inner: place.raw_store(),
            writes: AtomicU64::new(0),
        });
        let engine = Arc::new(Engine::with_store(store.clone(), Arc::new(SystemClock)).unwrap());
        let started = Instant::now();
        let tasks: Vec<_> = (0..64u64)
            .map(|task| {
                let engine = Arc::clone(&engine);
                tokio::spawn(async move {
                    for i in 0..160 {
                        engine
                            .append(append_one(touch(task * 1000 + i)))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let took = started.elapsed().as_secs_f64();
        let commands = engine.stats().commands;
        let writes = store.writes.load(Ordering::Relaxed);
        let started = Instant::now();
        let rebuilt = engine.rebuild(&mut |_| {}).unwrap();
        let rebuild = started.elapsed().as_secs_f64();
        eprintln!(
            "{}: {commands} commands in {took:.2} s = {:.0}/s; {writes} writes, {:.1} commands per write; rebuild {:.0} events/s",
            place.name,
            commands as f64 / took,
            commands as f64 / writes as f64,
            rebuilt as f64 / rebuild,
        );
    }
}

#[tokio::test]
async fn a_writer_whose_next_position_was_taken_by_another_stops_writing() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let engine = place.open();
    engine.append(append_one(touch(1))).await.unwrap();
    // Given another writer stored position 2 behind this one's back (past its lock)
    PgPool::connect(place.url().unwrap())
        .unwrap()
        .run(|client| async move {
            client
                .execute(
                    "INSERT INTO log_events (position, bytes) VALUES (2, 'theirs')",
                    &[],
                )
                .await?;
            Ok(())
        })
        .unwrap();
    // When this writer appends, then it is not acknowledged and overwrites nothing
    let err = engine.append(append_one(touch(2))).await.unwrap_err();
    assert_eq!(err.code(), "outcome_unknown", "{err}");
    assert!(err.to_string().contains("already taken"), "{err}");
    assert_eq!(
        engine.store().get(2).unwrap().as_deref(),
        Some(&b"theirs"[..])
    );
    // And it writes nothing more: only a restart can know what the log holds
    let again = engine.append(append_one(touch(3))).await.unwrap_err();
    assert_eq!(again.code(), "unavailable", "{again}");
    assert_eq!(engine.store().head().unwrap().last_position, 1);
}

/// A connection to `url` whose NOTICEs are collected (the driver hands them to whoever
/// polls its connection; offboard's pool logs them).
async fn listening(url: &str) -> (tokio_postgres::Client, Arc<std::sync::Mutex<Vec<String>>>) {
    use futures_util::StreamExt;
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let notices = Arc::new(std::sync::Mutex::new(Vec::new()));
    let heard = Arc::clone(&notices);
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notice(notice) = message {
                heard.lock().unwrap().push(notice.message().to_owned());
            }
        }
    });
    (client, notices)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_again_sends_no_notice_and_other_notices_still_come() {
    let Some(place) = Place::postgres() else {
        return;
    };
    // Given a database whose schema is already current (migrated once).
    let (mut client, notices) = listening(place.url().unwrap()).await;
    offboard::store::postgres::schema::run_migrations(&mut client)
        .await
        .unwrap();
    // When a node migrates again (as every node does when it takes over)
    offboard::store::postgres::schema::run_migrations(&mut client)
        .await
        .unwrap();
    // Then PostgreSQL sent no NOTICE that refinery_schema_history exists.
    // And a notice of anything else still arrives on that same connection.
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS log_head (only_row bool)")
        .await
        .unwrap();
    let heard = notices.lock().unwrap().clone();
    assert!(
        heard.iter().all(|n| !n.contains("refinery_schema_history")),
        "{heard:?}"
    );
    assert!(heard.iter().any(|n| n.contains("log_head")), "{heard:?}");
}

#[test]
fn a_new_leader_waits_for_an_earlier_leaders_group_still_being_committed() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let url = place.url().unwrap().to_owned();
    let log = PostgresLog::open(&url).unwrap();
    log.write(&batch(1, &[b"one"])).unwrap();
    drop(log);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Given an earlier leader's group still executing: its transaction has moved the
    // head and not yet committed
    let earlier = runtime.block_on(async {
        let client = raw_session(&url).await;
        client
            .batch_execute("BEGIN; UPDATE log_head SET last_position = 2")
            .await
            .unwrap();
        client
    });
    // When a node that just took the lock waits for earlier writers
    let pool = PgPool::connect(&url).unwrap();
    let waiting = std::thread::spawn(move || {
        let started = Instant::now();
        offboard::store::postgres::wait_for_earlier_writers(&pool).unwrap();
        started.elapsed()
    });
    std::thread::sleep(std::time::Duration::from_millis(700));
    runtime.block_on(earlier.batch_execute("COMMIT")).unwrap();
    // Then it returned only once that group committed
    let waited = waiting.join().unwrap();
    assert!(
        waited >= std::time::Duration::from_millis(600),
        "{waited:?}"
    );
}
