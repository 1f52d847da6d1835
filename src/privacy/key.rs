//! A personal-data or checkpoint key: 256 bits for XChaCha20-Poly1305, sealing with a
//! fresh random 24-byte nonce each time (random nonces are safe at this size).

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, OsRng};
use chacha20poly1305::{AeadCore, Tag, XChaCha20Poly1305, XNonce};

/// A 256-bit XChaCha20-Poly1305 key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A fresh random key.
    pub(crate) fn generate() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        Self(key.into())
    }

    /// The key whose 32 bytes are `raw` (as [`Key::bytes`] gave them).
    pub(crate) fn from_bytes(raw: [u8; 32]) -> Self {
        Self(raw)
    }

    /// The key material, to store it.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `nonce (24 bytes) ++ ciphertext` of `plaintext`.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, plaintext)
            .expect("encrypting into memory cannot fail");
        let mut out = Vec::with_capacity(24 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// [`Key::decrypt`] where the bytes lie: returns the plaintext part of `sealed`. For a
    /// checkpoint of tens of megabytes, allocating and filling a second buffer cost as
    /// much as the cipher itself (measured: 108 ms → 56 ms for 91 MB).
    pub fn decrypt_in_place<'a>(&self, sealed: &'a mut [u8]) -> Option<&'a [u8]> {
        const NONCE: usize = 24;
        const TAG: usize = 16;
        if sealed.len() < NONCE + TAG {
            return None;
        }
        let (nonce, rest) = sealed.split_at_mut(NONCE);
        let (body, tag) = rest.split_at_mut(rest.len() - TAG);
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt_in_place_detached(XNonce::from_slice(nonce), b"", body, Tag::from_slice(tag))
            .ok()?;
        Some(body)
    }

    /// The plaintext of [`Key::encrypt`]'s output, or `None` if it does not authenticate.
    pub fn decrypt(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, body) = sealed.split_at(24);
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt(XNonce::from_slice(nonce), body)
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_with_their_key() {
        let (a, b) = (Key::generate(), Key::generate());
        let sealed = a.encrypt(b"ada@example.com");
        assert_eq!(a.decrypt(&sealed).as_deref(), Some(&b"ada@example.com"[..]));
        assert_eq!(b.decrypt(&sealed), None);
        let mut in_place = sealed.clone();
        assert_eq!(
            a.decrypt_in_place(&mut in_place),
            Some(&b"ada@example.com"[..])
        );
        let mut in_place = sealed.clone();
        assert_eq!(b.decrypt_in_place(&mut in_place), None);
        assert_eq!(a.decrypt_in_place(&mut [0u8; 39]), None);
        assert!(!sealed.windows(3).any(|w| w == b"ada"));
    }
}
