//! Issue 5, R13 on disk: personal data is sealed under a per-user key before it is
//! stored, checkpoints are encrypted, and a purge destroys the key — after which no
//! file in the data directory holds the user's email or names, history reads them as
//! `erased`, `verify` still passes and restore answers `purged`.

use std::path::Path;

use offboard::clock::Clock;
use offboard::domain::{Command, NewUser};
use offboard::{AppendError, CommandMeta, Engine};
use offboard_events::*;

pub(super) const EMAIL: &str = "zelda.quartermaine@privacy.example";
const SECRETS: &[&str] = &[
    "zelda.quartermaine",
    "Zeldaxq",
    "Quartermaine",
    "Xylophonist",
];

/// Which of `SECRETS` appear in any file under `dir`.
fn plaintext_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            for secret in SECRETS {
                if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                    found.push(format!("{secret} in {}", path.display()));
                }
            }
        }
    }
    found
}

/// A new user with only an email and names.
fn person(email: &str, first: &str, last: &str) -> NewUser {
    NewUser {
        email: email.into(),
        first_name: first.into(),
        last_name: last.into(),
        job_title: None,
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    }
}

pub(super) async fn org_with_zelda(engine: &Engine) -> (OrgId, UserId, UserId) {
    let org = OrgId::new();
    let owner = org_of_one(engine, org).await;
    let zelda = NewUser {
        job_title: Some("Chief Xylophonist".into()),
        ..person(EMAIL, "Zeldaxq", "Quartermaine")
    };
    let as_owner = || CommandMeta::new(org, Actor::User { id: owner });
    engine
        .execute(
            as_owner(),
            Command::InviteUser {
                user: zelda,
                role: Role::Member,
                manager: None,
                active: true,
            },
        )
        .await
        .unwrap();
    let zelda = engine
        .state()
        .org(org)
        .unwrap()
        .directory()
        .user_by_email(EMAIL)
        .unwrap()
        .id;
    engine
        .execute(
            as_owner(),
            Command::DeleteUser {
                user: zelda,
                confirm: "CONFIRM".into(),
            },
        )
        .await
        .unwrap();
    (org, owner, zelda)
}

#[tokio::test]
async fn after_purge_no_file_holds_the_users_personal_data_yet_verify_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (org, owner, zelda) = {
        let engine = Engine::open(dir.path()).unwrap();
        let ids = org_with_zelda(&engine).await;
        engine.checkpoint_now().unwrap();
        // Readable while the key exists...
        let history = engine.user_history(ids.0, ids.2).unwrap();
        let Event::UserInvited(invited) = &history[0].event else {
            panic!("{history:?}")
        };
        assert_eq!(invited.profile.email, EMAIL);
        ids
    };
    // ...yet never stored in plaintext, not even before the purge.
    assert_eq!(plaintext_in(dir.path()), Vec::<String>::new());

    let engine = Engine::open(dir.path()).unwrap();
    let as_owner = CommandMeta::new(org, Actor::User { id: owner });
    engine
        .execute(
            as_owner.clone(),
            Command::PurgeUser {
                user: zelda,
                confirm: "CONFIRM".into(),
            },
        )
        .await
        .unwrap();

    let history = engine.user_history(org, zelda).unwrap();
    let Event::UserInvited(invited) = &history[0].event else {
        panic!("{history:?}")
    };
    assert_eq!(
        (
            invited.profile.email.as_str(),
            invited.profile.first_name.as_str()
        ),
        ("erased", "erased")
    );
    assert_eq!(invited.profile.job_title, None);
    let restore = Command::RestoreUser {
        user: zelda,
        return_ownership: false,
        new_email: None,
        reactivate: false,
    };
    let err = engine
        .execute(CommandMeta::new(org, Actor::User { id: owner }), restore)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppendError::Rejected(e) if e.code() == "purged"),
        "{err}"
    );
    let events_before_reopen = engine.last_position();
    drop(engine);

    assert_eq!(plaintext_in(dir.path()), Vec::<String>::new());
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(
        engine.verify(&mut |_| {}).unwrap().events,
        events_before_reopen
    );
    assert!(engine.vault().user_key(zelda).is_none());
    let user = engine
        .state()
        .org(org)
        .unwrap()
        .directory()
        .user(zelda)
        .unwrap()
        .clone();
    assert_eq!(
        (user.status, user.profile.last_name.as_str()),
        (UserStatus::Purged, "erased")
    );
    // The owner's data is untouched.
    assert!(engine.user_history(org, owner).unwrap().iter().any(
        |e| matches!(&e.event, Event::UserInvited(i) if i.profile.email == "olive@privacy.example")
    ));
}

