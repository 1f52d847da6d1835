//! The durable log on sled 0.34: everything one group commit writes goes into ONE tree in
//! ONE atomic `apply_batch`, made durable by ONE `flush` (which may cover several
//! groups written while the previous flush ran).
//!
//! The `log` tree holds three key spaces, each behind a one-byte prefix:
//! `b` ++ first position (BE u64) → a [`block`](super::block) of consecutive stored
//! events (a group commit's events, in blocks of up to 6 KiB); `c` ++ command id →
//! [`CommandRecord`] JSON; `h` → the chain head as [`ChainHead`] JSON; `n` → the
//! position from which a head note is kept (`head_note`). The stream index
//! is a projection (`offboard_projections::Streams`). Earlier builds stored one event
//! per key (`e` ++ position); those events are still read, and they always precede the
//! blocks in log order; an `s` key space they left is ignored. A batch on one tree is
//! atomic in sled and much cheaper than a transaction across trees (measured: ~3 ms →
//! well under 1 ms for a 64-command group).
//! Named checkpoints (projections, tokens, consumer positions) are files beside sled
//! ([`CheckpointDir`]); a `checkpoints` tree left by earlier builds is moved there when
//! the log opens.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use offboard_events::CommandId;

use super::block::{self, Block};
use super::checkpoint_dir::CheckpointDir;
use super::dir_lock::LOCK_PATIENCE;
use super::head_note::HeadNote;
use super::keys::{decode_position, position_key};
use super::sled_files::{discard_all_snapshots, discard_damaged_snapshots, SledFiles};
use super::{ChainHead, CommandRecord, CommitBatch, LogStore, StoreError};

/// One event per key: how builds before blocks stored events. Read, never written.
const EVENT: u8 = b'e';
const BLOCK: u8 = b'b';
const COMMAND: u8 = b'c';
const HEAD_KEY: &[u8] = b"h";
/// Where this log's head note was first known durable (u64 BE): from then on a missing
/// note is damage, not a directory from before notes (see `head_note`).
const NOTE_KEPT_KEY: &[u8] = b"n";

fn prefixed(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + rest.len());
    key.push(prefix);
    key.extend_from_slice(rest);
    key
}

fn event_key(position: u64) -> Vec<u8> {
    prefixed(EVENT, &position_key(position))
}

fn block_key(first: u64) -> Vec<u8> {
    prefixed(BLOCK, &position_key(first))
}

fn key_position(key: &[u8]) -> Result<u64, StoreError> {
    decode_position(&key[1..])
        .ok_or_else(|| StoreError::Corrupt(format!("event key of {} bytes", key.len())))
}

fn parse_block(first: u64, value: &[u8]) -> Result<Block<'_>, StoreError> {
    Block::parse(value)
        .ok_or_else(|| StoreError::Corrupt(format!("the block of events from {first} is damaged")))
}

/// sled's page cache. Kept modest: the projections hold the hot state in memory, the log
/// is read sequentially on start-up and for history.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// A log in a data directory. One process at a time may open a directory.
#[derive(Debug)]
pub struct SledLog {
    dir: PathBuf,
    db: sled::Db,
    log: sled::Tree,
    /// What sled's flush leaves unsynced (see `sled_files`).
    files: SledFiles,
    checkpoints: CheckpointDir,
    /// Where the last acknowledged round left the log (see `head_note`).
    note: HeadNote,
    /// Whether this process wrote a batch: [`LogStore::sync`] then notes the head.
    wrote: AtomicBool,
    /// Whether the log holds [`NOTE_KEPT_KEY`].
    note_kept: AtomicBool,
    /// Whether this process has made a note durable: only then may the marker be written.
    note_synced: AtomicBool,
}

