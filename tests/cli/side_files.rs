//! Issue 15 §4: a missing or damaged file beside the log — a user's personal-data key,
//! the API tokens — is named for what it is (exit 3, its own code), never mistaken for a
//! purge, an unknown token or a damaged log.

use std::path::PathBuf;

use crate::util::*;

/// The key file of `email`'s personal data.
fn key_file(d: &Dir, email: &str) -> PathBuf {
    let id = d.json(&["user", "show", email])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    d.data().join("keys/users").join(format!("{id}.key"))
}

/// Asserts `args` fail with exit 3 and `code`, naming the user and the key file.
fn refused(d: &Dir, args: &[&str], code: &str, email: &str) -> String {
    let e = d.fails(3, args);
    assert_eq!(e["code"], code, "{args:?}: {e}");
    let message = e["message"].as_str().unwrap().to_owned();
    assert!(message.contains("keys/users/"), "{message}");
    assert!(
        message.contains(email) || message.contains("user "),
        "{message}"
    );
    message
}

#[test]
fn a_deleted_key_file_is_key_missing_everywhere_not_a_silent_purge() {
    // Given Ann's key file deleted by hand (she was never purged)
    let d = acme();
    let key = key_file(&d, ANN);
    std::fs::remove_file(&key).unwrap();
    // When anything opens the directory, Then it is key_missing naming Ann and the file
    let message = refused(&d, &["user", "list"], "key_missing", ANN);
    assert!(
        message.contains(ANN),
        "the email from the checkpoint: {message}"
    );
    refused(&d, &["verify"], "key_missing", ANN);
    refused(&d, &["rebuild"], "key_missing", ANN);
    // and nothing read her as erased in the meantime: no event was appended
    assert_eq!(
        d.fails(
            3,
            &[
                "user",
                "add",
                "--email",
                "x@acme.example",
                "--first",
                "X",
                "--last",
                "Y"
            ]
        )["code"],
        "key_missing"
    );
}

#[test]
fn a_truncated_or_zeroed_key_file_is_key_damaged() {
    let d = acme();
    let key = key_file(&d, BOB);
    let bytes = std::fs::read(&key).unwrap();
    // Given Bob's key cut short
    std::fs::write(&key, &bytes[..10]).unwrap();
    let message = refused(&d, &["verify"], "key_damaged", BOB);
    assert!(message.contains("10 bytes"), "{message}");
    // Given Bob's key zeroed (what an interrupted purge leaves, but Bob was not purged)
    std::fs::write(&key, [0u8; 32]).unwrap();
    refused(&d, &["owners"], "key_damaged", BOB);
    // When it is restored, Then everything works again
    std::fs::write(&key, &bytes).unwrap();
    assert_eq!(d.json(&["user", "show", BOB])["first_name"], "Bob");
}

#[test]
fn a_key_file_holding_other_bytes_is_found_by_verify_and_rebuild() {
    // Given Ann's key replaced by 32 other bytes (the right length)
    let d = acme();
    let key = key_file(&d, ANN);
    std::fs::write(&key, [7u8; 32]).unwrap();
    // Then verify opens every sealed profile and names Ann's key
    refused(&d, &["verify"], "key_damaged", ANN);
    // and a rebuild does not read her as erased
    refused(&d, &["rebuild"], "key_damaged", ANN);
}

#[test]
fn a_purged_users_key_is_legitimately_gone() {
    // Given Pat deleted and purged
    let d = acme();
    let key = key_file(&d, PAT);
    d.ok(&["delete", PAT, "--confirm", "CONFIRM"]);
    d.ok(&["purge", PAT, "--confirm", "CONFIRM"]);
    // Then the key file is gone, and nothing complains about it
    assert!(!key.exists());
    assert!(d.json(&["verify"])["events"].as_u64().unwrap() > 0);
    d.ok(&["rebuild"]);
    assert_eq!(d.json(&["user", "show", ANN])["first_name"], "Ann");
}

#[test]
fn a_purge_interrupted_before_its_key_was_removed_is_finished_at_start() {
    // Given Pat purged, but the key file back as if the process died between the
    // durable UserPurged and the key's removal (once whole, once half-overwritten)
    for leftover in [None, Some([0u8; 32])] {
        let d = acme();
        let key = key_file(&d, PAT);
        let bytes = std::fs::read(&key).unwrap();
        d.ok(&["delete", PAT, "--confirm", "CONFIRM"]);
        d.ok(&["purge", PAT, "--confirm", "CONFIRM"]);
        std::fs::write(&key, leftover.unwrap_or(bytes.clone().try_into().unwrap())).unwrap();
        // When the directory opens, Then the purge is finished, not reported as damage
        d.json(&["verify"]);
        assert!(!key.exists(), "the key file is removed at start");
        let events = d.events(&["--from", "1"]);
        let invited = events
            .iter()
            .filter(|e| e["event_type"] == "UserInvited")
            .find(|e| e["data"]["profile"]["email"] == "erased");
        assert!(invited.is_some(), "Pat's profile reads as erased");
    }
}

