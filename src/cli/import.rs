//! `resource import FILE`: registers resources from CSV or JSON lines (`-`: stdin) in
//! commands of [`IMPORT_CHUNK`] resources, with a progress bar.
//!
//! The whole file is checked before the first command is sent, and every bad row is
//! reported with its line number (not only the first), so a bad file writes nothing and
//! is fixed in one pass. CSV headers are matched case-insensitively, with the aliases
//! spreadsheets export (`Owner Email`, `Resource ID`, `Type`…).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

use offboard_events::{CorrelationId, ResourceKey, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::{CliError, EXIT_REJECTED};
use super::input;
use super::names::Names;
use super::output::Progress;
use super::{resolve, Ctx};
use crate::domain::{plural, Command, MAX_REGISTER};
use crate::read::OwnersQuery;

/// Resources per `RegisterResources` command an import sends.
pub const IMPORT_CHUNK: usize = if MAX_REGISTER < 10_000 {
    MAX_REGISTER
} else {
    10_000
};

/// At most this many bad rows are spelled out in the human message (all of them are in
/// the count); a file with thousands of bad rows is one mistake repeated.
const SHOWN_BAD_ROWS: usize = 50;

/// One row of an import file, with the header names the file used already mapped to
/// `kind`, `id`, `resource` and `owner`.
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

/// A good row: its line in the file, its resource and the owner as written.
#[derive(Debug)]
struct Row {
    line: usize,
    key: ResourceKey,
    owner: String,
}

/// A bad row: its line and why, with the error code it stands for.
#[derive(Debug)]
struct BadRow {
    line: usize,
    why: String,
    code: &'static str,
}

impl BadRow {
    fn invalid(line: usize, why: impl Into<String>) -> Self {
        Self {
            line,
            why: why.into(),
            code: "invalid_input",
        }
    }
}

/// The field a CSV header names, case and spacing aside: `Owner Email`, `owner_email`
/// and `OWNER` are all `owner`. `None` for a column the import does not read.
fn field_of(header: &str) -> Option<&'static str> {
    let words: String = header
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    Some(match words.as_str() {
        "kind" | "type" | "resource kind" | "resource type" => "kind",
        "id" | "resource id" | "external id" => "id",
        "resource" | "key" | "resource key" => "resource",
        "owner" | "owner email" | "owner id" | "email" | "owned by" => "owner",
        _ => return None,
    })
}

/// Every good row of `file` and every bad one: JSON lines when the first non-blank character
/// is `{`, else CSV with a header naming `kind`, `id` and `owner` (or `resource` and
/// `owner`).
fn read_rows(file: &Path) -> Result<(Vec<Row>, Vec<BadRow>), CliError> {
    let bytes = input::read(file)?;
    let json_lines = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut keep = |line: usize, row: Result<ImportRow, String>| match row
        .and_then(|row| Ok((row.key()?, row.owner)))
    {
        Ok((key, owner)) => rows.push(Row { line, key, owner }),
        Err(why) => bad.push(BadRow::invalid(line, why)),
    };
    if json_lines {
        for (i, line) in bytes.lines().enumerate() {
            let line = line.map_err(|e| CliError::invalid(e.to_string()))?;
            if !line.trim().is_empty() {
                keep(
                    i + 1,
                    serde_json::from_str(&line).map_err(|e| e.to_string()),
                );
            }
        }
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(bytes.as_slice());
        let headers = csv_headers(&mut reader, file)?;
        for record in reader.records() {
            let line = |p: Option<&csv::Position>| p.map_or(0, |p| p.line() as usize);
            match record {
                Ok(record) => keep(
                    line(record.position()),
                    record.deserialize(Some(&headers)).map_err(|e| csv_why(&e)),
                ),
                Err(e) => keep(line(e.position()), Err(csv_why(&e))),
            }
        }
    }
    Ok((rows, bad))
}

/// Why the csv crate refused a record, without the position it repeats (the report
/// names the line).
fn csv_why(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{len} {} where the header has {expected_len}",
            plural("field", *len)
        ),
        csv::ErrorKind::Deserialize { err, .. } => err.kind().to_string(),
        _ => e.to_string(),
    }
}

/// The CSV header row with each column renamed to the field it names; `invalid_input`
/// unless it names `owner` and either `resource` or both `kind` and `id`.
fn csv_headers(
    reader: &mut csv::Reader<&[u8]>,
    file: &Path,
) -> Result<csv::StringRecord, CliError> {
    let bad = |why: String| CliError::invalid(format!("{}, line 1: {why}", input::name(file)));
    let raw = reader.headers().map_err(|e| bad(e.to_string()))?;
    let mapped: csv::StringRecord = raw.iter().map(|h| field_of(h).unwrap_or(h)).collect();
    let has = |f: &str| mapped.iter().any(|h| h == f);
    if !(has("owner") && (has("resource") || (has("kind") && has("id")))) {
        return Err(bad(format!(
            "a CSV import needs the header kind,id,owner (or resource,owner; any case, \
             `Owner Email` too), not {}",
            raw.iter().collect::<Vec<_>>().join(",")
        )));
    }
    Ok(mapped)
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

/// Groups the rows by owner, adding to `bad` every row whose resource is listed twice or
/// whose owner is unknown (then the grouping is not to be sent). `registered` answers a key's current owner; a key registered
/// to someone other than its row's owner is `already_exists`, naming them.
fn group_rows(
    rows: &[Row],
    bad: &mut Vec<BadRow>,
    registered: impl Fn(&ResourceKey) -> Option<UserId>,
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
            None => grouped
                .by_owner
                .entry(id)
                .or_default()
                .push(row.key.clone()),
        }
    }
    if !taken.is_empty() && bad.is_empty() {
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
            EXIT_REJECTED,
        ));
    }
    Ok(grouped)
}

/// One error for every bad row: `invalid_input` if any row is malformed or repeated,
/// else `not_found` (only unknown owners); the message names each line.
fn refuse(file: &Path, mut bad: Vec<BadRow>) -> CliError {
    bad.sort_by_key(|b| b.line);
    let code = match bad.iter().all(|b| b.code == "not_found") {
        true => "not_found",
        false => "invalid_input",
    };
    let n = bad.len() as u64;
    let mut message = format!(
        "{} has {n} bad {}; nothing was imported:",
        input::name(file),
        plural("row", n)
    );
    for b in bad.iter().take(SHOWN_BAD_ROWS) {
        message.push_str(&format!("\n  line {}: {}", b.line, b.why));
    }
    if bad.len() > SHOWN_BAD_ROWS {
        message.push_str(&format!("\n  … and {} more", bad.len() - SHOWN_BAD_ROWS));
    }
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

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn headers_match_whatever_their_case_spacing_or_alias() {
        for (header, field) in [
            ("Owner Email", Some("owner")),
            ("owner_email", Some("owner")),
            ("OWNER", Some("owner")),
            (" Kind ", Some("kind")),
            ("Resource-Type", Some("kind")),
            ("Resource ID", Some("id")),
            ("resource", Some("resource")),
            ("notes", None),
        ] {
            assert_eq!(field_of(header), field, "{header:?}");
        }
    }
}