#[tokio::test]
async fn stored_bytes_carry_only_the_sealed_profile() {
    let engine = Engine::in_memory();
    org_with_zelda(&engine).await;
    let mut sealed = 0;
    engine
        .store()
        .scan(1, u64::MAX, &mut |_, bytes| {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(EMAIL), "{text}");
            sealed += usize::from(text.contains("\"sealed\""));
            true
        })
        .unwrap();
    assert_eq!(sealed, 2, "the owner's and zelda's invitations");
}

/// R13 holds the moment a purge is answered, not a little later: the key is destroyed
/// before the purge returns (the writer's pipeline once answered first and destroyed the
/// key at its next point of rest). Repeated, because the old gap was a race.
#[tokio::test]
async fn a_purge_that_returned_has_already_made_the_data_unreadable() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        let (org, owner, zelda) = org_with_zelda(&engine).await;
        engine
            .execute(
                CommandMeta::new(org, Actor::User { id: owner }),
                Command::PurgeUser {
                    user: zelda,
                    confirm: "CONFIRM".into(),
                },
            )
            .await
            .unwrap();
        assert!(engine.vault().user_key(zelda).is_none(), "key still there");
        let history = engine.user_history(org, zelda).unwrap();
        let Event::UserInvited(invited) = &history[0].event else {
            panic!("{history:?}")
        };
        assert_eq!(invited.profile.email, "erased");
    }
}

/// Issue 15 §4: a log holding a stored v1 `UserInvited` for Mary (her email and name in
/// plaintext, readable through upcasting), written by an earlier build before profiles
/// were sealed; Mary is then deleted. Returns the engine, the org, its owner, Mary and
/// the position of her v1 invitation.
async fn log_with_a_v1_invitation(
    clock: std::sync::Arc<offboard::clock::ManualClock>,
) -> (Engine, OrgId, UserId, UserId, u64) {
    use offboard::store::{ChainHead, CommitBatch, LogStore, MemoryLog, StoredEvent};
    use std::sync::Arc;

    let store = Arc::new(MemoryLog::new());
    let vault = Arc::new(offboard::privacy::KeyVault::in_memory());
    let engine = Engine::with_parts(store.clone(), vault.clone(), clock.clone()).unwrap();
    let org = OrgId::new();
    let owner = NewUser {
        email: "olive@privacy.example".into(),
        first_name: "Olive".into(),
        last_name: "Owner".into(),
        job_title: None,
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    };
    engine
        .execute(
            CommandMeta::new(org, Actor::System),
            Command::CreateOrganization {
                name: "Privacy".into(),
                owner,
            },
        )
        .await
        .unwrap();
    let owner = engine.state().org(org).unwrap().owner();
    engine.shutdown();

    let head = store.head().unwrap();
    let mary = UserId::new();
    let position = head.last_position + 1;
    let mut v1 = serde_json::json!({
        "actor": {"kind": "system"},
        "causation_id": uuid::Uuid::now_v7(), "command_id": uuid::Uuid::now_v7(),
        "correlation_id": uuid::Uuid::now_v7(), "event_id": uuid::Uuid::now_v7(),
        "data": {"email": "mary.smith@example.com", "manager": null,
                 "name": "Mary Ann Smith", "role": "member", "user_id": mary},
        "event_type": "UserInvited", "schema_version": 1, "hash": "",
        "occurred_at": clock.now(), "on_behalf_of": null, "org_id": org,
        "position": position, "prev_hash": head.last_hash,
        "stream_id": format!("user-{mary}"), "stream_version": 1,
    });
    let hash = offboard_events::canonical::envelope_hash(&v1);
    v1["hash"] = hash.clone().into();
    store
        .commit(&CommitBatch {
            events: vec![StoredEvent {
                position,
                bytes: serde_json::to_vec(&v1).unwrap(),
            }],
            commands: Vec::new(),
            head: Some(ChainHead {
                last_position: position,
                last_hash: hash,
            }),
        })
        .unwrap();

    let engine = Engine::with_parts(store, vault, clock).unwrap();
    engine
        .execute(
            CommandMeta::new(org, Actor::User { id: owner }),
            Command::DeleteUser {
                user: mary,
                confirm: "CONFIRM".into(),
            },
        )
        .await
        .unwrap();
    (engine, org, owner, mary, position)
}

