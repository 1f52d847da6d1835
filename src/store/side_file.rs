//! Faults of the files kept beside the log — a user's personal-data key in `keys/`, the
//! API tokens in `checkpoints/` — each named for the file and what is wrong with it.
//!
//! Why their own codes: these files are not the log, so `log_corrupt … run offboard
//! verify` sent people to a check that passes, and a missing key read exactly like a
//! purge. Each message names the file (relative to the data directory, so it reads the
//! same on every machine) and says how to recover. All are storage faults: exit 3 in the
//! CLI, 503 over HTTP.

use offboard_events::UserId;

/// Where the API tokens are stored, relative to the data directory.
pub const TOKENS_FILE: &str = "checkpoints/server.tokens";

/// The key file of `user`, relative to the data directory.
pub fn key_file(user: UserId) -> String {
    format!("keys/users/{user}.key")
}

/// `user` as people know them: `email (id)` where the email is readable, else the id.
pub fn who(user: UserId, email: Option<&str>) -> String {
    match email {
        Some(email) if !email.is_empty() && email != "erased" => format!("{email} ({user})"),
        _ => user.to_string(),
    }
}

/// A file beside the log that is missing or damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SideFileError {
    /// A user who was never purged has sealed personal data but no key file.
    #[error("the personal-data key of user {who} ({file}) is missing, yet the user was never purged, so their email and names cannot be read; restore the key from a backup (or from an export's FILE.keys)")]
    KeyMissing {
        user: UserId,
        /// The user as people know them: the email where it is readable, and the id.
        who: String,
        file: String,
    },
    /// The key file is there but unusable: wrong length, zeroed, unreadable, or a key
    /// that does not open the user's sealed data.
    #[error("the personal-data key of user {who} ({file}) is damaged: {problem}; restore the key from a backup (or from an export's FILE.keys)")]
    KeyDamaged {
        user: UserId,
        /// The user as people know them: the email where it is readable, and the id.
        who: String,
        file: String,
        problem: String,
    },
    /// Tokens were issued but their file is gone: every token would answer 401.
    #[error("{file} is missing, but API tokens were issued ({issued}, recorded in {file}.issued), so every one of them would answer 401; restore it from a backup or re-issue tokens (offboard token create)")]
    TokensMissing { file: String, issued: u64 },
    /// The tokens file (or its issued count) cannot be read as written.
    #[error("{file} is damaged: {problem}; restore it from a backup or re-issue tokens (offboard token create)")]
    TokensDamaged { file: String, problem: String },
}

impl SideFileError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            SideFileError::KeyMissing { .. } => "key_missing",
            SideFileError::KeyDamaged { .. } => "key_damaged",
            SideFileError::TokensMissing { .. } => "tokens_missing",
            SideFileError::TokensDamaged { .. } => "tokens_damaged",
        }
    }
}
