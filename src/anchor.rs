//! The chain head as a record one can keep: `POS:HASH`, the last position of the log and
//! the hash of the event there. Kept three ways:
//!
//! - **the head record** in the data directory (`checkpoints/chain-head`), written with
//!   every projection checkpoint (see `engine::checkpoint`): a durable claim that the log
//!   reached at least this far, which opening checks;
//! - **an anchor file** outside the data directory (`serve --anchor FILE`), one line per
//!   record — `RFC3339-TIME POS HASH` — that `verify --anchor FILE` checks line by line;
//! - **by hand**: `offboard head` prints it, and `verify --expect-head POS:HASH` and
//!   `import-log FILE --expect-head POS:HASH` check a log against it.
//!
//! A record holds only if the log has an event at POS and that event's hash is HASH: a
//! log that lost its tail, or was edited and fully re-hashed, fails it.

use std::fmt;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use offboard_events::canonical::{hash_hex, GENESIS_HASH};
use offboard_events::{stored, StoredEnvelope};
use serde::{Deserialize, Serialize};

use crate::integrity::VerifyError;
use crate::store::{LogStore, StoreError};

/// The name of the head record among the data directory's checkpoint files.
pub const HEAD_RECORD_NAME: &str = "chain-head";

/// A position of the log and the hash of its event: `POS:HASH` (HASH: 64 lowercase hex
/// digits, SHA-256). Position 0 with the all-zero hash stands for the empty log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadRecord {
    /// The log position (1-based; 0: the empty log).
    pub position: u64,
    /// The `hash` of the envelope at `position`: 64 lowercase hex digits.
    pub hash: String,
}

impl HeadRecord {
    /// The empty log's record.
    pub fn empty() -> Self {
        Self {
            position: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }

    /// Parses `POS:HASH`; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape = || format!("{text:?} is not POS:HASH (a position, ':', 64 hex digits)");
        let (position, hash) = text.trim().split_once(':').ok_or_else(shape)?;
        let position: u64 = position.trim().parse().map_err(|_| shape())?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(shape());
        }
        Ok(Self { position, hash })
    }
}

impl fmt::Display for HeadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.position, self.hash)
    }
}

/// The hash of the event stored at `position` (hex), `None` when there is none; position
/// 0 is the empty log's all-zero hash. Read from the stored form's hash field, without
/// decoding the event.
pub fn hash_at(store: &dyn LogStore, position: u64) -> Result<Option<String>, StoreError> {
    if position == 0 {
        return Ok(Some(GENESIS_HASH.to_owned()));
    }
    let Some(bytes) = store.get(position)? else {
        return Ok(None);
    };
    let damaged = |e: String| StoreError::Corrupt(format!("the event at {position}: {e}"));
    if stored::is_binary(&bytes) {
        let envelope = StoredEnvelope::parse(&bytes).map_err(|e| damaged(e.to_string()))?;
        return Ok(Some(hash_hex(&envelope.hash)));
    }
    #[derive(Deserialize)]
    struct Hash {
        hash: String,
    }
    let json: Hash = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
    Ok(Some(json.hash))
}

/// Why a log does not hold a head record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The log ends (at `log_end`) before the record's `position`.
    Missing { position: u64, log_end: u64 },
    /// The log's event at the record's `position` has hash `found` instead.
    OtherHash { position: u64, found: String },
}

impl Mismatch {
    /// The position the mismatch is at.
    pub fn position(&self) -> u64 {
        match self {
            Mismatch::Missing { position, .. } | Mismatch::OtherHash { position, .. } => *position,
        }
    }

    /// The refusal (`integrity_broken`), `what` naming the record (e.g. "the expected
    /// head"): a record past the log's end names no position as broken, as none exists.
    pub fn to_error(&self, what: &str, record: &HeadRecord) -> VerifyError {
        let problem = self.describe(what, record);
        match self {
            Mismatch::Missing { log_end, .. } => VerifyError::Short {
                log_end: *log_end,
                problem,
            },
            Mismatch::OtherHash { position, .. } => VerifyError::Broken {
                position: *position,
                problem,
            },
        }
    }

    /// The problem in words, `what` naming the record (e.g. "the expected head").
    pub fn describe(&self, what: &str, record: &HeadRecord) -> String {
        match self {
            Mismatch::Missing { position, log_end } => format!(
                "{what} names position {position} ({record}) but the log ends at {log_end}: positions {}..={position} are missing",
                log_end + 1
            ),
            Mismatch::OtherHash { position, found } => format!(
                "{what} names {record} but the event at {position} has hash {found}: the log was changed since"
            ),
        }
    }
}

/// Checks that the log holds `record`: an event at its position with its hash.
pub fn check(
    store: &dyn LogStore,
    record: &HeadRecord,
) -> Result<Result<(), Mismatch>, StoreError> {
    match hash_at(store, record.position)? {
        None => Ok(Err(Mismatch::Missing {
            position: record.position,
            log_end: store.head()?.last_position,
        })),
        Some(found) if found != record.hash => Ok(Err(Mismatch::OtherHash {
            position: record.position,
            found,
        })),
        Some(_) => Ok(Ok(())),
    }
}

