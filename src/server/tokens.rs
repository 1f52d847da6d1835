//! API tokens: who a request acts as. A token is `ofb_` + 32 random bytes (base64url),
//! printed once when created; only its SHA-256 is stored, beside the log among the
//! store's named checkpoints under [`TOKENS_RECORD`] (records that are not events, like
//! the projection checkpoint; files in `checkpoints/` for the sled log). Each token
//! belongs to one org and one principal: a user of that org, or a support or auditor
//! principal registered for it (R5).
//!
//! How many tokens were ever issued is kept in a second record, [`TOKENS_ISSUED_RECORD`],
//! written after the book. Tokens are never removed from the book (revoking marks them),
//! so a book missing while tokens were issued is `tokens_missing`, and one that does not
//! parse or holds fewer tokens than were issued is `tokens_damaged` — both name the file,
//! instead of every token silently answering 401 or a damaged *log* being reported.
//! `token create` is the way out when no backup exists: it starts the book over (a
//! damaged one is kept as `server.tokens.damaged`) and says so.
//!
//! The functions taking an [`Engine`] are the library API the CLI calls on a data
//! directory (`offboard token create|list|revoke`); the server keeps a [`TokenBook`] in
//! memory and writes it through on every change.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use chrono::{DateTime, Utc};
use offboard_events::{Actor, OrgId, PrincipalKind, UserId};
use offboard_projections::{OrgState, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{LogStore, SideFileError, StoreError, TOKENS_FILE};
use crate::Engine;

/// The named checkpoint (beside the log) holding every token.
pub const TOKENS_RECORD: &str = "server.tokens";

/// The named checkpoint holding how many tokens were ever issued (a decimal number).
pub const TOKENS_ISSUED_RECORD: &str = "server.tokens.issued";

/// Where `token create` keeps a damaged book it starts over from.
pub const TOKENS_DAMAGED_RECORD: &str = "server.tokens.damaged";

/// What every token starts with, so secret scanners and people recognize one.
pub const TOKEN_PREFIX: &str = "ofb_";

/// A token as listed: never the secret, never its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenRecord {
    pub id: Uuid,
    pub org_id: OrgId,
    /// Who requests with this token act as.
    pub principal: Actor,
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked token answers 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    pub fn revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A token just created: the secret is here and nowhere else, ever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedToken {
    /// The bearer token. Shown once; only its SHA-256 is kept.
    pub token: String,
    pub record: TokenRecord,
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The org, principal or token does not exist: check the name or id.
    #[error("{0} not found")]
    NotFound(String),
    /// The request cannot be understood: fix it.
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::NotFound(_) => "not_found",
            TokenError::Invalid(_) => "invalid_input",
            TokenError::Storage(e) => e.code(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredToken {
    #[serde(flatten)]
    record: TokenRecord,
    /// Hex SHA-256 of the whole token string.
    sha256: String,
}

/// Every token, as stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TokenBook {
    tokens: Vec<StoredToken>,
}

/// The stored book as found, before deciding whether that is a fault.
enum Found {
    Book(TokenBook),
    /// Readable, but holds fewer tokens than were issued.
    Short(TokenBook, u64),
    Missing(u64),
    Damaged(String),
    /// The count of issued tokens is unreadable; the book (empty if absent) is not
    /// known to be whole.
    CountDamaged(TokenBook, String),
}

impl Found {
    fn read(store: &dyn LogStore) -> Result<Self, StoreError> {
        let book = store.checkpoint(TOKENS_RECORD)?;
        let issued = match issued(store)? {
            Ok(issued) => issued,
            Err(problem) => {
                let readable = book.and_then(|b| serde_json::from_slice(&b).ok());
                return Ok(Found::CountDamaged(readable.unwrap_or_default(), problem));
            }
        };
        let Some(bytes) = book else {
            return Ok(if issued > 0 {
                Found::Missing(issued)
            } else {
                Found::Book(TokenBook::default())
            });
        };
        Ok(match serde_json::from_slice::<TokenBook>(&bytes) {
            Err(e) => Found::Damaged(format!(
                "its {} bytes are not a token book ({e})",
                bytes.len()
            )),
            Ok(book) if (book.tokens.len() as u64) < issued => Found::Short(book, issued),
            Ok(book) => Found::Book(book),
        })
    }

    fn fault(&self) -> Option<SideFileError> {
        let file = TOKENS_FILE.to_owned();
        match self {
            Found::Book(_) => None,
            Found::Short(book, issued) => Some(SideFileError::TokensDamaged {
                file,
                problem: format!(
                    "it holds {} tokens, but {issued} were issued (an older or cut copy?)",
                    book.tokens.len()
                ),
            }),
            Found::Missing(issued) => Some(SideFileError::TokensMissing {
                file,
                issued: *issued,
            }),
            Found::Damaged(problem) => Some(SideFileError::TokensDamaged {
                file,
                problem: problem.clone(),
            }),
            Found::CountDamaged(_, problem) => Some(SideFileError::TokensDamaged {
                file: format!("{TOKENS_FILE}.issued"),
                problem: problem.clone(),
            }),
        }
    }
}

/// How many tokens were ever issued, as recorded beside the book (0 before any); the
/// inner `Err` says why the record is unreadable.
fn issued(store: &dyn LogStore) -> Result<Result<u64, String>, StoreError> {
    let Some(bytes) = store.checkpoint(TOKENS_ISSUED_RECORD)? else {
        return Ok(Ok(0));
    };
    Ok(std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("its {} bytes are not a count of tokens", bytes.len())))
}

impl TokenBook {
    /// The book stored in `store` (empty if no token was ever issued); a missing or
    /// damaged book is `tokens_missing` / `tokens_damaged`, naming the file.
    pub fn load(store: &dyn LogStore) -> Result<Self, StoreError> {
        let found = Found::read(store)?;
        if let Some(fault) = found.fault() {
            return Err(fault.into());
        }
        match found {
            Found::Book(book) => Ok(book),
            _ => unreachable!("every other case is a fault"),
        }
    }

    /// [`TokenBook::load`], but a missing or damaged book is started over instead of
    /// refused (for `token create`, the documented way out): returns the book to go on
    /// with and, if it was started over, what was lost. A damaged book is kept as
    /// [`TOKENS_DAMAGED_RECORD`] (durable when it returns).
    pub fn load_or_start_over(store: &dyn LogStore) -> Result<(Self, Option<String>), StoreError> {
        let found = Found::read(store)?;
        let Some(fault) = found.fault() else {
            let Found::Book(book) = found else {
                unreachable!("only a book has no fault")
            };
            return Ok((book, None));
        };
        let book = match found {
            Found::Short(book, _) | Found::CountDamaged(book, _) => book,
            Found::Damaged(_) => {
                if let Some(bytes) = store.checkpoint(TOKENS_RECORD)? {
                    store.put_checkpoint(TOKENS_DAMAGED_RECORD, &bytes)?;
                }
                Self::default()
            }
            _ => Self::default(),
        };
        let kept = if book.tokens.is_empty() {
            "no earlier token works any more".to_owned()
        } else {
            format!("the {} tokens it holds still work", book.tokens.len())
        };
        Ok((
            book,
            Some(format!(
                "{}; the book was started over: {kept}",
                fault_summary(&fault)
            )),
        ))
    }

    /// Writes the whole book, then the count of tokens issued. **Durability: when it
    /// returns `Ok`, both are on stable storage (`checkpoints/server.tokens` and its count:
    /// each written, fsynced, renamed, directory fsynced); when it returns `Err`, the
    /// previous book is still there, whole.**
    pub fn save(&self, store: &dyn LogStore) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(self).expect("tokens always serialize");
        store.put_checkpoint(TOKENS_RECORD, &bytes)?;
        // Written second: a crash in between leaves a count below the book's, which
        // reads as healthy, never the reverse.
        store.put_checkpoint(
            TOKENS_ISSUED_RECORD,
            self.tokens.len().to_string().as_bytes(),
        )
    }

    /// Adds a token for `principal` in `org`; returns it with its secret.
    pub fn issue(&mut self, org_id: OrgId, principal: Actor, now: DateTime<Utc>) -> CreatedToken {
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let token = format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let record = TokenRecord {
            id: Uuid::now_v7(),
            org_id,
            principal,
            created_at: now,
            revoked_at: None,
        };
        self.tokens.push(StoredToken {
            record: record.clone(),
            sha256: digest(&token),
        });
        CreatedToken { token, record }
    }

    /// The live (not revoked) token whose secret is `token`.
    pub fn authenticate(&self, token: &str) -> Option<&TokenRecord> {
        let hash = digest(token);
        self.tokens
            .iter()
            .find(|t| t.sha256 == hash && !t.record.revoked())
            .map(|t| &t.record)
    }

    /// Every token, of one org or of all, oldest first.
    pub fn list(&self, org: Option<OrgId>) -> Vec<TokenRecord> {
        self.tokens
            .iter()
            .filter(|t| org.is_none_or(|o| t.record.org_id == o))
            .map(|t| t.record.clone())
            .collect()
    }

    pub fn get(&self, id: Uuid) -> Option<&TokenRecord> {
        self.tokens
            .iter()
            .find(|t| t.record.id == id)
            .map(|t| &t.record)
    }

    /// Whether the book holds no token at all, revoked or not: a new data directory, or
    /// one whose book and count were both deleted (which nothing else can tell apart, as
    /// tokens are not events), so the server names the file at start and in every 401.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Marks token `id` revoked (again is harmless: the first time stays).
    pub fn revoke(&mut self, id: Uuid, now: DateTime<Utc>) -> Option<TokenRecord> {
        let t = self.tokens.iter_mut().find(|t| t.record.id == id)?;
        t.record.revoked_at.get_or_insert(now);
        Some(t.record.clone())
    }
}