impl SledLog {
    /// Opens (or creates) the log in `dir` and checks that the stored chain head matches
    /// the last stored event.
    ///
    /// A snapshot sled would refuse (see `sled_files`) is discarded first, with a
    /// `tracing` warning, so sled replays its log. **Durability: when this returns `Ok`, the
    /// directory's files and entries and everything the log holds are on stable storage**
    /// (what a process that died after writing left in the page cache included).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
        for notice in discard_damaged_snapshots(&dir)? {
            tracing::warn!("offboard: {}: {notice}", dir.display());
        }
        let db = match open_db(&dir) {
            // A damaged frame before the snapshot's point: sled can still replay its log
            // up to the damage without the snapshot (see `discard_all_snapshots`).
            Err(StoreError::Corrupt(why)) => {
                let discarded = discard_all_snapshots(&dir, &why)?;
                if discarded.is_empty() {
                    return Err(StoreError::Corrupt(why));
                }
                for notice in discarded {
                    tracing::warn!("offboard: {}: {notice}", dir.display());
                }
                open_db(&dir)?
            }
            other => other?,
        };
        let log = Self {
            log: db.open_tree("log").map_err(io)?,
            files: SledFiles::open(&dir)?,
            checkpoints: CheckpointDir::of(&dir),
            note: HeadNote::of(&dir),
            wrote: AtomicBool::new(false),
            note_kept: AtomicBool::new(false),
            note_synced: AtomicBool::new(false),
            dir,
            db,
        };
        log.note_kept
            .store(log.note_kept_since()?.is_some(), Ordering::Relaxed);
        if log.note.read()?.is_some() {
            // A note an earlier process left (maybe only in the page cache) is made
            // durable, so this process's first batch may carry the marker.
            log.note.sync_now()?;
            log.note_synced.store(true, Ordering::Release);
        }
        log.sync()?;
        log.check_head()?;
        log.move_checkpoints_out_of_sled()?;
        Ok(log)
    }

    /// Earlier builds kept named checkpoints in a sled tree. Tokens and consumer
    /// positions cannot be rebuilt from the log, so every record is copied to its file
    /// (durably) before the tree is dropped; an interrupted move is simply redone.
    fn move_checkpoints_out_of_sled(&self) -> Result<(), StoreError> {
        const OLD_TREE: &[u8] = b"checkpoints";
        if !self.db.tree_names().iter().any(|n| n.as_ref() == OLD_TREE) {
            return Ok(());
        }
        let old = self.db.open_tree(OLD_TREE).map_err(io)?;
        for record in old.iter() {
            let (name, bytes) = record.map_err(io)?;
            let name = String::from_utf8_lossy(&name);
            self.checkpoints.put(&name, &bytes)?;
        }
        drop(old);
        self.db.drop_tree(OLD_TREE).map_err(io)?;
        self.sync()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes sled uses on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(io)
    }

    fn stored_head(&self) -> Result<Option<ChainHead>, StoreError> {
        match self.log.get(HEAD_KEY).map_err(io)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("chain head unreadable: {e}"))),
            None => Ok(None),
        }
    }

    /// Recovery check: the head written with the last batch must name the last event.
    /// Both are written in one atomic batch, so a mismatch means outside damage.
    fn check_head(&self) -> Result<(), StoreError> {
        let last = match self.last_block()? {
            Some((first, value)) => Some(first + parse_block(first, &value)?.len() as u64 - 1),
            None => self
                .log
                .range([EVENT]..[EVENT + 1])
                .next_back()
                .transpose()
                .map_err(io)?
                .map(|(key, _)| key_position(&key))
                .transpose()?,
        };
        let head = self.stored_head()?;
        match (last, head) {
            (None, None) => Ok(()),
            (Some(last), Some(head)) if last == head.last_position => Ok(()),
            (last, head) => Err(StoreError::Corrupt(format!(
                "chain head {:?} does not match last event {last:?}",
                head.map(|h| h.last_position)
            ))),
        }
    }
}

