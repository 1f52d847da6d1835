//! Webhook secrets: `whsec_` + base64 of 32 random bytes, as Standard Webhooks defines
//! them. A secret is shown once, when created or rotated; the receiver needs the secret
//! itself to verify, and so does the sender to sign, so it cannot be hashed like an API
//! token: it is stored sealed (XChaCha20-Poly1305) under a key kept in its own record,
//! [`KEY_RECORD`], so a copy of the subscriptions file alone (a backup, a bug report)
//! reveals no secret.

use base64::Engine as _;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;

use crate::privacy::{Key, KeyVault};

use crate::store::{LogStore, StoreError};

/// The named checkpoint holding the key that seals every webhook secret.
pub const KEY_RECORD: &str = "server.webhooks.key";

/// What every secret starts with.
pub const PREFIX: &str = "whsec_";

/// A fresh secret, `whsec_…`.
pub fn generate() -> String {
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The sealing key, created (durably) on first use.
#[derive(Clone)]
pub struct SealingKey(Key);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// The stored key, or a new one stored before it is returned; kept as `vault` seals a
    /// record's key (wrapped by the KEK on PostgreSQL, so a dump of the database alone
    /// opens no secret). **Durability: when it returns `Ok`, the key is stored.**
    ///
    /// Errors: `storage` naming the record when it holds no usable key.
    pub fn load_or_create(store: &dyn LogStore, vault: &KeyVault) -> Result<Self, StoreError> {
        let key = match store.checkpoint(KEY_RECORD)? {
            Some(bytes) => {
                let (key, raw) = vault.open_record_key(KEY_RECORD, &bytes).map_err(|why| {
                    StoreError::Io(format!(
                        "the record {KEY_RECORD} is damaged ({why}); webhook secrets cannot be read (remove the subscriptions and add them again)"
                    ))
                })?;
                if raw {
                    store.put_checkpoint(KEY_RECORD, &vault.seal_record_key(KEY_RECORD, &key))?;
                }
                key
            }
            None => {
                let key = Key::generate();
                store.put_checkpoint(KEY_RECORD, &vault.seal_record_key(KEY_RECORD, &key))?;
                key
            }
        };
        Ok(Self(key))
    }

    /// base64 of `nonce ++ ciphertext` ([`Key::encrypt`], as personal data is sealed).
    pub fn seal(&self, secret: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.encrypt(secret.as_bytes()))
    }

    /// The secret [`SealingKey::seal`] sealed, or `None` if it does not open.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .ok()?;
        String::from_utf8(self.0.decrypt(&bytes)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryLog;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_the_key_survives_a_reload() {
        let store = MemoryLog::new();
        let vault = KeyVault::in_memory();
        let key = SealingKey::load_or_create(&store, &vault).unwrap();
        let secret = generate();
        assert!(secret.starts_with(PREFIX));
        let sealed = key.seal(&secret);
        assert!(!sealed.contains(&secret[PREFIX.len()..]));
        let again = SealingKey::load_or_create(&store, &vault).unwrap();
        assert_eq!(again.open(&sealed).as_deref(), Some(secret.as_str()));
        let other = SealingKey::load_or_create(&MemoryLog::new(), &vault).unwrap();
        assert_eq!(other.open(&sealed), None);
    }
}
