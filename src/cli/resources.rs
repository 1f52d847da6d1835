//! Resources: `resource add` (`resource import` is in `import.rs`), and the ownership
//! views `owners` and `owner` (now or as of a time or position, with every owner a
//! resource had).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use offboard_events::{Actor, CorrelationId, ResourceKey, UserId};
use offboard_projections::OrgState;
use serde::Serialize;
use serde_json::json;

use super::args::{OwnerArgs, OwnersArgs, ResourceCmd};
use super::error::CliError;
use super::names::Names;
use super::remote::Remote;
use super::resolve::{self, AsOf};
use super::Ctx;
use crate::domain::{plural, Command};
use crate::server::client::encode_segment;
use crate::server::{OwnerAt, OwnershipChangeView, PositionView};

pub fn resource(cx: &mut Ctx, c: &ResourceCmd) -> Result<(), CliError> {
    match c {
        ResourceCmd::Add { resources, owner } => {
            let keys = resources
                .iter()
                .map(|r| resolve::resource(r))
                .collect::<Result<Vec<_>, _>>()?;
            let owner = cx.user(owner)?;
            cx.run(
                Command::RegisterResources {
                    owner,
                    resources: keys,
                },
                None,
            )?;
            Ok(())
        }
        ResourceCmd::Import { file } => super::import::import(cx, file),
    }
}

