//! `console-link --as USER [--ttl 10m] [--url BASE]`: prints a one-time URL that signs
//! `USER` in to the web console (`server::links`): on the data directory, under the same
//! rules as `token create`, or through a server (`--server`/`--token`, the owner's).

use serde_json::json;

use super::error::CliError;
use super::tokens::{label, principal_and_org};
use super::Ctx;
use crate::server::links::{self, CreatedLink};

/// Where links point when neither `--url` nor `--server` says: `serve`'s default address.
pub const DEFAULT_BASE: &str = "http://127.0.0.1:8080";

pub fn run(cx: &mut Ctx, ttl: &str, url: Option<&str>) -> Result<(), CliError> {
    let (principal, org) = principal_and_org(cx, "console-link")?;
    let ttl = links::parse_ttl(ttl)?;
    let base = url
        .or(cx.remote().map(|r| r.url()))
        .unwrap_or(DEFAULT_BASE)
        .trim()
        .trim_end_matches('/')
        .to_owned();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(CliError::usage(format!(
            "--url takes the console's address, e.g. {DEFAULT_BASE} (not {base:?})"
        )));
    }
    let created: CreatedLink = match cx.remote() {
        None => links::create(cx.engine()?, org, principal, ttl)?,
        Some(r) => r.post(
            "/v1/console-links",
            &json!({ "principal": principal, "ttl_seconds": ttl.num_seconds() }),
        )?,
    };
    let record = &created.record;
    let link = format!("{base}{}", created.path);
    let message = format!(
        "A one-time sign-in link for {}: it opens one console session, once, until {} UTC. \
         Whoever holds it can use it: open it yourself, share it with no one.",
        label(cx, record.org_id, &record.principal),
        record.expires_at.format("%Y-%m-%d %H:%M:%S"),
    );
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "ok": true,
            "message": message,
            "url": link,
            "record": record,
        }))?;
    } else {
        cx.out.line(&link);
        cx.out.line(message);
    }
    Ok(())
}
