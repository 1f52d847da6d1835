//! Moving a whole log between data directories: `export FILE` writes the stored
//! envelopes as JSON lines, in order, byte for byte; `import-log FILE` loads such a file
//! into an EMPTY directory keeping every position, stream version and hash, checks the
//! chain while reading, then verifies the stored log and builds the views.
//!
//! The export holds envelopes only, not the command-id index: imported commands are
//! indexed with the fingerprint `imported`, so resubmitting one of their command ids is
//! refused as a `conflict` (never appended twice) rather than answered as a duplicate.
//!
//! Personal data is stored sealed under per-user keys (R13). `export FILE` writes those
//! keys beside the log, to `FILE.keys` (readable by the owner only), and `import-log FILE`
//! loads them from there; without that file the imported copy reads every profile as
//! `erased`. A purged user's key is in neither, so an export never revives erased data.

use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use offboard_events::canonical::{write_canonical, GENESIS_HASH};
use offboard_events::{stored, CommandId, CorrelationId, RawEnvelope, StoredEnvelope};
use serde_json::{json, Value};

use super::error::CliError;
use super::input;
use super::output::{Output, Progress};
use super::Ctx;
use crate::clock::SystemClock;
use crate::engine::Engine;
use crate::integrity::VerifyError;
use crate::privacy::{key_check, KeyVault};
use crate::store::{ChainHead, CommandRecord, CommitBatch, LogStore, SledLog, StoredEvent};

/// Events per storage commit while importing (cut only between commands).
const IMPORT_BATCH: usize = 20_000;

/// The fingerprint of commands that came in through `import-log`.
pub const IMPORTED_FINGERPRINT: &str = "imported";

/// `export FILE` (`-`: stdout).
pub fn export(cx: &mut Ctx, file: &Path) -> Result<(), CliError> {
    let engine = cx.engine()?;
    let last = engine.last_position();
    let to_stdout = file.as_os_str() == "-";
    let mut w: Box<dyn Write> = if to_stdout {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(BufWriter::new(File::create(file).map_err(|e| {
            CliError::invalid(format!("cannot create {}: {e}", file.display()))
        })?))
    };
    let progress = Progress::new(Some(last), "exporting");
    let mut failure = None;
    let mut written = 0u64;
    engine
        .store()
        .scan(1, last, &mut |position, bytes| match stored::to_json(bytes)
            .map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("event {position}: {e}"),
                )
            })
            .and_then(|json| w.write_all(&json))
            .and_then(|()| w.write_all(b"\n"))
        {
            Ok(()) => {
                written += 1;
                if position % 4096 == 0 {
                    progress.set(position);
                }
                true
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        })?;
    progress.finish();
    if let Some(e) = failure {
        return Err(e.into());
    }
    w.flush()?;
    drop(w);
    let keys = engine.vault().export_user_keys();
    if !to_stdout && !keys.is_empty() {
        write_keys(&keys_path(file), &keys)?;
    }
    if !to_stdout {
        let message = if keys.is_empty() {
            format!("Exported {written} events to {}.", file.display())
        } else {
            format!(
                "Exported {written} events to {} and the keys of {} users' personal data to {} (keep it as safe as the data itself).",
                file.display(),
                keys.len(),
                keys_path(file).display()
            )
        };
        if cx.out.is_json() {
            cx.out.doc(&json!({
                "ok": true,
                "events": written,
                "file": file.display().to_string(),
                "message": message,
            }))?;
        } else {
            cx.out.line(message);
        }
    }
    Ok(())
}

/// Where `export FILE` puts the personal-data keys.
pub fn keys_path(file: &Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".keys");
    name.into()
}

