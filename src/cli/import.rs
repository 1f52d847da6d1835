//! `resource import FILE`: registers resources from CSV or JSON lines (`-`: stdin) in
//! commands of [`IMPORT_CHUNK`] resources, with a progress bar.
//!
//! The whole file is checked before the first command is sent, and every bad row is
//! reported with its line number (not only the first), so a bad file writes nothing and
//! is fixed in one pass. Rows are read by [`ResourceRows`], as `resource sync` reads them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use offboard_events::{CorrelationId, ResourceKey, UserId};
use serde::Serialize;
use serde_json::json;

use super::error::{CliError, EXIT_REJECTED};
use super::input;
use super::names::Names;
use super::output::Progress;
use super::{resolve, Ctx};
use crate::domain::{plural, Command, MAX_REGISTER};
use crate::read::OwnersQuery;
use crate::sync::rows::{bad_rows_message, BadRow, ResourceRow, ResourceRows};

/// Resources per `RegisterResources` command an import sends.
pub const IMPORT_CHUNK: usize = if MAX_REGISTER < 10_000 {
    MAX_REGISTER
} else {
    10_000
};

/// A good row: its line in the file, its resource and the owner as written.
#[derive(Debug)]
struct Row {
    line: usize,
    key: ResourceKey,
    owner: String,
}

/// Every good row of `file` and every bad one ([`ResourceRows`]: JSON lines or CSV).
fn read_rows(file: &Path) -> Result<(Vec<Row>, Vec<BadRow>), CliError> {
    let reader = ResourceRows::new(input::open(file)?)
        .map_err(|why| CliError::invalid(format!("{}, line 1: {why}", input::name(file))))?;
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (line, row) in reader {
        match row {
            Ok(ResourceRow { key, owner, .. }) => rows.push(Row { line, key, owner }),
            Err(why) => bad.push(BadRow::invalid(line, why)),
        }
    }
    Ok((rows, bad))
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

/// Groups the rows by owner, adding to `bad` every row whose resource is listed twice,
/// whose owner is unknown, or whose key the org has never seen and may not register
/// (an invisible character: [`crate::domain::new_key_refusal`]); then the grouping is
/// not to be sent. `registered` answers a key's current owner; a key registered to
/// someone other than its row's owner is `already_exists`, naming them. `known` says
/// whether the org has seen a key (registered at some time, retired or not).
fn group_rows(
    rows: &[Row],
    bad: &mut Vec<BadRow>,
    registered: impl Fn(&ResourceKey) -> Option<UserId>,
    known: impl Fn(&ResourceKey) -> bool,
    mut user: impl FnMut(&str) -> Result<UserId, CliError>,
) -> Result<Grouped, CliError> {
    let mut owners: HashMap<&str, Result<UserId, String>> = HashMap::new();
    let mut seen: HashMap<&ResourceKey, usize> = HashMap::with_capacity(rows.len());
    let mut grouped = Grouped::default();
    let mut taken = Vec::new();
    for row in rows {
        if let Some(first) = seen.insert(&row.key, row.line) {
            let why = format!("{} is listed twice (first on line {first})", row.key);
            bad.push(BadRow::invalid(row.line, why));
            continue;
        }
        let owner = owners
            .entry(row.owner.as_str())
            .or_insert_with(|| user(&row.owner).map_err(|e| e.message));
        let id = match owner {
            Ok(id) => *id,
            Err(why) => {
                bad.push(BadRow {
                    line: row.line,
                    why: why.clone(),
                    code: "not_found",
                });
                continue;
            }
        };
        match registered(&row.key) {
            Some(holder) if holder == id => grouped.skipped += 1,
            Some(_) => taken.push(row.key.to_string()),
            None => {
                // The command would refuse it, after the chunks before it had landed.
                let refusal = (!known(&row.key))
                    .then(|| crate::domain::new_key_refusal(&row.key))
                    .flatten();
                match refusal {
                    Some(why) => bad.push(BadRow::invalid(row.line, why)),
                    None => grouped
                        .by_owner
                        .entry(id)
                        .or_default()
                        .push(row.key.clone()),
                }
            }
        }
    }
    if !taken.is_empty() && bad.is_empty() {
        let shown: Vec<&str> = taken.iter().take(5).map(String::as_str).collect();
        return Err(CliError::new(
            "already_exists",
            format!(
                "{} of the file's resources {} already registered to another owner ({}{}); \
                 nothing was imported",
                taken.len(),
                if taken.len() == 1 { "is" } else { "are" },
                shown.join(", "),
                if taken.len() > 5 { ", …" } else { "" }
            ),
            EXIT_REJECTED,
        ));
    }
    Ok(grouped)
}

/// One error for every bad row: `invalid_input` if any row is malformed or repeated,
/// else `not_found` (only unknown owners); the message names each line.
fn refuse(file: &Path, mut bad: Vec<BadRow>) -> CliError {
    let (code, message) = bad_rows_message(&input::name(file), &mut bad, "nothing was imported");
    CliError::new(code, message, EXIT_REJECTED)
}

/// Registers every row, grouped by owner, in commands of [`IMPORT_CHUNK`] resources.
/// Everything is checked before the first command is sent (malformed rows, unknown
/// owners, keys listed twice or registered to another owner), so a bad file writes
/// nothing. Rows already registered to the owner they name are skipped and counted:
/// running the same file again completes an import that was interrupted, and writes
/// nothing once complete. Each command is durable when it returns; an interruption
/// leaves the commands sent so far.
pub fn import(cx: &mut Ctx, file: &Path) -> Result<(), CliError> {
    let (rows, mut bad) = read_rows(file)?;
    if rows.is_empty() && bad.is_empty() {
        return Err(CliError::invalid(format!(
            "{} holds no resources",
            input::name(file)
        )));
    }
    let grouped = match cx.remote() {
        None => cx.read(|org| {
            group_rows(
                &rows,
                &mut bad,
                |key| org.ownership().owner_of(key),
                |key| org.ownership().find_slot(key.as_str()).is_some(),
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
                &mut bad,
                |key| registered.get(key.as_str()).copied(),
                // Only owned keys are listed: a retired one counts as new here, so a key
                // an earlier build stored with an invisible character is refused if it
                // was retired (register it with `resource add`).
                |key| registered.contains_key(key.as_str()),
                |owner| r.user(owner),
            )?
        }
    };
    if !bad.is_empty() {
        return Err(refuse(file, bad));
    }
    let Grouped { by_owner, skipped } = grouped;
    drop(rows);
    let sent = register_chunks(cx, &by_owner)?;
    report_import(cx, &by_owner, skipped, &sent)
}

/// What the import's commands wrote: one correlation id per command, and the first and
/// last positions.
#[derive(Debug, Default)]
struct Sent {
    correlation_ids: Vec<CorrelationId>,
    positions: Option<(u64, u64)>,
}

/// Sends `by_owner` in commands of [`IMPORT_CHUNK`] resources, with a progress bar.
fn register_chunks(
    cx: &mut Ctx,
    by_owner: &BTreeMap<UserId, Vec<ResourceKey>>,
) -> Result<Sent, CliError> {
    let total = by_owner.values().map(|keys| keys.len() as u64).sum();
    let progress = Progress::new(Some(total), "importing");
    let mut sent = Sent::default();
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
            sent.correlation_ids.push(appended.correlation_id);
            if let Some((a, b)) = appended.positions {
                let first = sent.positions.map_or(a, |(first, _)| first);
                sent.positions = Some((first, b));
            }
            progress.inc(chunk.len() as u64);
        }
    }
    progress.finish();
    Ok(sent)
}

