//! One-time console sign-in links (`offboard console-link --as USER`): a link carries a
//! random secret that opens ONE console session for its principal, once, before it
//! expires. It is not an API token: `Authorization: Bearer` never accepts it, and it
//! opens no session after its first use. Only the secret's SHA-256 is stored, beside the
//! tokens among the store's named checkpoints under [`LINKS_RECORD`]; a use is recorded
//! there before the session opens, so a link stays used across a restart.
//!
//! The CLI mints links on the data directory (as `token create` does, the directory's
//! owner decides) or, in client mode, through `POST /v1/console-links` (the org's
//! owner); the server keeps the book in memory and writes it through on every change,
//! like the token book. Links past their expiry by more than a day are dropped when the
//! book is next written.

use std::sync::Mutex;

use base64::Engine as _;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use chrono::{DateTime, Duration, Utc};
use offboard_events::{Actor, OrgId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::tokens::{org_for, resolve_principal, TokenError};
use crate::store::{LogStore, StoreError};
use crate::Engine;

/// The named checkpoint (beside the log and the tokens) holding every live link.
pub const LINKS_RECORD: &str = "server.console-links";

/// Where a link is opened, relative to the server's address; the secret follows as
/// `?code=`.
pub const LINK_PATH: &str = "/sign-in/link";

/// How long a link works when no time is asked for.
pub const DEFAULT_TTL: Duration = Duration::minutes(10);

/// The longest a link may work: it is a bearer secret in a URL.
pub const MAX_TTL: Duration = Duration::hours(24);

/// A link as listed: never the secret, never its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkRecord {
    pub id: Uuid,
    pub org_id: OrgId,
    /// Who the session it opens acts as.
    pub principal: Actor,
    pub created_at: DateTime<Utc>,
    /// It opens nothing from this time on.
    pub expires_at: DateTime<Utc>,
    /// When it opened its session; a used link opens nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
}

/// A link just created: the secret is here and nowhere else, ever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedLink {
    /// The link relative to the server's address: `/sign-in/link?code=SECRET`.
    pub path: String,
    pub record: LinkRecord,
}

/// Why a link opened nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No link has this secret (mistyped, cut short, or from another server).
    Unknown,
    /// It was used at this time.
    Used(DateTime<Utc>),
    /// It expired at this time.
    Expired(DateTime<Utc>),
    /// The stored book is unreadable (what is wrong): no link opens anything until one
    /// is created again, which starts the book over.
    Unavailable(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredLink {
    #[serde(flatten)]
    record: LinkRecord,
    /// Hex SHA-256 of the secret.
    sha256: String,
}

/// Every link not long expired, as stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LinkBook {
    links: Vec<StoredLink>,
}

impl LinkBook {
    /// The stored book (empty when none was ever written). A book that does not parse
    /// is `Err` with what is wrong, naming the file; creating a link starts it over.
    pub fn load(store: &dyn LogStore) -> Result<Result<Self, String>, StoreError> {
        let Some(bytes) = store.checkpoint(LINKS_RECORD)? else {
            return Ok(Ok(Self::default()));
        };
        Ok(serde_json::from_slice(&bytes).map_err(|e| {
            format!("checkpoints/{LINKS_RECORD} is not a book of sign-in links ({e})")
        }))
    }

    /// Writes the whole book, without the links expired for more than a day.
    /// **Durability: when it returns `Ok`, the book is on stable storage (written,
    /// fsynced, renamed, directory fsynced); on `Err` the previous book is still there.**
    pub fn save(&mut self, store: &dyn LogStore, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.links
            .retain(|l| l.record.expires_at + Duration::days(1) > now);
        let bytes = serde_json::to_vec(self).expect("links always serialize");
        store.put_checkpoint(LINKS_RECORD, &bytes)
    }

