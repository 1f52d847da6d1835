//! A purge's key destruction on a frozen disk: the syncer destroys a purged user's key
//! after the group is durable and before anyone is answered, so a destruction that
//! never returns is a storage call like the others — within the patience, or a stall.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use offboard::domain::Command;
use offboard::engine::Options;
use offboard::privacy::remnants::KeyRemnants;
use offboard::privacy::shelf::{ShelfContents, Shelved};
use offboard::privacy::{Key, KeyShelf, KeyVault, MemoryShelf};
use offboard::store::{LogStore, MemoryLog, StoreError};
use offboard::{clock::SystemClock, CommandMeta, Engine};
use offboard_events::{Actor, UserId};

/// A memory shelf whose key destruction waits while `stuck` is set: a frozen
/// filesystem under the key file's overwrite and `fsync`.
#[derive(Debug, Default)]
struct StuckShelf {
    inner: MemoryShelf,
    stuck: Arc<AtomicBool>,
}

impl KeyShelf for StuckShelf {
    fn load(&self) -> Result<ShelfContents, StoreError> {
        self.inner.load()
    }
    fn stored_user_key(&self, user: UserId) -> Result<Option<Shelved>, StoreError> {
        self.inner.stored_user_key(user)
    }
    fn put_user_key(&self, user: UserId, key: Key) -> Result<(), StoreError> {
        self.inner.put_user_key(user, key)
    }
    fn sync(&self, keys: &[(UserId, Key)]) -> Result<(), StoreError> {
        self.inner.sync(keys)
    }
    fn destroy_user_key(&self, user: UserId) -> Result<(), StoreError> {
        while self.stuck.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.inner.destroy_user_key(user)
    }
    fn write_withheld(&self, users: &BTreeSet<UserId>) -> Result<(), StoreError> {
        self.inner.write_withheld(users)
    }
    fn put_next_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
        self.inner.put_next_checkpoint_key(key)
    }
    fn install_checkpoint_key(&self, key: Key) -> Result<(), StoreError> {
        self.inner.install_checkpoint_key(key)
    }
    fn place(&self, user: UserId) -> String {
        self.inner.place(user)
    }
    fn remnants(&self, at: DateTime<Utc>) -> KeyRemnants {
        self.inner.remnants(at)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_destruction_that_never_returns_hangs_neither_the_purge_nor_reads_nor_shutdown() {
    let stuck = Arc::new(AtomicBool::new(false));
    let shelf = StuckShelf {
        stuck: Arc::clone(&stuck),
        ..StuckShelf::default()
    };
    let vault = Arc::new(KeyVault::on_shelf(Box::new(shelf)).unwrap());
    let options = Options {
        storage_patience: Duration::from_millis(300),
        ..Options::default()
    };
    let log = Arc::new(MemoryLog::default());
    let store: Arc<dyn LogStore> = Arc::clone(&log) as Arc<dyn LogStore>;
    let engine = Arc::new(
        Engine::with_options(store, Arc::clone(&vault), Arc::new(SystemClock), options).unwrap(),
    );
    // Given a deleted user, and a disk that freezes under her key file
    let (org, owner, zelda) = super::privacy::org_with_zelda(&engine).await;
    let written = engine.last_position();
    stuck.store(true, Ordering::SeqCst);
    // When the owner purges her
    let started = Instant::now();
    let purge = {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move {
            let meta = CommandMeta::new(org, Actor::User { id: owner });
            let purge = Command::PurgeUser {
                user: zelda,
                confirm: "CONFIRM".into(),
            };
            engine.execute(meta, purge).await
        })
    };
    // Then the purge is answered within the patience: durable in the log, but whether
    // her key file is gone is not known, so not `ok`
    let answer = tokio::time::timeout(Duration::from_secs(5), purge)
        .await
        .expect("the purge hung")
        .unwrap();
    assert_eq!(answer.unwrap_err().code(), "outcome_unknown");
    assert!(started.elapsed() < Duration::from_secs(3));
    // And her key has left memory all the same: nothing reads her data any more
    assert_eq!(vault.user_key(zelda), None);
    // And the purge is in the log; reads answer with what the engine knows durable
    // (the purge once the engine reopens), writes are refused as after any stall
    assert!(log.head().unwrap().last_position > written);
    let reader = {
        let engine = Arc::clone(&engine);
        tokio::task::spawn_blocking(move || engine.state().position())
    };
    let position = tokio::time::timeout(Duration::from_secs(2), reader)
        .await
        .expect("a read hung")
        .unwrap();
    assert_eq!(position, written);
    assert_eq!(engine.refusal().unwrap().code, "unavailable");
    // And shutting down finishes although the syncer is still stuck
    super::support::shut_down_in_time(engine).await;
    stuck.store(false, Ordering::SeqCst);
}
