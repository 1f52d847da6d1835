//! The files sled 0.34 keeps in a data directory, and what offboard adds so that
//! "flushed" means "on stable storage" and a damaged snapshot never makes the directory
//! unopenable.
//!
//! What sled writes (read in sled 0.34.7's `pagecache`): `db`, the log, written with
//! `pwrite` and made stable by `Db::flush` with `sync_file_range` only — which neither
//! flushes the device's write cache nor the file's metadata (sled's own issue "Data is
//! not written durably"); `conf`, written once when the directory is created, never
//! synced; `blobs/N`, values too large for a log segment, written and never synced;
//! `snap.LSN`, an index of the log, written as `snap.LSN.generating`, fsynced and renamed
//! without syncing the directory. So [`SledFiles::sync`] follows every flush with an
//! `fdatasync` of `db`, syncs any blob that appeared, and syncs the directories whose
//! entries changed. What appeared is told by a [`DirWatch`] (Linux `inotify`); where
//! there is none, or it lost events, the directories are listed.
//!
//! A snapshot only saves replaying the log: sled rebuilds it from `db` when none is
//! there. But sled takes the greatest `snap.*` name — a leftover `.generating` file
//! included — and refuses to open when that file is short or fails its checksum (a full
//! disk leaves exactly that). [`discard_damaged_snapshots`] removes such files before
//! sled opens, so sled replays its log instead.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[cfg(target_os = "linux")]
use super::dir_watch::{DirWatch, Look};
use super::StoreError;

/// sled's snapshot trailer: the decompressed length (u64) and a CRC-32 (u32, LE) of the
/// bytes before it.
const SNAPSHOT_TRAILER: usize = 12;

/// A handle on sled's files in one data directory, to make what sled flushed durable.
#[derive(Debug)]
pub(crate) struct SledFiles {
    dir: PathBuf,
    /// The log file, kept open so each sync is one `fdatasync`.
    db: File,
    /// The names in the data directory and in `blobs/` already seen after a flush.
    known: Mutex<BTreeSet<OsString>>,
    /// Files and directories seen new or changed after a flush, not yet synced.
    pending: Mutex<Pending>,
    /// The kernel's word on what changed; `None` (not Linux, or no inotify instance to
    /// be had) lists the directories after every flush.
    #[cfg(target_os = "linux")]
    watch: Mutex<Option<DirWatch>>,
}

/// What the next sync must make durable besides the log: files first, then the
/// directories naming them.
#[derive(Debug, Default)]
struct Pending {
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl SledFiles {
    /// Opens `dir/db` and makes everything sled created on open durable: `conf`, `db`,
    /// any blob, and the directory entries naming them.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        let db_path = dir.join("db");
        let db = File::open(&db_path).map_err(|e| io(&db_path, e))?;
        let files = Self {
            dir: dir.to_path_buf(),
            db,
            known: Mutex::new(BTreeSet::new()),
            pending: Mutex::new(Pending::default()),
            // Watching before the first listing: nothing created after it goes unseen.
            #[cfg(target_os = "linux")]
            watch: Mutex::new(DirWatch::new(dir).ok()),
        };
        let conf = dir.join("conf");
        if conf.exists() {
            sync_file(&conf)?;
        }
        files.db.sync_all().map_err(|e| io(&db_path, e))?;
        files.note_new_files(true)?;
        files.sync_pending()?;
        Ok(files)
    }

