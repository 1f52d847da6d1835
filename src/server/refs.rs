//! How requests name things: a user by id or email (within the caller's org only), and
//! the headers every command takes — `Idempotency-Key` (the command id), `On-Behalf-Of`
//! (R6) and `Correlation-Id`.

use aide::generate::GenContext;
use aide::openapi::Operation;
use aide::OperationInput;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use offboard_events::{Actor, CommandId, CorrelationId, OrgId, UserId};
use offboard_projections::OrgState;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::header_parameter;

use crate::domain::DomainError;
pub use crate::domain::UserRef;

impl UserRef {
    /// [`UserRef::lookup`] answered as an API error (`400 invalid_input`, `404
    /// not_found`).
    pub fn resolve(&self, org: &OrgState, deleted_too: bool) -> Result<UserId, ApiError> {
        self.lookup(org, deleted_too).map_err(|e| match e {
            // A malformed reference is a bad request, not a refused command.
            DomainError::InvalidInput(message) => ApiError::bad_request(message),
            other => other.into(),
        })
    }
}

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const ON_BEHALF_OF: &str = "on-behalf-of";
pub const CORRELATION_ID: &str = "correlation-id";

/// Longest `Idempotency-Key` accepted.
const MAX_KEY: usize = 255;

/// The headers of a command request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandHeaders {
    pub idempotency_key: Option<String>,
    pub on_behalf_of: Option<UserRef>,
    pub correlation_id: Option<CorrelationId>,
}

impl CommandHeaders {
    fn parse(headers: &HeaderMap) -> Result<Self, ApiError> {
        let text = |name: &str| -> Result<Option<String>, ApiError> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map(|s| s.trim().to_owned())
                        .map_err(|_| ApiError::bad_request(format!("header {name} is not text")))
                })
                .transpose()
        };
        let idempotency_key = text(IDEMPOTENCY_KEY)?;
        if let Some(key) = &idempotency_key {
            if key.is_empty() || key.len() > MAX_KEY {
                return Err(ApiError::bad_request(format!(
                    "Idempotency-Key must be 1 to {MAX_KEY} characters"
                )));
            }
        }
        let correlation_id = text(CORRELATION_ID)?
            .map(|c| {
                c.parse::<CorrelationId>()
                    .map_err(|_| ApiError::bad_request("Correlation-Id must be a UUID"))
            })
            .transpose()?;
        Ok(Self {
            idempotency_key,
            on_behalf_of: text(ON_BEHALF_OF)?.map(UserRef),
            correlation_id,
        })
    }

    /// The metadata of a command `caller` sends with these headers, acting for
    /// `on_behalf_of` (already resolved in the caller's org).
    pub fn meta(&self, caller: &super::Caller, on_behalf_of: Option<UserId>) -> crate::CommandMeta {
        crate::CommandMeta {
            org_id: caller.org_id,
            actor: caller.actor.clone(),
            on_behalf_of,
            command_id: self.command_id(caller.org_id, &caller.actor),
            correlation_id: self.correlation_id,
            causation_id: None,
        }
    }

    /// The command id: a UUID key is the command id itself; any other key is hashed
    /// (with the org and principal, so two tenants' `"retry-1"` never collide) into a
    /// UUID v8, the same on every retry; no key is a fresh id.
    pub fn command_id(&self, org: OrgId, actor: &Actor) -> CommandId {
        match &self.idempotency_key {
            None => CommandId::new(),
            Some(key) => match key.parse::<Uuid>() {
                Ok(id) => CommandId(id),
                Err(_) => {
                    let mut hasher = Sha256::new();
                    hasher.update(b"offboard idempotency key\0");
                    hasher.update(org.0.as_bytes());
                    hasher.update(actor.to_string().as_bytes());
                    hasher.update(b"\0");
                    hasher.update(key.as_bytes());
                    let digest = hasher.finalize();
                    let mut bytes = [0u8; 16];
                    bytes.copy_from_slice(&digest[..16]);
                    CommandId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
                }
            },
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CommandHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::parse(&parts.headers)
    }
}

// The header as documented: what `CommandHeaders` accepts (1 to MAX_KEY characters once
// trimmed; a header value that is not visible ASCII is already refused as "not text").
/// A command's `Idempotency-Key`: 1 to 255 visible ASCII characters, without leading or
/// trailing spaces.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
#[schemars(rename = "IdempotencyKey")]
struct IdempotencyKeyDoc(
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[!-~]([ -~]*[!-~])?$"))] String,
);

impl OperationInput for CommandHeaders {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        header_parameter::<IdempotencyKeyDoc>(ctx, operation, "Idempotency-Key",
            "The command id: a retry with the same key returns the first result and appends nothing; the same key with another command is 409. A UUID is used as the command id; any other text is hashed into one.");
        header_parameter::<UserRef>(
            ctx,
            operation,
            "On-Behalf-Of",
            "The deactivated user (id or email) an admin acts for; the events record both.",
        );
        header_parameter::<CorrelationId>(
            ctx,
            operation,
            "Correlation-Id",
            "The business operation this command is part of (defaults to the command id).",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_command_ids_deterministically_and_per_principal() {
        let org = OrgId(Uuid::from_u128(1));
        let actor = Actor::Auditor { name: "a".into() };
        let with = |key: &str| CommandHeaders {
            idempotency_key: Some(key.to_owned()),
            ..Default::default()
        };
        let uuid = Uuid::from_u128(77);
        assert_eq!(
            with(&uuid.to_string()).command_id(org, &actor),
            CommandId(uuid)
        );
        let a = with("retry-1").command_id(org, &actor);
        assert_eq!(a, with("retry-1").command_id(org, &actor));
        assert_eq!(a.0.get_version_num(), 8);
        assert_ne!(
            a,
            with("retry-1").command_id(OrgId(Uuid::from_u128(2)), &actor)
        );
        assert_ne!(
            CommandHeaders::default().command_id(org, &actor),
            CommandHeaders::default().command_id(org, &actor)
        );
    }
}
