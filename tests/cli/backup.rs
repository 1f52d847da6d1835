//! `offboard backup DIR`: embedded on a directory the CLI owns, refused with a pointer to
//! client mode on a directory a server holds, and through that server with `--server`.
//! Each copy verifies and answers the same queries as the directory it came from.

use crate::util::*;

/// The copy's `--data` commands: the same binary on another directory.
fn copy_of(d: &Dir, name: &str) -> Dir {
    let copy = Dir::new();
    std::fs::rename(d.path(name), copy.data()).unwrap();
    copy
}

#[test]
fn a_backup_of_an_owned_directory_verifies_and_answers_the_same_queries() {
    // Given a directory with users and buyers
    let d = acme_with_buyers(5);
    let head = d.json(&["head"]);

    // When it is backed up
    let target = d.path("copy");
    let report = d.json(&["backup", target.to_str().unwrap()]);

    // Then the answer names the position, the head and the files
    assert_eq!(report["ok"], true);
    assert_eq!(report["position"], head["position"]);
    assert_eq!(report["head"], head["head"]);
    let files = report["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f["path"] == "db"), "{report}");
    assert!(
        report["message"].as_str().unwrap().contains("verify"),
        "{report}"
    );

    // And a second backup into it is refused, exit 1 with a stable code
    let again = d.fails(1, &["backup", target.to_str().unwrap()]);
    assert_eq!(again["code"], "directory_not_empty");

    // And the copy verifies and answers as the original does
    let copy = copy_of(&d, "copy");
    copy.ok(&["verify"]);
    assert_eq!(copy.json(&["head"]), head);
    for query in [&["user", "list"][..], &["owners"][..], &["orgs"][..]] {
        assert_eq!(copy.json(query), d.json(query), "{query:?}");
    }
}

#[test]
fn a_directory_a_server_holds_is_backed_up_through_that_server() {
    // Given a directory served by `offboard serve`
    let d = acme_with_buyers(3);
    let t = token(&d, OWNER);
    let server = Server::start(&d);
    let target = d.path("copy");

    // When `backup` opens it directly
    let held = d.fails(3, &["backup", target.to_str().unwrap()]);

    // Then it says the directory is held and how to go through the server
    assert_eq!(held["code"], "data_dir_locked");
    let message = held["message"].as_str().unwrap();
    assert!(
        message.contains("--server URL") && message.contains("backup"),
        "{message}"
    );

    // When the client asks the server, with a relative path and then an absolute one
    let client = server.client(&d, &t);
    assert_eq!(client.fails(2, &["backup", "copy"])["code"], "usage");
    let report = client.json(&["backup", target.to_str().unwrap()]);

    // Then the server wrote a copy that verifies once the server is gone, with the
    // token it was made with
    let position = report["position"].as_u64().unwrap();
    assert_eq!(server.terminate(), Some(0));
    let copy = copy_of(&d, "copy");
    copy.ok(&["verify"]);
    assert_eq!(copy.json(&["head"])["position"], position);
    assert_eq!(
        copy.json(&["token", "list"])["tokens"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(copy.json(&["owners"]), d.json(&["owners"]));
}
