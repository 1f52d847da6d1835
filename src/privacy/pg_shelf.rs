//! Keys in PostgreSQL, beside the log (tables in `store/postgres/migrations/V2__keys.sql`):
//! `user_keys` (user id → wrapped key), `checkpoint_keys` (`current`, `next`),
//! `withheld_keys`, and `key_meta` naming the KEK by its id.
//!
//! Every key is wrapped by the [`Kek`] kept on the nodes, bound to its slot, so the
//! database alone (a dump, a replica, a backup) reads no personal data. A purge DELETEs
//! the user's row; PostgreSQL keeps the deleted row in its WAL, on replicas and in base
//! backups until those expire, and the purge answer says so ([`KeyRemnants`]).
//!
//! Faults: a KEK whose id is not the stored one is `kek_wrong`
//! (nothing is loaded, so nothing reads as purged); a row that does not unwrap under the
//! right KEK (altered, or copied from another user) is that user's damaged key.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use offboard_events::UserId;
use uuid::Uuid;

use super::kek::Kek;
use super::key::Key;
use super::remnants::{BackupRetention, KeyRemnants};
use super::shelf::{KeyShelf, ShelfContents, Shelved};
use crate::store::postgres::{PgError, PgPool};
use crate::store::StoreError;

const CURRENT: &str = "current";
const NEXT: &str = "next";

/// The associated data a record's key is wrapped with: a row copied onto another record
/// does not unwrap there.
pub(crate) fn record_slot(name: &str) -> String {
    format!("record:{name}")
}

/// The key in record `name` as stored: wrapped by `kek`, or its raw 32 bytes (stored by a
/// build before the record was wrapped, or copied from a data directory; the caller
/// stores it wrapped from then on).
pub(crate) fn unwrap_record_key(kek: &Kek, name: &str, stored: &[u8]) -> Result<Key, String> {
    if stored.len() == 32 {
        return super::shelf::raw_key(stored);
    }
    kek.unwrap(&record_slot(name), stored)
}

/// The associated data of a checkpoint key's slot.
pub(crate) fn checkpoint_slot(slot: &str) -> String {
    format!("offboard checkpoint key {slot}")
}

/// The key tables of one database, read and written under one KEK.
#[derive(Debug)]
pub struct PgShelf {
    pool: PgPool,
    kek: Kek,
    retention: Option<BackupRetention>,
}

impl PgShelf {
    /// The shelf on `pool` (whose schema is migrated), its keys wrapped by `kek`. The
    /// first open records the KEK's id; later opens refuse another KEK. **Durability:
    /// when it returns `Ok`, the KEK's id is committed.**
    ///
    /// Errors: `kek_wrong` (naming both ids) when `kek` is not the store's; `storage`
    /// or `store_unreachable` from the database.
    pub fn open(
        pool: PgPool,
        kek: Kek,
        retention: Option<BackupRetention>,
    ) -> Result<Self, StoreError> {
        let given = kek.id();
        let stored = pool.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO key_meta (only_row, kek_id) VALUES (true, $1) \
                     ON CONFLICT (only_row) DO NOTHING",
                    &[&given],
                )
                .await?;
            let row = client.query_one("SELECT kek_id FROM key_meta", &[]).await?;
            Ok(row.get::<_, String>(0))
        })?;
        kek.check_id(&stored)?;
        Ok(Self {
            pool,
            kek,
            retention,
        })
    }

    /// Whether no KEK was ever recorded for the store on `pool` (a new store).
    pub fn is_new(pool: &PgPool) -> Result<bool, StoreError> {
        pool.run(|client| async move {
            let row = client.query_opt("SELECT kek_id FROM key_meta", &[]).await?;
            Ok(row.is_none())
        })
    }

    fn unwrap_checkpoint(&self, slot: &str, wrapped: Option<&Vec<u8>>) -> Option<Key> {
        let wrapped = wrapped?;
        match self.kek.unwrap(&checkpoint_slot(slot), wrapped) {
            Ok(key) => Some(key),
            Err(problem) => {
                // As an unusable checkpoint key file: the checkpoint is rebuilt from the log.
                tracing::warn!("offboard: the {slot} checkpoint key is unusable ({problem}); the checkpoint will be rebuilt from the log");
                None
            }
        }
    }

    fn upsert_checkpoint(&self, slot: &'static str, key: Key) -> Result<(), StoreError> {
        let wrapped = self.kek.wrap(&checkpoint_slot(slot), &key);
        self.pool.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO checkpoint_keys (slot, wrapped) VALUES ($1, $2) \
                     ON CONFLICT (slot) DO UPDATE SET wrapped = EXCLUDED.wrapped",
                    &[&slot, &wrapped],
                )
                .await?;
            Ok(())
        })
    }
}