/// The fault in a sentence, without the advice (which `token create` just followed).
fn fault_summary(fault: &SideFileError) -> String {
    match fault {
        SideFileError::TokensMissing { file, issued } => {
            format!("{file} was missing ({issued} tokens had been issued)")
        }
        SideFileError::TokensDamaged { file, problem } => {
            format!("{file} was damaged: {problem}")
        }
        other => other.to_string(),
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The server's tokens: the book in memory, written through on every change. On a data
/// directory the server owns the stored book, so nobody else changes it meanwhile; on
/// PostgreSQL the leader changes it, and a follower reads it again every second and
/// when a token it does not know is presented ([`TokenCache::reload_unless_recent`]).
#[derive(Debug)]
pub(crate) struct TokenCache {
    book: Mutex<TokenBook>,
    /// When the book was last read because of an unknown token (the periodic reads of
    /// a follower do not count: a token created since must not wait for the next gap).
    read_at: Mutex<Instant>,
}

impl TokenCache {
    pub fn load(store: &dyn LogStore) -> Result<Self, StoreError> {
        Ok(Self {
            book: Mutex::new(TokenBook::load(store)?),
            read_at: Mutex::new(Instant::now()),
        })
    }

    /// Reads the stored book again and serves it from now on (holding the book, so no
    /// change of this node's falls between the read and the swap).
    pub fn reload(&self, store: &dyn LogStore) -> Result<(), StoreError> {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        *book = TokenBook::load(store)?;
        Ok(())
    }

    /// [`TokenCache::reload`] unless the book was read less than `gap` ago (a client
    /// presenting unknown tokens must not turn each into a read of the store); returns
    /// whether it read.
    pub fn reload_unless_recent(
        &self,
        store: &dyn LogStore,
        gap: Duration,
    ) -> Result<bool, StoreError> {
        {
            let mut read_at = self.read_at.lock().unwrap_or_else(|p| p.into_inner());
            if read_at.elapsed() < gap {
                return Ok(false);
            }
            // Claimed now: concurrent unknown tokens wait for the next gap.
            *read_at = Instant::now();
        }
        self.reload(store).map(|()| true)
    }

    pub fn with<T>(&self, f: impl FnOnce(&TokenBook) -> T) -> T {
        f(&self.book.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Changes the book and saves it; on a failed save the change is undone.
    pub fn change<T>(
        &self,
        store: &dyn LogStore,
        f: impl FnOnce(&mut TokenBook) -> T,
    ) -> Result<T, StoreError> {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let before = book.clone();
        let out = f(&mut book);
        if let Err(e) = book.save(store) {
            *book = before;
            return Err(e);
        }
        Ok(out)
    }
}

/// The org named by `org` (its id or its name, case-insensitively).
pub fn resolve_org<'a>(state: &'a State, org: &str) -> Result<&'a OrgState, TokenError> {
    let found = match org.parse::<OrgId>() {
        Ok(id) => state.org(id),
        Err(_) => state.org_by_name(org),
    };
    found.ok_or_else(|| TokenError::NotFound(format!("organization {org:?}")))
}

/// The principal `spec` names in `org`: `support:NAME`, `auditor:NAME` or
/// `provisioner:NAME` (registered
/// for the org, R5), else a user of the org by id or email.
pub fn resolve_principal(org: &OrgState, spec: &str) -> Result<Actor, TokenError> {
    let outside = |kind: PrincipalKind, name: &str| {
        if org.serves(kind, name) {
            Ok(())
        } else {
            Err(TokenError::NotFound(format!(
                "{} principal {name:?} of organization {:?} (register it first)",
                match kind {
                    PrincipalKind::Support => "support",
                    PrincipalKind::Auditor => "auditor",
                    PrincipalKind::Provisioner => "provisioner",
                },
                org.name()
            )))
        }
    };
    if let Some(name) = spec.strip_prefix("support:") {
        outside(PrincipalKind::Support, name)?;
        return Ok(Actor::Support {
            name: name.to_owned(),
        });
    }
    if let Some(name) = spec.strip_prefix("auditor:") {
        outside(PrincipalKind::Auditor, name)?;
        return Ok(Actor::Auditor {
            name: name.to_owned(),
        });
    }
    if let Some(name) = spec.strip_prefix("provisioner:") {
        outside(PrincipalKind::Provisioner, name)?;
        return Ok(Actor::Provisioner {
            name: name.to_owned(),
        });
    }
    let user = match spec.parse::<UserId>() {
        Ok(id) => org.directory().user(id),
        Err(_) => org.directory().user_by_email(spec),
    };
    match user {
        Some(u) if u.is_listed() => Ok(Actor::User { id: u.id }),
        _ => Err(TokenError::NotFound(format!(
            "user {spec:?} in organization {:?}",
            org.name()
        ))),
    }
}

/// The org a token for `principal` belongs to: `org` if given; else the org of the user
/// id `principal` names, or the only org there is.
pub(crate) fn org_for<'a>(
    state: &'a State,
    org: Option<&str>,
    principal: &str,
) -> Result<&'a OrgState, TokenError> {
    if let Some(org) = org {
        return resolve_org(state, org);
    }
    if let Ok(id) = principal.parse::<UserId>() {
        if let Some(found) = state.orgs().find(|o| o.directory().user(id).is_some()) {
            return Ok(found);
        }
    }
    let mut orgs = state.orgs();
    match (orgs.next(), orgs.next()) {
        (Some(only), None) => Ok(only),
        (None, _) => Err(TokenError::NotFound(
            "organization (create one with `offboard init` first)".to_owned(),
        )),
        _ => Err(TokenError::Invalid(
            "several organizations: name one (by name or id)".to_owned(),
        )),
    }
}

