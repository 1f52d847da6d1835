//! Input checks shared by commands (R2): names, emails, identifiers.
//!
//! Text people type is stored in Unicode NFC and compared by
//! [`offboard_projections::text::caseless_key`] (NFC, case folded), so one name or
//! email typed composed or decomposed, in any case, is one. Nothing invisible gets in:
//! a name or email holding a control, format (Cf: zero-width characters, bidi
//! controls such as U+202E), separator, private-use or unassigned character is refused
//! (`invalid_input`), because two strings that print alike must not name two users.

use offboard_events::{Profile, ResourceKey, ResourceKeyError};
use offboard_projections::text::{caseless_key, nfc};
use offboard_projections::Ownership;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::error::{Decided, DomainError};

/// Longest accepted name, title or label text.
pub const MAX_TEXT: usize = 200;

/// Characters that print as nothing (or move other text about) and so may appear in no
/// name or email: general categories Cc (controls), Cf (format: U+200B zero width
/// space, U+200D joiner, U+202A–U+202E and U+2066–U+2069 bidi controls, U+FEFF…), Zl
/// and Zp (line and paragraph separators), Co (private use), Cs (surrogates) and Cn
/// (unassigned, so nothing a later Unicode gives meaning to slips in), plus the
/// default-ignorable characters that are not Cf (DerivedCoreProperties.txt): the Hangul
/// fillers, the combining grapheme joiner and the Mongolian variation selectors.
pub fn is_hidden(c: char) -> bool {
    use GeneralCategory::*;
    matches!(
        c.general_category(),
        Control | Format | LineSeparator | ParagraphSeparator | PrivateUse | Surrogate | Unassigned
    ) || matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'
            ..='\u{180F}' | '\u{2800}' | '\u{3164}' | '\u{FFA0}'
    )
}

/// Variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF): default-ignorable, so
/// `B-1\u{FE0F}` prints as `B-1`; they have a use only on a symbol (`❤️`) or in a keycap
/// (`1️⃣`: a digit, `#` or `*`, U+FE0F, U+20E3).
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// The first character of `text` that prints as nothing or moves other text about
/// ([`is_hidden`], or a variation selector anywhere but on a symbol or in a keycap),
/// for the message.
fn hidden_in(text: &str) -> Option<char> {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().find_map(|(i, &c)| {
        let selects = |i: usize| {
            let before = i.checked_sub(1).map(|b| chars[b]);
            let symbol = before.is_some_and(|b| {
                matches!(
                    b.general_category(),
                    GeneralCategory::OtherSymbol | GeneralCategory::MathSymbol
                )
            });
            let keycap = before.is_some_and(|b| b.is_ascii_digit() || b == '#' || b == '*')
                && chars.get(i + 1) == Some(&'\u{20E3}');
            symbol || keycap
        };
        let hidden = is_hidden(c) || (is_variation_selector(c) && !selects(i));
        hidden.then_some(c)
    })
}

/// A required, trimmed, printable text field, in NFC.
pub fn required_text(field: &str, value: &str) -> Decided<String> {
    let text = nfc(value.trim());
    if text.is_empty() {
        return Err(DomainError::InvalidInput(format!("{field} is required")));
    }
    if let Some(c) = hidden_in(&text) {
        return Err(DomainError::InvalidInput(format!(
            "{field} holds the invisible or control character U+{:04X}: type it without",
            u32::from(c)
        )));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(DomainError::InvalidInput(format!(
            "{field} must be printable text of at most {MAX_TEXT} characters"
        )));
    }
    Ok(text)
}

/// A required name ([`required_text`]) that does not read as an id: commands and the
/// CLI take a distribution or label by name or id, so a name that parses as a UUID
/// could pose as another one (a tester named a new distribution after an existing
/// one's id, and later commands acted on the new one); org names likewise.
pub fn name_not_an_id(field: &str, value: &str) -> Decided<String> {
    let name = required_text(field, value)?;
    if uuid::Uuid::try_parse(&name).is_ok() {
        return Err(DomainError::InvalidInput(format!(
            "{field} {name:?} reads as an id (a UUID): choose a name"
        )));
    }
    Ok(name)
}

