//! Input checks shared by commands (R2): names, emails, identifiers.

use super::error::{Decided, DomainError};

/// Longest accepted name, title or label text.
pub const MAX_TEXT: usize = 200;

/// A required, trimmed, printable text field.
pub fn required_text(field: &str, value: &str) -> Decided<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::InvalidInput(format!("{field} is required")));
    }
    if trimmed.chars().count() > MAX_TEXT || trimmed.chars().any(char::is_control) {
        return Err(DomainError::InvalidInput(format!(
            "{field} must be printable text of at most {MAX_TEXT} characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// An optional text field: blank means absent.
pub fn optional_text(field: &str, value: Option<&str>) -> Decided<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v).map(Some),
    }
}

/// A plausible email address: one `@`, a non-empty local part, a dotted domain, no
/// spaces. Stored trimmed as typed; compared case-insensitively.
pub fn email(value: &str) -> Decided<String> {
    let email = value.trim();
    let bad = || DomainError::InvalidInput(format!("{email:?} is not a valid email address"));
    if email.is_empty() {
        return Err(DomainError::InvalidInput("email is required".to_owned()));
    }
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let domain_ok = !domain.contains('@')
        && domain.contains('.')
        && domain
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if local.is_empty() || !domain_ok {
        return Err(bad());
    }
    Ok(email.to_owned())
}

/// A duty or group name: lowercase letters, digits, `_` and `-`.
pub fn identifier(field: &str, value: &str) -> Decided<String> {
    let v = value.trim();
    let ok = !v.is_empty()
        && v.len() <= 100
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(v.to_owned())
    } else {
        Err(DomainError::InvalidInput(format!(
            "{field} {v:?} must be lowercase letters, digits, '_' or '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Ada@Example.com ").unwrap(), "Ada@Example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
            "ada@exa..com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names() {
        assert_eq!(required_text("first name", "  Ada ").unwrap(), "Ada");
        assert!(required_text("first name", "   ").is_err());
        assert_eq!(optional_text("job title", Some(" ")).unwrap(), None);
    }
}
