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
