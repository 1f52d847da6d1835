//! Where a command's answer goes: sentences and tables for people, or one JSON document
//! under `--json`; progress bars on a terminal only.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// A command's output sink.
#[derive(Debug)]
pub struct Output {
    json: bool,
    /// `Some` when JSON documents are kept instead of printed (the demo's steps).
    captured: Option<Vec<Value>>,
}

impl Output {
    /// Prints to stdout: text, or (with `json`) the JSON document.
    pub fn print(json: bool) -> Self {
        Self {
            json,
            captured: None,
        }
    }

    /// Keeps JSON documents for the caller instead of printing them.
    pub fn capture() -> Self {
        Self {
            json: true,
            captured: Some(Vec::new()),
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// The documents kept by a capturing output.
    pub fn take_captured(&mut self) -> Vec<Value> {
        self.captured
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// A line for people (nothing under `--json`).
    pub fn line(&mut self, text: impl std::fmt::Display) {
        if !self.json {
            // A closed pipe (`| head`) is not worth a panic: the reader has what it wanted.
            let _ = writeln!(std::io::stdout(), "{text}");
        }
    }

    /// The command's JSON document (nothing without `--json`). Serialized straight to
    /// stdout, so a million-row answer is never built in memory twice.
    pub fn doc<T: Serialize + ?Sized>(&mut self, value: &T) -> std::io::Result<()> {
        if !self.json {
            return Ok(());
        }
        if let Some(kept) = &mut self.captured {
            kept.push(serde_json::to_value(value).map_err(std::io::Error::from)?);
            return Ok(());
        }
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::new(stdout.lock());
        serde_json::to_writer(&mut w, value).map_err(std::io::Error::from)?;
        w.write_all(b"\n")?;
        w.flush()
    }

    /// A table for people: a header row, then the rows, columns padded to fit.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        if self.json {
            return;
        }
        let _ = std::io::stdout().write_all(table(header, rows).as_bytes());
    }
}

/// Renders a table with columns padded to their widest cell, measured in terminal
/// columns (a CJK character takes two, a combining mark none).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.width());
            }
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &mut dyn Iterator<Item = &str>| {
        let mut line = String::new();
        for (i, cell) in cells.enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.width())));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(&mut header.iter().copied());
    for row in rows {
        push_row(&mut row.iter().map(String::as_str));
    }
    out
}

/// Whether to colour what goes to `stream`: only on a terminal, and never when `NO_COLOR`
/// is set to anything but the empty string (<https://no-color.org>).
pub fn colour(stream: &impl IsTerminal) -> bool {
    let refused = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    stream.is_terminal() && !refused
}

/// A progress bar on stderr, shown only when stderr is a terminal.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar counting to `len` (a spinner when the length is unknown).
    pub fn new(len: Option<u64>, what: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = match len {
            Some(len) => ProgressBar::new(len).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg} {human_pos} ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(what.to_owned());
        Self(Some(bar))
    }

    pub fn set(&self, position: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(position);
        }
    }

    pub fn inc(&self, by: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(by);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let t = table(
            &["email", "role"],
            &[
                vec!["ann@x.example".into(), "member".into()],
                vec!["b@x".into(), "owner".into()],
            ],
        );
        assert_eq!(
            t,
            "email          role\nann@x.example  member\nb@x            owner\n"
        );
    }

    #[test]
    fn wide_and_combining_text_align_by_terminal_columns() {
        let t = table(
            &["name", "role"],
            &[
                vec!["山田太郎".into(), "member".into()],
                vec!["Jose\u{301}".into(), "owner".into()],
                vec!["Zoë".into(), "admin".into()],
            ],
        );
        // 山田太郎 is 8 columns wide; "Jose\u{301}" and "Zoë" are 4 and 3.
        assert_eq!(
            t,
            "name      role\n山田太郎  member\nJose\u{301}      owner\nZoë       admin\n"
        );
    }
}
