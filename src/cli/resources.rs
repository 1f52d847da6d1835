//! Resources: `resource add`, `resource import` (JSON lines or CSV, fast, with a
//! progress bar), and the ownership views `owners` and `owner` (now or as of a time or
//! position, with every owner a resource had).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use offboard_events::{Actor, CorrelationId, ResourceKey, UserId};
use offboard_projections::OrgState;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::args::{OwnerArgs, OwnersArgs, ResourceCmd};
use super::error::CliError;
use super::names::Names;
use super::output::Progress;
use super::remote::Remote;
use super::resolve::{self, AsOf};
use super::Ctx;
use crate::domain::{plural, Command, MAX_REGISTER};
use crate::server::client::encode_segment;
use crate::server::{OwnerAt, OwnershipChangeView, PositionView};

/// Resources per `RegisterResources` command an import sends.
pub const IMPORT_CHUNK: usize = if MAX_REGISTER < 10_000 {
    MAX_REGISTER
} else {
    10_000
};

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
        ResourceCmd::Import { file } => import(cx, file),
    }
}

/// One row of an import file.
#[derive(Debug, Deserialize)]
struct ImportRow {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// `kind:id` in one field, instead of `kind` and `id`.
    #[serde(default)]
    resource: Option<String>,
    owner: String,
}

impl ImportRow {
    fn key(&self) -> Result<ResourceKey, String> {
        let text = match (&self.resource, &self.kind, &self.id) {
            (Some(r), _, _) => r.clone(),
            (None, Some(k), Some(i)) => format!("{}:{}", k.trim(), i.trim()),
            _ => return Err("needs kind and id, or resource".to_owned()),
        };
        text.trim()
            .parse()
            .map_err(|e: offboard_events::ResourceKeyError| e.to_string())
    }
}