/// `offboard token create [--org ORG] --as USER|support:NAME|auditor:NAME`: creates a
/// token on the data directory the engine owns and returns it with its secret (print
/// it once; it cannot be shown again). **Durability: when it returns `Ok`, the token is
/// on stable storage.**
pub fn create(
    engine: &Engine,
    org: Option<&str>,
    principal: &str,
) -> Result<CreatedToken, TokenError> {
    create_noting_recovery(engine, org, principal).map(|(created, _)| created)
}

/// [`create`], which also starts over a missing or damaged token book
/// ([`TokenBook::load_or_start_over`]): returns the token and, if the book was started
/// over, a sentence saying what was lost. The new token is durable when it returns.
pub fn create_noting_recovery(
    engine: &Engine,
    org: Option<&str>,
    principal: &str,
) -> Result<(CreatedToken, Option<String>), TokenError> {
    let (org_id, actor) = {
        let state = engine.state();
        let org = org_for(&state, org, principal)?;
        (org.id(), resolve_principal(org, principal)?)
    };
    let store = engine.store().as_ref();
    let (mut book, recovered) = TokenBook::load_or_start_over(store)?;
    let created = book.issue(org_id, actor, engine.clock().now());
    book.save(store)?;
    Ok((created, recovered))
}

/// `offboard token list [--org ORG]`: every token (revoked ones included), oldest first.
pub fn list(engine: &Engine, org: Option<&str>) -> Result<Vec<TokenRecord>, TokenError> {
    let org = match org {
        Some(org) => Some(resolve_org(&engine.state(), org)?.id()),
        None => None,
    };
    Ok(TokenBook::load(engine.store().as_ref())?.list(org))
}

