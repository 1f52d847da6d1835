//! How text that people type is compared: emails (R2: unique case-insensitively) and the
//! names commands look things up by (organizations, distributions, labels).
//!
//! Two strings are the same when their [`caseless_key`]s are equal: Unicode canonical
//! caseless matching (the Unicode Standard, section 3.13, D145: NFD, full case folding,
//! NFD), kept in NFC so a key is as short as the text. So `élise` typed composed
//! (U+00E9) or decomposed (`e` + U+0301) is one user, and `ANN@X`, `ann@x` are one
//! email. For ASCII the key is the ASCII lowercase, exactly what earlier builds
//! used: emails and names already stored keep matching as before.

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

/// `text` in Unicode Normalization Form C (canonical composition, UAX #15): the form
/// emails and names are stored in, so one spelling is kept however it was typed.
pub fn nfc(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    text.nfc().collect()
}

/// A resource key (`kind:id`) as typed, in the one spelling it is stored and looked up
/// by: trimmed, the id trimmed after the `:`, every run of white space in it (any
/// Unicode `White_Space`: tabs, no-break and figure spaces, U+3000…) one ASCII space,
/// and in NFC. So `buyer: N-1`, `buyer:N-1 ` and a CSV cell ` N-1` are one key, as are
/// `B\u{A0}-1` and `B -1`, and `Zoë` typed composed or decomposed. Case is kept (ids
/// are case-sensitive in most systems of record). Borrowed when already so (every plain
/// ASCII key): this runs for every key a replay interns.
pub fn resource_key_text(text: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if is_plain_key(text) {
        return Cow::Borrowed(text);
    }
    let (kind, id) = match text.trim().split_once(':') {
        Some((kind, id)) => (kind.trim(), Some(id)),
        None => (text.trim(), None),
    };
    let mut key = String::with_capacity(text.len());
    key.push_str(kind);
    if let Some(id) = id {
        key.push(':');
        for (i, word) in id.split_whitespace().enumerate() {
            if i > 0 {
                key.push(' ');
            }
            key.push_str(word);
        }
    }
    Cow::Owned(nfc(&key))
}

/// Printable ASCII with single inner spaces only, none at either end or beside the first
/// `:`: already in [`resource_key_text`]'s spelling.
fn is_plain_key(text: &str) -> bool {
    let bytes = text.as_bytes();
    let spaced = |i: usize| bytes.get(i) == Some(&b' ');
    let beside_colon = bytes
        .iter()
        .position(|&b| b == b':')
        .is_some_and(|i| spaced(i + 1) || (i > 0 && spaced(i - 1)));
    bytes.iter().all(|b| (0x20..=0x7e).contains(b))
        && !spaced(0)
        && bytes.last() != Some(&b' ')
        && !beside_colon
        && !bytes.windows(2).any(|w| w == b"  ")
}

/// The key `text` is compared by: its canonical caseless form, in NFC (see the module
/// doc). ASCII text gets its ASCII lowercase.
pub fn caseless_key(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    text.nfd().default_case_fold().nfd().nfc().collect()
}

/// Whether `a` and `b` name the same thing ([`caseless_key`] equality).
pub fn same_text(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    caseless_key(a) == caseless_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_keys_are_the_lowercase_earlier_builds_used() {
        assert_eq!(caseless_key("Ann.Lee@Acme.Example"), "ann.lee@acme.example");
        assert_eq!(nfc("Ann"), "Ann");
    }

    #[test]
    fn a_resource_key_has_one_spelling_however_it_was_typed() {
        for typed in [
            "buyer:N-1",
            " buyer:N-1",
            "buyer: N-1",
            "buyer :N-1",
            "buyer:N-1\t",
        ] {
            assert_eq!(resource_key_text(typed), "buyer:N-1", "{typed:?}");
        }
        for typed in [
            "buyer:B  -1",
            "buyer:B\u{a0}-1",
            "buyer:B\u{2007}-1",
            "buyer:B\u{3000}-1",
        ] {
            assert_eq!(resource_key_text(typed), "buyer:B -1", "{typed:?}");
        }
        assert_eq!(resource_key_text("buyer:Zoe\u{308}"), "buyer:Zo\u{eb}");
        assert_eq!(resource_key_text("buyer:a:b c"), "buyer:a:b c");
        assert!(matches!(
            resource_key_text("buyer:B-1"),
            std::borrow::Cow::Borrowed(_)
        ));
        // The spelling of a spelling is itself.
        for typed in ["buyer: x  y ", "buyer:Zoe\u{308}", "b:\u{3000}q"] {
            let once = resource_key_text(typed).into_owned();
            assert_eq!(resource_key_text(&once), once);
        }
    }

    #[test]
    fn composed_and_decomposed_are_one_text() {
        let composed = "\u{e9}lise@acme.example";
        let decomposed = "e\u{301}lise@acme.example";
        assert_ne!(composed, decomposed);
        assert_eq!(nfc(decomposed), composed);
        assert_eq!(caseless_key(decomposed), caseless_key(composed));
        assert!(same_text("\u{c9}LISE@ACME.EXAMPLE", decomposed));
    }

    #[test]
    fn full_case_folding_matches_what_lowercase_misses() {
        // ß folds to "ss"; final sigma and sigma fold alike.
        assert!(same_text("STRASSE", "straße"));
        assert!(same_text("ΟΔΟΣ", "οδος"));
        assert!(!same_text("ann", "anne"));
    }
}
