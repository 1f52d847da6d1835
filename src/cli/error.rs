//! Every way a CLI command can fail, as one type with a stable code, the blockers of a
//! refused delete or deactivate, and the exit code: 1 rejected or invalid input,
//! 2 usage, 3 storage.

use serde::Serialize;
use serde_json::json;

use crate::domain::DomainError;
use crate::engine::{AppendError, ReadError};
use crate::integrity::VerifyError;
use crate::server::BlockerView;
use crate::store::StoreError;

/// Exit code of a domain rejection or bad input.
pub const EXIT_REJECTED: u8 = 1;
/// Exit code of a command line that does not make sense (clap's errors, a missing terminal).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a storage failure (locked directory, I/O, damaged log).
pub const EXIT_STORAGE: u8 = 3;

/// The code of a write to a closed pipe: the binary exits 0 quietly.
pub const BROKEN_PIPE: &str = "broken_pipe";

/// A failed command: what went wrong, in words and as a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CliError {
    pub code: String,
    pub message: String,
    /// Everything that blocks a delete or deactivate, with counts (as the API's errors).
    pub blockers: Vec<BlockerView>,
    #[serde(skip)]
    pub exit: u8,
}

impl CliError {
    pub fn new(code: &str, message: impl Into<String>, exit: u8) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            blockers: Vec::new(),
            exit,
        }
    }

    /// Bad input the user can fix (a malformed date, key or file): exit 1.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid_input", message, EXIT_REJECTED)
    }

    /// Something named on the command line does not exist: exit 1.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("not_found", message, EXIT_REJECTED)
    }

    /// The command line does not make sense as given: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new("usage", message, EXIT_USAGE)
    }

    /// Reading or writing the data directory failed: exit 3.
    pub fn storage(code: &str, message: impl Into<String>) -> Self {
        Self::new(code, message, EXIT_STORAGE)
    }

    /// The error document printed under `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "error": self })
    }

    /// The error for people: the message, then every blocker on its own line.
    pub fn to_human(&self) -> String {
        let mut out = format!("error: {}", self.message);
        if !self.blockers.is_empty() {
            out.push_str("\nblocked because the user:");
            for b in &self.blockers {
                out.push_str(&format!("\n  - {} [{}]", b.message, b.code));
            }
        }
        out
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<DomainError> for CliError {
    fn from(e: DomainError) -> Self {
        let mut out = Self::new(e.code(), e.to_string(), EXIT_REJECTED);
        out.blockers = e.blockers().iter().map(BlockerView::from).collect();
        out
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::storage(e.code(), e.to_string())
    }
}

impl From<ReadError> for CliError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Storage(s) => s.into(),
            other => Self::storage(other.code(), other.to_string()),
        }
    }
}

impl From<AppendError> for CliError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Rejected(d) => d.into(),
            AppendError::Storage(s) => s.into(),
            AppendError::Closed | AppendError::OutcomeUnknown(_) | AppendError::Refused(_) => {
                Self::storage(e.code(), e.to_string())
            }
            other => Self::new(other.code(), other.to_string(), EXIT_REJECTED),
        }
    }
}

impl From<VerifyError> for CliError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Storage(s) => s.into(),
            other => Self::storage(other.code(), other.to_string()),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Self::storage(BROKEN_PIPE, e.to_string());
        }
        Self::storage("io", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Blocker;

    #[test]
    fn a_blocked_delete_keeps_every_blocker_and_exits_1() {
        let e = DomainError::Blocked {
            action: "delete",
            user: "pat@example.com".into(),
            blockers: vec![
                Blocker::new(
                    "owns_resources",
                    Some("buyer".into()),
                    3,
                    "owns 3 buyers".into(),
                ),
                Blocker::new("holds_duty", Some("x".into()), 1, "is the x".into()),
            ],
        };
        let cli: CliError = e.into();
        assert_eq!((cli.code.as_str(), cli.exit), ("owns_resources", 1));
        let doc = cli.to_json();
        assert_eq!(doc["error"]["blockers"].as_array().unwrap().len(), 2);
        assert!(cli.to_human().contains("owns 3 buyers"));
        assert!(cli.to_human().contains("is the x"));
    }

    #[test]
    fn a_locked_directory_is_a_storage_error_naming_it() {
        let cli: CliError = StoreError::Locked {
            dir: "/tmp/d".into(),
        }
        .into();
        assert_eq!((cli.code.as_str(), cli.exit), ("data_dir_locked", 3));
        assert!(cli.message.contains("/tmp/d"));
    }
}
