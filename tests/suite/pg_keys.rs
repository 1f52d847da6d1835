//! Issue 21 §1, personal-data keys on PostgreSQL: each user's key is a row wrapped by a
//! key-encryption key kept outside the database; a purge deletes the row and says for
//! how long backups may keep it; a wrong KEK is its own fault, never a purge; a row
//! copied onto another user's is that user's damaged key. Skipped (saying so) where
//! PostgreSQL is not installed, unless OFFBOARD_REQUIRE_POSTGRES=1.

use std::path::Path;

use offboard::domain::Command;
use offboard::engine::Options;
use offboard::privacy::kek::Kek;
use offboard::privacy::key_settings::KeySettings;
use offboard::privacy::remnants::BackupRetention;
use offboard::store::PgPool;
use offboard::{CommandMeta, Engine, ReadError};
use offboard_events::*;
use uuid::Uuid;

use super::privacy::{org_with_zelda, EMAIL};
use super::stores::Place;

/// Settings naming the KEK file `kek` and a 30-day backup retention.
fn settings(kek: &Path) -> KeySettings {
    KeySettings {
        kek_file: Some(kek.to_path_buf()),
        backup_retention: Some(BackupRetention::parse("30d").unwrap()),
    }
}

fn open(place: &Place, keys: &KeySettings) -> Result<Engine, ReadError> {
    Engine::open_at_keyed(&place.location, Options::default(), keys)
}

