//! `--store URL` (env `OFFBOARD_STORE`): the log in a PostgreSQL database, `--data` then
//! holding only the personal-data keys; one writer per database.

use std::process::Command;

use crate::pg_cluster;
use crate::util::*;

/// A fresh database and a local directory, every command run with `--store URL`.
struct OnPostgres {
    dir: Dir,
    url: String,
}

impl OnPostgres {
    fn new() -> Option<Self> {
        Some(Self {
            dir: Dir::new(),
            url: pg_cluster::database()?,
        })
    }
}

impl Offboard for OnPostgres {
    fn command(&self) -> Command {
        let mut c = self.dir.command();
        c.arg("--store").arg(&self.url);
        c
    }
}

#[test]
fn an_org_on_postgres_keeps_its_log_in_the_database_and_admits_one_writer() {
    let Some(pg) = OnPostgres::new() else { return };
    // Given an org created with --store
    init_acme(&pg);
    pg.ok(&[
        "user", "add", "--email", PAT, "--first", "Pat", "--last", "Kim",
    ]);
    // Then the log is in the database, and the directory holds no sled log
    assert!(pg.ok(&["user", "list"]).contains(PAT));
    assert!(pg.ok(&["verify"]).contains("Log intact"));
    assert!(!pg.dir.data().join("db").exists() && !pg.dir.data().join("conf").exists());
    let head = pg.ok(&["head"]);
    // When a server writes it, another process is refused (exit 3, store_in_use)
    let server = Server::start_with(&pg.dir, &["--store", &pg.url]);
    let e = pg.fails(3, &["user", "list"]);
    assert_eq!(e["code"], "store_in_use", "{e}");
    // And once the server stopped, the log is as it left it
    assert_eq!(server.terminate(), Some(0));
    assert_eq!(pg.ok(&["head"]), head);
}

#[test]
fn a_bad_or_unreachable_store_exits_3_naming_the_server_never_the_password() {
    let d = Dir::new();
    let e = d.fails(3, &["--store", "mysql://app@db/x", "user", "list"]);
    assert_eq!(e["code"], "store_url_invalid");
    let e = d.fails(
        3,
        &[
            "--store",
            "postgresql://app:s3cret@127.0.0.1:1/x",
            "user",
            "list",
        ],
    );
    assert_eq!(e["code"], "store_unreachable");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn commands_that_write_a_data_directory_refuse_store() {
    let d = Dir::new();
    let file = d.write("log.jsonl", "");
    let e = d.fails(
        2,
        &[
            "--store",
            "postgresql://x@127.0.0.1:1/x",
            "import-log",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(e["code"], "usage");
    assert!(e["message"].as_str().unwrap().contains("import-log"), "{e}");
}
