//! What the `serve` nodes sharing one database tell each other through it
//! (`migrations/V3__cluster.sql`): who leads and at which URL ([`publish_leader`],
//! [`leader_address`]), and that the log moved ([`HeadWatch`], `LISTEN offboard_log`).

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::AsyncMessage;

use super::error::from_pg;
use super::pool::PgPool;
use crate::store::StoreError;

/// The channel the log's head trigger notifies on.
const CHANNEL: &str = "offboard_log";

/// Records `address` as the leader's URL. Called by a node right after it took the
/// writer lock. **Durability: when it returns `Ok`, the row is committed.**
pub fn publish_leader(pool: &PgPool, address: &str) -> Result<(), StoreError> {
    let address = address.to_owned();
    pool.run(move |client| async move {
        client
            .execute(
                "INSERT INTO cluster_leader (only_row, address, since) VALUES (true, $1, now()) \
                 ON CONFLICT (only_row) DO UPDATE SET address = EXCLUDED.address, since = now()",
                &[&address],
            )
            .await?;
        Ok(())
    })
}

/// Longest a new leader waits for an earlier leader's last group to commit or fail.
const EARLIER_WRITER_PATIENCE: &str = "10s";

/// Waits until no transaction of an earlier leader still writes the log: every group's
/// write updates the `log_head` row, so taking that row's lock waits for one in flight.
/// Called by a node that just took the writer lock, before it reads the log to its end.
/// Why: a leader cut off from the database loses its lock at once (the server ends the
/// lock's session), but a group it sent just before may still be executing on another
/// of its sessions and commit a moment later — after the new leader read the head, whose
/// first write then met `position_taken` and stepped down (seen in the failover harness,
/// leadership went back to the partitioned node after the heal).
///
/// Errors: `store_unreachable`; `storage` when the earlier write held the row for longer
/// than 10 s (the takeover is abandoned and tried again).
pub fn wait_for_earlier_writers(pool: &PgPool) -> Result<(), StoreError> {
    pool.run(|mut client| async move {
        let transaction = client.transaction().await?;
        transaction
            .batch_execute(&format!(
                "SET LOCAL lock_timeout = '{EARLIER_WRITER_PATIENCE}'"
            ))
            .await?;
        transaction
            .query_opt("SELECT last_position FROM log_head FOR UPDATE", &[])
            .await?;
        transaction.commit().await?;
        Ok(())
    })
}

/// The URL the last leader published, if any (it may have died since: a follower learns
/// of a new leader when that one publishes).
pub fn leader_address(pool: &PgPool) -> Result<Option<String>, StoreError> {
    pool.run(|client| async move {
        let row = client
            .query_opt("SELECT address FROM cluster_leader", &[])
            .await?;
        Ok(row.map(|r| r.get(0)))
    })
}

/// A session that LISTENs for the log's commits: [`HeadWatch::wait`] returns as soon as
/// one is notified. The session ends when the watch is dropped.
#[derive(Debug)]
pub struct HeadWatch {
    client: Option<tokio_postgres::Client>,
    pool: PgPool,
    notified: Receiver<()>,
}

impl HeadWatch {
    /// Opens a session of its own and starts listening.
    ///
    /// Errors: `store_unreachable` when the session cannot be opened.
    pub fn start(pool: &PgPool) -> Result<Self, StoreError> {
        let (tx, notified) = std::sync::mpsc::channel();
        let client = pool.dedicated_with(move |mut connection, target| async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(_)) => {
                        if tx.send(()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(
                            "offboard: PostgreSQL LISTEN session at {target} ended: {e}"
                        );
                        return;
                    }
                }
            }
        })?;
        let target = pool.target().clone();
        let client = pool.block(async move {
            client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .await
                .map_err(|e| from_pg(e, &target))?;
            Ok(client)
        })?;
        Ok(Self {
            client: Some(client),
            pool: pool.clone(),
            notified,
        })
    }

    /// Waits up to `patience` for a commit, and takes every notification already
    /// waiting with it: a notification is only a hint (the caller reads the head either
    /// way), so how many came and what they said does not matter. `Err` once the session
    /// has ended.
    pub fn wait(&self, patience: Duration) -> Result<(), StoreError> {
        match self.notified.recv_timeout(patience) {
            Ok(()) => {
                self.notified.try_iter().for_each(drop);
                Ok(())
            }
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => Err(StoreError::Unreachable {
                target: self.pool.target().to_string(),
                why: "the LISTEN session ended".to_owned(),
            }),
        }
    }
}

impl Drop for HeadWatch {
    fn drop(&mut self) {
        // Dropping the client ends the session (its connection task then returns); it is
        // dropped on the pool's runtime, where the connection lives.
        if let Some(client) = self.client.take() {
            let _ = self.pool.block(async move {
                drop(client);
                Ok(())
            });
        }
    }
}