/// An optional text field: blank means absent.
pub fn optional_text(field: &str, value: Option<&str>) -> Decided<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v).map(Some),
    }
}

/// A plausible email address, stored in NFC as typed (case kept) and compared by its
/// caseless key: one `@`, a non-empty local part, a dotted domain of letters, digits
/// and `-`, no whitespace, and no hidden character ([`is_hidden`]). Beyond ASCII only
/// letters, combining marks and digits are taken (RFC 6531 lets an address hold UTF-8;
/// symbols such as the fullwidth `＠` and variation selectors would only make one
/// address look like another). ASCII addresses are unchanged by all this.
pub fn email(value: &str) -> Decided<String> {
    let email = nfc(value.trim());
    let bad = || DomainError::InvalidInput(format!("{email:?} is not a valid email address"));
    if email.is_empty() {
        return Err(DomainError::InvalidInput("email is required".to_owned()));
    }
    if let Some(c) = hidden_in(&email) {
        return Err(DomainError::InvalidInput(format!(
            "{email:?} is not a valid email address: it holds the invisible or control \
             character U+{:04X}",
            u32::from(c)
        )));
    }
    let odd = |c: char| !c.is_ascii() && !is_letter_mark_or_digit(c);
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || odd(c)) {
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
    Ok(email)
}

/// A `kind:id` resource key typed by someone (a command body, a CLI argument, an import
/// row, a URL), in its one spelling ([`offboard_projections::text::resource_key_text`]:
/// trimmed, white space folded, NFC): `ResourceKey`'s own parsing checks the shape.
/// `Err` is the message (for `invalid_input`). Invisible characters are refused only in
/// keys registered from now on ([`new_resource_key`]): a key an earlier build stored
/// with one can still be transferred or retired by typing it.
pub fn resource_key(text: &str) -> Result<ResourceKey, String> {
    offboard_projections::text::resource_key_text(text)
        .parse()
        .map_err(|e: ResourceKeyError| e.to_string())
}

/// Refuses a key about to be registered for the first time (never seen in `ownership`)
/// whose id holds a character that prints as nothing or moves other text about
/// ([`is_hidden`], a stray variation selector): `buyer:B-1` and `buyer:B\u{200B}-1` must
/// never be two resources.
pub fn new_resource_key(ownership: &Ownership, key: &ResourceKey) -> Decided<()> {
    if ownership.slot(key.as_str()).is_some() {
        return Ok(());
    }
    match new_key_refusal(key) {
        None => Ok(()),
        Some(why) => Err(DomainError::InvalidInput(why)),
    }
}

/// Why `key` may not be registered as a resource the org has never seen
/// ([`new_resource_key`]'s refusal, for `invalid_input`), `None` when it may: what an
/// import or a sync checks on every row before sending anything, so a refused key is
/// named by its line and nothing is written.
pub fn new_key_refusal(key: &ResourceKey) -> Option<String> {
    hidden_in(key.as_str()).map(|c| {
        format!(
            "resource {:?} holds the invisible or control character U+{:04X}: type the id without it",
            key.as_str(),
            u32::from(c)
        )
    })
}

/// `profile` with its user name dropped where it is the email (caseless): a user name
/// is stored only when the identity provider names the person otherwise.
pub fn own_user_name(mut profile: Profile) -> Profile {
    let same = |name: &String| caseless_key(name) == caseless_key(&profile.email);
    if profile.user_name.as_ref().is_some_and(same) {
        profile.user_name = None;
    }
    profile
}

