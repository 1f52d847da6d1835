//! Authentication and read authority. Every `/v1` request but the OpenAPI document
//! carries `Authorization: Bearer <token>`; the token names one org and one principal,
//! and the request acts as that principal in that org: the org comes from the token,
//! never from the URL, so another org's ids are simply not found (R1).
//!
//! Commands are authorized by the domain itself (R4–R6, unchanged). Reads have no domain
//! rule, so this module holds them: directory reads (users, owners, plan) for any active
//! user of the org and the support and auditor principals serving it (R5); history
//! reads, the event stream and verify for owners, admins, support and auditors.

use std::time::Duration;

use aide::OperationInput;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use offboard_events::{Actor, OrgId, PrincipalKind, Role, UserStatus};
use offboard_projections::{OrgState, State};
use uuid::Uuid;

use super::error::ApiError;
use super::AppState;

/// Who is calling: the principal of a valid token, in the token's org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub org_id: OrgId,
    pub actor: Actor,
    pub token_id: Uuid,
}

/// The 401 message while the token book holds no token (see [`TokenBook::is_empty`]).
pub const NO_TOKENS_ISSUED: &str = "no token exists in this store: its token book (checkpoints/server.tokens in a data directory, the checkpoint row server.tokens on PostgreSQL) holds none (none was issued yet, or it and server.tokens.issued were deleted); create one with `offboard token create --as USER`";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("missing bearer token (Authorization: Bearer …)")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header is not a bearer token")
            })?;
        let mut found = state
            .tokens()
            .with(|book| book.authenticate(token).cloned().ok_or(book.is_empty()));
        if found.is_err() && fresher_book(state).await {
            found = state
                .tokens()
                .with(|book| book.authenticate(token).cloned().ok_or(book.is_empty()));
        }
        let record = found.map_err(|no_token_at_all| {
            // A book with no token at all is either a new directory or one whose
            // book and count were both deleted: either way, say where tokens live.
            ApiError::unauthorized(if no_token_at_all {
                NO_TOKENS_ISSUED
            } else {
                "unknown or revoked token"
            })
        })?;
        let caller = Caller {
            org_id: record.org_id,
            actor: record.principal,
            token_id: record.id,
        };
        // The request's log line names the principal, never the token.
        tracing::Span::current().record("principal", tracing::field::display(&caller.actor));
        Ok(caller)
    }
}

impl OperationInput for Caller {}

/// At most this often, a node that does not lead reads the token book again because a
/// token it does not know was presented (one created on the leader a moment ago).
const UNKNOWN_TOKEN_RELOAD_GAP: Duration = Duration::from_millis(200);

/// On a node that does not lead, reads the token book again (unless it did so within
/// [`UNKNOWN_TOKEN_RELOAD_GAP`]); returns whether the book may have changed.
async fn fresher_book(state: &AppState) -> bool {
    if state.engine().role().is_leader() {
        return false;
    }
    let reading = state.clone();
    let reloaded = state
        .blocking(move || {
            let store = reading.engine().store();
            reading
                .tokens()
                .reload_unless_recent(store.as_ref(), UNKNOWN_TOKEN_RELOAD_GAP)
        })
        .await;
    match reloaded {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the token book could not be read again");
            false
        }
        Err(_) => false,
    }
}

/// What a read needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// The directory, ownership, plans: any active user, support, auditors.
    Directory,
    /// Histories, the event stream, verify: owners, admins, support, auditors.
    History,
}

impl Caller {
    /// The caller's org, checked to let the caller read `what`.
    pub fn may_read<'a>(&self, state: &'a State, what: Read) -> Result<&'a OrgState, ApiError> {
        let org = self.org(state)?;
        match &self.actor {
            Actor::User { .. } => {
                let user = self.active_user(org)?;
                if what == Read::History && user < Role::Admin {
                    return Err(ApiError::forbidden(
                        "histories and the event stream are for the owner, admins, support and auditors",
                    ));
                }
            }
            Actor::Support { name } => served(org, PrincipalKind::Support, name)?,
            Actor::Auditor { name } => served(org, PrincipalKind::Auditor, name)?,
            // A provisioner reads the directory (SCIM GET), never histories.
            Actor::Provisioner { name } if what == Read::Directory => {
                served(org, PrincipalKind::Provisioner, name)?
            }
            Actor::Provisioner { .. } => {
                return Err(ApiError::forbidden(
                    "a provisioner reads the directory only",
                ))
            }
            Actor::System => return Err(ApiError::forbidden("the system actor has no API access")),
        }
        Ok(org)
    }

    /// The caller's org, checked that the caller is its active owner (token management).
    pub fn owner_of<'a>(&self, state: &'a State) -> Result<&'a OrgState, ApiError> {
        let org = self.org(state)?;
        match &self.actor {
            Actor::User { .. } if self.active_user(org)? == Role::Owner => Ok(org),
            _ => Err(ApiError::forbidden(
                "only the organization's owner manages tokens",
            )),
        }
    }

    pub fn org<'a>(&self, state: &'a State) -> Result<&'a OrgState, ApiError> {
        state
            .org(self.org_id)
            .ok_or_else(|| ApiError::not_found(format!("organization {}", self.org_id)))
    }

    /// The caller's role, if the caller is an active user (deactivated users cannot
    /// sign in, R8).
    fn active_user(&self, org: &OrgState) -> Result<Role, ApiError> {
        let id = self.actor.user_id().expect("called for users");
        match org.directory().user(id) {
            Some(u) if u.status == UserStatus::Active => Ok(u.role),
            Some(_) => Err(ApiError::forbidden("only active users may act")),
            None => Err(ApiError::forbidden(
                "the token's user is not in this organization",
            )),
        }
    }
}

fn served(org: &OrgState, kind: PrincipalKind, name: &str) -> Result<(), ApiError> {
    if org.serves(kind, name) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "this principal does not serve this organization",
        ))
    }
}
