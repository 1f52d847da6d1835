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
