//! What changed in sled's data directory since the last look, told by the kernel
//! (Linux `inotify`) instead of listing the directory after every flush.
//!
//! [`super::sled_files::SledFiles`] must sync every blob sled wrote and every directory
//! whose entries changed. Listing the data directory and `blobs/` after each flush cost
//! two `opendir`/`getdents`/`close` rounds in the flusher's thread, on the path of
//! every group (docs/performance.md, "the flush's directory listing"); reading a watch
//! with nothing new is one `read` that answers `EAGAIN`.
//!
//! A blob is noted when it is closed after writing (`IN_CLOSE_WRITE`), so it is synced
//! whole: sled writes a blob and drops its file before the log message naming it is
//! reserved, so the flush that carries that message returns after the close. When the
//! kernel's queue overflowed or reading failed, the caller is told it does not know
//! ([`Look::Unknown`]) and lists the directories as before; once a watched directory
//! was removed or moved, it is told so after every flush.

use std::ffi::OsStr;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

/// Events about entries of a watched directory: any of them means the directory must
/// be synced.
const ENTRY_CHANGES: ReadFlags = ReadFlags::CREATE
    .union(ReadFlags::DELETE)
    .union(ReadFlags::MOVED_FROM)
    .union(ReadFlags::MOVED_TO);

/// Events that mean a watched directory is gone or elsewhere: the watch will never
/// tell about it again.
const WATCH_GONE: ReadFlags = ReadFlags::IGNORED
    .union(ReadFlags::DELETE_SELF)
    .union(ReadFlags::MOVE_SELF);

/// A watch on a data directory and, once it exists, its `blobs/`.
#[derive(Debug)]
pub(crate) struct DirWatch {
    fd: OwnedFd,
    dir: PathBuf,
    dir_wd: i32,
    /// `blobs/`'s watch, once the directory exists.
    blobs_wd: Option<i32>,
    /// A watched directory went away: every later look is [`Look::Unknown`].
    gone: bool,
}

/// What one look found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Blobs written and closed since the last look (paths under `blobs/`).
    pub files: Vec<PathBuf>,
    /// Directories whose entries changed since the last look.
    pub dirs: Vec<PathBuf>,
}

/// The answer of [`DirWatch::look`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Look {
    /// Everything that changed, as far as the watch saw (often nothing).
    Seen(Changes),
    /// The watch lost events (a queue overflow, a removed watch, a failed read): list
    /// the directories.
    Unknown,
}