/// Reads every row of `file`: JSON lines when the first non-blank character is `{`,
/// else CSV with the header `kind,id,owner`.
fn read_rows(file: &Path) -> Result<Vec<(ResourceKey, String)>, CliError> {
    let bytes = std::fs::read(file)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", file.display())))?;
    let json_lines = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    let bad = |line: usize, why: String| {
        CliError::invalid(format!("{}, line {line}: {why}", file.display()))
    };
    let mut rows = Vec::new();
    if json_lines {
        for (i, line) in BufReader::new(bytes.as_slice()).lines().enumerate() {
            let line = line.map_err(|e| bad(i + 1, e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            let row: ImportRow =
                serde_json::from_str(&line).map_err(|e| bad(i + 1, e.to_string()))?;
            rows.push((row.key().map_err(|e| bad(i + 1, e))?, row.owner));
        }
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(bytes.as_slice());
        let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let has = |h: &str| headers.iter().any(|x| x == h);
        if !(has("owner") && (has("resource") || (has("kind") && has("id")))) {
            return Err(bad(
                1,
                "a CSV import needs the header kind,id,owner (or resource,owner)".to_owned(),
            ));
        }
        for (i, record) in reader.deserialize::<ImportRow>().enumerate() {
            let row = record.map_err(|e| bad(i + 2, e.to_string()))?;
            rows.push((row.key().map_err(|e| bad(i + 2, e))?, row.owner));
        }
    }
    Ok(rows)
}

#[derive(Debug, Serialize)]
struct OwnerCount {
    owner_id: UserId,
    owner_email: String,
    count: u64,
}

/// The rows to register, grouped by owner, and how many rows were already registered to
/// the owner they name (skipped, so an interrupted import can be run again to finish).
#[derive(Debug, Default)]
struct Grouped {
    by_owner: BTreeMap<UserId, Vec<ResourceKey>>,
    skipped: u64,
}

/// Groups the rows by owner once every key is listed once, every owner exists and no key
/// is registered to someone other than its row's owner (`already_exists`, naming them).
/// `registered` answers a key's current owner.
fn group_rows(
    rows: &[(ResourceKey, String)],
    registered: impl Fn(&ResourceKey) -> Option<UserId>,
    mut user: impl FnMut(&str) -> Result<UserId, CliError>,
) -> Result<Grouped, CliError> {
    let mut owners: HashMap<String, UserId> = HashMap::new();
    let mut seen: HashSet<&ResourceKey> = HashSet::with_capacity(rows.len());
    let mut grouped = Grouped::default();
    let mut taken = Vec::new();
    for (key, owner) in rows {
        if !seen.insert(key) {
            return Err(CliError::invalid(format!(
                "{key} is listed twice in the file"
            )));
        }
        let id = match owners.get(owner.as_str()) {
            Some(id) => *id,
            None => {
                let id = user(owner)?;
                owners.insert(owner.clone(), id);
                id
            }
        };
        match registered(key) {
            Some(holder) if holder == id => grouped.skipped += 1,
            Some(_) => taken.push(key.to_string()),
            None => grouped.by_owner.entry(id).or_default().push(key.clone()),
        }
    }
    if !taken.is_empty() {
        let shown: Vec<&str> = taken.iter().take(5).map(String::as_str).collect();
        return Err(CliError::new(
            "already_exists",
            format!(
                "{} of the file's resources are already registered to another owner ({}{}); \
                 nothing was imported",
                taken.len(),
                shown.join(", "),
                if taken.len() > 5 { ", …" } else { "" }
            ),
            super::error::EXIT_REJECTED,
        ));
    }
    Ok(grouped)
}

/// Registers every row, grouped by owner, in commands of [`IMPORT_CHUNK`] resources.
/// Everything is checked before the first command is sent (unknown owners, keys listed
/// twice or registered to another owner), so a bad file writes nothing. Rows already
/// registered to the owner they name are skipped and counted: running the same file
/// again completes an import that was interrupted, and writes nothing once complete.
fn import(cx: &mut Ctx, file: &Path) -> Result<(), CliError> {
    let rows = read_rows(file)?;
    if rows.is_empty() {
        return Err(CliError::invalid(format!(
            "{} holds no resources",
            file.display()
        )));
    }
    let Grouped { by_owner, skipped } = match cx.remote() {
        None => cx.read(|org| {
            group_rows(
                &rows,
                |key| org.ownership().owner_of(key),
                |owner| resolve::user(org, owner),
            )
        })?,
        Some(r) => {
            // The server checks nothing before the first chunk lands: check here.
            let registered: HashMap<String, UserId> = r
                .get::<Vec<crate::server::OwnedResource>>("/v1/owners")?
                .into_iter()
                .map(|o| (o.resource, o.owner))
                .collect();
            group_rows(
                &rows,
                |key| registered.get(key.as_str()).copied(),
                |owner| r.user(owner),
            )?
        }
    };
    drop(rows);
    let (commands, positions) = register_chunks(cx, &by_owner)?;
    report_import(cx, &by_owner, skipped, commands, positions)
}

/// Sends `by_owner` in commands of [`IMPORT_CHUNK`] resources, with a progress bar:
/// how many commands, and the first and last positions written.
fn register_chunks(
    cx: &mut Ctx,
    by_owner: &BTreeMap<UserId, Vec<ResourceKey>>,
) -> Result<(u64, Option<(u64, u64)>), CliError> {
    let total = by_owner.values().map(|keys| keys.len() as u64).sum();
    let progress = Progress::new(Some(total), "importing");
    let mut first = None;
    let mut last = None;
    let mut commands = 0u64;
    for (owner, keys) in by_owner {
        for chunk in keys.chunks(IMPORT_CHUNK) {
            let appended = cx.submit(Command::RegisterResources {
                owner: *owner,
                resources: chunk.to_vec(),
            });
            let appended = match appended {
                Ok(a) => a,
                Err(e) => {
                    progress.finish();
                    return Err(e);
                }
            };
            commands += 1;
            if let Some((a, b)) = appended.positions {
                first.get_or_insert(a);
                last = Some(b);
            }
            progress.inc(chunk.len() as u64);
        }
    }
    progress.finish();
    Ok((commands, first.zip(last)))
}

/// What an import did: a sentence and a table per owner, or the JSON document.
fn report_import(
    cx: &mut Ctx,
    by_owner: &BTreeMap<UserId, Vec<ResourceKey>>,
    skipped: u64,
    commands: u64,
    positions: Option<(u64, u64)>,
) -> Result<(), CliError> {
    let imported: u64 = by_owner.values().map(|keys| keys.len() as u64).sum();
    let counts: Vec<OwnerCount> = cx.names(|org| {
        Ok(by_owner
            .iter()
            .map(|(id, keys)| OwnerCount {
                owner_id: *id,
                owner_email: org.email(*id),
                count: keys.len() as u64,
            })
            .collect())
    })?;
    let mut message = format!(
        "Imported {imported} {} for {} {} in {commands} {}.",
        plural("resource", imported),
        counts.len(),
        plural("owner", counts.len() as u64),
        plural("command", commands)
    );
    if skipped > 0 {
        message.push_str(&format!(
            " Skipped {skipped} already registered to the owner the file names."
        ));
    }
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "ok": true,
            "command": "import_resources",
            "message": message,
            "imported": imported,
            "skipped": skipped,
            "commands": commands,
            "positions": positions.map(|(first, last)| crate::server::Positions { first, last }),
            "owners": counts,
        }))?;
    } else {
        cx.out.line(message);
        if !counts.is_empty() {
            let rows: Vec<Vec<String>> = counts
                .iter()
                .map(|c| vec![c.owner_email.clone(), c.count.to_string()])
                .collect();
            cx.out.table(&["owner", "resources"], &rows);
        }
    }
    Ok(())
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
