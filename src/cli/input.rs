//! Files named on the command line for reading, where `-` means standard input (the
//! Unix habit): `resource import -`, `offboard --plan -`, `import-log -`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::error::CliError;

/// Whether `path` is `-`, standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How messages name the input: its path, or `stdin`.
pub fn name(path: &Path) -> String {
    if is_stdin(path) {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    }
}

/// The whole input, as bytes. `invalid_input` naming it when it cannot be read.
pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    open(path)?
        .read_to_end(&mut bytes)
        .map_err(|e| cannot_read(path, e))?;
    Ok(bytes)
}

/// The input, buffered for reading line by line. `invalid_input` naming it when it
/// cannot be opened.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, CliError> {
    if is_stdin(path) {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let file = File::open(path).map_err(|e| cannot_read(path, e))?;
    Ok(Box::new(BufReader::new(file)))
}

/// An input that can be read twice: the file itself, or standard input copied to a
/// temporary file (removed when dropped). Its size is known either way.
#[derive(Debug)]
pub enum Rereadable {
    /// A file named on the command line.
    File(PathBuf),
    /// Standard input, spooled.
    Spooled(tempfile::NamedTempFile),
}

impl Rereadable {
    /// `path`, or (for `-`) standard input copied to a temporary file.
    pub fn new(path: &Path) -> Result<Self, CliError> {
        if !is_stdin(path) {
            return Ok(Self::File(path.to_path_buf()));
        }
        let mut spool = tempfile::NamedTempFile::new()?;
        std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())
            .map_err(|e| cannot_read(path, e))?;
        Ok(Self::Spooled(spool))
    }

    /// Where to read it from.
    pub fn path(&self) -> &Path {
        match self {
            Self::File(path) => path,
            Self::Spooled(spool) => spool.path(),
        }
    }
}

fn cannot_read(path: &Path, e: std::io::Error) -> CliError {
    CliError::invalid(format!("cannot read {}: {e}", name(path)))
}
