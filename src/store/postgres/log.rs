//! [`PostgresLog`]: the log in a PostgreSQL database (tables in `migrations/V1__log.sql`).
//!
//! One group commit is ONE statement, so one transaction and one round trip: every event
//! in one multi-row `INSERT … UNNEST`, the command-id index likewise, and the chain head
//! (data-modifying CTEs), committed with `synchronous_commit=on`. So when [`LogStore::write`] returns `Ok` the group is already
//! durable (on the server's WAL, and on a synchronous standby if the server has one);
//! `flush` and `sync` have nothing left to do. An event's position is its primary key: a
//! write that meets a position already stored fails with `position_taken` and writes
//! nothing — never an overwrite.

use offboard_events::{CommandId, CorrelationId};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::lock::WriterLock;
use super::pool::{PgError, PgPool};
use super::schema;
use crate::store::{ChainHead, CommandRecord, CommitBatch, LogStore, StoreError};

/// How many events one round trip of a scan brings back: a bounded result however long
/// the range, few round trips for a replay.
const SCAN_CHUNK: i64 = 2048;

/// The log in one PostgreSQL database, opened for writing (it holds the writer lock).
#[derive(Debug)]
pub struct PostgresLog {
    pool: PgPool,
    /// Held for the store's life (with its own clone of the pool, so it can unlock);
    /// `None` for a node's log, whose leadership the node holds (`engine::node`).
    _lock: Option<WriterLock>,
}

impl PostgresLog {
    /// Connects to `url`, takes the single-writer lock, creates or upgrades the schema and
    /// checks that the stored chain head names the last stored event. **Durability: when
    /// it returns `Ok`, the schema's migrations are committed.**
    ///
    /// Errors: `store_url_invalid`, `store_unreachable` (naming host:port), `store_in_use`
    /// when another process is the writer, `log_corrupt` when head and events disagree.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_on(PgPool::connect(url)?)
    }

    /// [`PostgresLog::open`] on a pool already connected (shared with the key vault).
    pub fn open_on(pool: PgPool) -> Result<Self, StoreError> {
        let lock = WriterLock::acquire(&pool)?;
        schema::migrate(&pool)?;
        let log = Self {
            pool,
            _lock: Some(lock),
        };
        log.check_head()?;
        Ok(log)
    }

    /// The log of one `serve` node: no lock of its own — the node takes the writer lock
    /// ([`WriterLock::try_acquire`]) to lead, and writes only while it holds it; the
    /// events' primary key fences a node that lost it. The schema is migrated by whichever
    /// node first takes the lock (`lock`, when given, is held during the migration).
    ///
    /// Errors: as [`PostgresLog::open`], but never `store_in_use`.
    pub fn open_for_node(pool: PgPool, lock: Option<&WriterLock>) -> Result<Self, StoreError> {
        if lock.is_some() {
            schema::migrate(&pool)?;
        }
        let log = Self { pool, _lock: None };
        log.check_head()?;
        Ok(log)
    }

    /// The pool this log uses, for what else lives in the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Recovery check: the head is written in the same transaction as the events, so a
    /// head that does not name the last event means outside damage.
    fn check_head(&self) -> Result<(), StoreError> {
        // One statement, so one snapshot: other nodes may be committing meanwhile.
        let (last, head) = self.pool.run(|client| async move {
            let row = client
                .query_one(
                    "SELECT (SELECT max(position) FROM log_events), \
                     (SELECT last_position FROM log_head)",
                    &[],
                )
                .await?;
            Ok((row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1)))
        })?;
        if last == head {
            return Ok(());
        }
        Err(StoreError::Corrupt(format!(
            "chain head {head:?} does not match last event {last:?}"
        )))
    }
}

/// Positions are u64 in the engine, bigint here; a log never comes near 2^63.
fn pos(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

/// One group commit as ONE statement: data-modifying CTEs insert the events and upsert the
/// command-id index, and the outer INSERT moves the chain head (when the batch has one).
/// A single statement is its own transaction, all or nothing, and costs one round trip
/// where BEGIN, three statements and COMMIT cost five: the writer waits for each group's
/// commit before the next, so round trips are its throughput.
const WRITE_GROUP: &str = "WITH events AS (\
       INSERT INTO log_events (position, bytes) \
       SELECT * FROM UNNEST($1::bigint[], $2::bytea[])\
     ), commands AS (\
       INSERT INTO log_commands \
       (command_id, fingerprint, correlation_id, first_position, last_position) \
       SELECT * FROM UNNEST($3::uuid[], $4::text[], $5::uuid[], $6::bigint[], $7::bigint[]) \
       ON CONFLICT (command_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
       correlation_id = EXCLUDED.correlation_id, first_position = EXCLUDED.first_position, \
       last_position = EXCLUDED.last_position\
     ) \
     INSERT INTO log_head (only_row, last_position, last_hash) \
     SELECT true, $8::bigint, $9::text WHERE $8::bigint IS NOT NULL \
     ON CONFLICT (only_row) DO UPDATE \
     SET last_position = EXCLUDED.last_position, last_hash = EXCLUDED.last_hash";

