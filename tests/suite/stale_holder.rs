//! A writer lock held by a node that hung (its session open, nothing running on it) is
//! ended by the next node that asks, so another node can lead; a holder that is alive
//! (its heartbeat runs) never is. Skipped (saying so) where PostgreSQL is not installed,
//! unless OFFBOARD_REQUIRE_POSTGRES=1.

use std::time::{Duration, Instant};

use offboard::store::postgres::{Candidate, WriterLock, WRITER_LOCK_KEY};
use offboard::store::PgPool;

use super::stores::Place;
use super::support::raw_session;

/// How long the tests let a holder sit idle before it counts as hung.
const STALE: Duration = Duration::from_secs(1);

/// Asks for the lock on `candidate` every 200 ms (as a follower does) for up to `for_`.
fn ask(mut candidate: Candidate, for_: Duration) -> Option<WriterLock> {
    let started = Instant::now();
    loop {
        match WriterLock::try_take(candidate).unwrap() {
            Ok(lock) => return Some(lock),
            Err(_) if started.elapsed() >= for_ => return None,
            Err(back) => candidate = back,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_lock_whose_holder_hung_is_freed_by_the_next_node_that_asks() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let url = place.url().unwrap().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Given a session that took the writer lock and then ran nothing more (a stopped
    // process: its connection stays open, PostgreSQL never ends it)
    let hung = runtime.block_on(async {
        let client = raw_session(&url).await;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&WRITER_LOCK_KEY])
            .await
            .unwrap();
        client
    });
    let pool = PgPool::connect(&url).unwrap();
    // When another node asks for the lock for longer than the holder's allowed silence
    let candidate = Candidate::open(&pool).unwrap().stale_after(STALE);
    let taken = ask(candidate, STALE * 10);
    // Then it ended the hung session and holds the lock
    assert!(taken.is_some(), "the hung holder kept the lock");
    let ended = runtime.block_on(hung.simple_query("SELECT 1"));
    assert!(ended.is_err(), "the hung holder's session still answers");
}

#[test]
fn a_holder_that_is_alive_is_never_ended_however_long_it_holds() {
    let Some(place) = Place::postgres() else {
        return;
    };
    let pool = PgPool::connect(place.url().unwrap()).unwrap();
    // Given a node holding the lock (its heartbeat running), doing nothing else
    let held = WriterLock::try_take(Candidate::open(&pool).unwrap())
        .unwrap()
        .unwrap_or_else(|_| panic!("the lock was free"));
    // When another node, impatient, asks for three times the allowed silence
    let candidate = Candidate::open(&pool).unwrap().stale_after(STALE);
    let asked = ask(candidate, STALE * 3);
    // Then it never got the lock, and the holder still holds it
    assert!(asked.is_none(), "a live holder's lock was taken");
    assert!(!held.lost());
    assert!(held.alive(Duration::from_secs(5)));
}
