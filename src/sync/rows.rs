//! Rows of resources with their owner, read one at a time from CSV or JSON lines: what
//! `resource import` registers and what `resource sync` compares. A reader never holds
//! more than one row, so a file of any length is read in flat memory. CSV headers are
//! matched case-insensitively, with the aliases spreadsheets export (`Owner Email`,
//! `Resource ID`, `Type`…).

use std::io::BufRead;
use std::marker::PhantomData;

use offboard_events::ResourceKey;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::domain::plural;

/// At most this many bad rows are spelled out in a message (all of them are counted); a
/// file with thousands of bad rows is one mistake repeated.
pub const SHOWN_BAD_ROWS: usize = 50;

/// One row as written, with the header names the file used already mapped to `kind`,
/// `id`, `resource` and `owner`.
#[derive(Debug, Deserialize)]
struct RawRow {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// `kind:id` in one field, instead of `kind` and `id`.
    #[serde(default)]
    resource: Option<String>,
    owner: String,
    /// Every other column: `role:NAME` ones name the record's holders of a role (R29).
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, serde_json::Value>,
}

impl RawRow {
    fn checked(self) -> Result<ResourceRow, String> {
        let text = match (&self.resource, &self.kind, &self.id) {
            (Some(r), _, _) => r.clone(),
            (None, Some(k), Some(i)) => format!("{}:{}", k.trim(), i.trim()),
            _ => return Err("needs kind and id, or resource".to_owned()),
        };
        let key = crate::domain::resource_key(&text)?;
        let roles = self
            .other
            .into_iter()
            .filter_map(|(column, value)| {
                let role = column.trim().strip_prefix("role:")?.trim().to_owned();
                let text = match value {
                    serde_json::Value::String(text) => text,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                let holders = text
                    .split(';')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned)
                    .collect();
                Some((role, holders))
            })
            .collect();
        Ok(ResourceRow {
            key,
            owner: self.owner,
            roles,
        })
    }
}

/// A well-formed row: the resource and its owner as written (an email, a user id or an
/// external id; the caller resolves it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRow {
    pub key: ResourceKey,
    pub owner: String,
    /// `role:NAME` columns: role → its holders as written (`;`-separated; none: nobody
    /// holds it). Only the roles the file has columns for are synced.
    pub roles: Vec<(String, Vec<String>)>,
}

/// A bad row: its line (1-based, the header is line 1 of a CSV) and why, with the
/// error code it stands for (`invalid_input`, or `not_found` for an unknown owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: usize,
    pub why: String,
    pub code: &'static str,
}

impl BadRow {
    pub fn invalid(line: usize, why: impl Into<String>) -> Self {
        Self {
            line,
            why: why.into(),
            code: "invalid_input",
        }
    }
}

/// The error for a file with bad rows: its code (`invalid_input` if any row is
/// malformed or repeated, else `not_found`: only unknown owners) and a message naming
/// `source` and each line (the first [`SHOWN_BAD_ROWS`]), saying `nothing` was done.
pub fn bad_rows_message(source: &str, bad: &mut [BadRow], nothing: &str) -> (&'static str, String) {
    bad.sort_by_key(|b| b.line);
    let code = match bad.iter().all(|b| b.code == "not_found") {
        true => "not_found",
        false => "invalid_input",
    };
    let n = bad.len() as u64;
    let mut message = format!("{source} has {n} bad {}; {nothing}:", plural("row", n));
    for b in bad.iter().take(SHOWN_BAD_ROWS) {
        message.push_str(&format!("\n  line {}: {}", b.line, b.why));
    }
    if bad.len() > SHOWN_BAD_ROWS {
        message.push_str(&format!("\n  … and {} more", bad.len() - SHOWN_BAD_ROWS));
    }
    (code, message)
}

/// A CSV header's words, lowercase and single-spaced: `Owner_Email` and ` owner
/// email ` are both `owner email`.
pub fn header_words(header: &str) -> String {
    header
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The field a CSV header names, case and spacing aside: `Owner Email`, `owner_email`
/// and `OWNER` are all `owner`. `None` for a column the reader does not read.
pub fn field_of(header: &str) -> Option<&'static str> {
    Some(match header_words(header).as_str() {
        "kind" | "type" | "resource kind" | "resource type" => "kind",
        "id" | "resource id" | "external id" | "record id" => "id",
        "resource" | "key" | "resource key" => "resource",
        "owner" | "owner email" | "owner id" | "email" | "owned by" | "owner external id" => {
            "owner"
        }
        _ => return None,
    })
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

/// Records of any shape `T` read one at a time from CSV (headers renamed by a
/// `field_of`) or JSON lines: `(line, record or why it is bad)`. An input that cannot
/// be read further ends with one bad record saying why.
pub enum Records<R: BufRead, T> {
    Json {
        lines: std::io::Lines<R>,
        line: usize,
        shape: PhantomData<T>,
    },
    Csv {
        records: csv::StringRecordsIntoIter<R>,
        headers: csv::StringRecord,
    },
    Done,
}

impl<R: BufRead, T> std::fmt::Debug for Records<R, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Json { .. } => "Records::Json",
            Self::Csv { .. } => "Records::Csv",
            Self::Done => "Records::Done",
        })
    }
}