/// What an import did: a sentence, where it landed and a table per owner, or the JSON
/// document.
fn report_import(
    cx: &mut Ctx,
    by_owner: &BTreeMap<UserId, Vec<ResourceKey>>,
    skipped: u64,
    sent: &Sent,
) -> Result<(), CliError> {
    let imported: u64 = by_owner.values().map(|keys| keys.len() as u64).sum();
    let commands = sent.correlation_ids.len() as u64;
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
            "correlation_ids": sent.correlation_ids,
            "positions": sent.positions.map(|(first, last)| crate::server::Positions { first, last }),
            "owners": counts,
        }))?;
        return Ok(());
    }
    cx.out.line(message);
    if let Some(landed) = landed(sent) {
        cx.out.line(landed);
    }
    if !counts.is_empty() {
        let rows: Vec<Vec<String>> = counts
            .iter()
            .map(|c| vec![c.owner_email.clone(), c.count.to_string()])
            .collect();
        cx.out.table(&["owner", "resources"], &rows);
    }
    Ok(())
}

/// `  correlation id X · positions A–B`, as every write prints it; one id per command.
fn landed(sent: &Sent) -> Option<String> {
    let (first, last) = sent.positions?;
    let at = match first == last {
        true => format!("position {first}"),
        false => format!("positions {first}–{last}"),
    };
    let ids: Vec<String> = sent.correlation_ids.iter().map(|c| c.to_string()).collect();
    Some(match ids.as_slice() {
        [one] => format!("  correlation id {one} · {at}"),
        many => format!("  correlation ids {} · {at}", many.join(", ")),
    })
}