impl DirWatch {
    /// Watches `dir` and `dir/blobs` (if it exists). `Err` when the kernel refuses (no
    /// inotify, or the per-user limit of instances or watches reached): the caller then
    /// lists the directories instead.
    pub(crate) fn new(dir: &Path) -> std::io::Result<Self> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        let dir_wd = inotify::add_watch(&fd, dir, Self::dir_mask())?;
        let mut watch = Self {
            fd,
            dir: dir.to_path_buf(),
            dir_wd,
            blobs_wd: None,
            gone: false,
        };
        let blobs = dir.join("blobs");
        if blobs.is_dir() {
            watch.blobs_wd = Some(inotify::add_watch(&watch.fd, &blobs, Self::blobs_mask())?);
        }
        Ok(watch)
    }

    fn dir_mask() -> WatchFlags {
        WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR
    }

    fn blobs_mask() -> WatchFlags {
        Self::dir_mask() | WatchFlags::CLOSE_WRITE
    }

    /// Reads every event queued since the last look: one `read` when there is none.
    /// A queue overflow makes this look [`Look::Unknown`]; a watched directory removed
    /// or moved makes every look from then on `Unknown`.
    pub(crate) fn look(&mut self) -> Look {
        if self.gone {
            return Look::Unknown;
        }
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut changes = Changes::default();
        let mut blobs_created = false;
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(Errno::WOULDBLOCK) => break,
                Err(Errno::INTR) => continue,
                Err(_) => return Look::Unknown,
            };
            let flags = event.events();
            if flags.intersects(WATCH_GONE) {
                self.gone = true;
                return Look::Unknown;
            }
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                return Look::Unknown;
            }
            let name = event
                .file_name()
                .map(|n| OsStr::from_bytes(n.to_bytes()).to_owned());
            if event.wd() == self.dir_wd {
                if flags.intersects(ENTRY_CHANGES) {
                    changes.dirs.push(self.dir.clone());
                }
                blobs_created |= flags.contains(ReadFlags::CREATE | ReadFlags::ISDIR)
                    && name.as_deref() == Some(OsStr::new("blobs"));
            } else if Some(event.wd()) == self.blobs_wd {
                let blobs = self.dir.join("blobs");
                if flags.contains(ReadFlags::CLOSE_WRITE) {
                    if let Some(name) = &name {
                        changes.files.push(blobs.join(name));
                    }
                }
                if flags.intersects(ENTRY_CHANGES) {
                    changes.dirs.push(blobs);
                }
            }
        }
        if blobs_created && self.blobs_wd.is_none() {
            // Blobs may have been written before the watch: list them once.
            let blobs = self.dir.join("blobs");
            match inotify::add_watch(&self.fd, &blobs, Self::blobs_mask()) {
                Ok(wd) => self.blobs_wd = Some(wd),
                Err(_) => return Look::Unknown,
            }
            return Look::Unknown;
        }
        changes.files.sort();
        changes.files.dedup();
        changes.dirs.sort();
        changes.dirs.dedup();
        Look::Seen(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;

    fn seen(watch: &mut DirWatch) -> Changes {
        match watch.look() {
            Look::Seen(changes) => changes,
            Look::Unknown => panic!("the watch lost events"),
        }
    }

    #[test]
    fn writes_into_existing_files_change_nothing() {
        // Given a data directory with its log and a blob, watched
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("blobs")).unwrap();
        fs::write(dir.path().join("db"), b"log").unwrap();
        let mut db = fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("db"))
            .unwrap();
        let mut watch = DirWatch::new(dir.path()).unwrap();
        assert_eq!(seen(&mut watch), Changes::default());
        // When the log grows (sled's every write)
        db.write_all(b" and more").unwrap();
        // Then no entry changed: nothing to sync besides the log
        assert_eq!(seen(&mut watch), Changes::default());
    }

    #[test]
    fn a_blob_is_noted_once_closed_with_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        fs::create_dir(&blobs).unwrap();
        let mut watch = DirWatch::new(dir.path()).unwrap();

        let mut blob = fs::File::create(blobs.join("17")).unwrap();
        blob.write_all(b"half").unwrap();
        // Created, not yet closed: its directory entry, not the file.
        assert_eq!(
            seen(&mut watch),
            Changes {
                files: vec![],
                dirs: vec![blobs.clone()]
            }
        );
        drop(blob);
        assert_eq!(
            seen(&mut watch),
            Changes {
                files: vec![blobs.join("17")],
                dirs: vec![]
            }
        );
    }

    #[test]
    fn a_renamed_snapshot_changes_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = DirWatch::new(dir.path()).unwrap();
        let generating = dir.path().join("snap.00A.generating");
        fs::write(&generating, b"index").unwrap();
        let _ = seen(&mut watch);
        fs::rename(&generating, dir.path().join("snap.00A")).unwrap();
        assert_eq!(
            seen(&mut watch),
            Changes {
                files: vec![],
                dirs: vec![dir.path().to_path_buf()]
            }
        );
    }

    #[test]
    fn a_blobs_directory_created_later_is_watched_after_one_listing() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = DirWatch::new(dir.path()).unwrap();
        fs::create_dir(dir.path().join("blobs")).unwrap();
        fs::write(dir.path().join("blobs/1"), b"before the watch").unwrap();
        // What was written before the watch is unknown: the caller lists.
        assert_eq!(watch.look(), Look::Unknown);
        fs::write(dir.path().join("blobs/2"), b"after").unwrap();
        let changes = seen(&mut watch);
        assert_eq!(changes.files, vec![dir.path().join("blobs/2")]);
    }

    #[test]
    fn a_removed_directory_makes_the_watch_unknown() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        fs::create_dir(&dir).unwrap();
        let mut watch = DirWatch::new(&dir).unwrap();
        fs::remove_dir(&dir).unwrap();
        assert_eq!(watch.look(), Look::Unknown);
        // Even once its events are read: the caller lists (and finds nothing to list).
        assert_eq!(watch.look(), Look::Unknown);
        fs::create_dir(&dir).unwrap();
        assert_eq!(watch.look(), Look::Unknown);
    }
}
