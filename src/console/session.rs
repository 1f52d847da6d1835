//! Console sessions: a server-side record per sign-in, keyed by a random id that the
//! browser holds in an `HttpOnly; SameSite=Strict` cookie (`Secure` unless the console
//! is reached on a loopback host). A session remembers the token it was opened with,
//! never the token itself: revoking the token ends the session on its next request. A
//! session opened by a one-time link (`offboard console-link`) has no token: it ends
//! when its principal may no longer read the org (a deactivated or deleted user, a
//! principal no longer registered), like every session, or by the limits below.
//! Sessions expire after [`IDLE`] without a request and [`LIFETIME`] after sign-in, and
//! live in memory, so a restarted server asks everyone to sign in again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use offboard_events::{Actor, OrgId, Role};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::failure::Failure;
use crate::server::{AppState, Caller, Read};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "offboard_session";

/// A session unused this long is over.
pub const IDLE: Duration = Duration::from_secs(60 * 60);

/// A session is over this long after sign-in, however busy.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// One signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    pub org_id: OrgId,
    pub actor: Actor,
    /// The token the session was opened with (its id, never its secret), or the
    /// sign-in link's id when `by_link`.
    pub token_id: Uuid,
    /// Opened by a one-time sign-in link rather than a token.
    pub by_link: bool,
    /// The value every form of this session must send back (see [`super::csrf`]).
    pub csrf: String,
    started: Instant,
    last_seen: Instant,
}

/// Every open session, by the SHA-256 of its cookie value (so a lookup's timing says
/// nothing about the ids it holds, and a memory dump holds no usable cookie).
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Opens a session for `caller` (whose `token_id` is a token's id, or a sign-in
    /// link's when `by_link`); returns the cookie value to hand the browser.
    pub fn open(&self, caller: &Caller, by_link: bool) -> String {
        let id = random_token();
        let now = Instant::now();
        let session = Session {
            org_id: caller.org_id,
            actor: caller.actor.clone(),
            token_id: caller.token_id,
            by_link,
            csrf: random_token(),
            started: now,
            last_seen: now,
        };
        let mut open = self.lock();
        open.retain(|_, s| s.live(now));
        open.insert(digest(&id), session);
        id
    }

    /// The live session of cookie value `id`, touched; `None` when unknown or expired
    /// (an expired one is dropped).
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut open = self.lock();
        let key = digest(id);
        let session = open.get_mut(&key)?;
        if !session.live(now) {
            open.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session of cookie value `id`, if any.
    pub fn close(&self, id: &str) {
        self.lock().remove(&digest(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Session {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) < IDLE && now.duration_since(self.started) < LIFETIME
    }

    /// Whether what opened the session still holds: its token is not revoked (a
    /// link's session has no token to revoke).
    pub fn credential_live(&self, state: &AppState) -> bool {
        self.by_link
            || state
                .tokens()
                .with(|book| book.get(self.token_id).is_some_and(|t| !t.revoked()))
    }
}

/// 32 random bytes from the OS, base64url without padding.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// The session cookie for `value`; `secure` unless the console is reached on loopback.
pub fn cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .build()
}

/// Whether the request reached a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`),
/// where the console is served over plain HTTP and a `Secure` cookie would not come
/// back. Read from `Host`: a client lying about it only changes its own cookie.
#[derive(Clone, Copy, Debug)]
pub struct Loopback(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Loopback {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(on_loopback(parts)))
    }
}

fn on_loopback(parts: &Parts) -> bool {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A request from a signed-in browser: its session, the principal it acts as (checked
/// live against the token book and the org), and what the principal may see.
#[derive(Clone, Debug)]
pub struct Signed {
    pub session: Session,
    pub caller: Caller,
    pub may: Abilities,
    /// Who is signed in, as a person reads it: a user's email, `support:NAME`, …
    pub who: String,
}

/// What the signed-in principal is shown. The domain still decides every action: this
/// only hides controls the principal could never use.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Abilities {
    /// Change other users (owners, admins, managers).
    pub manage: bool,
    /// Restore deleted users (the owner and support).
    pub restore: bool,
    /// Read histories, the timeline and the chain (owners, admins, support, auditors).
    pub audit: bool,
    /// A label for the header, e.g. `admin` or `auditor`.
    pub label: &'static str,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = |parts: &Parts| -> Response {
            if parts.method == Method::GET {
                Redirect::to("/sign-in").into_response()
            } else {
                Failure::unauthorized().into_response()
            }
        };
        let Extension(sessions) = Extension::<Arc<Sessions>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(session) = jar
            .get(SESSION_COOKIE)
            .and_then(|c| sessions.touch(c.value()))
        else {
            return Err(to_sign_in(parts));
        };
        if !session.credential_live(state) {
            if let Some(c) = jar.get(SESSION_COOKIE) {
                sessions.close(c.value());
            }
            return Err(to_sign_in(parts));
        }
        let caller = Caller {
            org_id: session.org_id,
            actor: session.actor.clone(),
            token_id: session.token_id,
        };
        let may = abilities(state, &caller).map_err(IntoResponse::into_response)?;
        let who = match &caller.actor {
            Actor::User { id } => crate::read::email(
                caller
                    .org(&state.engine().state())
                    .map_err(IntoResponse::into_response)?,
                *id,
            ),
            other => other.to_string(),
        };
        Ok(Self {
            session,
            caller,
            may,
            who,
        })
    }
}

