//! Files and folders only their owner may read: user keys, the checkpoint key, the token
//! book and checkpoints. Whoever can read a user's key can read that user's personal data,
//! so these are created `0600` (folders `0700`) whatever the process's umask says; a
//! default umask of `022` would otherwise leave them readable by every local account.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of a private file: read and write for the owner only.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a private folder: list, enter and write for the owner only.
pub const DIR_MODE: u32 = 0o700;

/// Creates (or truncates) `path` for writing with mode [`FILE_MODE`]. An existing file
/// keeps its mode (the kernel applies `mode` on creation only): [`restrict`] tightens
/// files written by releases that did not create them private.
pub fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates `path` for writing with mode [`FILE_MODE`], refusing (`AlreadyExists`) a file
/// already there: for secrets that must never be replaced.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Writes `bytes` to `path` (created with mode [`FILE_MODE`]), without syncing: callers
/// decide when the file must be durable.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create(path)?.write_all(bytes)
}

/// Sets `path` (a file or a folder) to [`FILE_MODE`] or [`DIR_MODE`] if others may
/// read it.
pub fn restrict(path: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(path)?;
    let wanted = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
    }
    Ok(())
}

/// Creates `dir` and its missing parents with mode [`DIR_MODE`].
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_folders_are_private_to_their_owner() {
        // Given a folder to keep secrets in
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys").join("users");
        // When a folder and a file are created in it
        create_dir_all(&dir).unwrap();
        write(&dir.join("a.key"), b"secret").unwrap();
        // Then only the owner may read them
        assert_eq!(mode(&dir), DIR_MODE);
        assert_eq!(mode(&root.path().join("keys")), DIR_MODE);
        assert_eq!(mode(&dir.join("a.key")), FILE_MODE);
        assert_eq!(std::fs::read(dir.join("a.key")).unwrap(), b"secret");
    }

    #[test]
    fn restrict_tightens_what_an_older_release_left_readable() {
        // Given a key file and its folder readable by everyone
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("old.key");
        std::fs::write(&file, b"secret").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // When both are restricted
        restrict(&file).unwrap();
        restrict(root.path()).unwrap();
        // Then only the owner may read them
        assert_eq!(mode(&file), FILE_MODE);
        assert_eq!(mode(root.path()), DIR_MODE);
    }
}