fn write_keys(path: &Path, keys: &[(offboard_events::UserId, String)]) -> Result<(), CliError> {
    let map: serde_json::Map<String, Value> = keys
        .iter()
        .map(|(user, key)| (user.to_string(), Value::String(key.clone())))
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .map_err(|e| CliError::invalid(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(&serde_json::to_vec_pretty(&Value::Object(map)).expect("keys serialize"))?;
    f.sync_all()?;
    Ok(())
}

/// The command currently being read and where its events are.
struct OpenCommand {
    id: CommandId,
    correlation: CorrelationId,
    first: u64,
    last: u64,
}

impl OpenCommand {
    fn record(&self) -> (CommandId, CommandRecord) {
        (
            self.id,
            CommandRecord {
                fingerprint: IMPORTED_FINGERPRINT.to_owned(),
                correlation_id: self.correlation,
                positions: Some((self.first, self.last)),
            },
        )
    }
}

/// Refuses `file` unless its event at the expected head's position has the expected
/// hash: read before anything is imported, so a refused file writes nothing. The import
/// then checks every link up to it, so the whole prefix is the one the head was taken of.
fn check_expected_head(file: &Path, shown: &str, expected: &str) -> Result<(), CliError> {
    let expected = super::head::parse_expected(expected)?;
    if expected == crate::anchor::HeadRecord::empty() {
        return Ok(());
    }
    #[derive(serde::Deserialize)]
    struct Head {
        position: u64,
        hash: String,
    }
    let mut last = 0;
    for line in input::open(file)?.lines() {
        let line = line?;
        // A line that does not parse is named by the import itself, with its number.
        let Ok(head) = serde_json::from_str::<Head>(&line) else {
            continue;
        };
        last = head.position;
        if head.position == expected.position {
            if head.hash == expected.hash {
                return Ok(());
            }
            return Err(VerifyError::Broken {
                position: head.position,
                problem: format!(
                    "{shown} has hash {} at position {}, but the expected head is {expected}: the export was changed after that head was recorded; nothing was imported",
                    head.hash,
                    head.position
                ),
            }
            .into());
        }
    }
    Err(VerifyError::Short {
        log_end: last,
        problem: format!(
            "{shown} ends at position {last}, but the expected head is {expected}: positions {}..={} are missing; nothing was imported",
            last + 1,
            expected.position
        ),
    }
    .into())
}

/// `import-log FILE [--expect-head POS:HASH]` into the empty directory `dir`; `-` reads
/// standard input (copied to a temporary file first when `--expect-head` must read it
/// twice). Durable when it returns `Ok`: every event, the views' checkpoint and the keys.
pub fn import(
    dir: &Path,
    file: &Path,
    expect_head: Option<&str>,
    out: &mut Output,
) -> Result<(), CliError> {
    let shown = input::name(file);
    let spooled = match expect_head {
        Some(_) if input::is_stdin(file) => Some(input::Rereadable::new(file)?),
        _ => None,
    };
    let source = spooled.as_ref().map_or(file, input::Rereadable::path);
    if let Some(expected) = expect_head {
        check_expected_head(source, &shown, expected)?;
    }
    let size = std::fs::metadata(source)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let input = input::open(source)?;
    let store = Arc::new(SledLog::open(dir)?);
    let head = store.head()?;
    if head.last_position != 0 {
        return Err(CliError::invalid(format!(
            "import-log needs an empty data directory, and {} already holds {} events",
            dir.display(),
            head.last_position
        )));
    }
    let bad = |line: u64, why: &str| {
        CliError::invalid(format!(
            "{shown}, line {line}: {why}; nothing after line {} was imported, start again in an empty directory",
            line.saturating_sub(1)
        ))
    };
    let progress = Progress::new(size, "importing the log");
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut expected = 1u64;
    // Every stream's last version: each event must extend its stream by exactly one, as
    // the writer assigns them (the stream index relies on it).
    let mut versions: std::collections::HashMap<offboard_events::StreamId, u64> =
        std::collections::HashMap::new();
    let mut batch = CommitBatch::default();
    let mut open: Option<OpenCommand> = None;
    let commit = |batch: &mut CommitBatch, last: u64, hash: &str| -> Result<(), CliError> {
        if batch.events.is_empty() && batch.commands.is_empty() {
            return Ok(());
        }
        batch.head = Some(ChainHead {
            last_position: last,
            last_hash: hash.to_owned(),
        });
        store.commit(batch)?;
        *batch = CommitBatch::default();
        Ok(())
    };
    for (index, line) in input.lines().enumerate() {
        let line_no = index as u64 + 1;
        let line = line.map_err(|e| bad(line_no, &e.to_string()))?;
        progress.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|e| bad(line_no, &format!("not JSON: {e}")))?;
        let hash = crate::integrity::check_link(expected, &prev_hash, &value)
            .map_err(|why| bad(line_no, &why))?;
        let mut bytes = Vec::with_capacity(line.len());
        write_canonical(&value, &mut bytes);
        // Only the metadata is needed here; payloads may be sealed (R13).
        let env = RawEnvelope::parse(&bytes)
            .map_err(|e| bad(line_no, &format!("not a readable envelope: {e}")))?;
        let binary = StoredEnvelope::from_raw(&env).map(|envelope| envelope.encode());
        let position = env.position;
        let version = versions.entry(env.stream_id.clone()).or_insert(0);
        if env.stream_version != *version + 1 {
            return Err(bad(
                line_no,
                &format!(
                    "stream {} jumps from version {} to {}",
                    env.stream_id, version, env.stream_version
                ),
            ));
        }
        *version += 1;
        let (command_id, correlation_id) = (env.command_id, env.correlation_id);

        if open.as_ref().is_some_and(|c| c.id != command_id) {
            let done = open.take().expect("checked above");
            batch.commands.push(done.record());
            if batch.events.len() >= IMPORT_BATCH {
                commit(&mut batch, expected - 1, &prev_hash)?;
            }
        }
        match &mut open {
            Some(c) => c.last = position,
            None => {
                open = Some(OpenCommand {
                    id: command_id,
                    correlation: correlation_id,
                    first: position,
                    last: position,
                })
            }
        }
        // Stored like the writer stores it, unless that would change what the hash covers
        // (a line this build did not write may carry members it does not know).
        let bytes = binary.unwrap_or(bytes);
        batch.events.push(StoredEvent { position, bytes });
        prev_hash = hash;
        expected += 1;
    }
    if let Some(done) = open.take() {
        batch.commands.push(done.record());
    }
    commit(&mut batch, expected - 1, &prev_hash)?;
    progress.finish();

    let vault = Arc::new(KeyVault::open(dir.join("keys"))?);
    // Keys come from a file beside the export; none come with standard input.
    let keys_file = keys_path(file);
    let mut keys_loaded = 0;
    if !input::is_stdin(file) && keys_file.exists() {
        let text = std::fs::read_to_string(&keys_file)?;
        let keys: std::collections::BTreeMap<offboard_events::UserId, String> =
            serde_json::from_str(&text).map_err(|e| {
                CliError::invalid(format!("{} is not a key file: {e}", keys_file.display()))
            })?;
        for (user, key) in &keys {
            vault.import_user_key(*user, key)?;
        }
        keys_loaded = keys.len();
    }
    // Users whose keys did not come along read as erased by choice: recorded, so that
    // opening the copy does not take their absence for damage (`key_missing`).
    let withheld = key_check::keys_absent_from_log(store.as_ref(), &vault)?;
    vault.record_withheld(withheld.iter().copied())?;
    let engine = Engine::with_parts(store, vault, Arc::new(SystemClock))?;
    let report = engine.verify(&mut |_| {})?;
    let orgs = engine.state().orgs().count();
    engine.checkpoint_now()?;
    let keys_note = if keys_loaded > 0 && !withheld.is_empty() {
        format!(
            " with the personal-data keys of {keys_loaded} users ({} users' keys were not in {}: their profiles read as erased)",
            withheld.len(),
            keys_file.display()
        )
    } else if keys_loaded > 0 {
        format!(" with the personal-data keys of {keys_loaded} users")
    } else if input::is_stdin(file) {
        " without personal-data keys (none come with stdin: profiles read as erased)".to_owned()
    } else {
        format!(
            " without personal-data keys ({} not found: profiles read as erased)",
            keys_file.display()
        )
    };
    let message = format!(
        "Imported {} events into {}{keys_note} ({} {}); the chain verifies, head {}.",
        report.events,
        dir.display(),
        orgs,
        crate::domain::plural("organization", orgs as u64),
        report.head_hash
    );
    if out.is_json() {
        out.doc(&json!({
            "ok": true,
            "events": report.events,
            "head_hash": report.head_hash,
            "organizations": orgs,
            "keys": keys_loaded,
            "keys_withheld": withheld.len(),
            "message": message,
        }))?;
    } else {
        out.line(message);
    }
    Ok(())
}
