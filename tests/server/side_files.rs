//! Issue 15 §4 over HTTP: a key file deleted or altered under a running server is named
//! by `GET /v1/verify` (503 `key_missing` / `key_damaged`), and a server is not built
//! over a token book that is missing (`tokens_missing`).

use std::sync::Arc;

use offboard::server::{self, tokens, AppState};
use offboard::Engine;

use crate::support::*;

#[tokio::test]
async fn verify_names_a_key_file_deleted_or_altered_under_the_running_server() {
    // Given a server on a data directory
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let (_, owner) = create_org(&engine, "Acme").await;
    let token = tokens::create(&engine, None, &owner.to_string())
        .unwrap()
        .token;
    let engine = Arc::new(engine);
    let app = server::app(AppState::new(Arc::clone(&engine)).unwrap());
    let verify = || send(&app, "GET", "/v1/verify", Some(&token), None, &[]);
    verify().await.ok();
    let key = dir.path().join(format!("keys/users/{owner}.key"));
    let bytes = std::fs::read(&key).unwrap();

    // When the owner's key file is altered, Then verify says so (a restart would fail)
    std::fs::write(&key, [9u8; 32]).unwrap();
    let body = verify().await.error(503, "key_damaged");
    assert!(
        body.to_string()
            .contains(&format!("keys/users/{owner}.key")),
        "{body}"
    );
    // When it is deleted, Then it is key_missing
    std::fs::remove_file(&key).unwrap();
    verify().await.error(503, "key_missing");
    // When it is put back, Then verify passes again
    std::fs::write(&key, &bytes).unwrap();
    verify().await.ok();
}

#[tokio::test]
async fn no_server_is_built_over_a_missing_token_book() {
    // Given a directory where a token was issued, then its book deleted
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path()).unwrap();
        let (_, owner) = create_org(&engine, "Acme").await;
        tokens::create(&engine, None, &owner.to_string()).unwrap();
    }
    std::fs::remove_file(dir.path().join("checkpoints/server.tokens")).unwrap();
    // When a server is built on it, Then it is refused naming the file
    let engine = Arc::new(Engine::open(dir.path()).unwrap());
    let err = AppState::new(engine).unwrap_err();
    assert_eq!(err.code(), "tokens_missing");
    assert!(
        err.to_string().contains("checkpoints/server.tokens"),
        "{err}"
    );
}
