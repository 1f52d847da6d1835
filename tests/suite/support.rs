//! Helpers shared by the suite: events to append and engines to append them to.

use offboard::{AppendRequest, CommandMeta};
use offboard_events::{Actor, Event, OrgId, UserActivated, UserId};
use uuid::Uuid;

/// A fixed org, so every test's events look alike.
pub fn org() -> OrgId {
    OrgId(Uuid::from_u128(0x0f))
}

/// The `n`th of a fixed set of users; each has its own stream `user-<id>`.
pub fn user(n: u64) -> UserId {
    UserId(Uuid::from_u128(0x1000 + n as u128))
}

/// A small event on user `n`'s stream.
pub fn touch(n: u64) -> Event {
    UserActivated { user_id: user(n) }.into()
}

/// A one-event append by the system actor.
pub fn append_one(event: Event) -> AppendRequest {
    AppendRequest {
        meta: CommandMeta::new(org(), Actor::System),
        expected: Vec::new(),
        events: vec![event],
    }
}

#[path = "../common/delegate_reads.rs"]
mod delegate;
pub(crate) use delegate::delegate_reads;

/// A plain session to the database at `url`, outside offboard's pool (its connection
/// driven on the current runtime): to stand for another node's session in a test.
pub async fn raw_session(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Shuts `engine` (its last handle) down on a blocking thread and fails the test if that
/// takes more than 5 s: a stage stuck in a storage call must not hold shutdown.
pub async fn shut_down_in_time(engine: std::sync::Arc<offboard::Engine>) {
    let engine = std::sync::Arc::try_unwrap(engine)
        .unwrap_or_else(|_| panic!("another handle on the engine is alive"));
    let stopped = tokio::task::spawn_blocking(move || engine.shutdown());
    tokio::time::timeout(std::time::Duration::from_secs(5), stopped)
        .await
        .expect("shutdown hung")
        .unwrap();
}