/// `offboard token revoke ID`: the token answers 401 from now on. **Durability: when it
/// returns `Ok`, the revocation is on stable storage.**
pub fn revoke(engine: &Engine, id: &str) -> Result<TokenRecord, TokenError> {
    let id: Uuid = id
        .parse()
        .map_err(|_| TokenError::Invalid(format!("{id:?} is not a token id")))?;
    let store = engine.store().as_ref();
    let mut book = TokenBook::load(store)?;
    let revoked = book
        .revoke(id, engine.clock().now())
        .ok_or_else(|| TokenError::NotFound(format!("token {id}")))?;
    book.save(store)?;
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryLog;

    #[test]
    fn only_the_hash_is_stored_and_a_revoked_token_no_longer_authenticates() {
        let store = MemoryLog::new();
        let mut book = TokenBook::default();
        let org = OrgId::new();
        let created = book.issue(org, Actor::Auditor { name: "a".into() }, Utc::now());
        assert!(created.token.starts_with(TOKEN_PREFIX));
        book.save(&store).unwrap();
        let stored = String::from_utf8(store.checkpoint(TOKENS_RECORD).unwrap().unwrap()).unwrap();
        assert!(!stored.contains(&created.token[TOKEN_PREFIX.len()..]));
        let book = TokenBook::load(&store).unwrap();
        assert_eq!(book.authenticate(&created.token), Some(&created.record));
        assert_eq!(book.authenticate("ofb_nope"), None);
        let mut book = book;
        book.revoke(created.record.id, Utc::now()).unwrap();
        assert_eq!(book.authenticate(&created.token), None);
        assert_eq!(book.list(Some(org)).len(), 1);
        assert!(book.list(Some(OrgId::new())).is_empty());
    }

    fn fault(store: &MemoryLog) -> String {
        TokenBook::load(store).unwrap_err().code().to_owned()
    }

    #[test]
    fn a_missing_short_or_unreadable_book_is_named_and_create_starts_it_over() {
        // Given a book of two tokens
        let store = MemoryLog::new();
        let mut book = TokenBook::default();
        let org = OrgId::new();
        book.issue(org, Actor::Auditor { name: "a".into() }, Utc::now());
        book.save(&store).unwrap();
        let one = book.clone();
        book.issue(org, Actor::Auditor { name: "b".into() }, Utc::now());
        book.save(&store).unwrap();
        let two = store.checkpoint(TOKENS_RECORD).unwrap().unwrap();
        // Then an older copy, a cut one and a missing one are each named
        store
            .put_checkpoint(TOKENS_RECORD, &serde_json::to_vec(&one).unwrap())
            .unwrap();
        assert_eq!(fault(&store), "tokens_damaged");
        store.put_checkpoint(TOKENS_RECORD, &two[..20]).unwrap();
        assert_eq!(fault(&store), "tokens_damaged");
        let err = TokenBook::load(&store).unwrap_err().to_string();
        assert!(err.contains(TOKENS_FILE), "{err}");
        // When create starts over, Then the damaged bytes are kept and it says so
        let (book, note) = TokenBook::load_or_start_over(&store).unwrap();
        assert!(book.list(None).is_empty());
        assert!(note.unwrap().contains("damaged"));
        assert_eq!(
            store.checkpoint(TOKENS_DAMAGED_RECORD).unwrap().as_deref(),
            Some(&two[..20])
        );
        // A store without the book but with an issued count: missing
        let bare = MemoryLog::new();
        bare.put_checkpoint(TOKENS_ISSUED_RECORD, b"2").unwrap();
        assert_eq!(fault(&bare), "tokens_missing");
        // A damaged count is named, and create keeps the readable book it finds
        store.put_checkpoint(TOKENS_RECORD, &two).unwrap();
        store.put_checkpoint(TOKENS_ISSUED_RECORD, b"\xff").unwrap();
        let err = TokenBook::load(&store).unwrap_err();
        assert_eq!(err.code(), "tokens_damaged");
        assert!(err.to_string().contains("server.tokens.issued"), "{err}");
        assert_eq!(
            TokenBook::load_or_start_over(&store)
                .unwrap()
                .0
                .list(None)
                .len(),
            2
        );
        // and a store where no token was ever issued is simply empty
        assert!(TokenBook::load(&MemoryLog::new())
            .unwrap()
            .list(None)
            .is_empty());
    }
}