/// The events, command records and head of `batch`, committed together ([`WRITE_GROUP`]).
async fn write_batch(
    client: deadpool_postgres::Object,
    events: (Vec<i64>, Vec<Vec<u8>>),
    commands: Vec<(Uuid, CommandRecord)>,
    head: Option<ChainHead>,
) -> Result<(), PgError> {
    let mut ids = Vec::with_capacity(commands.len());
    let mut prints = Vec::with_capacity(commands.len());
    let mut correlations = Vec::with_capacity(commands.len());
    let mut firsts = Vec::with_capacity(commands.len());
    let mut lasts = Vec::with_capacity(commands.len());
    for (id, record) in commands {
        ids.push(id);
        prints.push(record.fingerprint);
        correlations.push(record.correlation_id.0);
        firsts.push(record.positions.map(|(first, _)| pos(first)));
        lasts.push(record.positions.map(|(_, last)| pos(last)));
    }
    let (last, hash) = match head {
        Some(head) => (Some(pos(head.last_position)), Some(head.last_hash)),
        None => (None, None),
    };
    let first = events.0.first().copied().unwrap_or(0);
    let statement = client.prepare_cached(WRITE_GROUP).await?;
    client
        .execute(
            &statement,
            &[
                &events.0,
                &events.1,
                &ids,
                &prints,
                &correlations,
                &firsts,
                &lasts,
                &last,
                &hash,
            ],
        )
        .await
        .map_err(|e| taken(e, first))?;
    Ok(())
}

/// A duplicate position is the fence: `position_taken`, distinct from any other failure.
fn taken(e: tokio_postgres::Error, first: i64) -> PgError {
    let duplicate = e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::UNIQUE_VIOLATION && db.table() == Some("log_events")
    });
    if duplicate {
        return PgError::Store(StoreError::PositionTaken { from: first as u64 });
    }
    PgError::Driver(e)
}

fn record_of(row: &tokio_postgres::Row) -> CommandRecord {
    let first: Option<i64> = row.get("first_position");
    let last: Option<i64> = row.get("last_position");
    CommandRecord {
        fingerprint: row.get("fingerprint"),
        correlation_id: CorrelationId(row.get("correlation_id")),
        positions: first.zip(last).map(|(f, l)| (f as u64, l as u64)),
    }
}