    /// Adds a link for `principal` in `org`, working for `ttl` from `now`.
    pub fn issue(
        &mut self,
        org_id: OrgId,
        principal: Actor,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> CreatedLink {
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let record = LinkRecord {
            id: Uuid::now_v7(),
            org_id,
            principal,
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
        };
        self.links.push(StoredLink {
            record: record.clone(),
            sha256: digest(&secret),
        });
        CreatedLink {
            path: format!("{LINK_PATH}?code={secret}"),
            record,
        }
    }

    /// Marks the link of `secret` used at `now` and returns it, if it is known, unused
    /// and not expired.
    pub fn consume(&mut self, secret: &str, now: DateTime<Utc>) -> Result<LinkRecord, Refusal> {
        let hash = digest(secret);
        let link = self
            .links
            .iter_mut()
            .find(|l| l.sha256 == hash)
            .ok_or(Refusal::Unknown)?;
        if let Some(at) = link.record.used_at {
            return Err(Refusal::Used(at));
        }
        if now >= link.record.expires_at {
            return Err(Refusal::Expired(link.record.expires_at));
        }
        link.record.used_at = Some(now);
        Ok(link.record.clone())
    }
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The server's links: the book in memory, written through on every change (the server
/// owns the data directory, so nobody else writes the stored book meanwhile). `Err`
/// holds why the stored book was unreadable: then no link opens anything.
#[derive(Debug)]
pub(crate) struct LinkCache {
    book: Mutex<Result<LinkBook, String>>,
}

impl LinkCache {
    pub fn load(store: &dyn LogStore) -> Result<Self, StoreError> {
        Ok(Self {
            book: Mutex::new(LinkBook::load(store)?),
        })
    }

    /// Reads the stored book again (a node taking over as the leader: the links the
    /// last leader issued and used are in the store, not in this node's memory).
    pub fn reload(&self, store: &dyn LogStore) -> Result<(), StoreError> {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        *book = LinkBook::load(store)?;
        Ok(())
    }

    /// Consumes the link of `secret` and saves the book before answering: when it
    /// returns `Ok(Ok(link))`, the link's use is durable.
    pub fn consume(
        &self,
        store: &dyn LogStore,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<LinkRecord, Refusal>, StoreError> {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let book = match guard.as_mut() {
            Ok(book) => book,
            Err(problem) => return Ok(Err(Refusal::Unavailable(problem.clone()))),
        };
        let before = book.clone();
        let used = match book.consume(secret, now) {
            Ok(link) => link,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if let Err(e) = book.save(store, now) {
            *book = before;
            return Err(e);
        }
        Ok(Ok(used))
    }

    /// Issues a link and saves the book (started over if it was unreadable); the link
    /// is durable when it returns `Ok`.
    pub fn issue(
        &self,
        store: &dyn LogStore,
        org_id: OrgId,
        principal: Actor,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<CreatedLink, StoreError> {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let mut book = guard.clone().unwrap_or_default();
        let created = book.issue(org_id, principal, now, ttl);
        book.save(store, now)?;
        *guard = Ok(book);
        Ok(created)
    }
}

/// A link's lifetime from the `--ttl` text (`90s`, `10m`, `2h`, a plain number of
/// seconds): `invalid_input` unless it is positive and at most [`MAX_TTL`].
pub fn parse_ttl(text: &str) -> Result<Duration, TokenError> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let seconds = match (number.trim().parse::<i64>(), unit) {
        (Ok(n), 's') => Some(n),
        (Ok(n), 'm') => n.checked_mul(60),
        (Ok(n), 'h') => n.checked_mul(3600),
        _ => None,
    };
    match seconds.map(Duration::seconds) {
        Some(ttl) if ttl > Duration::zero() && ttl <= MAX_TTL => Ok(ttl),
        _ => Err(TokenError::Invalid(format!(
            "--ttl {text:?}: give a time from 1s to 24h, e.g. 10m, 90s or 2h"
        ))),
    }
}

/// `offboard console-link [--org ORG] --as PRINCIPAL [--ttl T]` on a data directory:
/// resolves the principal as `token create` does and stores a new link for it.
/// **Durability: when it returns `Ok`, the link is on stable storage.**
pub fn create(
    engine: &Engine,
    org: Option<&str>,
    principal: &str,
    ttl: Duration,
) -> Result<CreatedLink, TokenError> {
    let (org_id, actor) = {
        let state = engine.state();
        let org = org_for(&state, org, principal)?;
        (org.id(), resolve_principal(org, principal)?)
    };
    let store = engine.store().as_ref();
    let mut book = LinkBook::load(store)?.unwrap_or_default();
    let now = engine.clock().now();
    let created = book.issue(org_id, actor, now, ttl);
    book.save(store, now)?;
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryLog;

    #[test]
    fn a_link_opens_once_before_it_expires_and_only_its_hash_is_stored() {
        // Given a link of ten minutes, saved
        let store = MemoryLog::new();
        let now = Utc::now();
        let mut book = LinkBook::default();
        let actor = Actor::Auditor { name: "a".into() };
        let link = book.issue(OrgId::new(), actor, now, DEFAULT_TTL);
        book.save(&store, now).unwrap();
        let secret = link.path.split("code=").nth(1).unwrap().to_owned();
        let stored = String::from_utf8(store.checkpoint(LINKS_RECORD).unwrap().unwrap()).unwrap();
        assert!(!stored.contains(&secret));
        // When it is used, Then it opens once, and the use is kept across a reload
        let mut book = LinkBook::load(&store).unwrap().unwrap();
        assert_eq!(book.consume("nope", now), Err(Refusal::Unknown));
        let later = now + Duration::minutes(1);
        assert_eq!(book.consume(&secret, later).unwrap().id, link.record.id);
        book.save(&store, later).unwrap();
        let mut book = LinkBook::load(&store).unwrap().unwrap();
        assert_eq!(book.consume(&secret, later), Err(Refusal::Used(later)));
        // And another link past its time is expired, then dropped a day later
        let old = book.issue(OrgId::new(), Actor::System, now, Duration::seconds(1));
        let old_secret = old.path.split("code=").nth(1).unwrap().to_owned();
        let expired = book.consume(&old_secret, now + Duration::seconds(1));
        assert_eq!(expired, Err(Refusal::Expired(now + Duration::seconds(1))));
        book.save(&store, now + Duration::days(2)).unwrap();
        assert!(LinkBook::load(&store).unwrap().unwrap().links.is_empty());
        // A damaged book is named
        store.put_checkpoint(LINKS_RECORD, b"{").unwrap();
        assert!(LinkBook::load(&store)
            .unwrap()
            .unwrap_err()
            .contains(LINKS_RECORD));
    }

    #[test]
    fn ttls_are_read_in_seconds_minutes_or_hours_up_to_a_day() {
        assert_eq!(parse_ttl("10m").unwrap(), Duration::minutes(10));
        assert_eq!(parse_ttl("90").unwrap(), Duration::seconds(90));
        assert_eq!(parse_ttl("2h").unwrap(), Duration::hours(2));
        for bad in ["0s", "25h", "-5m", "ten", "5d", ""] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
