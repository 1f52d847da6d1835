//! The key-encryption key (KEK): 32 random bytes kept on the nodes, outside the database,
//! that wrap every personal-data key stored in PostgreSQL. Whoever holds a database dump
//! or a replica without the KEK cannot read a user's key, so cannot read their personal
//! data either.
//!
//! Where it comes from, first found wins: `--kek-file PATH` (env `OFFBOARD_KEK_FILE`): a
//! file of exactly 32 raw bytes, as `offboard kek create PATH` writes it (0600, never
//! over an existing file); or env `OFFBOARD_KEK`: the same 32 bytes in base64, for
//! secret stores that hand out environment variables.
//!
//! Wrapping is XChaCha20-Poly1305 with the slot as associated data (`user <id>` for a
//! user key): a row copied onto another user's row does not unwrap there. The store
//! keeps the KEK's [`Kek::id`] (a hash, not the key), so a wrong KEK is told apart from
//! a damaged row: `kek_wrong`, naming both ids, never a purge.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{AeadCore, XChaCha20Poly1305, XNonce};
use offboard_events::UserId;
use sha2::{Digest, Sha256};

use super::key::Key;
use crate::store::private_file;

/// The environment variable naming the KEK file (as `--kek-file`).
pub const KEK_FILE_ENV: &str = "OFFBOARD_KEK_FILE";
/// The environment variable holding the KEK itself, in base64.
pub const KEK_ENV: &str = "OFFBOARD_KEK";

/// Length of a wrapped key: nonce (24) + key (32) + tag (16).
pub const WRAPPED_LEN: usize = 72;

/// Why no usable KEK, or the wrong one, was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KekError {
    /// The store wraps its keys but no KEK was given, and none is at `default`.
    #[error("the personal-data keys of this store are wrapped by a key-encryption key, and none was found: pass the store's KEK with --kek-file PATH (env OFFBOARD_KEK_FILE), set OFFBOARD_KEK (base64), or copy it to {default}")]
    Missing { default: String },
    /// The KEK given cannot be a KEK (length, encoding, unreadable file).
    #[error("the key-encryption key from {from} is unusable: {problem}; a KEK is 32 bytes (the file `offboard kek create` writes, or those bytes in base64 in OFFBOARD_KEK)")]
    Unusable { from: String, problem: String },
    /// The KEK given is not the one the store's keys are wrapped with.
    #[error("the key-encryption key from {from} (id {given}) is not the one this store's personal-data keys are wrapped with (id {expected}); nothing was read or erased: start again with the store's KEK")]
    Wrong {
        from: String,
        given: String,
        expected: String,
    },
    /// `kek create` would overwrite a file: that KEK may be the only way into the keys.
    #[error("{path} already exists: a key-encryption key is never overwritten (the keys it wraps would be lost); choose another path")]
    Exists { path: String },
}

impl KekError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            KekError::Missing { .. } => "kek_missing",
            KekError::Unusable { .. } => "kek_invalid",
            KekError::Wrong { .. } => "kek_wrong",
            KekError::Exists { .. } => "kek_exists",
        }
    }
}

/// A key-encryption key, with where it came from (for messages, never the bytes).
#[derive(Clone)]
pub struct Kek {
    raw: [u8; 32],
    from: String,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Kek({}, id {})", self.from, self.id())
    }
}

/// What a slot's associated data is: the wrapped key is bound to it.
fn user_slot(user: UserId) -> String {
    format!("offboard user key {user}")
}

impl Kek {
    /// The KEK from `file` if given, else from [`KEK_FILE_ENV`], else from [`KEK_ENV`];
    /// `Ok(None)` when none is set.
    pub fn from_settings(file: Option<&Path>) -> Result<Option<Self>, KekError> {
        let env_file = std::env::var_os(KEK_FILE_ENV).map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            return Self::from_file(&path).map(Some);
        }
        match std::env::var(KEK_ENV) {
            Ok(text) => Self::from_base64(&text, KEK_ENV).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// The KEK in `path`: exactly 32 bytes.
    pub fn from_file(path: &Path) -> Result<Self, KekError> {
        let from = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| KekError::Unusable {
            from: from.clone(),
            problem: format!("cannot be read: {e}"),
        })?;
        Self::from_raw(&bytes, from)
    }