/// The rows of `user_keys`, by user.
fn key_rows(url: &str) -> Vec<(Uuid, Vec<u8>)> {
    let pool = PgPool::connect(url).unwrap();
    pool.run(|client| async move {
        let rows = client
            .query(
                "SELECT user_id, wrapped FROM user_keys ORDER BY user_id",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    })
    .unwrap()
}

fn sql(url: &str, statement: &str) {
    let pool = PgPool::connect(url).unwrap();
    let statement = statement.to_owned();
    pool.run(move |client| async move {
        client.batch_execute(&statement).await?;
        Ok(())
    })
    .unwrap();
}

/// A PostgreSQL place with a KEK file beside it, or `None` without PostgreSQL.
/// Overwrites `onto`'s wrapped key with `from`'s, as a hand edit of the table would.
fn copy_key_row(url: &str, from: UserId, onto: UserId) {
    sql(
        url,
        &format!(
            "UPDATE user_keys SET wrapped = (SELECT wrapped FROM user_keys WHERE user_id = '{}') \
             WHERE user_id = '{}'",
            from.0, onto.0
        ),
    );
}

fn place_with_kek() -> Option<(Place, KeySettings)> {
    let place = Place::postgres()?;
    let kek = place.dir.path().join("node.kek");
    Kek::create_file(&kek).unwrap();
    let keys = settings(&kek);
    Some((place, keys))
}

/// A store on PostgreSQL (with a KEK) where the privacy org's owner invited Zelda, the
/// engine still open; `None` where PostgreSQL is not installed.
async fn zelda_on_postgres() -> Option<(Place, KeySettings, Engine, (OrgId, UserId, UserId))> {
    let (place, keys) = place_with_kek()?;
    let engine = open(&place, &keys).unwrap();
    let org = org_with_zelda(&engine).await;
    Some((place, keys, engine, org))
}

#[tokio::test]
async fn a_purge_on_postgres_deletes_the_wrapped_key_row_and_names_the_backup_window() {
    let Some((place, keys, engine, (org, owner, zelda))) = zelda_on_postgres().await else {
        return;
    };
    let url = place.url().unwrap().to_owned();
    // Given Zelda, deleted, with sealed personal data on a PostgreSQL store
    let key = engine.vault().user_key(zelda).unwrap();
    let rows = key_rows(&url);
    let row = rows
        .iter()
        .find(|(u, _)| *u == zelda.0)
        .expect("zelda's row");
    assert_eq!(rows.len(), 2, "the owner's and Zelda's keys");
    // Stored wrapped: it opens with the KEK, bound to Zelda
    let kek = Kek::from_file(keys.kek_file.as_deref().unwrap()).unwrap();
    assert_eq!(kek.unwrap_user_key(zelda, &row.1), Ok(key));
    assert!(kek.unwrap_user_key(owner, &row.1).is_err());
    // When she (deleted) is purged
    let as_owner = || CommandMeta::new(org, Actor::User { id: owner });
    let purge = Command::PurgeUser {
        user: zelda,
        confirm: "CONFIRM".into(),
    };
    engine.execute(as_owner(), purge).await.unwrap();
    // Then her row is gone at once, the owner's stays
    let rows = key_rows(&url);
    assert_eq!(rows.len(), 1);
    assert!(rows.iter().all(|(u, _)| *u != zelda.0));
    // And the purge's answer names what may still hold the key, and until when
    let remnants = engine.key_remnants();
    assert_eq!(remnants.store, "postgres");
    assert_eq!(remnants.backup_retention.as_deref(), Some("30d"));
    assert!(remnants.may_exist_until.is_some());
    assert!(remnants.statement.contains("WAL"), "{}", remnants.statement);
    assert!(remnants.statement.contains("30d"), "{}", remnants.statement);
    drop(engine);
    // And after reopening, her profile reads erased and the log still verifies
    let engine = open(&place, &keys).unwrap();
    engine.verify(&mut |_| {}).unwrap();
    let user = engine
        .state()
        .org(org)
        .unwrap()
        .directory()
        .user(zelda)
        .unwrap()
        .clone();
    assert_eq!(user.status, UserStatus::Purged);
    assert_eq!(user.profile.email, "erased");
    // And no event in the database holds her email in plaintext
    let mut plaintext = 0;
    engine
        .store()
        .scan(1, u64::MAX, &mut |_, bytes| {
            plaintext += usize::from(String::from_utf8_lossy(bytes).contains(EMAIL));
            true
        })
        .unwrap();
    assert_eq!(plaintext, 0);
}

#[tokio::test]
async fn a_wrong_or_absent_kek_is_refused_with_its_code_and_reads_nobody_as_erased() {
    let Some((place, keys, engine, (org, _, zelda))) = zelda_on_postgres().await else {
        return;
    };
    // Given a store whose keys are wrapped under one KEK
    drop(engine);
    // When it is reopened with another KEK
    let other = place.dir.path().join("other.kek");
    Kek::create_file(&other).unwrap();
    let err = open(&place, &settings(&other)).unwrap_err();
    // Then it is refused as kek_wrong, naming both KEKs by id, not as a damaged log
    assert_eq!(err.code(), "kek_wrong", "{err}");
    let expected = Kek::from_file(&keys.kek_file.clone().unwrap())
        .unwrap()
        .id();
    assert!(err.to_string().contains(&expected), "{err}");
    // And with none at all it is kek_missing
    let none = KeySettings::default();
    let err = open(&place, &none).unwrap_err();
    assert_eq!(err.code(), "kek_missing", "{err}");
    // And with the right one again, Zelda reads as herself: nothing was erased
    let engine = open(&place, &keys).unwrap();
    let user = engine
        .state()
        .org(org)
        .unwrap()
        .directory()
        .user(zelda)
        .unwrap()
        .clone();
    assert_eq!(user.profile.email, EMAIL);
}

#[tokio::test]
async fn a_key_row_copied_onto_another_user_is_that_users_damaged_key() {
    let Some((place, keys, engine, (_, owner, zelda))) = zelda_on_postgres().await else {
        return;
    };
    let url = place.url().unwrap().to_owned();
    // Given the owner's and Zelda's keys
    drop(engine);
    // When Zelda's row is overwritten with the owner's wrapped key
    copy_key_row(&url, owner, zelda);
    // Then opening refuses with key_damaged naming Zelda and the row, never a purge
    let err = open(&place, &keys).unwrap_err();
    assert_eq!(err.code(), "key_damaged", "{err}");
    let message = err.to_string();
    assert!(message.contains(&zelda.to_string()), "{message}");
    assert!(message.contains("user_keys"), "{message}");
    assert!(message.contains("another row"), "{message}");
}

#[test]
fn a_new_store_without_a_kek_setting_gets_one_in_its_local_directory() {
    let Some(place) = Place::postgres() else {
        return;
    };
    // Given no KEK setting, When a new store is opened
    let engine = open(&place, &KeySettings::default()).unwrap();
    drop(engine);
    // Then its KEK is a private file in the local directory, used again at reopen
    let kek = place.dir.path().join("offboard.kek");
    assert_eq!(std::fs::read(&kek).unwrap().len(), 32);
    open(&place, &KeySettings::default()).unwrap();
    // And naming it explicitly is the same KEK
    open(&place, &settings(&kek)).unwrap();
}

#[test]
fn the_key_sealing_webhook_secrets_is_wrapped_by_the_kek_on_postgres() {
    use offboard::webhooks::secret::{SealingKey, KEY_RECORD};
    let Some((place, keys)) = place_with_kek() else {
        return;
    };
    let engine = open(&place, &keys).unwrap();
    let store = engine.store().as_ref();
    // Given a record left raw (by a build before wrapping, or copied from sled)
    let raw = [7u8; 32];
    store.put_checkpoint(KEY_RECORD, &raw).unwrap();
    // When the sealing key is loaded
    let key = SealingKey::load_or_create(store, engine.vault()).unwrap();
    // Then the row now holds it wrapped, not as its 32 bytes, and it stays the key
    let sealed = key.seal("whsec_test");
    let stored = store.checkpoint(KEY_RECORD).unwrap().unwrap();
    assert_ne!(stored.len(), 32);
    assert!(!stored.windows(32).any(|w| w == raw));
    let again = SealingKey::load_or_create(store, engine.vault()).unwrap();
    assert_eq!(again.open(&sealed).as_deref(), Some("whsec_test"));
    // And only the store's KEK unwraps the row, bound to this record's name
    let kek = Kek::from_file(keys.kek_file.as_deref().unwrap()).unwrap();
    let slot = format!("record:{KEY_RECORD}");
    assert!(kek.unwrap(&slot, &stored).is_ok());
    assert!(kek.unwrap("record:elsewhere", &stored).is_err());
    let other = place.dir.path().join("other.kek");
    let other = Kek::create_file(&other).unwrap();
    assert!(other.unwrap(&slot, &stored).is_err());
}

#[tokio::test]
async fn a_stored_key_is_never_replaced_by_another_writers_key() {
    use base64::Engine as _;
    use offboard::privacy::pg_shelf::PgShelf;
    use offboard::privacy::KeyVault;
    let Some((place, keys, engine, (org, _, zelda))) = zelda_on_postgres().await else {
        return;
    };
    let url = place.url().unwrap().to_owned();
    // Given Zelda's key stored by the writer
    let before = key_rows(&url);
    drop(engine);
    // When another writer syncs a different key for her (a node that no longer leads,
    // running the same retried command)
    let pool = PgPool::connect(&url).unwrap();
    let kek = Kek::from_file(keys.kek_file.as_deref().unwrap()).unwrap();
    let vault = KeyVault::on_shelf(Box::new(PgShelf::open(pool, kek, None).unwrap())).unwrap();
    let other = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let refused = vault.import_user_key(zelda, &other).unwrap_err();
    // Then the sync fails, naming the other writer, and her row is as it was
    assert!(refused.to_string().contains("another writer"), "{refused}");
    assert_eq!(key_rows(&url), before);
    // And her profile still reads
    let engine = open(&place, &keys).unwrap();
    let state = engine.state();
    let user = state.org(org).unwrap().directory().user(zelda).unwrap();
    assert_eq!(user.profile.email, EMAIL);
}

#[tokio::test]
async fn a_vault_opened_before_a_kek_rotation_refuses_to_load_again() {
    use offboard::privacy::kek_rotation;
    use offboard::privacy::pg_shelf::PgShelf;
    use offboard::privacy::KeyVault;
    let Some((place, keys, engine, _)) = zelda_on_postgres().await else {
        return;
    };
    let url = place.url().unwrap().to_owned();
    // Given a store with keys, and a node's vault opened under its KEK
    drop(engine);
    let pool = PgPool::connect(&url).unwrap();
    let old = Kek::from_file(keys.kek_file.as_deref().unwrap()).unwrap();
    let vault = KeyVault::on_shelf(Box::new(
        PgShelf::open(pool.clone(), old.clone(), None).unwrap(),
    ))
    .unwrap();
    // When the store's keys are rotated to another KEK meanwhile
    let new = Kek::create_file(&place.dir.path().join("next.kek")).unwrap();
    let done = kek_rotation::rotate(&pool, &old, &new).unwrap();
    assert_eq!(done.user_keys, 2);
    // Then that vault refuses to load the keys again (a node about to lead would
    // otherwise store new keys under the old KEK): kek_wrong, naming both ids
    let refused = vault.reload().unwrap_err();
    assert_eq!(refused.code(), "kek_wrong", "{refused}");
    assert!(refused.to_string().contains(&new.id()), "{refused}");
}

#[tokio::test]
async fn verify_on_postgres_names_a_key_row_changed_or_deleted_under_a_running_engine() {
    let Some((place, _, engine, (_, owner, zelda))) = zelda_on_postgres().await else {
        return;
    };
    let url = place.url().unwrap().to_owned();
    // Given an engine with the owner's and Zelda's keys, which verifies
    engine.verify(&mut |_| {}).unwrap();
    // When Zelda's row is overwritten with the owner's wrapped key while it runs
    copy_key_row(&url, owner, zelda);
    // Then verify answers key_damaged naming Zelda, not the owner whose row it read first
    let err = engine.verify(&mut |_| {}).unwrap_err();
    assert_eq!(err.code(), "key_damaged", "{err}");
    assert!(err.to_string().contains(&zelda.to_string()), "{err}");
    assert!(!err.to_string().contains(&owner.to_string()), "{err}");
    // and once the row is gone, key_missing naming her.
    sql(
        &url,
        &format!("DELETE FROM user_keys WHERE user_id = '{}'", zelda.0),
    );
    let err = engine.verify(&mut |_| {}).unwrap_err();
    assert_eq!(err.code(), "key_missing", "{err}");
    assert!(err.to_string().contains(&zelda.to_string()), "{err}");
}

#[tokio::test]
async fn opening_removes_key_rows_of_users_no_event_names() {
    let Some((place, keys, engine, (_, owner, zelda))) = zelda_on_postgres().await else {
        return;
    };
    let url = place.url().unwrap().to_owned();
    // Given the owner's and Zelda's keys, and a row for a user no event names (what a
    // crash between an import's key sync and its events leaves)
    drop(engine);
    let stray = Uuid::new_v4();
    sql(
        &url,
        &format!(
            "INSERT INTO user_keys (user_id, wrapped) \
             SELECT '{stray}', wrapped FROM user_keys WHERE user_id = '{}'",
            owner.0
        ),
    );
    // When the store is opened by a writer
    let engine = open(&place, &keys).unwrap();
    // Then the stray row is gone and the others are kept, every profile readable
    let ids: Vec<Uuid> = key_rows(&url).into_iter().map(|(id, _)| id).collect();
    assert!(!ids.contains(&stray), "{ids:?}");
    assert!(ids.contains(&owner.0) && ids.contains(&zelda.0), "{ids:?}");
    engine.verify(&mut |_| {}).unwrap();
}
