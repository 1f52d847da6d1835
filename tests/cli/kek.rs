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