    /// The KEK in `text` (base64 of 32 bytes; surrounding blanks ignored); `from` names
    /// where the text was found.
    pub fn from_base64(text: &str, from: &str) -> Result<Self, KekError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| KekError::Unusable {
                from: from.to_owned(),
                problem: format!("not base64: {e}"),
            })?;
        Self::from_raw(&bytes, from.to_owned())
    }

    fn from_raw(bytes: &[u8], from: String) -> Result<Self, KekError> {
        match <[u8; 32]>::try_from(bytes) {
            Ok(raw) if raw == [0u8; 32] => Err(KekError::Unusable {
                from,
                problem: "it is 32 zero bytes".to_owned(),
            }),
            Ok(raw) => Ok(Self { raw, from }),
            Err(_) => Err(KekError::Unusable {
                from,
                problem: format!("it holds {} bytes", bytes.len()),
            }),
        }
    }

    /// Writes a new random KEK to `path` (mode 0600), refusing an existing file, and
    /// returns it. **Durability: when it returns `Ok`, the file and its directory entry
    /// are on stable storage.**
    pub fn create_file(path: &Path) -> Result<Self, KekError> {
        let from = path.display().to_string();
        let fail = |problem: String| KekError::Unusable {
            from: from.clone(),
            problem,
        };
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let mut file = private_file::create_new(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KekError::Exists { path: from.clone() },
            _ => fail(format!("cannot be created: {e}")),
        })?;
        file.write_all(&raw)
            .and_then(|()| file.sync_all())
            .map_err(|e| fail(format!("cannot be written: {e}")))?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        std::fs::File::open(dir.unwrap_or(Path::new(".")))
            .and_then(|d| d.sync_all())
            .map_err(|e| fail(format!("its folder cannot be synced: {e}")))?;
        Ok(Self { raw, from })
    }

    /// Where this KEK was read from (a path or an environment variable).
    pub fn from(&self) -> &str {
        &self.from
    }

    /// A short public name of this KEK (16 hex digits of a SHA-256 of it): stored beside
    /// the wrapped keys to tell a wrong KEK from damage; it reveals nothing of the key.
    pub fn id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"offboard kek id\0")
            .chain_update(self.raw)
            .finalize();
        hex::encode(&digest[..8])
    }

    /// `key` wrapped for `slot`: nonce (24 bytes) ++ ciphertext and tag, [`WRAPPED_LEN`]
    /// bytes.
    pub fn wrap(&self, slot: &str, key: &Key) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: key.bytes(),
                    aad: slot.as_bytes(),
                },
            )
            .expect("encrypting into memory cannot fail");
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The key `wrapped` for `slot` holds, or what is wrong with it (altered, cut, or
    /// wrapped for another slot — a row copied from another user).
    pub fn unwrap(&self, slot: &str, wrapped: &[u8]) -> Result<Key, String> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(format!(
                "the wrapped key holds {} bytes, a wrapped key is {WRAPPED_LEN}",
                wrapped.len()
            ));
        }
        let (nonce, body) = wrapped.split_at(24);
        let plain = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: slot.as_bytes(),
                },
            )
            .map_err(|_| {
                "it does not unwrap under the store's key-encryption key for this slot \
                 (altered, or copied from another row)"
                    .to_owned()
            })?;
        let raw = <[u8; 32]>::try_from(plain.as_slice()).map_err(|_| "not 32 bytes".to_owned())?;
        Ok(Key::from_bytes(raw))
    }

    /// [`Kek::wrap`] of a user's key, bound to the user.
    pub fn wrap_user_key(&self, user: UserId, key: &Key) -> Vec<u8> {
        self.wrap(&user_slot(user), key)
    }

    /// [`Kek::unwrap`] of a user's key, bound to the user.
    pub fn unwrap_user_key(&self, user: UserId, wrapped: &[u8]) -> Result<Key, String> {
        self.unwrap(&user_slot(user), wrapped)
    }

    /// Checks that the store's keys, wrapped under the KEK named `expected`, are this
    /// KEK's: `kek_wrong` otherwise.
    pub fn check_id(&self, expected: &str) -> Result<(), KekError> {
        if self.id() == expected {
            return Ok(());
        }
        Err(KekError::Wrong {
            from: self.from.clone(),
            given: self.id(),
            expected: expected.to_owned(),
        })
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.raw).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> Kek {
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        Kek::from_raw(&raw, "test".to_owned()).unwrap()
    }

    #[test]
    fn a_wrapped_key_opens_only_with_its_kek_and_its_user() {
        // Given a user's key wrapped under a KEK
        let (kek, other) = (kek(), kek());
        let (ann, bob) = (UserId::new(), UserId::new());
        let key = Key::generate();
        let wrapped = kek.wrap_user_key(ann, &key);
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert!(!wrapped.windows(32).any(|w| w == key.bytes()));
        // Then it unwraps for that user under that KEK only
        assert_eq!(kek.unwrap_user_key(ann, &wrapped), Ok(key));
        assert!(other.unwrap_user_key(ann, &wrapped).is_err());
        // And a row swapped onto another user does not unwrap there
        let swapped = kek.unwrap_user_key(bob, &wrapped).unwrap_err();
        assert!(swapped.contains("copied from another row"), "{swapped}");
        // And a cut or altered one is damage, named
        assert!(kek
            .unwrap_user_key(ann, &wrapped[..40])
            .unwrap_err()
            .contains("40 bytes"));
        let mut altered = wrapped.clone();
        altered[30] ^= 1;
        assert!(kek.unwrap_user_key(ann, &altered).is_err());
    }

    #[test]
    fn a_wrong_kek_is_its_own_fault_naming_both_ids() {
        let (kek, other) = (kek(), kek());
        assert_eq!(kek.check_id(&kek.id()), Ok(()));
        let wrong = other.check_id(&kek.id()).unwrap_err();
        assert_eq!(wrong.code(), "kek_wrong");
        let message = wrong.to_string();
        assert!(
            message.contains(&kek.id()) && message.contains(&other.id()),
            "{message}"
        );
        assert!(!format!("{other:?}").contains(&hex::encode(other.raw)));
    }

    #[test]
    fn kek_files_are_created_private_once_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offboard.kek");
        let made = Kek::create_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(Kek::from_file(&path).unwrap().id(), made.id());
        // Never overwritten: the keys it wraps would be lost
        assert_eq!(Kek::create_file(&path).unwrap_err().code(), "kek_exists");
        assert_eq!(Kek::from_file(&path).unwrap().id(), made.id());
        // The same bytes in base64 are the same KEK
        let text = STANDARD.encode(std::fs::read(&path).unwrap());
        assert_eq!(Kek::from_base64(&text, KEK_ENV).unwrap().id(), made.id());
        // Anything else is kek_invalid
        std::fs::write(dir.path().join("short"), [7u8; 31]).unwrap();
        let short = Kek::from_file(&dir.path().join("short")).unwrap_err();
        assert_eq!(short.code(), "kek_invalid");
        assert!(short.to_string().contains("31 bytes"));
        assert_eq!(
            Kek::from_base64("not base64!", KEK_ENV).unwrap_err().code(),
            "kek_invalid"
        );
    }
}