/// Letters (L*), combining marks other than variation selectors (M*) and digits (N*).
fn is_letter_mark_or_digit(c: char) -> bool {
    let variation_selector = matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}');
    let mark = matches!(
        c.general_category(),
        GeneralCategory::NonspacingMark
            | GeneralCategory::SpacingMark
            | GeneralCategory::EnclosingMark
    );
    !variation_selector && (c.is_alphanumeric() || mark)
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

/// R28: an IANA time zone name the tz database knows (`Europe/Berlin`, `UTC`).
pub fn time_zone(name: &str) -> Decided<chrono_tz::Tz> {
    name.parse::<chrono_tz::Tz>().map_err(|_| {
        DomainError::InvalidInput(format!(
            "unknown time zone {name:?}: expected an IANA name such as UTC or Europe/Berlin"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_key_is_spelled_one_way_and_a_new_one_refused_with_a_hidden_character() {
        let none = Ownership::default();
        for sneaky in [
            "buyer:B\u{200b}-1",
            "buyer:B-1\u{202e}",
            "buyer:\u{feff}B",
            "buyer:B-1\u{fe0f}",
            "buyer:B-1\u{e0100}",
            "buyer:B\u{17b4}-1",
            "buyer:B\u{2800}-1",
        ] {
            let key = resource_key(sneaky).unwrap();
            let e = new_resource_key(&none, &key).unwrap_err().to_string();
            assert!(e.contains("invisible"), "{e}");
        }
        for fine in [
            "buyer:\u{2764}\u{fe0f}",
            "buyer:1\u{fe0f}\u{20e3}",
            "buyer:\u{5317}\u{4eac}",
        ] {
            let key = resource_key(fine).unwrap();
            assert!(new_resource_key(&none, &key).is_ok(), "{fine:?}");
        }
        let key = resource_key(" buyer: Zoe\u{308} ").unwrap();
        assert_eq!(key.as_str(), "buyer:Zo\u{eb}");
        assert!(resource_key("Buyer:x").is_err());
    }

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
        assert_eq!(
            required_text("first name", "E\u{301}lise").unwrap(),
            "\u{c9}lise"
        );
        assert_eq!(required_text("label", "Ofertas 🔥").unwrap(), "Ofertas 🔥");
    }

    #[test]
    fn hidden_characters_are_refused_in_names_and_emails() {
        for c in [
            '\u{0}',
            '\u{7}',
            '\u{85}',
            '\u{200B}',
            '\u{200D}',
            '\u{200E}',
            '\u{202E}',
            '\u{2066}',
            '\u{2028}',
            '\u{2029}',
            '\u{FEFF}',
            '\u{E000}',
            '\u{3164}',
            '\u{034F}',
            '\u{E0001}',
        ] {
            assert!(is_hidden(c), "U+{:04X}", u32::from(c));
            assert!(
                required_text("name", &format!("An{c}n")).is_err(),
                "U+{:04X}",
                u32::from(c)
            );
            assert!(
                email(&format!("an{c}n@acme.example")).is_err(),
                "U+{:04X}",
                u32::from(c)
            );
        }
        for c in ['a', 'é', 'ß', ' ', '-', '\'', '🔥', '\u{301}'] {
            assert!(!is_hidden(c), "{c:?}");
        }
    }

    #[test]
    fn emails_are_kept_in_nfc_and_refuse_lookalike_symbols() {
        assert_eq!(
            email("e\u{301}lise@acme.example").unwrap(),
            "\u{e9}lise@acme.example"
        );
        assert_eq!(
            email("Ann.Lee+x@Acme.Example").unwrap(),
            "Ann.Lee+x@Acme.Example"
        );
        assert_eq!(
            email("δοκιμή@παράδειγμα.δοκιμή").unwrap(),
            "δοκιμή@παράδειγμα.δοκιμή"
        );
        for bad in [
            "ann\u{FF20}acme.example",
            "ann\u{FE0F}@acme.example",
            "ann\u{2024}x@a.example",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }
}