/// What `caller` is shown, once it may read the directory at all (a deactivated user's
/// session ends here).
pub fn abilities(state: &AppState, caller: &Caller) -> Result<Abilities, Failure> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    Ok(match &caller.actor {
        Actor::User { id } => {
            let role = org.directory().user(*id).map_or(Role::Member, |u| u.role);
            Abilities {
                manage: role >= Role::Manager,
                restore: role == Role::Owner,
                audit: role >= Role::Admin,
                label: role.as_str(),
            }
        }
        Actor::Support { .. } => Abilities {
            manage: false,
            restore: true,
            audit: true,
            label: "support",
        },
        Actor::Auditor { .. } | Actor::System => Abilities {
            manage: false,
            restore: false,
            audit: true,
            label: "auditor",
        },
        // An identity provider's SCIM client: it provisions over /scim/v2, it has
        // nothing to do in a person's console.
        Actor::Provisioner { .. } => Abilities {
            manage: false,
            restore: false,
            audit: false,
            label: "provisioner",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_value_and_ends_when_closed() {
        let sessions = Sessions::default();
        let caller = Caller {
            org_id: OrgId::new(),
            actor: Actor::Auditor { name: "a".into() },
            token_id: Uuid::new_v4(),
        };
        let id = sessions.open(&caller, false);
        let session = sessions.touch(&id).expect("open");
        assert_eq!(session.token_id, caller.token_id);
        assert_ne!(session.csrf, id);
        assert!(sessions.touch("forged").is_none());
        sessions.close(&id);
        assert!(sessions.touch(&id).is_none());
    }

    #[test]
    fn a_session_past_its_idle_time_or_lifetime_is_over() {
        let now = Instant::now();
        let session = |started: Duration, seen: Duration| Session {
            org_id: OrgId::new(),
            actor: Actor::System,
            token_id: Uuid::new_v4(),
            by_link: false,
            csrf: String::new(),
            started: now - started,
            last_seen: now - seen,
        };
        assert!(session(Duration::from_secs(60), Duration::ZERO).live(now));
        assert!(!session(IDLE * 2, IDLE).live(now));
        assert!(!session(LIFETIME, Duration::ZERO).live(now));
    }

    #[test]
    fn loopback_hosts_are_recognized() {
        let parts = |host: &str| {
            let (parts, ()) = axum::http::Request::builder()
                .header(header::HOST, host)
                .body(())
                .unwrap()
                .into_parts();
            parts
        };
        for host in ["localhost:8080", "127.0.0.1:3000", "[::1]:80", "127.0.0.9"] {
            assert!(on_loopback(&parts(host)), "{host}");
        }
        for host in ["console.example", "10.0.0.1:80", "[2001:db8::1]:443"] {
            assert!(!on_loopback(&parts(host)), "{host}");
        }
    }
}
