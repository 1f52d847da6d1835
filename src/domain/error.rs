//! Domain rejections: every way a command can be refused, each with a stable snake_case
//! code. A rejected command appends nothing.

use serde::Serialize;

/// One reason a delete or deactivate cannot go ahead (R8, R10), with the count of what
/// stands in the way, so an administrator sees everything to fix at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocker {
    /// Stable code, e.g. `owns_resources`, `distribution_backup`, `manages_users`.
    pub code: &'static str,
    /// What it is about: a resource kind, a duty, a distribution's name; absent when the
    /// code says it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub count: u64,
    /// A sentence for people, e.g. `owns 12 buyers`.
    pub message: String,
}

impl Blocker {
    pub fn new(code: &'static str, subject: Option<String>, count: u64, message: String) -> Self {
        Self {
            code,
            subject,
            count,
            message,
        }
    }
}

/// Why the domain refused a command. The variant says what the caller can do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The thing does not exist in this org (also for other orgs' things, R1).
    #[error("{0} not found")]
    NotFound(String),
    /// The actor may not do this (R4, R5): ask someone who outranks the target.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Malformed or inconsistent input: fix the request.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The phrase typed does not match the org's confirmation phrase (R10).
    #[error("confirmation required: type {expected:?} to confirm")]
    ConfirmationRequired { expected: String },
    /// Another listed user has this email (R2): use another, or delete/restore first.
    #[error("email {0} is already used by another user of this organization")]
    EmailTaken(String),
    /// Another listed user has this external id (the identity provider's id for a
    /// person): correct the directory's mapping, or delete the other user first.
    #[error("external id {0} is already used by another user of this organization")]
    ExternalIdTaken(String),
    /// Another listed user has this user name (the identity provider's `userName`, or
    /// the email of a user without one): correct the directory's mapping first.
    #[error("user name {0} is already used by another user of this organization")]
    UserNameTaken(String),
    /// A name or key that must be unique already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The command does not fit the user's lifecycle state (R7), e.g. reactivating a deleted user.
    #[error("{0}")]
    InvalidState(String),
    /// The user was the only member of a distribution: name a replacement (R18).
    #[error("{0} has no other member: a replacement is required")]
    ReplacementRequired(String),
    /// Not enough credits in the account (R20).
    #[error("insufficient credits: {account} holds {available}, {requested} requested")]
    InsufficientCredits {
        account: String,
        available: u64,
        requested: u64,
    },
    /// Nothing matched, so nothing would change.
    #[error("nothing to transfer: {0}")]
    NothingToTransfer(String),
    /// The user may not be deleted or deactivated until every blocker is cleared.
    #[error("cannot {action} {user}: {}", list(.blockers))]
    Blocked {
        action: &'static str,
        user: String,
        blockers: Vec<Blocker>,
    },
    /// R12: the retention window has passed; the user can only be purged.
    #[error("the restore window of {days} days has passed")]
    RestoreWindowExpired { days: u32 },
    /// R13: a purged user never comes back.
    #[error("user {0} was purged and cannot be restored")]
    Purged(String),
    /// R13 cannot be kept: the user's profile is stored in plaintext (a v1 event written
    /// before profiles were sealed) in a hash-chained log that cannot be rewritten, so a
    /// purge would claim an erasure that does not happen. Nothing was purged.
    #[error("cannot purge {user}: their email and names are stored in plaintext at log position {} (written before personal data was sealed, e.g. a v1 UserInvited), and the hash-chained log cannot be rewritten, so they would stay readable in the log, in `history` and in every export; nothing was purged (the user stays deleted)", positions.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))]
    ErasureImpossible { user: String, positions: Vec<u64> },
}

fn list(blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(|b| b.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

impl DomainError {
    /// Stable snake_case code. A blocked action answers with its first blocker's code
    /// (blockers are listed in a fixed order) and lists all of them in [`Self::blockers`].
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::NotFound(_) => "not_found",
            DomainError::Forbidden(_) => "forbidden",
            DomainError::InvalidInput(_) => "invalid_input",
            DomainError::ConfirmationRequired { .. } => "confirmation_required",
            DomainError::EmailTaken(_) => "email_taken",
            DomainError::ExternalIdTaken(_) => "external_id_taken",
            DomainError::UserNameTaken(_) => "user_name_taken",
            DomainError::AlreadyExists(_) => "already_exists",
            DomainError::InvalidState(_) => "invalid_state",
            DomainError::ReplacementRequired(_) => "replacement_required",
            DomainError::InsufficientCredits { .. } => "insufficient_credits",
            DomainError::NothingToTransfer(_) => "nothing_to_transfer",
            DomainError::Blocked { blockers, .. } => blockers.first().map_or("blocked", |b| b.code),
            DomainError::RestoreWindowExpired { .. } => "restore_window_expired",
            DomainError::Purged(_) => "purged",
            DomainError::ErasureImpossible { .. } => "erasure_impossible",
        }
    }

    /// Every blocker, for a blocked delete or deactivate; empty otherwise.
    pub fn blockers(&self) -> &[Blocker] {
        match self {
            DomainError::Blocked { blockers, .. } => blockers,
            _ => &[],
        }
    }
}

/// Shorthand for decisions.
pub type Decided<T> = Result<T, DomainError>;