/// Every row of the key tables, still wrapped.
#[derive(Debug, Default)]
struct Rows {
    /// The KEK the rows are wrapped with, as `key_meta` names it.
    kek_id: Option<String>,
    users: Vec<(Uuid, Vec<u8>)>,
    withheld: Vec<Uuid>,
    checkpoints: HashMap<String, Vec<u8>>,
}

/// Every key row, read in one transaction with the store's KEK id, so a rotation
/// (`kek_rotation`) is seen whole or not at all.
async fn read_rows(mut client: deadpool_postgres::Object) -> Result<Rows, PgError> {
    let client = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let kek_id: Option<String> = client
        .query_opt("SELECT kek_id FROM key_meta", &[])
        .await?
        .map(|r| r.get(0));
    let users = client
        .query("SELECT user_id, wrapped FROM user_keys", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let withheld = client
        .query("SELECT user_id FROM withheld_keys", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let checkpoints = client
        .query("SELECT slot, wrapped FROM checkpoint_keys", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    client.commit().await?;
    Ok(Rows {
        kek_id,
        users,
        withheld,
        checkpoints,
    })
}

impl KeyShelf for PgShelf {
    fn wrap_record_key(&self, name: &str, key: &Key) -> Vec<u8> {
        self.kek.wrap(&record_slot(name), key)
    }

    fn unwrap_record_key(&self, name: &str, stored: &[u8]) -> Result<Key, String> {
        unwrap_record_key(&self.kek, name, stored)
    }

    /// Every key, after checking that they are still wrapped by this shelf's KEK: a
    /// `kek rotate` since this node opened makes every later load `kek_wrong` (a node
    /// about to lead then refuses to, rather than store new keys under the old KEK).
    fn load(&self) -> Result<ShelfContents, StoreError> {
        let rows = self.pool.run(read_rows)?;
        if let Some(stored) = &rows.kek_id {
            self.kek.check_id(stored)?;
        }
        let users = rows
            .users
            .into_iter()
            .map(|(id, wrapped)| {
                let user = UserId(id);
                let shelved = match self.kek.unwrap_user_key(user, &wrapped) {
                    Ok(key) => Shelved::Key(key),
                    Err(problem) => Shelved::Damaged(problem),
                };
                (user, shelved)
            })
            .collect();
        Ok(ShelfContents {
            users,
            withheld: rows.withheld.into_iter().map(UserId).collect(),
            checkpoint: self.unwrap_checkpoint(CURRENT, rows.checkpoints.get(CURRENT)),
            checkpoint_next: self.unwrap_checkpoint(NEXT, rows.checkpoints.get(NEXT)),
        })
    }

    fn stored_user_key(&self, user: UserId) -> Result<Option<Shelved>, StoreError> {
        let wrapped: Option<Vec<u8>> = self.pool.run(move |client| async move {
            let row = client
                .query_opt(
                    "SELECT wrapped FROM user_keys WHERE user_id = $1",
                    &[&user.0],
                )
                .await?;
            Ok(row.map(|r| r.get(0)))
        })?;
        Ok(wrapped.map(|w| match self.kek.unwrap_user_key(user, &w) {
            Ok(key) => Shelved::Key(key),
            Err(problem) => Shelved::Damaged(problem),
        }))
    }

    fn stored_user_keys(&self, users: &[UserId]) -> Result<Vec<Option<Shelved>>, StoreError> {
        let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
        let rows: HashMap<Uuid, Vec<u8>> = self.pool.run(move |client| async move {
            let rows = client
                .query(
                    "SELECT user_id, wrapped FROM user_keys WHERE user_id = ANY($1)",
                    &[&ids],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        Ok(users
            .iter()
            .map(|user| {
                rows.get(&user.0)
                    .map(|w| match self.kek.unwrap_user_key(*user, w) {
                        Ok(key) => Shelved::Key(key),
                        Err(problem) => Shelved::Damaged(problem),
                    })
            })
            .collect())
    }

    /// Nothing is written yet: [`KeyShelf::sync`] inserts the group's keys in one
    /// transaction.
    fn put_user_key(&self, _user: UserId, _key: Key) -> Result<(), StoreError> {
        Ok(())
    }

    /// One transaction inserting every row of `keys`. A row already there is replaced
    /// only when it holds this very key or is damaged (an import repairing it); one
    /// holding another usable key was stored by another writer (a node that took over
    /// and ran the same retried command) and is never replaced: the sync fails, nothing
    /// of it is committed. **Durability: when it returns `Ok`, the transaction is
    /// committed with `synchronous_commit=on` (on the server's WAL, and on a synchronous
    /// standby if it has one).**
    fn sync(&self, keys: &[(UserId, Key)]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = keys.iter().map(|(u, _)| u.0).collect();
        let wrapped: Vec<Vec<u8>> = keys
            .iter()
            .map(|(u, k)| self.kek.wrap_user_key(*u, k))
            .collect();
        let kek = self.kek.clone();
        let ours: HashMap<Uuid, Key> = keys.iter().map(|(u, k)| (u.0, *k)).collect();
        self.pool.run(move |mut client| async move {
            let tx = client.transaction().await?;
            let inserted: BTreeSet<Uuid> = tx
                .query(
                    "INSERT INTO user_keys (user_id, wrapped) \
                     SELECT * FROM UNNEST($1::uuid[], $2::bytea[]) \
                     ON CONFLICT (user_id) DO NOTHING RETURNING user_id",
                    &[&ids, &wrapped],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for (id, row) in ids.iter().zip(&wrapped) {
                if inserted.contains(id) {
                    continue;
                }
                let stored: Vec<u8> = tx
                    .query_one(
                        "SELECT wrapped FROM user_keys WHERE user_id = $1 FOR UPDATE",
                        &[id],
                    )
                    .await?
                    .get(0);
                match kek.unwrap_user_key(UserId(*id), &stored) {
                    Ok(key) if Some(&key) == ours.get(id) => {}
                    Ok(_) => {
                        return Err(PgError::Store(StoreError::Io(format!(
                            "the key of user {id} was stored by another writer meanwhile (this node no longer leads?): nothing of this group was written"
                        ))))
                    }
                    Err(_) => {
                        tx.execute(
                            "UPDATE user_keys SET wrapped = $2 WHERE user_id = $1",
                            &[id, row],
                        )
                        .await?;
                    }
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// `DELETE` of the user's row. **Durability: when it returns `Ok`, the deletion is
    /// committed; the old row may remain in WAL, replicas and backups until they expire.**
    fn destroy_user_key(&self, user: UserId) -> Result<(), StoreError> {
        self.pool.run(move |client| async move {
            client
                .execute("DELETE FROM user_keys WHERE user_id = $1", &[&user.0])
                .await?;
            Ok(())
        })
    }

    /// One statement for all of them. **Durability: committed when it returns `Ok`.**
    fn remove_unused_user_keys(&self, users: &[UserId]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
        self.pool.run(move |client| async move {
            client
                .execute("DELETE FROM user_keys WHERE user_id = ANY($1)", &[&ids])
                .await?;
            Ok(())
        })
    }

    /// One transaction replacing the whole list. **Durability: committed when it
    /// returns `Ok`.**
    fn write_withheld(&self, users: &BTreeSet<UserId>) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
        self.pool.run(move |mut client| async move {
            let tx = client.transaction().await?;
            tx.execute("DELETE FROM withheld_keys", &[]).await?;
            tx.execute(
                "INSERT INTO withheld_keys (user_id) SELECT * FROM UNNEST($1::uuid[])",
                &[&ids],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// **Durability: the `next` row is committed when it returns `Ok`.**
    fn put_next_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
        self.upsert_checkpoint(NEXT, key)
    }

    /// One transaction: `current` becomes `key`, `next` is deleted. **Durability:
    /// committed when it returns `Ok`.**
    fn install_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
        let wrapped = self.kek.wrap(&checkpoint_slot(CURRENT), &key);
        self.pool.run(move |mut client| async move {
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO checkpoint_keys (slot, wrapped) VALUES ($1, $2) \
                 ON CONFLICT (slot) DO UPDATE SET wrapped = EXCLUDED.wrapped",
                &[&CURRENT, &wrapped],
            )
            .await?;
            tx.execute("DELETE FROM checkpoint_keys WHERE slot = $1", &[&NEXT])
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn place(&self, user: UserId) -> String {
        format!("row {user} of user_keys in {}", self.pool.target())
    }

    fn remnants(&self, at: DateTime<Utc>) -> KeyRemnants {
        KeyRemnants::after(
            "postgres",
            "The key's row was deleted from user_keys and the deletion committed; the key \
             was only ever stored wrapped by the key-encryption key kept on the nodes.",
            "PostgreSQL's WAL (and its archive), replicas and backups taken before the purge \
             may still hold the wrapped key, readable with the KEK,",
            self.retention.as_ref(),
            at,
        )
    }
}
