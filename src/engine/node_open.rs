//! Opening one `serve` node on PostgreSQL (`node.rs`): it leads if it takes the writer
//! lock at once, else it follows; either way its projections are current when it opens.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::contact::StoreContact;
use super::node::{Follower, Node};
use super::replay::ReadError;
use super::role::Role;
use super::{checkpoint, Engine, Opening, Options};
use crate::clock::SystemClock;
use crate::privacy::key_settings::KeySettings;
use crate::store::postgres::{leader_address, schema, Candidate, WriterLock};
use crate::store::{LogStore, PgPool, PostgresLog, StoreError};

/// Longest a node that found the lock taken waits for the holder to create or upgrade
/// the schema.
const SCHEMA_PATIENCE: Duration = Duration::from_secs(30);

/// Longest a following node waits for the leader to publish a URL other than this node's
/// own `--advertise` (a leader publishes once it has read the log: seconds at most).
const PUBLISH_PATIENCE: Duration = Duration::from_secs(10);

impl Engine {
    /// [`Engine::open_node`] on the database at `url`: the leader if this node takes the
    /// writer lock now, else a follower (see `node.rs`), its projections read to the
    /// log's end before it returns. The KEK comes from `keys`, else `local/offboard.kek`
    /// (created only by the node that creates the store).
    pub(super) fn open_postgres_node(
        url: &str,
        local: &Path,
        keys: &KeySettings,
        options: Options,
        advertise: &str,
    ) -> Result<Self, ReadError> {
        let pool = PgPool::connect(url)?;
        let lock = first_ask(&pool)?;
        if lock.is_none() {
            refuse_the_leaders_address(&pool, advertise)?;
        }
        let log = PostgresLog::open_for_node(pool.clone(), lock.as_ref())?;
        // Only the node that leads a new store creates its KEK.
        let vault = keys.pg_vault(&pool, local, lock.is_some())?;
        vault.follow(lock.is_none());
        let store: Arc<dyn LogStore> = Arc::new(log);
        let loaded = checkpoint::load(store.as_ref(), &vault)?;
        let (parts, recovery) = Self::recover(
            store,
            Arc::new(vault),
            Arc::new(SystemClock),
            options,
            loaded,
            Opening::Checked,
        )?;
        let role = Arc::new(watch::Sender::new(Role::Follower {
            leader: None,
            lag: 0,
        }));
        let mut follower = Follower {
            applied: *parts.committed.borrow(),
            parts: parts.clone(),
            role: Arc::clone(&role),
            pool,
            advertise: advertise.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            reload_keys: false,
            contact: Arc::new(StoreContact::new()),
        };
        match &lock {
            Some(held) => follower.promote(held)?,
            None => follower.catch_up()?,
        }
        let mut engine = Self::assemble(parts, recovery, role);
        engine.contact = Some(Arc::clone(&follower.contact));
        *engine.node.get_mut().unwrap_or_else(|p| p.into_inner()) =
            Some(Node::start(follower, lock)?);
        Ok(engine)
    }
}

/// Takes the writer lock if it is free (`Some`); else waits until the node holding it has
/// brought the schema up to this build's (`None`: follow).
fn first_ask(pool: &PgPool) -> Result<Option<WriterLock>, StoreError> {
    let started = Instant::now();
    let mut candidate = Candidate::open(pool)?;
    loop {
        match WriterLock::try_take(candidate)? {
            Ok(lock) => return Ok(Some(lock)),
            Err(back) => candidate = back,
        }
        if schema::is_current(pool)? {
            return Ok(None);
        }
        if started.elapsed() >= SCHEMA_PATIENCE {
            return Err(StoreError::Io(format!(
                "PostgreSQL at {}: another node holds the writer lock, and the schema is not this build's after {} s (is an older offboard leading?)",
                pool.target(),
                SCHEMA_PATIENCE.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A node that follows must not advertise the URL the node leading now published: the
/// followers' forwarded commands would reach whichever of the two answers there (a
/// newcomer's copy-paste slip left every write refused `not_leader`, silently). The
/// published URL may still be this node's own from before a restart while a new leader
/// reads the log before publishing its own, so it must stay for [`PUBLISH_PATIENCE`].
///
/// Errors: `advertise_taken`.
fn refuse_the_leaders_address(pool: &PgPool, advertise: &str) -> Result<(), StoreError> {
    let started = Instant::now();
    loop {
        match leader_address(pool)? {
            Some(address) if address == advertise => {
                if started.elapsed() >= PUBLISH_PATIENCE {
                    return Err(StoreError::AdvertiseTaken {
                        target: pool.target().to_string(),
                        address,
                    });
                }
            }
            _ => return Ok(()),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