/// `acme()` with a token for the owner; returns the tokens file.
fn acme_with_token() -> (Dir, PathBuf) {
    let d = acme();
    token(&d, OWNER);
    let file = d.data().join("checkpoints/server.tokens");
    assert!(file.exists());
    (d, file)
}

/// Asserts `args` fail with exit 3 and `code`, naming the tokens file and the way out.
fn tokens_refused(d: &Dir, args: &[&str], code: &str) {
    let e = d.fails(3, args);
    assert_eq!(e["code"], code, "{args:?}: {e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("checkpoints/server.tokens"), "{message}");
    assert!(message.contains("offboard token create"), "{message}");
    assert!(
        !message.contains("verify"),
        "not sent to a check that passes: {message}"
    );
}

#[test]
fn a_truncated_tokens_file_is_tokens_damaged_not_a_damaged_log() {
    // Given the tokens file cut short
    let (d, file) = acme_with_token();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    // Then token commands and serve name the file, and the log still verifies
    tokens_refused(&d, &["token", "list"], "tokens_damaged");
    tokens_refused(
        &d,
        &["token", "revoke", "01a22eab-ed33-7188-8371-bf43fc8bea57"],
        "tokens_damaged",
    );
    tokens_refused(&d, &["serve", "--addr", "127.0.0.1:0"], "tokens_damaged");
    d.json(&["verify"]);
    // When a token is re-issued, Then the book starts over, the damaged copy is kept
    let created = d.json(&["token", "create", "--as", OWNER]);
    assert!(
        created["message"].as_str().unwrap().contains("damaged"),
        "{created}"
    );
    assert_eq!(
        d.json(&["token", "list"])["tokens"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        std::fs::read(d.data().join("checkpoints/server.tokens.damaged")).unwrap(),
        &bytes[..bytes.len() / 2]
    );
}

#[test]
fn a_deleted_tokens_file_is_tokens_missing_at_serve_and_in_token_list() {
    // Given tokens issued, then the tokens file deleted
    let (d, file) = acme_with_token();
    token(&d, OWNER);
    std::fs::remove_file(&file).unwrap();
    // Then serve refuses to start and token list says what is missing
    tokens_refused(&d, &["serve", "--addr", "127.0.0.1:0"], "tokens_missing");
    tokens_refused(&d, &["token", "list"], "tokens_missing");
    let e = d.fails(3, &["token", "list"]);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("API tokens were issued (2,"),
        "{e}"
    );
    // When a token is re-issued, Then it says the earlier ones are gone, and serve starts
    let created = d.json(&["token", "create", "--as", OWNER]);
    assert!(
        created["message"].as_str().unwrap().contains("missing"),
        "{created}"
    );
    let server = Server::start(&d);
    drop(server);
}

#[test]
fn a_directory_where_no_token_was_issued_serves_and_says_where_tokens_come_from() {
    let d = acme();
    assert_eq!(d.json(&["token", "list"])["tokens"], serde_json::json!([]));
    let server = Server::start(&d);
    let (status, body) = http(&server.url, "GET", "/v1/users", Some("ofb_nothing"), None);
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no token exists"),
        "{body}"
    );
    let log = server.log_text();
    assert!(log.contains("checkpoints/server.tokens"), "{log}");
    assert!(
        log.contains("console-link"),
        "what a sign-in link still opens: {log}"
    );
}