#[tokio::test]
async fn a_purge_that_cannot_erase_a_plaintext_v1_profile_is_refused_not_claimed() {
    // Given Mary, invited by a stored v1 event (plaintext, no key), then deleted
    let clock = std::sync::Arc::new(offboard::clock::ManualClock::new(chrono::Utc::now()));
    let (engine, org, owner, mary, v1_at) = log_with_a_v1_invitation(clock.clone()).await;
    engine.verify(&mut |_| {}).unwrap();
    let before = engine.last_position();

    // When the owner purges her, Then it is refused, saying what stays readable and why
    let err = engine
        .execute(
            CommandMeta::new(org, Actor::User { id: owner }),
            Command::PurgeUser {
                user: mary,
                confirm: "CONFIRM".into(),
            },
        )
        .await
        .unwrap_err();
    let AppendError::Rejected(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.code(), "erasure_impossible");
    let message = e.to_string();
    assert!(message.contains("mary.smith@example.com"), "{message}");
    assert!(message.contains(&format!("position {v1_at} ")), "{message}");
    assert!(message.contains("plaintext"), "{message}");
    // and nothing was appended: Mary stays deleted, her data as readable as before
    assert_eq!(engine.last_position(), before);
    let user = engine
        .state()
        .org(org)
        .unwrap()
        .directory()
        .user(mary)
        .unwrap()
        .clone();
    assert_eq!(
        (user.status, user.profile.email.as_str()),
        (UserStatus::Deleted, "mary.smith@example.com")
    );

    // When the retention sweep runs past her window, Then it leaves her deleted too
    clock.advance(chrono::Duration::days(400));
    let swept = engine
        .execute(CommandMeta::new(org, Actor::System), Command::PurgeExpired)
        .await
        .unwrap();
    assert!(swept.positions.is_none(), "nobody purged: {swept:?}");
    assert_eq!(
        engine
            .state()
            .org(org)
            .unwrap()
            .directory()
            .user(mary)
            .unwrap()
            .status,
        UserStatus::Deleted
    );
}

/// An org created on `engine` by the system, returning its owner.
async fn org_of_one(engine: &Engine, org: OrgId) -> UserId {
    let owner = person("olive@privacy.example", "Olive", "Owner");
    let create = Command::CreateOrganization {
        name: "Privacy".into(),
        owner,
    };
    let meta = CommandMeta::new(org, Actor::System);
    engine.execute(meta, create).await.unwrap();
    engine.state().org(org).unwrap().owner()
}

/// The owner of `org` on `engine` invites Yara under the command id `id`.
async fn invite_yara(engine: &Engine, org: OrgId, id: CommandId) -> Result<UserId, AppendError> {
    let owner = engine.state().org(org).unwrap().owner();
    let mut meta = CommandMeta::new(org, Actor::User { id: owner });
    meta.command_id = id;
    let invite = Command::InviteUser {
        user: person("yara@privacy.example", "Yara", "Okafor"),
        role: Role::Member,
        manager: None,
        active: true,
    };
    engine.execute(meta, invite).await?;
    let state = engine.state();
    let directory = state.org(org).unwrap().directory();
    Ok(directory.user_by_email("yara@privacy.example").unwrap().id)
}

#[tokio::test]
async fn a_retry_after_a_crash_while_its_keys_were_written_invites_the_same_users() {
    // Given a data directory with an org, and the id a command will give Yara (a new
    // user's id comes from the command id, the same on every retry)
    let dir = tempfile::tempdir().unwrap();
    let org = OrgId::new();
    let engine = Engine::open(dir.path()).unwrap();
    org_of_one(&engine, org).await;
    drop(engine);
    let command = CommandId::new();
    let scratch = Engine::in_memory();
    org_of_one(&scratch, org).await;
    let yara = invite_yara(&scratch, org, command).await.unwrap();
    // When the process died while writing her key (a torn, empty file under its name)
    // and another write left an unused key of someone no event names,
    let users = dir.path().join("keys/users");
    let torn = users.join(format!("{yara}.key"));
    let unused = users.join(format!("{}.key", UserId::new()));
    std::fs::write(&torn, b"").unwrap();
    std::fs::write(&unused, [7u8; 32]).unwrap();
    // then opening moves both out of the way, into keys/unused/ (deleted, a key would be
    // lost for good where the log, not the write, lost the events naming its user),
    let engine = Engine::open(dir.path()).unwrap();
    assert!(!torn.exists() && !unused.exists());
    let aside: Vec<Vec<u8>> = std::fs::read_dir(dir.path().join("keys/unused"))
        .unwrap()
        .map(|f| std::fs::read(f.unwrap().path()).unwrap())
        .collect();
    assert_eq!(aside.len(), 2);
    assert!(
        aside.contains(&vec![7u8; 32]),
        "the unused key kept as it was"
    );
    // the retry of the same command invites Yara under the same id, her profile readable,
    let retried = invite_yara(&engine, org, command).await.unwrap();
    assert_eq!(retried, yara);
    let state = engine.state();
    let profile = &state
        .org(org)
        .unwrap()
        .directory()
        .user(yara)
        .unwrap()
        .profile;
    assert_eq!(profile.first_name, "Yara");
    drop(state);
    // and the log verifies with every key.
    engine.verify(&mut |_| {}).unwrap();
}
