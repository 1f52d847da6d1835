//! The anchored head on the command line: `head` prints `POS:HASH`, and `verify
//! --expect-head POS:HASH` / `verify --anchor FILE` check the log against a head recorded
//! earlier (see [`crate::anchor`]): a log that lost its tail, or was edited and fully
//! re-hashed, verifies on its own but fails these.

use std::path::Path;

use serde_json::json;

use super::args::VerifyArgs;
use super::error::CliError;
use super::Ctx;
use crate::anchor::{self, HeadRecord};
use crate::engine::Engine;

/// `head`: the chain head as `POS:HASH` (`--json`: position, hash and the pair).
pub fn head(cx: &mut Ctx) -> Result<(), CliError> {
    let head = cx.engine()?.head()?;
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "ok": true,
            "position": head.position,
            "hash": head.hash,
            "head": head.to_string(),
        }))?;
    } else {
        cx.out.line(head.to_string());
    }
    Ok(())
}

/// `--expect-head POS:HASH` as given on the command line.
pub fn parse_expected(text: &str) -> Result<HeadRecord, CliError> {
    HeadRecord::parse(text).map_err(|why| CliError::invalid(format!("--expect-head: {why}")))
}

/// The recorded heads `verify` was asked to check, after the chain itself verified;
/// `integrity_broken` names the first one the log does not hold. Returns how many
/// records were checked.
pub fn check_expectations(engine: &Engine, args: &VerifyArgs) -> Result<u64, CliError> {
    let mut checked = 0;
    if let Some(text) = &args.expect_head {
        let expected = parse_expected(text)?;
        holds(engine, &expected, "the expected head")?;
        checked += 1;
    }
    if let Some(file) = &args.anchor {
        checked += check_anchor_file(engine, file)?;
    }
    Ok(checked)
}

fn check_anchor_file(engine: &Engine, file: &Path) -> Result<u64, CliError> {
    let lines = anchor::read_lines(file).map_err(CliError::invalid)?;
    if lines.is_empty() {
        // `serve --anchor` writes a line as it starts: an empty file was emptied (or is
        // the wrong file), and passing it would claim a check that never happened.
        return Err(CliError::invalid(format!(
            "{} holds no head to check (an anchor file gets a line as `serve --anchor` starts); nothing was verified against it",
            file.display()
        )));
    }
    for (number, line) in &lines {
        let what = format!(
            "{}, line {number} ({}),",
            file.display(),
            line.at.to_rfc3339()
        );
        holds(engine, &line.head, &what)?;
    }
    Ok(lines.len() as u64)
}

/// `integrity_broken` unless the log has `record`'s event.
fn holds(engine: &Engine, record: &HeadRecord, what: &str) -> Result<(), CliError> {
    match anchor::check(engine.store().as_ref(), record)? {
        Ok(()) => Ok(()),
        Err(mismatch) => Err(mismatch.to_error(what, record).into()),
    }
}