    /// After `Db::flush` returned: notes every blob or snapshot that appeared since the
    /// last look, and the directories naming them, for the next [`SledFiles::sync`].
    /// Listed here, in the flush's own thread, so a file is only ever noted once the
    /// flush that wrote it is over (the sync of an earlier round may run meanwhile).
    pub(crate) fn note_flushed(&self) -> Result<(), StoreError> {
        #[cfg(target_os = "linux")]
        if let Some(watch) = self
            .watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            if let Look::Seen(changes) = watch.look() {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                pending.files.extend(changes.files);
                pending.dirs.extend(changes.dirs);
                return Ok(());
            }
            // Events were lost: the listing below compares with the names of the last
            // listing, so it notes at least everything that changed since.
        }
        self.note_new_files(false)
    }

    /// `fdatasync` of the log, then every file and directory noted by
    /// [`SledFiles::note_flushed`]. When it returns `Ok`, everything sled flushed (and
    /// noted) before the call is on stable storage.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.db
            .sync_data()
            .map_err(|e| io(&self.dir.join("db"), e))?;
        self.sync_pending()
    }

    /// Lists the data directory and `blobs/` (two `getdents`, a few microseconds) and
    /// notes what appeared since the last look; `force` notes the directories anyway.
    fn note_new_files(&self, force: bool) -> Result<(), StoreError> {
        let blobs = self.dir.join("blobs");
        let mut now = names(&self.dir)?;
        let blob_names = if blobs.is_dir() {
            names(&blobs)?
        } else {
            BTreeSet::new()
        };
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let mut noted = BTreeSet::new();
        let mut blobs_changed = false;
        for blob in &blob_names {
            let mut key = OsString::from("blobs/");
            key.push(blob);
            if !known.contains(&key) {
                noted.insert(blobs.join(blob));
                blobs_changed = true;
            }
            now.insert(key);
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.files.extend(noted);
        if (force || blobs_changed) && blobs.is_dir() {
            pending.dirs.insert(blobs);
        }
        if force || *known != now {
            pending.dirs.insert(self.dir.clone());
        }
        *known = now;
        Ok(())
    }

    /// Syncs every noted file, then every noted directory.
    fn sync_pending(&self) -> Result<(), StoreError> {
        let Pending { files, dirs } =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        files
            .iter()
            .chain(&dirs)
            .try_for_each(|path| sync_file(path))
    }
}

fn names(dir: &Path) -> Result<BTreeSet<OsString>, StoreError> {
    fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
        .map_err(|e| io(dir, e))
}

/// `fsync` of a file or a directory (a directory is opened read-only, which is what
/// `fsync` on a directory needs on Linux).
pub(crate) fn sync_file(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(path, e))
}

/// Removes every snapshot sled would refuse to open with — a `snap.*.generating` left by
/// an interrupted save, a `snap.*` of 12 bytes or fewer, one whose checksum fails — and
/// returns one sentence per file removed. sled then replays its log (`db`), which holds
/// everything the snapshot indexed.
pub fn discard_damaged_snapshots(dir: &Path) -> Result<Vec<String>, StoreError> {
    discard_snapshots(dir, |name, path| {
        if name.ends_with(".generating") {
            Ok(Some("left by an interrupted save".to_owned()))
        } else {
            let bytes = fs::read(path).map_err(|e| io(path, e))?;
            Ok(snapshot_damage(&bytes))
        }
    })
}

/// Removes every snapshot, whole or not: after sled found a damaged frame in its log
/// while opening with one. A snapshot indexes the log up to its own point; when a frame
/// before that point is damaged, sled refuses to open (`Read corrupted data`) however
/// sound the snapshot is. Without it sled replays its log up to the damage, and the
/// engine's durable claims then name what was lost (`engine::claims`, `offboard repair`).
pub fn discard_all_snapshots(dir: &Path, because: &str) -> Result<Vec<String>, StoreError> {
    discard_snapshots(dir, |_, _| Ok(Some(because.to_owned())))
}

/// Removes each `snap.*` for which `damage` names a reason; one sentence per file.
fn discard_snapshots(
    dir: &Path,
    mut damage: impl FnMut(&str, &Path) -> Result<Option<String>, StoreError>,
) -> Result<Vec<String>, StoreError> {
    let mut discarded = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(discarded),
        Err(e) => return Err(io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("snap.") || name.ends_with(".in___motion") {
            continue;
        }
        let path = entry.path();
        let why = damage(&name, &path)?;
        if let Some(why) = why {
            fs::remove_file(&path).map_err(|e| io(&path, e))?;
            discarded.push(format!(
                "discarded sled's snapshot {name} ({why}); sled replays its log instead"
            ));
        }
    }
    if !discarded.is_empty() {
        sync_file(dir)?;
    }
    Ok(discarded)
}

