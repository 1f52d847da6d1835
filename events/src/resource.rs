//! Resources (R14): anything a user can own, named `kind:id` (e.g. `buyer:B-1042`).
//! Kinds are an open set; the well-known ones are listed in [`WELL_KNOWN_KINDS`].

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// Kinds the seed products name. Others are accepted too (R14: kinds are an open set).
pub const WELL_KNOWN_KINDS: &[&str] = &[
    "buyer",
    "lead",
    "deal",
    "contact",
    "task",
    "note",
    "request",
    "supplier_list",
    "group",
    "label",
];

/// Longest accepted `kind:id`, so that one key can never bloat an index.
pub const MAX_RESOURCE_KEY_LEN: usize = 200;

/// A resource's identity: `kind:id`. Serialized as that one string, which keeps bulk
/// transfers compact (a 100,000-buyer move is one event listing 100,000 short strings).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct ResourceKey(String);

/// Why a string is not a resource key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceKeyError {
    #[error("resource {0:?} must look like kind:id, e.g. buyer:B-1042")]
    MissingSeparator(String),
    #[error(
        "resource kind {0:?} must be lowercase letters, digits and '_', starting with a letter"
    )]
    BadKind(String),
    #[error("resource id in {0:?} must be non-empty printable text")]
    BadId(String),
    #[error("resource {0:?} is longer than {MAX_RESOURCE_KEY_LEN} characters")]
    TooLong(String),
}

impl ResourceKey {
    /// A key exactly as the log stores it (checked when it was written, as
    /// `Deserialize` trusts it): for naming a stored key in the spelling it was stored in.
    pub fn stored(text: &str) -> Self {
        Self(text.to_owned())
    }

    /// Builds a key from its parts, validating both.
    pub fn new(kind: &str, id: &str) -> Result<Self, ResourceKeyError> {
        format!("{kind}:{id}").parse()
    }

    /// The kind, e.g. `buyer`.
    pub fn kind(&self) -> &str {
        self.0.split_once(':').map(|(k, _)| k).unwrap_or(&self.0)
    }

    /// The external id, e.g. `B-1042`.
    pub fn id(&self) -> &str {
        self.0.split_once(':').map(|(_, i)| i).unwrap_or("")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `kind` is a valid resource kind name.
pub fn is_valid_kind(kind: &str) -> bool {
    let mut chars = kind.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl FromStr for ResourceKey {
    type Err = ResourceKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_RESOURCE_KEY_LEN {
            return Err(ResourceKeyError::TooLong(s.chars().take(40).collect()));
        }
        let (kind, id) = s
            .split_once(':')
            .ok_or_else(|| ResourceKeyError::MissingSeparator(s.to_owned()))?;
        if !is_valid_kind(kind) {
            return Err(ResourceKeyError::BadKind(kind.to_owned()));
        }
        if id.trim().is_empty() || id.chars().any(char::is_control) {
            return Err(ResourceKeyError::BadId(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for ResourceKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Stored events were validated when written; trusting them here keeps replay fast,
        // while `FromStr` guards every input that comes from outside.
        String::deserialize(d).map(Self)
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kind_and_id() {
        let k: ResourceKey = "buyer:B-17".parse().unwrap();
        assert_eq!((k.kind(), k.id()), ("buyer", "B-17"));
        let k: ResourceKey = "supplier_list:a:b".parse().unwrap();
        assert_eq!((k.kind(), k.id()), ("supplier_list", "a:b"));
    }

    #[test]
    fn rejects_malformed_keys() {
        assert!(matches!(
            "B-17".parse::<ResourceKey>(),
            Err(ResourceKeyError::MissingSeparator(_))
        ));
        assert!(matches!(
            "Buyer:B".parse::<ResourceKey>(),
            Err(ResourceKeyError::BadKind(_))
        ));
        assert!(matches!(
            "buyer: ".parse::<ResourceKey>(),
            Err(ResourceKeyError::BadId(_))
        ));
        let long = format!("buyer:{}", "x".repeat(300));
        assert!(matches!(
            long.parse::<ResourceKey>(),
            Err(ResourceKeyError::TooLong(_))
        ));
    }
}