#[test]
fn a_book_deleted_with_its_count_is_named_at_start_and_in_every_401() {
    // Given a token issued, then the tokens file AND its count deleted (nothing beside
    // them can tell this from a new directory: tokens are not events)
    let (d, file) = acme_with_token();
    let old = token(&d, OWNER);
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(d.data().join("checkpoints/server.tokens.issued")).unwrap();
    // When the server starts and the old token is used
    let server = Server::start(&d);
    let (status, body) = http(&server.url, "GET", "/v1/users", Some(&old), None);
    // Then the 401 and the server's log name the file, both ways it can be empty, and
    // the way out, instead of a bare "unknown token"
    assert_eq!(status, 401);
    let message = body["error"]["message"].as_str().unwrap();
    for part in [
        "checkpoints/server.tokens",
        "were deleted",
        "offboard token create",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(
        server
            .log_text()
            .contains("(checkpoints/server.tokens in a data directory, the checkpoint row server.tokens on PostgreSQL) holds none"),
        "{}",
        server.log_text()
    );
}

#[test]
fn an_import_without_keys_records_them_withheld_and_the_copy_works_on() {
    // Given an export of a log where Ann was deleted, imported without its keys file
    let d = acme();
    let ann = d.json(&["user", "show", ANN])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    d.ok(&["delete", ANN, "--confirm", "CONFIRM"]);
    let exported = d.ok(&["export", "-"]);
    let file = d.write("bare.jsonl", &exported);
    let copy = Dir::new();
    let imported = copy.json(&["import-log", file.to_str().unwrap()]);
    assert_eq!(imported["keys"], 0);
    assert_eq!(imported["keys_withheld"], 5, "the five users: {imported}");
    // Then the copy opens and verifies: those keys are withheld by choice, not damaged
    copy.json(&["verify"]);
    // When Ann comes back under a new email (sealed under a new key)
    copy.ok(&["restore", &ann, "--email", "ann.new@acme.example"]);
    // Then her older profile still reads as erased and nothing is reported damaged
    copy.ok(&["rebuild"]);
    copy.json(&["verify"]);
    assert_eq!(
        copy.json(&["user", "show", &ann])["email"],
        "ann.new@acme.example"
    );
}

#[test]
fn a_user_invited_by_a_v1_event_cannot_be_purged_and_the_sweep_says_so() {
    // Given a log holding a v1 UserInvited for Mary (email and name in plaintext), as an
    // earlier build wrote it, brought in by import-log, and Mary deleted
    let d = acme();
    let file = d.path("v1.jsonl");
    d.json(&["export", file.to_str().unwrap()]); // with its keys, v1.jsonl.keys
    let exported = std::fs::read_to_string(&file).unwrap();
    let last: serde_json::Value = serde_json::from_str(exported.lines().last().unwrap()).unwrap();
    let position = last["position"].as_u64().unwrap() + 1;
    let mary = uuid::Uuid::now_v7();
    let mut v1 = serde_json::json!({
        "actor": {"kind": "system"},
        "causation_id": uuid::Uuid::now_v7(), "command_id": uuid::Uuid::now_v7(),
        "correlation_id": uuid::Uuid::now_v7(), "event_id": uuid::Uuid::now_v7(),
        "data": {"email": "mary.smith@acme.example", "manager": null,
                 "name": "Mary Ann Smith", "role": "member", "user_id": mary},
        "event_type": "UserInvited", "schema_version": 1, "hash": "",
        "occurred_at": last["occurred_at"], "on_behalf_of": null, "org_id": last["org_id"],
        "position": position, "prev_hash": last["hash"],
        "stream_id": format!("user-{mary}"), "stream_version": 1,
    });
    v1["hash"] = offboard_events::canonical::envelope_hash(&v1).into();
    std::fs::write(&file, format!("{exported}{v1}\n")).unwrap();
    let copy = Dir::new();
    let imported = copy.json(&["import-log", file.to_str().unwrap()]);
    assert_eq!(
        imported["keys_withheld"], 0,
        "Mary never had a key: {imported}"
    );
    let mary_email = "mary.smith@acme.example";
    assert_eq!(
        copy.json(&["user", "show", mary_email])["first_name"],
        "Mary Ann"
    );
    copy.ok(&["delete", mary_email, "--confirm", "CONFIRM"]);
    let before = last_position(&copy);

    // When the owner purges her, Then it is refused saying what stays readable, and why
    let e = copy.fails(1, &["purge", mary_email, "--confirm", "CONFIRM"]);
    assert_eq!(e["code"], "erasure_impossible");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("position {position} ")),
        "{message}"
    );
    assert!(
        message.contains("plaintext") && message.contains(mary_email),
        "{message}"
    );
    assert_eq!(last_position(&copy), before, "nothing appended");
    // and the retention sweep names her as left deleted
    let swept = copy.json(&["purge-expired"]);
    assert_eq!(swept["unerasable"][0]["email"], mary_email, "{swept}");
    assert!(
        swept["message"].as_str().unwrap().contains(mary_email),
        "{swept}"
    );
    assert_eq!(
        copy.json(&["user", "show", mary_email])["status"],
        "deleted"
    );
}

#[test]
fn personal_data_keys_and_the_token_book_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // Given an org with users (whatever the umask, typically 022)
    let d = acme();
    // When a token is issued
    d.ok(&["token", "create", "--as", ANN]);
    // Then the key files, their folders, the checkpoint key and the token book are private
    let key = key_file(&d, ANN);
    assert_eq!(mode(&key), 0o600, "{}", key.display());
    assert_eq!(mode(key.parent().unwrap()), 0o700);
    assert_eq!(mode(&d.data().join("keys")), 0o700);
    let tokens = d.data().join("checkpoints/server.tokens");
    assert_eq!(mode(&tokens), 0o600, "{}", tokens.display());
    assert_eq!(mode(&d.data().join("checkpoints")), 0o700);
}

#[test]
fn a_key_left_readable_by_an_older_release_is_made_private_when_opened() {
    use std::os::unix::fs::PermissionsExt;
    // Given Ann's key file readable by every local account
    let d = acme();
    let key = key_file(&d, ANN);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    // When the directory is opened again
    d.ok(&["user", "list"]);
    // Then the key is private again
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