impl LogStore for PostgresLog {
    /// **Durability: when it returns `Ok`, the whole batch is committed (the server's
    /// `synchronous_commit=on`); on `Err`, none of it is.**
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let events = batch
            .events
            .iter()
            .map(|e| (pos(e.position), e.bytes.clone()))
            .unzip();
        let commands = batch
            .commands
            .iter()
            .map(|(id, record)| (id.0, record.clone()))
            .collect();
        let head = batch.head.clone();
        self.pool
            .run(move |client| write_batch(client, events, commands, head))
    }

    /// Nothing to do: every `write` that returned `Ok` is already committed.
    fn durable_when_written(&self) -> bool {
        true
    }

    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Nothing to do, as for `sync`.
    fn sync_flushed(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn head(&self) -> Result<ChainHead, StoreError> {
        let head = self.pool.run(|client| async move {
            Ok(client
                .query_opt("SELECT last_position, last_hash FROM log_head", &[])
                .await?
                .map(|row| ChainHead {
                    last_position: row.get::<_, i64>(0) as u64,
                    last_hash: row.get(1),
                }))
        })?;
        Ok(head.unwrap_or_else(ChainHead::empty))
    }

    fn get(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.pool.run(move |client| async move {
            let query = "SELECT bytes FROM log_events WHERE position = $1";
            let statement = client.prepare_cached(query).await?;
            Ok(client
                .query_opt(&statement, &[&pos(position)])
                .await?
                .map(|row| row.get(0)))
        })
    }

    fn get_many(&self, positions: &[u64]) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<i64> = positions.iter().map(|p| pos(*p)).collect();
        self.pool.run(move |client| async move {
            let query = "SELECT position, bytes FROM log_events WHERE position = ANY($1) \
                         ORDER BY position";
            let statement = client.prepare_cached(query).await?;
            let rows = client.query(&statement, &[&wanted]).await?;
            Ok(rows
                .iter()
                .map(|row| (row.get::<_, i64>(0) as u64, row.get(1)))
                .collect())
        })
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let mut next = from;
        while next <= to {
            let chunk = self.scan_chunk(next, to)?;
            let Some((last, _)) = chunk.last() else {
                return Ok(());
            };
            next = *last as u64 + 1;
            for (position, bytes) in &chunk {
                if !visit(*position as u64, bytes) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn command(&self, id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        self.pool.run(move |client| async move {
            let query = "SELECT fingerprint, correlation_id, first_position, last_position \
                         FROM log_commands WHERE command_id = $1";
            let statement = client.prepare_cached(query).await?;
            Ok(client
                .query_opt(&statement, &[&id.0])
                .await?
                .as_ref()
                .map(record_of))
        })
    }

    /// One round trip for all of `ids`.
    fn commands(&self, ids: &[CommandId]) -> Result<Vec<(CommandId, CommandRecord)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        self.pool.run(move |client| async move {
            let query = "SELECT command_id, fingerprint, correlation_id, first_position, \
                         last_position FROM log_commands WHERE command_id = ANY($1)";
            let statement = client.prepare_cached(query).await?;
            let rows = client.query(&statement, &[&ids]).await?;
            Ok(rows
                .iter()
                .map(|row| (CommandId(row.get(0)), record_of(row)))
                .collect())
        })
    }

    fn scan_commands(
        &self,
        visit: &mut dyn FnMut(CommandId, CommandRecord) -> bool,
    ) -> Result<(), StoreError> {
        let mut after = Uuid::nil();
        loop {
            let rows = self.pool.run(move |client| async move {
                let rows = client
                    .query(
                        "SELECT command_id, fingerprint, correlation_id, first_position, \
                         last_position FROM log_commands WHERE command_id > $1 \
                         ORDER BY command_id LIMIT $2",
                        &[&after, &SCAN_CHUNK],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|row| (row.get::<_, Uuid>(0), record_of(row)))
                    .collect::<Vec<_>>())
            })?;
            let Some((last, _)) = rows.last() else {
                return Ok(());
            };
            after = *last;
            for (id, record) in rows {
                if !visit(CommandId(id), record) {
                    return Ok(());
                }
            }
        }
    }

    /// **Durability: when it returns `Ok`, the new bytes are committed; on `Err`, the
    /// previous checkpoint is still there, whole** (one statement, one transaction).
    fn put_checkpoint(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let (name, bytes) = (name.to_owned(), bytes.to_vec());
        self.pool.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO checkpoints (name, bytes) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes",
                    &[&name, &bytes],
                )
                .await?;
            Ok(())
        })
    }

    fn checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let name = name.to_owned();
        self.pool.run(move |client| async move {
            Ok(client
                .query_opt("SELECT bytes FROM checkpoints WHERE name = $1", &[&name])
                .await?
                .map(|row| row.get(0)))
        })
    }

    /// **Durability: when it returns `Ok`, the removal is committed.**
    fn remove_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.pool.run(move |client| async move {
            client
                .execute("DELETE FROM checkpoints WHERE name = $1", &[&name])
                .await?;
            Ok(())
        })
    }

    fn checkpoint_names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let prefix = prefix.to_owned();
        self.pool.run(move |client| async move {
            let rows = client
                .query(
                    "SELECT name FROM checkpoints WHERE starts_with(name, $1) \
                     ORDER BY name COLLATE \"C\"",
                    &[&prefix],
                )
                .await?;
            Ok(rows.iter().map(|row| row.get(0)).collect())
        })
    }

    /// Overwrites (or inserts) the event at `position` without any check: tests and
    /// drills only. **Durability: committed when it returns `Ok`.**
    fn tamper(&self, position: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let bytes = bytes.to_vec();
        self.pool.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO log_events (position, bytes) VALUES ($1, $2) \
                     ON CONFLICT (position) DO UPDATE SET bytes = EXCLUDED.bytes",
                    &[&pos(position), &bytes],
                )
                .await?;
            Ok(())
        })
    }
}

impl PostgresLog {
    /// Up to [`SCAN_CHUNK`] events of `from..=to`, in order.
    fn scan_chunk(&self, from: u64, to: u64) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        self.pool.run(move |client| async move {
            let query = "SELECT position, bytes FROM log_events \
                         WHERE position >= $1 AND position <= $2 ORDER BY position LIMIT $3";
            let statement = client.prepare_cached(query).await?;
            let rows = client
                .query(&statement, &[&pos(from), &pos(to), &SCAN_CHUNK])
                .await?;
            Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
        })
    }
}