impl SledLog {
    fn last_block(&self) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        self.block_at_or_before(u64::MAX)
    }

    /// The block whose first position is the greatest at or before `position`.
    fn block_at_or_before(&self, position: u64) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        match self
            .log
            .range(block_key(0)..=block_key(position))
            .next_back()
            .transpose()
            .map_err(io)?
        {
            Some((key, value)) => Ok(Some((key_position(&key)?, value))),
            None => Ok(None),
        }
    }

    /// Visits the events of `from..=to` stored one per key by earlier builds; `false`
    /// when `visit` asked to stop.
    fn scan_single_events(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<bool, StoreError> {
        for item in self.log.range(event_key(from)..=event_key(to)) {
            let (key, value) = item.map_err(io)?;
            if !visit(key_position(&key)?, &value) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn scan_blocks(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // The block holding `from` may start before it.
        let start = match self.block_at_or_before(from)? {
            Some((first, _)) => first,
            None => from,
        };
        for item in self.log.range(block_key(start)..=block_key(to)) {
            let (key, value) = item.map_err(io)?;
            let first = key_position(&key)?;
            let block = parse_block(first, &value)?;
            for (position, bytes) in (first..).zip(block.iter()) {
                if position < from {
                    continue;
                }
                if position > to || !visit(position, bytes) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Opens sled, waiting briefly on a held lock: sled's background flusher keeps the lock
/// for a moment after the last handle in a process is dropped, so reopening right after
/// closing (tests, a CLI command after another) must not fail. A directory held by a
/// live process still fails, after `LOCK_PATIENCE`, with `Locked`.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| open_error(dir, e));
        match opened {
            Err(StoreError::Locked { .. }) if started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// sled's damage report in words an operator can use: where in its file, without the
/// debug form sled prints (`Read corrupted data at file offset Some(Inline(20))
/// backtrace ()`).
fn damage(at: Option<sled::DiskPtr>) -> String {
    match at {
        Some(sled::DiskPtr::Inline(offset)) => {
            format!("sled found a damaged page in its file `db` (sled's log offset {offset})")
        }
        Some(sled::DiskPtr::Blob(offset, blob)) => {
            format!("sled found a damaged value: blob {blob} under `blobs/` (sled's log offset {offset})")
        }
        None => "sled found damage in its file `db`".to_owned(),
    }
}

/// sled's own checksum failures are damage, not I/O: `log_corrupt`, never `storage`.
fn io(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { at, .. } => StoreError::Corrupt(damage(at)),
        // A file of the log that is gone or shorter than sled wrote it (a blob under
        // `blobs/` deleted or truncated) is damage, not a passing I/O fault: retrying
        // cannot read it, and writes must stop like for any damage (a tester saw the
        // background scan meet it while writes went on).
        sled::Error::Io(ref err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            StoreError::Corrupt(format!(
                "a file of the log is missing or shorter than written (blobs/ or db): {err}"
            ))
        }
        other => StoreError::Io(other.to_string()),
    }
}

fn open_error(dir: &Path, e: sled::Error) -> StoreError {
    // sled reports a held directory lock as an I/O error ("could not acquire lock").
    match &e {
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
        {
            StoreError::Locked {
                dir: dir.to_path_buf(),
            }
        }
        sled::Error::Corruption { at, .. } => {
            StoreError::Corrupt(format!("{} (in {})", damage(*at), dir.display()))
        }
        _ => StoreError::Io(format!("{}: {e}", dir.display())),
    }
}

impl Drop for SledLog {
    fn drop(&mut self) {
        // A close makes the last note durable too; nothing to do with a failure here
        // but lose the note's last rounds to a power loss, which it is built to allow.
        let _ = self.note.sync();
    }
}

impl LogStore for SledLog {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut writes = sled::Batch::default();
        let mut events = batch.events.as_slice();
        for run in block::runs(events.iter().map(|e| e.bytes.len())) {
            let (this, rest) = events.split_at(run);
            events = rest;
            let first = this[0].position;
            if this.iter().zip(first..).any(|(e, p)| e.position != p) {
                return Err(StoreError::Io(format!(
                    "a commit's events from {first} do not have consecutive positions"
                )));
            }
            let value = block::encode(this.iter().map(|e| e.bytes.as_slice()));
            writes.insert(block_key(first), value);
        }
        for (id, record) in &batch.commands {
            let bytes = serde_json::to_vec(record).expect("a command record always serializes");
            writes.insert(prefixed(COMMAND, id.0.as_bytes()), bytes);
        }
        let mut marks_note = false;
        if let Some(head) = &batch.head {
            writes.insert(
                HEAD_KEY,
                serde_json::to_vec(head).expect("a head always serializes"),
            );
            marks_note =
                !self.note_kept.load(Ordering::Relaxed) && self.note_synced.load(Ordering::Acquire);
            if marks_note {
                writes.insert(NOTE_KEPT_KEY, &head.last_position.to_be_bytes());
            }
        }
        self.log.apply_batch(writes).map_err(io)?;
        if batch.head.is_some() {
            self.wrote.store(true, Ordering::Relaxed);
        }
        if marks_note {
            self.note_kept.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        // Read before the flush: everything written by then is durable after it. Only
        // once this process wrote: a look (`verify`) leaves the note alone.
        let reached = match self.wrote.load(Ordering::Relaxed) {
            true => self.stored_head()?,
            false => None,
        };
        // sled's flush ends in `sync_file_range`, which leaves the device's cache and
        // the file's metadata unsynced: the `fdatasync` after it is what makes it true.
        self.flush()?;
        self.sync_flushed()?;
        if let Some(head) = &reached {
            self.note.write(head)?;
        }
        self.note.sync()?;
        if reached.is_some() {
            self.note_synced.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn note_head(&self, head: &ChainHead) -> Result<(), StoreError> {
        self.note.write(head)?;
        if !self.note_kept.load(Ordering::Relaxed) && !self.note_synced.load(Ordering::Acquire) {
            // Once per directory: the marker that makes a missing note damage may only
            // follow a note already on stable storage, or a power loss right after the
            // first round would leave the marker without its note.
            self.note.sync()?;
            self.note_synced.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn noted_head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.note.read()
    }

    fn note_kept_since(&self) -> Result<Option<u64>, StoreError> {
        let Some(bytes) = self.log.get(NOTE_KEPT_KEY).map_err(io)? else {
            return Ok(None);
        };
        let bytes: [u8; 8] = bytes.as_ref().try_into().map_err(|_| {
            StoreError::Corrupt(format!("the head note marker holds {} bytes", bytes.len()))
        })?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(io)?;
        self.files.note_flushed()
    }

    fn sync_flushed(&self) -> Result<(), StoreError> {
        self.files.sync()
    }

    fn head(&self) -> Result<ChainHead, StoreError> {
        Ok(self.stored_head()?.unwrap_or_else(ChainHead::empty))
    }

    fn get(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some((first, value)) = self.block_at_or_before(position)? {
            let block = parse_block(first, &value)?;
            return Ok(block.get((position - first) as usize).map(<[u8]>::to_vec));
        }
        Ok(self
            .log
            .get(event_key(position))
            .map_err(io)?
            .map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        if from > to {
            return Ok(());
        }
        // Events stored one per key by earlier builds all precede the first block.
        if self.scan_single_events(from, to, visit)? {
            self.scan_blocks(from, to, visit)?;
        }
        Ok(())
    }

    fn command(&self, id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        match self
            .log
            .get(prefixed(COMMAND, id.0.as_bytes()))
            .map_err(io)?
        {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("command record {id}: {e}"))),
            None => Ok(None),
        }
    }

    fn scan_commands(
        &self,
        visit: &mut dyn FnMut(CommandId, CommandRecord) -> bool,
    ) -> Result<(), StoreError> {
        for item in self.log.range([COMMAND]..[COMMAND + 1]) {
            let (key, value) = item.map_err(io)?;
            let id = uuid::Uuid::from_slice(&key[1..])
                .map(CommandId)
                .map_err(|e| StoreError::Corrupt(format!("command key: {e}")))?;
            let record = serde_json::from_slice(&value)
                .map_err(|e| StoreError::Corrupt(format!("command record {id}: {e}")))?;
            if !visit(id, record) {
                break;
            }
        }
        Ok(())
    }

    fn put_checkpoint(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.checkpoints.put(name, bytes)
    }

    fn checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.checkpoints.get(name)
    }

    fn remove_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        self.checkpoints.remove(name)
    }

    fn checkpoint_names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.checkpoints.names(prefix)
    }

    fn tamper(&self, position: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let held = match self.block_at_or_before(position)? {
            Some((first, value)) => {
                let block = parse_block(first, &value)?;
                let at = (position - first) as usize;
                (at < block.len()).then(|| {
                    let events = block.iter().enumerate();
                    let events: Vec<&[u8]> = events
                        .map(|(i, old)| if i == at { bytes } else { old })
                        .collect();
                    (first, block::encode(events.into_iter()))
                })
            }
            None => None,
        };
        match held {
            Some((first, block)) => self.log.insert(block_key(first), block),
            None => self.log.insert(event_key(position), bytes),
        }
        .map_err(io)?;
        self.sync()
    }
}
