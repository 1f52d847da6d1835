//! Resources: `resource add`, `resource import` (JSON lines or CSV, fast, with a
//! progress bar), and the ownership views `owners` and `owner` (now or as of a time or
//! position, with every owner a resource had).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

use offboard_events::{Actor, ResourceKey, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::args::{OwnerArgs, OwnersArgs, ResourceCmd};
use super::error::CliError;
use super::names::Names;
use super::output::Progress;
use super::resolve::{self, AsOf};
use super::Ctx;
use crate::domain::{plural, Command, MAX_REGISTER};
use crate::read::{OwnerAtQuery, OwnerChangesQuery, OwnersQuery, PositionQuery};
use crate::server::{OwnerAt, OwnershipChangeView};

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
            let registered: HashMap<String, UserId> = cx
                .reader()?
                .all(OwnersQuery::default(), |p| p.owners)?
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
    let query = PositionQuery {
        at: match as_of {
            AsOf::Position(_) => None,
            AsOf::Time(t) => Some(t),
        },
    };
    let found = cx.ask(&query)?;
    Ok(Some(match as_of {
        AsOf::Position(p) => p.min(found.position),
        AsOf::Time(_) => found.position,
    }))
}

/// `owners [--kind K] [--owner USER] [--as-of T|POS] [--limit N] [--cursor C]`: printed
/// page by page as they are read, rows as a table, `--json` as one document written
/// item by item.
pub fn owners(cx: &mut Ctx, a: &OwnersArgs) -> Result<(), CliError> {
    let position = as_of_position(cx, a.as_of.as_deref())?;
    let owner = match &a.owner {
        Some(o) => Some(cx.any_user(o)?),
        None => None,
    };
    let query = OwnersQuery {
        kind: a.kind.clone(),
        owner: owner.map(Into::into),
        position,
        ..OwnersQuery::default()
    };
    let reader = cx.reader()?;
    let header = ["resource", "owner"];
    let mut widths = None;
    let mut per_owner: BTreeMap<String, u64> = BTreeMap::new();
    let mut count = 0u64;
    // Opened with the first page: a query refused at once prints only its error.
    let next = reader.walk(query, &a.page, |page| {
        if !cx.out.list_open() {
            cx.out.list_begin(json!({ "as_of": position }), "owners")?;
        }
        count += page.owners.len() as u64;
        if cx.out.is_json() {
            for o in &page.owners {
                cx.out.list_item(o)?;
            }
            return Ok(());
        }
        let mut rows = Vec::with_capacity(page.owners.len());
        for o in page.owners {
            *per_owner.entry(o.owner_email.clone()).or_default() += 1;
            rows.push(vec![o.resource, o.owner_email]);
        }
        cx.out.table_page(&mut widths, &header, &rows);
        Ok(())
    })?;
    cx.out.list_end(json!({ "next": next, "count": count }))?;
    if widths.is_none() {
        cx.out.table(&header, &[]);
    }
    let summary: Vec<String> = per_owner.iter().map(|(o, n)| format!("{o} {n}")).collect();
    cx.out.line(format!(
        "{count} {}{}{}",
        plural("resource", count),
        position
            .map(|p| format!(" as of position {p}"))
            .unwrap_or_default(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(" — {}", summary.join(", "))
        }
    ));
    super::users::more(cx, next.as_deref());
    Ok(())
}

/// `owner KIND:ID [--as-of T|POS]`: the owner then, and every owner it ever had.
pub fn owner(cx: &mut Ctx, a: &OwnerArgs) -> Result<(), CliError> {
    let key = resolve::resource(&a.resource)?;
    let position = as_of_position(cx, a.as_of.as_deref())?;
    let reader = cx.reader()?;
    let history = OwnerChangesQuery {
        resource: Some(key.clone()),
        ..OwnerChangesQuery::default()
    };
    let history = reader.all(history, |p| p.changes)?;
    let now = reader.ask(&OwnerAtQuery {
        resource: Some(key.clone()),
        position,
        ..OwnerAtQuery::default()
    })?;
    print_owner(cx, &key, position, now, history)
}

fn print_owner(
    cx: &mut Ctx,
    key: &ResourceKey,
    position: Option<u64>,
    now: OwnerAt,
    history: Vec<OwnershipChangeView>,
) -> Result<(), CliError> {
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "resource": key,
            "as_of": position,
            "owner": now.owner,
            "owner_email": now.owner_email,
            "history": history,
        }))?;
        return Ok(());
    }
    let when = position.map_or("now".to_owned(), |p| format!("as of position {p}"));
    match &now.owner_email {
        Some(email) => cx.out.line(format!("{key} is owned by {email} {when}.")),
        None => cx.out.line(format!("{key} did not exist yet {when}.")),
    }
    let actors: Vec<String> = cx.names(|n| {
        Ok(history
            .iter()
            .map(|c| match &c.actor {
                Actor::User { id } => n.email(*id),
                other => other.to_string(),
            })
            .collect())
    })?;
    cx.out
        .line(format!("Every owner it had ({}):", history.len()));
    let rows: Vec<Vec<String>> = history
        .iter()
        .zip(actors)
        .map(|(c, actor)| {
            vec![
                c.position.to_string(),
                c.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                c.owner_email.clone(),
                c.previous_email.clone().unwrap_or_else(|| "-".into()),
                actor,
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
