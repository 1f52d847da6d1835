//! `token create|list|revoke`: the server's API tokens, managed on the data directory
//! (`server::tokens`). A token is printed once, when created; only its SHA-256 is kept.

use offboard_events::Actor;
use serde_json::json;
use uuid::Uuid;

use super::args::TokenCmd;
use super::error::CliError;
use super::names::Names;
use super::{resolve, Ctx};
use crate::server::tokens::{self, CreatedToken, TokenError, TokenRecord};

impl From<TokenError> for CliError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NotFound(_) => CliError::not_found(e.to_string()),
            TokenError::Invalid(_) => CliError::invalid(e.to_string()),
            TokenError::Storage(s) => s.into(),
        }
    }
}

pub fn token(cx: &mut Ctx, c: &TokenCmd) -> Result<(), CliError> {
    match c {
        TokenCmd::Create => create(cx),
        TokenCmd::List => list(cx),
        TokenCmd::Revoke { id } => revoke(cx, id),
    }
}

/// The principal `--as` names for `command` (`token create`, `console-link`), and the
/// `--org` given, if any.
pub(super) fn principal_and_org<'a>(
    cx: &'a Ctx,
    command: &str,
) -> Result<(&'a str, Option<&'a str>), CliError> {
    let principal = cx
        .global
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            CliError::usage(format!(
                "{command} needs the principal: --as USER, --as support:NAME or --as auditor:NAME"
            ))
        })?;
    let org = cx.global.org.as_deref().filter(|o| !o.trim().is_empty());
    Ok((principal, org))
}

fn create(cx: &mut Ctx) -> Result<(), CliError> {
    let (principal, org) = principal_and_org(cx, "token create")?;
    let (created, recovered): (CreatedToken, _) = match cx.remote() {
        None => tokens::create_noting_recovery(cx.engine()?, org, principal)?,
        Some(r) => (
            r.post("/v1/tokens", &json!({ "principal": principal }))?,
            None,
        ),
    };
    let who = principal_label(cx, &created.record);
    let mut message = format!(
        "Created token {} for {who}. It is shown only this once (only its SHA-256 is kept): store it now.",
        created.record.id
    );
    if let Some(recovered) = recovered {
        message = format!("{recovered}. {message}");
    }
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "ok": true,
            "message": message,
            "token": created.token,
            "record": created.record,
        }))?;
    } else {
        cx.out.line(&created.token);
        cx.out.line(message);
    }
    Ok(())
}

fn list(cx: &mut Ctx) -> Result<(), CliError> {
    let org = cx.global.org.as_deref().filter(|o| !o.trim().is_empty());
    let records: Vec<TokenRecord> = match cx.remote() {
        None => tokens::list(cx.engine()?, org)?,
        Some(r) => r.tokens()?,
    };
    if cx.out.is_json() {
        cx.out.doc(&json!({ "tokens": records }))?;
        return Ok(());
    }
    if records.is_empty() {
        cx.out
            .line("No token yet: create one with `offboard token create --as USER`.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                principal_label(cx, r),
                r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.revoked_at.map_or_else(
                    || "-".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                ),
            ]
        })
        .collect();
    cx.out.table(
        &["id", "principal", "created (UTC)", "revoked (UTC)"],
        &rows,
    );
    Ok(())
}

fn revoke(cx: &mut Ctx, id: &str) -> Result<(), CliError> {
    let record = match cx.remote() {
        None => tokens::revoke(cx.engine()?, id)?,
        Some(r) => {
            let id: Uuid = id.trim().parse().map_err(|_| {
                CliError::from(TokenError::Invalid(format!("{id:?} is not a token id")))
            })?;
            r.post(&format!("/v1/tokens/{id}/revoke"), &json!({}))?
        }
    };
    let message = format!(
        "Revoked token {} of {}: requests with it answer 401 from now on.",
        record.id,
        principal_label(cx, &record)
    );
    if cx.out.is_json() {
        cx.out
            .doc(&json!({ "ok": true, "message": message, "record": record }))?;
    } else {
        cx.out.line(message);
    }
    Ok(())
}

/// `dana@acme.example in "Acme"`, `auditor:audit-firm in "Acme"`.
fn principal_label(cx: &Ctx, record: &TokenRecord) -> String {
    label(cx, record.org_id, &record.principal)
}

/// [`principal_label`] of `principal` in the org `org_id`.
pub(super) fn label(cx: &Ctx, org_id: offboard_events::OrgId, principal: &Actor) -> String {
    if let Some(r) = cx.remote() {
        let who = match principal {
            Actor::User { id } => r.email(*id),
            other => other.to_string(),
        };
        return format!("{who} in {:?}", r.whoami().org_name);
    }
    let Ok(engine) = cx.engine() else {
        return principal.to_string();
    };
    let state = engine.state();
    let Some(org) = state.org(org_id) else {
        return principal.to_string();
    };
    let who = match principal {
        Actor::User { id } => resolve::email(org, *id),
        other => other.to_string(),
    };
    format!("{who} in {:?}", org.name())
}
