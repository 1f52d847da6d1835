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

/// Given a data directory with users, a transfer and a token, When `migrate --from-data
/// DIR --to URL` copies it into an empty database, Then the database holds the same log
/// (same head), the same owners and tokens, and verifies; a second migrate into it is
/// refused (`store_not_empty`, exit 1); and `migrate --from URL --to-data NEW` brings the
/// log back into a new data directory with the same head.
#[test]
fn migrate_copies_a_data_directory_into_postgresql_and_back_with_the_same_head() {
    let Some(pg) = OnPostgres::new() else { return };
    let d = acme_with_buyers(3);
    d.ok(&["transfer-all-buyers", PAT, "--to", ANN]);
    let token = token(&d, OWNER);
    let head = d.ok(&["head"]);
    let src = d.data();
    let src = src.to_str().unwrap();

    let copied = pg
        .dir
        .json(&["migrate", "--from-data", src, "--to", &pg.url]);
    assert_eq!(copied["command"], "migrate", "{copied}");
    assert_eq!(copied["position"], last_position(&d), "{copied}");
    assert!(!copied["to"].as_str().unwrap().contains("password"));
    assert_eq!(pg.ok(&["head"]), head, "positions and hashes travel");
    assert!(pg.ok(&["verify"]).contains("Log intact"));
    assert_eq!(
        pg.json(&["owner", "buyer:B-1"])["owner_email"],
        ANN,
        "the views rebuilt from the copy"
    );
    let tokens = pg.json(&["token", "list"]);
    assert_eq!(tokens["tokens"].as_array().unwrap().len(), 1, "{tokens}");
    assert!(!token.is_empty());

    let again = pg
        .dir
        .fails(1, &["migrate", "--from-data", src, "--to", &pg.url]);
    assert_eq!(again["code"], "store_not_empty", "{again}");

    let back = Dir::new();
    let into = back.data();
    pg.dir.json(&[
        "migrate",
        "--from",
        &pg.url,
        "--to-data",
        into.to_str().unwrap(),
    ]);
    assert_eq!(back.ok(&["head"]), head);
    assert_eq!(back.json(&["owner", "buyer:B-1"])["owner_email"], ANN);
}