impl<R: BufRead, T: DeserializeOwned> Records<R, T> {
    /// JSON lines when the first non-blank byte (within the first buffer) is `{`, else
    /// CSV whose header, renamed by `field_of`, holds every field of one of `required`'s
    /// alternatives; otherwise why not, naming `needs` (it is line 1).
    pub fn new(
        mut input: R,
        field_of: fn(&str) -> Option<&'static str>,
        required: &[&[&str]],
        needs: &str,
    ) -> Result<Self, String> {
        let json = input
            .fill_buf()
            .map_err(|e| format!("cannot read: {e}"))?
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        if json {
            return Ok(Self::Json {
                lines: input.lines(),
                line: 0,
                shape: PhantomData,
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(input);
        let raw = reader.headers().map_err(|e| e.to_string())?.clone();
        let headers: csv::StringRecord = raw.iter().map(|h| field_of(h).unwrap_or(h)).collect();
        let has = |f: &&str| headers.iter().any(|h| h == *f);
        if !required.iter().any(|fields| fields.iter().all(has)) {
            return Err(format!(
                "a CSV file needs the header {needs}, not {}",
                raw.iter().collect::<Vec<_>>().join(",")
            ));
        }
        Ok(Self::Csv {
            records: reader.into_records(),
            headers,
        })
    }
}

impl<R: BufRead, T: DeserializeOwned> Iterator for Records<R, T> {
    type Item = (usize, Result<T, String>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Json { lines, line, .. } => loop {
                *line += 1;
                match lines.next()? {
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => {
                        return Some((
                            *line,
                            serde_json::from_str(&text).map_err(|e| e.to_string()),
                        ))
                    }
                    Err(e) => {
                        let at = *line;
                        *self = Self::Done;
                        return Some((at, Err(format!("cannot read: {e}"))));
                    }
                }
            },
            Self::Csv { records, headers } => {
                let at = |p: Option<&csv::Position>| p.map_or(0, |p| p.line() as usize);
                Some(match records.next()? {
                    Ok(record) => (
                        at(record.position()),
                        record
                            .deserialize::<T>(Some(headers))
                            .map_err(|e| csv_why(&e)),
                    ),
                    Err(e) => (at(e.position()), Err(csv_why(&e))),
                })
            }
            Self::Done => None,
        }
    }
}

/// Resource rows read one at a time: `(line, row or why it is bad)`.
#[derive(Debug)]
pub struct ResourceRows<R: BufRead>(Records<R, RawRow>);

impl<R: BufRead> ResourceRows<R> {
    /// JSON lines, or CSV with a header naming `owner` and `resource` or both `kind` and
    /// `id` (any case, spreadsheet aliases too); a header without them is refused with why.
    pub fn new(input: R) -> Result<Self, String> {
        Records::new(
            input,
            field_of,
            &[&["owner", "resource"], &["owner", "kind", "id"]],
            "kind,id,owner (or resource,owner; any case, `Owner Email` too)",
        )
        .map(Self)
    }
}

impl<R: BufRead> Iterator for ResourceRows<R> {
    type Item = (usize, Result<ResourceRow, String>);

    fn next(&mut self) -> Option<Self::Item> {
        let (line, raw) = self.0.next()?;
        Some((line, raw.and_then(RawRow::checked)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn csv_and_json_lines_read_row_by_row_with_their_line_numbers() {
        let csv =
            "Type,Record ID,Owner Email,notes\nbuyer,B-1,a@x.example,hi\nbuyer,,a@x.example,\n";
        let rows: Vec<_> = ResourceRows::new(csv.as_bytes()).unwrap().collect();
        assert_eq!(rows[0].0, 2);
        assert_eq!(rows[0].1.as_ref().unwrap().key.as_str(), "buyer:B-1");
        assert_eq!(rows[1].0, 3);
        assert!(rows[1].1.is_err());

        let json =
            "\n{\"resource\":\"lead:L-1\",\"owner\":\"b@x.example\"}\n\n{\"kind\":\"lead\"}\n";
        let rows: Vec<_> = ResourceRows::new(json.as_bytes()).unwrap().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].0, rows[1].0), (2, 4));
        assert_eq!(rows[0].1.as_ref().unwrap().owner, "b@x.example");
        assert!(rows[1].1.is_err());

        assert!(ResourceRows::new("a,b\n1,2\n".as_bytes()).is_err());
    }

    #[test]
    fn role_columns_name_each_roles_holders() {
        let csv = "kind,id,owner,role:watcher,Role:x,notes\ndeal,D-9,a@x.example,b@x.example; c@x.example,,hi\ndeal,D-10,a@x.example,,,\n";
        let rows: Vec<_> = ResourceRows::new(csv.as_bytes()).unwrap().collect();
        let roles = |i: usize| rows[i].1.as_ref().unwrap().roles.clone();
        let both = vec!["b@x.example".to_owned(), "c@x.example".to_owned()];
        assert_eq!(roles(0), vec![("watcher".to_owned(), both)]);
        assert_eq!(roles(1), vec![("watcher".to_owned(), vec![])]);
        let json =
            "{\"resource\":\"deal:D-9\",\"owner\":\"a@x.example\",\"role:watcher\":null,\"n\":3}\n";
        let json_rows: Vec<_> = ResourceRows::new(json.as_bytes()).unwrap().collect();
        let row = json_rows[0].1.as_ref().unwrap();
        assert_eq!(row.roles, vec![("watcher".to_owned(), vec![])]);
    }
}
