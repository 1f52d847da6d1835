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
    /// The document a [`Self::list_begin`] opened: items written so far, and (when
    /// capturing) the document being built.
    list: Option<OpenList>,
}

#[derive(Debug)]
struct OpenList {
    field: String,
    items: u64,
    building: Option<serde_json::Map<String, Value>>,
    /// Printing: stdout behind a buffer (stdout's own flushes at every newline only,
    /// and a JSON document has none until its end).
    out: Option<std::io::BufWriter<std::io::Stdout>>,
}

impl Output {
    /// Prints to stdout: text, or (with `json`) the JSON document.
    pub fn print(json: bool) -> Self {
        Self {
            json,
            captured: None,
            list: None,
        }
    }

    /// Keeps JSON documents for the caller instead of printing them.
    pub fn capture() -> Self {
        Self {
            json: true,
            captured: Some(Vec::new()),
            list: None,
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

    /// One page of a table printed as pages arrive: the first page prints the header
    /// and sets the column widths (from its own cells), later pages keep them, so a
    /// long listing is never held whole to measure it.
    pub fn table_page(
        &mut self,
        widths: &mut Option<Vec<usize>>,
        header: &[&str],
        rows: &[Vec<String>],
    ) {
        if self.json {
            return;
        }
        let text = match widths {
            None => {
                let measured = measure(header, rows);
                let mut text = render(&measured, &mut header.iter().copied());
                for row in rows {
                    text.push_str(&render(&measured, &mut row.iter().map(String::as_str)));
                }
                *widths = Some(measured);
                text
            }
            Some(widths) => rows
                .iter()
                .map(|row| render(widths, &mut row.iter().map(String::as_str)))
                .collect(),
        };
        let _ = std::io::stdout().write_all(text.as_bytes());
    }

    /// Opens a JSON document whose list `field` follows `head`'s fields and is written
    /// item by item ([`Self::list_item`]) until [`Self::list_end`]: a listing of any
    /// length without holding it (nothing without `--json`).
    pub fn list_begin(&mut self, head: Value, field: &str) -> std::io::Result<()> {
        if !self.json {
            return Ok(());
        }
        let mut head = match head {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let (building, out) = match self.captured {
            Some(_) => {
                head.insert(field.to_owned(), Value::Array(Vec::new()));
                (Some(head), None)
            }
            None => {
                let mut text = serde_json::to_string(&Value::Object(head))?;
                text.pop();
                if text.len() > 1 {
                    text.push(',');
                }
                text.push_str(&serde_json::to_string(field)?);
                text.push_str(":[");
                let mut out = std::io::BufWriter::new(std::io::stdout());
                out.write_all(text.as_bytes())?;
                (None, Some(out))
            }
        };
        self.list = Some(OpenList {
            field: field.to_owned(),
            items: 0,
            building,
            out,
        });
        Ok(())
    }

    /// Whether a [`Self::list_begin`] document is open.
    pub fn list_open(&self) -> bool {
        self.list.is_some()
    }

    /// One item of the list [`Self::list_begin`] opened.
    pub fn list_item<T: Serialize + ?Sized>(&mut self, item: &T) -> std::io::Result<()> {
        let Some(list) = &mut self.list else {
            return Ok(());
        };
        list.items += 1;
        if let Some(doc) = &mut list.building {
            if let Some(Value::Array(items)) = doc.get_mut(&list.field) {
                items.push(serde_json::to_value(item)?);
            }
        }
        if let Some(out) = &mut list.out {
            if list.items > 1 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(out, item)?;
        }
        Ok(())
    }

    /// Closes the list and the document with `tail`'s fields; returns how many items
    /// the list held.
    pub fn list_end(&mut self, tail: Value) -> std::io::Result<u64> {
        let Some(list) = self.list.take() else {
            return Ok(0);
        };
        let tail = match tail {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        if let Some(mut doc) = list.building {
            doc.extend(tail.clone());
            if let Some(kept) = &mut self.captured {
                kept.push(Value::Object(doc));
            }
        }
        if let Some(mut out) = list.out {
            out.write_all(b"]")?;
            for (name, value) in tail {
                out.write_all(b",")?;
                serde_json::to_writer(&mut out, &name)?;
                out.write_all(b":")?;
                serde_json::to_writer(&mut out, &value)?;
            }
            out.write_all(b"}\n")?;
            out.flush()?;
        }
        Ok(list.items)
    }
}

/// Renders a table with columns padded to their widest cell, measured in terminal
/// columns (a CJK character takes two, a combining mark none).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths = measure(header, rows);
    let mut out = render(&widths, &mut header.iter().copied());
    for row in rows {
        out.push_str(&render(&widths, &mut row.iter().map(String::as_str)));
    }
    out
}

/// Each column's width: its widest cell, header included.
fn measure(header: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.width());
            }
        }
    }
    widths
}

/// One row, each cell padded to its column's width, trailing spaces trimmed.
fn render(widths: &[usize], cells: &mut dyn Iterator<Item = &str>) -> String {
    let mut line = String::new();
    for (i, cell) in cells.enumerate() {
        let width = widths.get(i).copied().unwrap_or(0);
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        line.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.width())));
    }
    let mut out = line.trim_end().to_owned();
    out.push('\n');
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
    fn a_list_written_item_by_item_is_one_document() {
        let mut out = Output::capture();
        out.list_begin(serde_json::json!({"as_of": 3}), "owners")
            .unwrap();
        out.list_item(&serde_json::json!({"resource": "buyer:B-1"}))
            .unwrap();
        out.list_item(&serde_json::json!({"resource": "buyer:B-2"}))
            .unwrap();
        let count = out
            .list_end(serde_json::json!({"next": null, "count": 2}))
            .unwrap();
        assert_eq!(count, 2);
        assert_eq!(
            out.take_captured(),
            vec![serde_json::json!({
                "as_of": 3,
                "owners": [{"resource": "buyer:B-1"}, {"resource": "buyer:B-2"}],
                "next": null,
                "count": 2,
            })]
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