/// The position `--as-of` names in `org` (`None`: now).
pub fn as_of_position(cx: &Ctx, arg: Option<&str>) -> Result<Option<u64>, CliError> {
    let Some(arg) = arg else {
        return Ok(None);
    };
    let as_of = resolve::as_of(arg)?;
    if let Some(r) = cx.remote() {
        let at = match as_of {
            AsOf::Position(_) => None,
            AsOf::Time(t) => Some(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        };
        let found: PositionView =
            r.get(&format!("/v1/position{}", Remote::query(&[("at", at)])))?;
        return Ok(Some(match as_of {
            AsOf::Position(p) => p.min(found.position),
            AsOf::Time(_) => found.position,
        }));
    }
    Ok(Some(match as_of {
        AsOf::Position(p) => p.min(cx.engine()?.last_position()),
        AsOf::Time(t) => {
            let org = cx.org_id()?;
            cx.engine()?.position_at(org, t)
        }
    }))
}

/// Runs `f` on the org as it stood after `position` (now when `None`); `f` gets `None`
/// when the org did not exist yet. Emails come from today's directory.
fn at<R>(
    cx: &Ctx,
    position: Option<u64>,
    f: impl FnOnce(Option<&OrgState>, &OrgState) -> Result<R, CliError>,
) -> Result<R, CliError> {
    match position {
        None => cx.read(|org| f(Some(org), org)),
        Some(p) => {
            let past = cx.engine()?.state_at(p)?;
            cx.read(|now| f(past.org(now.id()), now))
        }
    }
}

#[derive(Debug, Serialize)]
struct OwnedView {
    resource: String,
    kind: String,
    id: String,
    owner_id: UserId,
    owner_email: String,
}

/// `owners [--kind K] [--owner USER] [--as-of T|POS]`.
pub fn owners(cx: &mut Ctx, a: &OwnersArgs) -> Result<(), CliError> {
    let position = as_of_position(cx, a.as_of.as_deref())?;
    let owner = match &a.owner {
        Some(o) => Some(cx.any_user(o)?),
        None => None,
    };
    if let Some(r) = cx.remote() {
        let query = Remote::query(&[
            ("kind", a.kind.clone()),
            ("owner", owner.map(|o| o.to_string())),
            ("position", position.map(|p| p.to_string())),
        ]);
        let owned: Vec<crate::server::OwnedResource> = r.get(&format!("/v1/owners{query}"))?;
        if !owned.is_empty() {
            r.prefetch_users()?;
        }
        let views = owned
            .into_iter()
            .map(|o| {
                let (kind, id) = o.resource.split_once(':').unwrap_or(("", &o.resource));
                OwnedView {
                    kind: kind.to_owned(),
                    id: id.to_owned(),
                    owner_id: o.owner,
                    owner_email: r.email(o.owner),
                    resource: o.resource.clone(),
                }
            })
            .collect();
        return print_owners(cx, position, views);
    }
    let views: Vec<OwnedView> = at(cx, position, |past, now| {
        let Some(org) = past else {
            return Ok(Vec::new());
        };
        let mut emails: HashMap<UserId, String> = HashMap::new();
        Ok(org
            .ownership()
            .list(a.kind.as_deref(), owner)
            .into_iter()
            .map(|(key, owner)| OwnedView {
                resource: key.to_string(),
                kind: key.kind().to_owned(),
                id: key.id().to_owned(),
                owner_id: owner,
                owner_email: emails
                    .entry(owner)
                    .or_insert_with(|| resolve::email(now, owner))
                    .clone(),
            })
            .collect())
    })?;
    print_owners(cx, position, views)
}

fn print_owners(
    cx: &mut Ctx,
    position: Option<u64>,
    views: Vec<OwnedView>,
) -> Result<(), CliError> {
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "as_of": position,
            "count": views.len(),
            "resources": views,
        }))?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| vec![v.resource.clone(), v.owner_email.clone()])
        .collect();
    cx.out.table(&["resource", "owner"], &rows);
    let mut per_owner: BTreeMap<&str, u64> = BTreeMap::new();
    for v in &views {
        *per_owner.entry(v.owner_email.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = per_owner.iter().map(|(o, n)| format!("{o} {n}")).collect();
    cx.out.line(format!(
        "{} {}{}{}",
        views.len(),
        plural("resource", views.len() as u64),
        position
            .map(|p| format!(" as of position {p}"))
            .unwrap_or_default(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(" — {}", summary.join(", "))
        }
    ));
    Ok(())
}

#[derive(Debug, Serialize)]
struct ChangeView {
    position: u64,
    occurred_at: DateTime<Utc>,
    owner_id: UserId,
    owner_email: String,
    previous_id: Option<UserId>,
    previous_email: Option<String>,
    correlation_id: CorrelationId,
    actor: Actor,
    on_behalf_of: Option<UserId>,
    #[serde(skip)]
    actor_label: String,
}

/// `owner KIND:ID [--as-of T|POS]`: the owner then, and every owner it ever had.
pub fn owner(cx: &mut Ctx, a: &OwnerArgs) -> Result<(), CliError> {
    let key = resolve::resource(&a.resource)?;
    let position = as_of_position(cx, a.as_of.as_deref())?;
    let (owner, history) = match cx.remote() {
        None => owner_embedded(cx, &key, position)?,
        Some(r) => owner_remote(r, &key, position)?,
    };
    print_owner(cx, &key, position, owner, history)
}

type OwnerAnswer = (Option<(UserId, String)>, Vec<ChangeView>);

fn owner_remote(
    r: &Remote,
    key: &ResourceKey,
    position: Option<u64>,
) -> Result<OwnerAnswer, CliError> {
    let path = format!("/v1/resources/{}", encode_segment(key.as_str()));
    let not_found = |e: CliError| {
        if e.code == "not_found" {
            CliError::not_found(format!("resource {key}"))
        } else {
            e
        }
    };
    let changes: Vec<OwnershipChangeView> = r.get(&format!("{path}/history")).map_err(not_found)?;
    let at: OwnerAt = r
        .get(&format!(
            "{path}/owner{}",
            Remote::query(&[("position", position.map(|p| p.to_string()))])
        ))
        .map_err(not_found)?;
    let history = changes
        .into_iter()
        .map(|c| ChangeView {
            position: c.position,
            occurred_at: c.occurred_at,
            owner_id: c.owner,
            owner_email: r.email(c.owner),
            previous_id: c.previous,
            previous_email: c.previous.map(|p| r.email(p)),
            correlation_id: c.correlation_id,
            actor_label: match &c.actor {
                Actor::User { id } => r.email(*id),
                other => other.to_string(),
            },
            actor: c.actor,
            on_behalf_of: c.on_behalf_of,
        })
        .collect();
    Ok((at.owner.map(|o| (o, r.email(o))), history))
}

fn owner_embedded(
    cx: &Ctx,
    key: &ResourceKey,
    position: Option<u64>,
) -> Result<OwnerAnswer, CliError> {
    cx.read(|org| {
        let history: Vec<ChangeView> = org
            .owner_history(key)
            .into_iter()
            .map(|c| ChangeView {
                position: c.position,
                occurred_at: c.occurred_at,
                owner_id: c.owner,
                owner_email: resolve::email(org, c.owner),
                previous_id: c.previous,
                previous_email: c.previous.map(|p| resolve::email(org, p)),
                correlation_id: c.correlation_id,
                actor_label: match &c.actor {
                    Actor::User { id } => resolve::email(org, *id),
                    other => other.to_string(),
                },
                actor: c.actor,
                on_behalf_of: c.on_behalf_of,
            })
            .collect();
        if history.is_empty() {
            return Err(CliError::not_found(format!("resource {key}")));
        }
        let owner = match position {
            None => org.ownership().owner_of(key),
            Some(p) => org.owner_at_position(key, p),
        };
        Ok((owner.map(|o| (o, resolve::email(org, o))), history))
    })
}

fn print_owner(
    cx: &mut Ctx,
    key: &ResourceKey,
    position: Option<u64>,
    owner: Option<(UserId, String)>,
    history: Vec<ChangeView>,
) -> Result<(), CliError> {
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "resource": key,
            "as_of": position,
            "owner_id": owner.as_ref().map(|o| o.0),
            "owner_email": owner.as_ref().map(|o| o.1.clone()),
            "history": history,
        }))?;
        return Ok(());
    }
    let when = position.map_or("now".to_owned(), |p| format!("as of position {p}"));
    match &owner {
        Some((_, email)) => cx.out.line(format!("{key} is owned by {email} {when}.")),
        None => cx.out.line(format!("{key} did not exist yet {when}.")),
    }
    cx.out
        .line(format!("Every owner it had ({}):", history.len()));
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|c| {
            vec![
                c.position.to_string(),
                c.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                c.owner_email.clone(),
                c.previous_email.clone().unwrap_or_else(|| "-".into()),
                c.actor_label.clone(),
                c.correlation_id.to_string(),
            ]
        })
        .collect();
    cx.out.table(
        &[
            "position",
            "time (UTC)",
            "owner",
            "previous",
            "actor",
            "correlation id",
        ],
        &rows,
    );
    Ok(())
}
