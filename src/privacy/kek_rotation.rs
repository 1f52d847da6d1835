//! `offboard kek rotate`: every key a store on PostgreSQL keeps wrapped — each user's key,
//! the checkpoint keys, the webhook secrets' sealing key — unwrapped by the current KEK
//! and wrapped again by a new one, and the store's KEK id moved, in ONE transaction: a
//! crash or a failure leaves every row under the old KEK, never some under each.
//!
//! It runs with the writer lock held (`store_in_use` while any `serve` node or command
//! has the store open): a node running on with the old KEK would wrap new users' keys
//! under it. A row the current KEK does not open refuses the rotation (`key_damaged`,
//! naming it): rewrapping can only carry over what is readable, and dropping a key would
//! read as a purge.

use offboard_events::UserId;
use uuid::Uuid;

use super::kek::Kek;
use super::pg_shelf::{checkpoint_slot, record_slot, unwrap_record_key};
use crate::store::postgres::{PgError, PgPool, WriterLock};
use crate::store::{SideFileError, StoreError};
use crate::webhooks::secret::KEY_RECORD;

/// User keys rewrapped per statement: bounds one statement's parameters (~1 MB).
const UPDATE_CHUNK: usize = 10_000;

/// What a rotation rewrapped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rotated {
    /// The id of the KEK the keys were under.
    pub from: String,
    /// The id of the KEK they are under now.
    pub to: String,
    /// User keys rewrapped.
    pub user_keys: u64,
    /// Checkpoint keys rewrapped (`current`, and `next` if a save was interrupted).
    pub checkpoint_keys: u64,
    /// Other records holding a key (the webhook secrets' sealing key), rewrapped.
    pub records: u64,
}

/// Rewraps every key of the store on `pool` from `old` (which must be the store's KEK:
/// `kek_wrong` otherwise) to `new`. **Durability: when it returns `Ok`, every row and the
/// new KEK id are committed; on `Err` nothing changed.**
///
/// Errors: `store_in_use` (a node or command holds the writer lock), `kek_wrong`,
/// `key_damaged` (a row `old` does not open; nothing is rewrapped), `storage`.
pub fn rotate(pool: &PgPool, old: &Kek, new: &Kek) -> Result<Rotated, StoreError> {
    let _lock = WriterLock::acquire(pool)?;
    let (old, new) = (old.clone(), new.clone());
    pool.run(move |mut client| async move {
        let tx = client.transaction().await?;
        let stored: String = tx
            .query_one("SELECT kek_id FROM key_meta FOR UPDATE", &[])
            .await?
            .get(0);
        old.check_id(&stored).map_err(StoreError::from)?;
        let mut done = Rotated {
            from: old.id(),
            to: new.id(),
            user_keys: 0,
            checkpoint_keys: 0,
            records: 0,
        };
        let (mut ids, mut rewrapped) = (Vec::new(), Vec::new());
        for row in tx.query("SELECT user_id, wrapped FROM user_keys", &[]).await? {
            let (id, wrapped): (Uuid, Vec<u8>) = (row.get(0), row.get(1));
            let user = UserId(id);
            let key = old
                .unwrap_user_key(user, &wrapped)
                .map_err(|problem| damaged(user, "user_keys", problem))?;
            ids.push(id);
            rewrapped.push(new.wrap_user_key(user, &key));
        }
        // A statement per chunk, not per row: 75,000 one-row UPDATEs took 12 s.
        for (ids, rewrapped) in ids.chunks(UPDATE_CHUNK).zip(rewrapped.chunks(UPDATE_CHUNK)) {
            tx.execute(
                "UPDATE user_keys AS k SET wrapped = v.wrapped \
                 FROM UNNEST($1::uuid[], $2::bytea[]) AS v(user_id, wrapped) \
                 WHERE k.user_id = v.user_id",
                &[&ids, &rewrapped],
            )
            .await?;
        }
        done.user_keys = ids.len() as u64;
        for row in tx.query("SELECT slot, wrapped FROM checkpoint_keys", &[]).await? {
            let (slot, wrapped): (String, Vec<u8>) = (row.get(0), row.get(1));
            // An unusable checkpoint key only costs a rebuild from the log (as at open):
            // it is dropped, not carried over, and said.
            match old.unwrap(&checkpoint_slot(&slot), &wrapped) {
                Ok(key) => {
                    let rewrapped = new.wrap(&checkpoint_slot(&slot), &key);
                    tx.execute(
                        "UPDATE checkpoint_keys SET wrapped = $2 WHERE slot = $1",
                        &[&slot, &rewrapped],
                    )
                    .await?;
                    done.checkpoint_keys += 1;
                }
                Err(problem) => {
                    tracing::warn!("offboard: the {slot} checkpoint key does not open ({problem}); dropped, the checkpoint will be rebuilt from the log");
                    tx.execute("DELETE FROM checkpoint_keys WHERE slot = $1", &[&slot])
                        .await?;
                }
            }
        }
        if let Some(row) = tx
            .query_opt("SELECT bytes FROM checkpoints WHERE name = $1", &[&KEY_RECORD])
            .await?
        {
            let stored: Vec<u8> = row.get(0);
            let key = unwrap_record_key(&old, KEY_RECORD, &stored).map_err(|why| {
                StoreError::Io(format!(
                    "the record {KEY_RECORD} does not open under the current KEK ({why}); nothing was rewrapped"
                ))
            })?;
            tx.execute(
                "UPDATE checkpoints SET bytes = $2 WHERE name = $1",
                &[&KEY_RECORD, &new.wrap(&record_slot(KEY_RECORD), &key)],
            )
            .await?;
            done.records += 1;
        }
        tx.execute("UPDATE key_meta SET kek_id = $1", &[&done.to])
            .await?;
        tx.commit().await?;
        Ok(done)
    })
}

fn damaged(user: UserId, table: &str, problem: String) -> PgError {
    PgError::Store(StoreError::SideFile(SideFileError::KeyDamaged {
        user,
        who: user.to_string(),
        file: format!("{table} row {user}"),
        problem: format!("{problem}; nothing was rewrapped"),
    }))
}
