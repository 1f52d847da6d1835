//! Read-your-writes (`min_position`, issue 21 §2): a read of a position already applied
//! is answered at once; one a command in flight will reach waits for it (up to the
//! patience, then 503 `position_not_reached`); one past every position handed out is
//! answered 503 at once — on the leader, past what its writer assigned; on a follower,
//! past the store's head. The engine's store holds each flush until the test opens it,
//! so "in flight" is a state the test holds, not a race.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use offboard::clock::SystemClock;
use offboard::domain::Command;
use offboard::engine::Role;
use offboard::server::{self, tokens, AppState, ServerOptions};
use offboard::store::{CommitBatch, LogStore, MemoryLog, StoreError};
use offboard::Engine;
use offboard_events::PrincipalKind;

use super::delegate::delegate_reads;
use super::nodes::headers_of;
use super::support::*;

/// A memory log whose flushes wait while the gate is shut.
#[derive(Debug, Default)]
struct GatedFlush {
    inner: MemoryLog,
    shut: Mutex<bool>,
    changed: Condvar,
}

impl GatedFlush {
    fn set(&self, shut: bool) {
        *self.shut.lock().unwrap() = shut;
        self.changed.notify_all();
    }
}

impl LogStore for GatedFlush {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.inner.write(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        let mut shut = self.shut.lock().unwrap();
        while *shut {
            shut = self.changed.wait(shut).unwrap();
        }
        self.inner.sync()
    }
    delegate_reads!(inner);
}

/// The leader on a gated log, with an org; its router (reads wait at most 300 ms), the
/// owner's token, and a command to put in flight.
struct Gated {
    log: Arc<GatedFlush>,
    engine: Arc<Engine>,
    app: Router,
    token: String,
    org: offboard_events::OrgId,
    owner: offboard_events::UserId,
}

async fn gated() -> Gated {
    let log = Arc::new(GatedFlush::default());
    let store: Arc<dyn LogStore> = Arc::clone(&log) as Arc<dyn LogStore>;
    let engine = Engine::with_store(store, Arc::new(SystemClock)).unwrap();
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    let token = tokens::create(&engine, None, &owner.to_string())
        .unwrap()
        .token;
    let engine = Arc::new(engine);
    let options = ServerOptions {
        position_patience: Duration::from_millis(300),
        ..ServerOptions::default()
    };
    let app = server::app(AppState::with_options(Arc::clone(&engine), options).unwrap());
    Gated {
        log,
        engine,
        app,
        token,
        org,
        owner,
    }
}

impl Gated {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        send(&self.app, "GET", path, Some(&self.token), None, headers).await
    }

    /// A command written to the log whose flush waits at the shut gate: its position.
    async fn in_flight(&self, name: &str) -> (u64, tokio::task::JoinHandle<()>) {
        self.log.set(true);
        let before = self.log.head().unwrap().last_position;
        let (engine, org, owner) = (Arc::clone(&self.engine), self.org, self.owner);
        let name = name.to_owned();
        let command = tokio::spawn(async move {
            let kind = PrincipalKind::Auditor;
            as_user(
                &engine,
                org,
                owner,
                Command::RegisterPrincipal { kind, name },
            )
            .await;
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.log.head().unwrap().last_position == before {
            assert!(Instant::now() < deadline, "the command was never written");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        (before + 1, command)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_applied_is_answered_at_once_and_the_parameter_is_unseen() {
    let g = gated().await;
    let last = g.engine.last_position();
    // When a read asks for a position already applied (parameter or header), Then:
    // answered at once, the parameter taken off before the handler sees it.
    g.get(&format!("/v1/users?min_position={last}&limit=1"), &[])
        .await
        .ok();
    let header = last.to_string();
    g.get("/v1/org", &[("offboard-min-position", &header)])
        .await
        .ok();
    // And a position that is not a number is a bad request.
    g.get("/v1/users?min_position=soon", &[])
        .await
        .error(400, "invalid_input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_in_flight_is_waited_for_up_to_the_patience() {
    // Given a command written but not yet durable (its flush held).
    let g = gated().await;
    let (position, command) = g.in_flight("late-firm").await;
    let path = format!("/v1/users?min_position={position}");
    // When a read asks for its position and the flush stays held, Then: 503
    // position_not_reached after the patience, Retry-After: 1.
    let started = Instant::now();
    let late = g.get(&path, &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    late.error(503, "position_not_reached");
    let headers = headers_of(&g.app, "GET", &path, &[]).await;
    assert_eq!(headers["retry-after"], "1");
    // When the flush finishes while a read waits, Then: the read is answered.
    let log = Arc::clone(&g.log);
    let opener = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        log.set(false);
    });
    g.get(&path, &[]).await.ok();
    opener.await.unwrap();
    command.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_past_every_one_handed_out_is_refused_at_once() {
    // Given a leader with a command in flight at position P.
    let g = gated().await;
    let (position, command) = g.in_flight("late-firm").await;
    // When a read asks for P + 1, which no command decided so far reaches, Then: 503
    // position_not_reached at once (not after the patience), saying why.
    let started = Instant::now();
    let past = g
        .get(&format!("/v1/users?min_position={}", position + 1), &[])
        .await;
    assert!(started.elapsed() < Duration::from_millis(300));
    let error = past.error(503, "position_not_reached");
    assert!(
        error["error"]["message"].to_string().contains("beyond"),
        "{error}"
    );
    g.log.set(false);
    command.await.unwrap();

    // Given the same node posing as a follower (its store's head is P).
    g.engine.set_role_for_tests(Role::Follower {
        leader: None,
        lag: 0,
    });
    // When a read asks past the store's head, Then: refused at once too.
    let started = Instant::now();
    g.get(&format!("/v1/users?min_position={}", position + 1), &[])
        .await
        .error(503, "position_not_reached");
    assert!(started.elapsed() < Duration::from_millis(300));
}