/// Why sled would refuse this snapshot, if it would (the same checks as sled's
/// `read_snapshot`).
fn snapshot_damage(bytes: &[u8]) -> Option<String> {
    if bytes.len() <= SNAPSHOT_TRAILER {
        return Some(format!("{} bytes, shorter than its trailer", bytes.len()));
    }
    let (body, trailer) = bytes.split_at(bytes.len() - SNAPSHOT_TRAILER);
    let expected = u32::from_le_bytes(trailer[8..].try_into().expect("4 bytes"));
    (crc32fast::hash(body) != expected).then(|| "truncated or damaged: checksum fails".to_owned())
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_snapshots_sled_would_refuse_are_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let mut good = b"snapshot body".to_vec();
        let crc = crc32fast::hash(&good);
        good.extend_from_slice(&(13u64).to_le_bytes());
        good.extend_from_slice(&crc.to_le_bytes());
        fs::write(dir.path().join("snap.0000000000000010"), &good).unwrap();
        fs::write(dir.path().join("snap.0000000000000020.generating"), b"").unwrap();
        fs::write(
            dir.path().join("snap.0000000000000030"),
            &good[..good.len() - 3],
        )
        .unwrap();
        fs::write(dir.path().join("snap.0000000000000040"), b"short").unwrap();
        fs::write(dir.path().join("db"), b"log").unwrap();

        let discarded = discard_damaged_snapshots(dir.path()).unwrap();

        assert_eq!(discarded.len(), 3, "{discarded:?}");
        let left: BTreeSet<_> = names(dir.path()).unwrap();
        let left: Vec<_> = left
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["db", "snap.0000000000000010"]);
    }

    /// A value too large for a segment (sled writes it to `blobs/`), flushed and noted
    /// the way the flusher does, with the kernel's watch or by listing.
    fn a_flushed_blob_is_noted(watched: bool) {
        // Given a sled directory whose files are handled
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let files = SledFiles::open(dir.path()).unwrap();
        #[cfg(target_os = "linux")]
        if watched {
            assert!(files.watch.lock().unwrap().is_some(), "no inotify here");
        } else {
            *files.watch.lock().unwrap() = None;
        }
        #[cfg(not(target_os = "linux"))]
        let _ = watched;
        // When a blob-sized value is flushed and noted
        db.insert(b"big", vec![7u8; 300 * 1024]).unwrap();
        db.flush().unwrap();
        files.note_flushed().unwrap();
        // Then the next sync takes the blob and the blobs' directory
        let pending = files.pending.lock().unwrap();
        let blobs = dir.path().join("blobs");
        assert!(
            pending
                .files
                .iter()
                .any(|f| f.parent() == Some(blobs.as_path())),
            "{pending:?}"
        );
        assert!(pending.dirs.contains(&blobs), "{pending:?}");
        drop(pending);
        // And once synced, a flush that wrote no new file notes nothing more
        files.sync().unwrap();
        db.insert(b"small", b"value").unwrap();
        db.flush().unwrap();
        files.note_flushed().unwrap();
        let pending = files.pending.lock().unwrap();
        assert!(
            pending.files.is_empty() && pending.dirs.is_empty(),
            "{pending:?}"
        );
    }

    #[test]
    fn a_flushed_blob_is_noted_by_the_watch() {
        a_flushed_blob_is_noted(true);
    }

    #[test]
    fn a_flushed_blob_is_noted_by_listing_without_a_watch() {
        a_flushed_blob_is_noted(false);
    }
}