/// The head record stored in the data directory, if any.
pub fn load_record(store: &dyn LogStore) -> Result<Option<HeadRecord>, StoreError> {
    match store.checkpoint(HEAD_RECORD_NAME)? {
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            StoreError::Corrupt(format!(
                "the head record checkpoints/{HEAD_RECORD_NAME} is unreadable ({e}), so how far the log went is unknown; if the log is known to be whole, delete that file (the next checkpoint writes it again)"
            ))
        }),
        None => Ok(None),
    }
}

/// Replaces the head record in the data directory; durable when it returns.
pub fn save_record(store: &dyn LogStore, record: &HeadRecord) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(record).expect("a head record always serializes");
    store.put_checkpoint(HEAD_RECORD_NAME, &bytes)
}

/// One line of an anchor file: when the head was recorded, and the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorLine {
    /// When the head was recorded (written to the second, UTC).
    pub at: DateTime<Utc>,
    /// The head recorded.
    pub head: HeadRecord,
}

impl AnchorLine {
    /// The line as written: `RFC3339-TIME POS HASH`, no newline.
    pub fn to_line(&self) -> String {
        format!(
            "{} {} {}",
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.head.position,
            self.head.hash
        )
    }

    /// Parses a line written by [`AnchorLine::to_line`].
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut parts = line.split_whitespace();
        let (Some(at), Some(position), Some(hash), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not `TIME POSITION HASH`".to_owned());
        };
        let at = DateTime::parse_from_rfc3339(at)
            .map_err(|e| format!("{at:?} is not an RFC 3339 time: {e}"))?
            .with_timezone(&Utc);
        let head = HeadRecord::parse(&format!("{position}:{hash}"))?;
        Ok(Self { at, head })
    }
}

/// Appends `line` to the anchor file at `path` (created if missing) and fsyncs it: the
/// line is on stable storage when this returns.
pub fn append_line(path: &Path, line: &AnchorLine) -> std::io::Result<()> {
    let created = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if !created {
        drop_torn_tail(path)?;
    }
    file.write_all(format!("{}\n", line.to_line()).as_bytes())?;
    file.sync_data()?;
    if created {
        // The new file's name is durable only once its directory is synced.
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        std::fs::File::open(parent.unwrap_or(Path::new(".")))?.sync_all()?;
    }
    Ok(())
}

/// An append cut short by a crash leaves a last line without its newline, never a
/// record that was written whole: it is cut off before the next append, so the file
/// holds whole lines only.
fn drop_torn_tail(path: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(path)?;
    if bytes.last().is_none_or(|&b| b == b'\n') {
        return Ok(());
    }
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(whole as u64)?;
    file.sync_data()
}

/// Every line of the anchor file at `path` with its line number (1-based); blank lines
/// are skipped. A last line without its newline that does not parse is an append cut
/// short by a crash: it is skipped, with a `tracing` warning. `Err` names the first other
/// line that does not parse.
pub fn read_lines(path: &Path) -> Result<Vec<(u64, AnchorLine)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let complete = text.ends_with('\n');
    let all: Vec<&str> = text.lines().collect();
    let mut lines = Vec::new();
    for (index, line) in all.iter().enumerate() {
        let number = index as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        match AnchorLine::parse(line) {
            Ok(parsed) => lines.push((number, parsed)),
            Err(_) if !complete && index + 1 == all.len() => tracing::warn!(
                "offboard: {}, line {number}: cut short (an append interrupted by a crash), ignored",
                path.display()
            ),
            Err(e) => return Err(format!("{}, line {number}: {e}", path.display())),
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_record_reads_back_as_written_and_refuses_other_shapes() {
        let hash = "ab".repeat(32);
        let record = HeadRecord::parse(&format!("9:{hash}")).unwrap();
        assert_eq!((record.position, record.hash.as_str()), (9, hash.as_str()));
        assert_eq!(HeadRecord::parse(&record.to_string()).unwrap(), record);
        for bad in [
            "9",
            "x:ab",
            "9:abc",
            &format!("-1:{hash}"),
            &format!("9:{}", "zz".repeat(32)),
        ] {
            assert!(HeadRecord::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_line_torn_by_a_crash_is_skipped_and_cut_off_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor");
        let line = |position| AnchorLine {
            at: chrono::Utc::now(),
            head: HeadRecord {
                position,
                hash: "ab".repeat(32),
            },
        };
        let positions = |path: &Path| -> Vec<u64> {
            read_lines(path)
                .unwrap()
                .iter()
                .map(|(_, l)| l.head.position)
                .collect()
        };
        // Given a file whose last append was cut short by a crash,
        append_line(&path, &line(7)).unwrap();
        let torn = line(8).to_line();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&torn[..torn.len() / 2]);
        std::fs::write(&path, &text).unwrap();
        // when it is read, then the torn line is skipped and the whole ones kept;
        assert_eq!(positions(&path), [7]);
        // when another line is appended, then the fragment is gone and both lines read.
        append_line(&path, &line(9)).unwrap();
        assert_eq!(positions(&path), [7, 9]);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn an_anchor_line_reads_back_as_written() {
        let line = AnchorLine {
            at: DateTime::parse_from_rfc3339("2026-11-30T22:40:00Z")
                .unwrap()
                .with_timezone(&Utc),
            head: HeadRecord::empty(),
        };
        assert_eq!(
            line.to_line(),
            format!("2026-11-30T22:40:00Z 0 {GENESIS_HASH}")
        );
        assert_eq!(AnchorLine::parse(&line.to_line()).unwrap(), line);
        assert!(AnchorLine::parse("2026-11-30T22:40:00Z 0").is_err());
    }
}
