//! Issue 21 §1: `offboard kek create PATH` writes the key-encryption key a store on
//! PostgreSQL wraps its personal-data keys with: once, private, never over a file.

use std::os::unix::fs::PermissionsExt;

use crate::util::*;

#[test]
fn kek_create_writes_32_private_bytes_once_and_names_the_key_by_id() {
    // Given no KEK yet (and no data directory: none is needed)
    let d = Dir::new();
    let path = d.path("offboard.kek");
    let arg = path.to_str().unwrap();
    // When one is created
    let made = d.json(&["kek", "create", arg]);
    // Then the file holds 32 bytes only its owner may read, and the answer names it by
    // an id, never by its bytes
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 32);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let id = made["id"].as_str().unwrap();
    assert_eq!(id.len(), 16, "{made}");
    assert!(!made.to_string().contains(&hex::encode(&bytes)));
    assert!(!d.data().exists(), "kek create opened a data directory");
    // And a second create on the same path is refused: the first key stays
    let again = d.fails(1, &["kek", "create", arg]);
    assert_eq!(again["code"], "kek_exists", "{again}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// A fresh database, a local directory and a KEK file; every command runs with
/// `--store URL --kek-file KEK`.
struct Wrapped {
    dir: Dir,
    url: String,
    kek: std::path::PathBuf,
}

impl Offboard for Wrapped {
    fn command(&self) -> std::process::Command {
        let mut c = self.dir.command();
        c.arg("--store")
            .arg(&self.url)
            .arg("--kek-file")
            .arg(&self.kek);
        c.env_remove("OFFBOARD_KEK")
            .env_remove("OFFBOARD_BACKUP_RETENTION");
        c
    }
}

/// Pat invited and deleted, on a PostgreSQL store whose keys are wrapped by a KEK file.
fn pat_deleted_on_postgres() -> Option<Wrapped> {
    let dir = Dir::new();
    let kek = dir.path("node.kek");
    dir.ok(&["kek", "create", kek.to_str().unwrap()]);
    let pg = Wrapped {
        url: crate::pg_cluster::database()?,
        dir,
        kek,
    };
    init_acme(&pg);
    pg.ok(&[
        "user", "add", "--email", PAT, "--first", "Pat", "--last", "Kim",
    ]);
    pg.ok(&["delete", PAT, "--confirm", "CONFIRM"]);
    Some(pg)
}

#[test]
fn purge_on_postgres_names_the_backup_window_and_a_wrong_kek_is_refused() {
    let Some(pg) = pat_deleted_on_postgres() else {
        return;
    };
    // When Pat is purged with a 30-day backup retention
    let done = pg.json(&[
        "--backup-retention",
        "30d",
        "purge",
        PAT,
        "--confirm",
        "CONFIRM",
    ]);
    // Then the answer says the row is gone and for how long backups may keep the key
    let kd = &done["key_destruction"];
    assert_eq!(kd["store"], "postgres", "{done}");
    assert_eq!(kd["backup_retention"], "30d", "{done}");
    assert!(kd["may_exist_until"].is_string(), "{done}");
    assert!(kd["statement"].as_str().unwrap().contains("WAL"), "{done}");
    // And a purge-expired that erases nobody says nothing of keys
    let swept = pg.json(&["purge-expired"]);
    assert!(swept.get("key_destruction").is_none(), "{swept}");
    // And the store refuses another KEK with its own code (exit 3), naming no purge
    let other = pg.dir.path("other.kek");
    pg.dir.ok(&["kek", "create", other.to_str().unwrap()]);
    let mut wrong = pg.dir.command();
    wrong
        .args(["--json", "--store", &pg.url, "--kek-file"])
        .arg(&other)
        .args(["user", "list"]);
    let out = wrong.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["error"]["code"], "kek_wrong", "{e}");
}

#[test]
fn purge_without_a_known_retention_says_the_window_is_unknown() {
    let Some(pg) = pat_deleted_on_postgres() else {
        return;
    };
    let text = pg.ok(&["purge", PAT, "--confirm", "CONFIRM"]);
    assert!(text.contains("unknown"), "{text}");
    assert!(text.contains("--backup-retention"), "{text}");
}

#[test]
fn purge_on_sled_says_the_key_file_is_unlinked_and_what_backups_keep() {
    let d = acme();
    d.ok(&["delete", PAT, "--confirm", "CONFIRM"]);
    let done = d.json(&["purge", PAT, "--confirm", "CONFIRM"]);
    let kd = &done["key_destruction"];
    assert_eq!(kd["store"], "files", "{done}");
    let statement = kd["statement"].as_str().unwrap();
    assert!(statement.contains("unlinked"), "{statement}");
    assert!(statement.contains("snapshots"), "{statement}");
}

#[test]
fn kek_rotate_rewraps_every_key_at_once_and_the_old_kek_no_longer_opens_the_store() {
    let Some(pg) = pat_deleted_on_postgres() else {
        return;
    };
    pg.ok(&[
        "user", "add", "--email", ANN, "--first", "Ann", "--last", "Lee",
    ]);
    // Given a new KEK
    let next = pg.dir.path("next.kek");
    pg.dir.ok(&["kek", "create", next.to_str().unwrap()]);
    // When the store's keys are rotated to it
    let done = pg.json(&["kek", "rotate", "--to", next.to_str().unwrap()]);
    // Then every user key moved (the owner, Pat and Ann), and the checkpoint key
    assert_eq!(done["user_keys"], 3, "{done}");
    assert!(done["from"] != done["to"], "{done}");
    // And the old KEK is refused with kek_wrong, appending nothing
    let mut old = pg.dir.command();
    old.args(["--json", "--store", &pg.url, "--kek-file"])
        .arg(&pg.kek)
        .args(["user", "list"]);
    let out = old.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["error"]["code"], "kek_wrong", "{e}");
    // And the new one reads every profile and verifies the log
    let rotated = Wrapped {
        dir: pg.dir,
        url: pg.url,
        kek: next.clone(),
    };
    let users = rotated.ok(&["user", "list"]);
    assert!(users.contains("Ann"), "{users}");
    rotated.ok(&["verify"]);
    // And rotating to the KEK in use, or on a data directory, is a usage error
    let same = rotated.fails(2, &["kek", "rotate", "--to", next.to_str().unwrap()]);
    assert_eq!(same["code"], "usage", "{same}");
    let sled = acme();
    let on_sled = sled.fails(2, &["kek", "rotate", "--to", next.to_str().unwrap()]);
    assert!(
        on_sled["message"].as_str().unwrap().contains("PostgreSQL"),
        "{on_sled}"
    );
}
