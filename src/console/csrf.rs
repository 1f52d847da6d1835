//! CSRF protection: every form the console renders carries its session's random token
//! in a hidden `csrf` field, and every `POST` is refused (`403 csrf_failed`, nothing
//! done) unless it sends that token back. The session cookie is also
//! `SameSite=Strict`; the token covers browsers that ignore it and same-site attackers.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::failure::Failure;
use super::session::Signed;
use crate::server::AppState;

/// A form posted from a signed-in session with its CSRF token checked: the fields in
/// the order sent (a multi-select sends one pair per choice).
#[derive(Debug)]
pub struct Posted {
    pub signed: Signed,
    pub fields: Vec<(String, String)>,
}

impl Posted {
    /// The first value of field `name`, trimmed; `None` when absent or blank.
    pub fn one(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-blank value of field `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Field `name`, required.
    pub fn required(&self, name: &str, what: &str) -> Result<&str, Failure> {
        self.one(name)
            .ok_or_else(|| Failure::invalid(format!("choose {what}")))
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            Failure::invalid(format!("the form does not parse: {e}")).into_response()
        })?;
        let sent = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map_or("", |(_, v)| v.as_str());
        if !same(sent, &signed.session.csrf) {
            return Err(Failure::csrf().into_response());
        }
        Ok(Self { signed, fields })
    }
}

/// Compares the two tokens' digests, so the time taken says nothing about how much of
/// a guess was right.
fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_same_token_matches() {
        assert!(super::same("abc", "abc"));
        assert!(!super::same("abc", "abd"));
        assert!(!super::same("", "abc"));
    }
}
