//! "Acknowledged = on stable storage" (issue 15, section 1) and what opening repairs
//! (section 3): every acknowledged group is followed by a real `fdatasync` of sled's
//! log file, a snapshot sled would refuse is discarded and sled replays its log, and a
//! failed checkpoint save leaves no temporary file and the previous key.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use offboard::clock::SystemClock;
use offboard::privacy::KeyVault;
use offboard::store::{LogStore, SledLog, StoreError};
use offboard::Engine;

use super::support::{append_one, delegate_reads, touch};

/// Set in the child the strace test runs: the directory to append to.
const STRACE_CHILD: &str = "OFFBOARD_TEST_STRACE_CHILD";

const GROUPS: u64 = 20;

/// In the child (under strace): `GROUPS` commands one after another, so each is its own
/// group commit; prints how many flushes the writer counted.
async fn append_groups(dir: &Path) {
    let engine = Engine::open(dir).unwrap();
    for n in 0..GROUPS {
        engine.append(append_one(touch(n))).await.unwrap();
    }
    // On a line of its own: the test harness has already printed the test name.
    println!("\nFLUSHES={}", engine.stats().flushes);
}

#[tokio::test]
async fn every_acknowledged_group_is_followed_by_a_real_sync_of_the_log_file() {
    if let Some(dir) = std::env::var_os(STRACE_CHILD) {
        append_groups(Path::new(&dir)).await;
        return;
    }
    let which = Command::new("strace").arg("-V").output();
    if !which.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: strace is not installed, so the syncs cannot be counted");
        return;
    }
    // Given a data directory, when a child process appends GROUPS commands one by one
    // under strace,
    let dir = tempfile::tempdir().unwrap();
    // One file per thread (`-ff`): a sync traced while another thread's call is on the
    // same line would be split into "unfinished" and "resumed" halves and not counted.
    let traces = dir.path().join("strace");
    std::fs::create_dir(&traces).unwrap();
    let data = dir.path().join("data");
    let child = Command::new("strace")
        .args(["-ff", "-y", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(traces.join("thread"))
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durability::every_acknowledged_group_is_followed_by_a_real_sync_of_the_log_file",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STRACE_CHILD, &data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    if !child.status.success() && String::from_utf8_lossy(&child.stderr).contains("ptrace") {
        eprintln!("SKIPPED: strace cannot trace here (ptrace not permitted)");
        return;
    }
    assert!(
        child.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let flushes: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FLUSHES="))
        .unwrap_or_else(|| {
            panic!(
                "the child did not report its flushes: {stdout}\n{}",
                String::from_utf8_lossy(&child.stderr)
            )
        })
        .trim()
        .parse()
        .unwrap();
    // then every group was flushed on its own, and the log file `db` was synced by a
    // real fsync/fdatasync (not sled's sync_file_range) at least once per group.
    assert_eq!(flushes, GROUPS);
    let mut traced = String::new();
    for file in std::fs::read_dir(&traces).unwrap() {
        traced.push_str(&std::fs::read_to_string(file.unwrap().path()).unwrap());
    }
    let db = format!("{}>", data.join("db").display());
    let db_syncs = traced
        .lines()
        .filter(|l| (l.contains("fdatasync(") || l.contains("fsync(")) && l.contains(&db))
        .filter(|l| l.trim_end().ends_with("= 0"))
        .count() as u64;
    assert!(
        db_syncs >= GROUPS,
        "{db_syncs} syncs of {db} for {GROUPS} acknowledged groups:\n{traced}"
    );
}

/// Appends `n` one-event commands through an engine on `dir`, closing it after.
async fn append_many(dir: &Path, n: u64) {
    let engine = Engine::open(dir).unwrap();
    for i in 0..n {
        engine.append(append_one(touch(i % 50))).await.unwrap();
    }
}

fn snapshots(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snap.")
        })
        .collect();
    found.sort();
    found
}

fn stored_positions(dir: &Path) -> u64 {
    let log = SledLog::open(dir).unwrap();
    let mut count = 0;
    log.scan(1, u64::MAX, &mut |_, _| {
        count += 1;
        true
    })
    .unwrap();
    assert_eq!(log.head().unwrap().last_position, count);
    count
}

#[tokio::test]
async fn sled_replays_its_log_when_its_snapshot_is_gone() {
    // Given a log of 600 events that sled has snapshotted (it does on opening),
    let dir = tempfile::tempdir().unwrap();
    append_many(dir.path(), 300).await;
    append_many(dir.path(), 300).await;
    assert!(!snapshots(dir.path()).is_empty(), "sled wrote no snapshot");
    // when every snapshot is deleted, then sled rebuilds its index from its log alone.
    for snap in snapshots(dir.path()) {
        std::fs::remove_file(snap).unwrap();
    }
    assert_eq!(stored_positions(dir.path()), 600);
}

#[tokio::test]
async fn a_snapshot_left_empty_or_truncated_by_a_full_disk_is_discarded_and_the_log_replayed() {
    let dir = tempfile::tempdir().unwrap();
    append_many(dir.path(), 150).await;
    append_many(dir.path(), 150).await;
    let newest = snapshots(dir.path()).pop().expect("sled wrote a snapshot");
    let bytes = std::fs::read(&newest).unwrap();
    // Given the newest snapshot truncated and an empty `.generating` one after it (what
    // an open on a full disk leaves),
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.path().join("snap.7FFFFFFFFFFFFFFF.generating"), b"").unwrap();
    // when the directory is opened, then both are discarded and every event is there,
    assert_eq!(stored_positions(dir.path()), 300);
    assert!(snapshots(dir.path()).iter().all(|p| p != &newest));
    // and the CLI says so on stderr.
    std::fs::write(dir.path().join("snap.7FFFFFFFFFFFFFFF.generating"), b"").unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_offboard"))
        .arg("--data")
        .arg(dir.path())
        .arg("verify")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{stderr}");
    assert!(
        stderr.contains("discarded sled's snapshot snap.7FFFFFFFFFFFFFFF.generating"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_failed_checkpoint_save_leaves_no_temporary_file_and_the_previous_key() {
    use std::os::unix::fs::PermissionsExt;
    // Given an engine with a saved checkpoint,
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::open(dir.path()).unwrap());
    engine.append(append_one(touch(1))).await.unwrap();
    engine.checkpoint_now().unwrap();
    let key = dir.path().join("keys/checkpoint.key");
    let key_before = std::fs::read(&key).unwrap();
    let checkpoint = dir.path().join("checkpoints/projections");
    let checkpoint_before = std::fs::read(&checkpoint).unwrap();
    // when the next save cannot rename its file into place (the directory is read-only;
    // root ignores that, so a directory squats on the temporary file's name instead),
    engine.append(append_one(touch(2))).await.unwrap();
    let checkpoints = dir.path().join("checkpoints");
    std::fs::create_dir(checkpoints.join("projections.tmp")).unwrap();
    std::fs::write(checkpoints.join("projections.tmp/x"), b"").unwrap();
    let failed = engine.checkpoint_now();
    std::fs::remove_dir_all(checkpoints.join("projections.tmp")).unwrap();
    std::fs::set_permissions(&checkpoints, std::fs::Permissions::from_mode(0o755)).unwrap();
    // then the save fails, the checkpoint and its key are the previous ones, and the
    // engine reopens from them.
    assert_eq!(failed.unwrap_err().code(), "storage");
    assert_eq!(std::fs::read(&key).unwrap(), key_before);
    assert_eq!(std::fs::read(&checkpoint).unwrap(), checkpoint_before);
    drop(Arc::try_unwrap(engine).unwrap());
    let reopened = Engine::open(dir.path()).unwrap();
    assert!(
        reopened.recovery().checkpoint_ignored.is_none(),
        "{:?}",
        reopened.recovery()
    );
    assert_eq!(reopened.last_position(), 2);
}

/// sled's log in a data directory whose every flush reaches the disk and then reports
/// EIO (a failed `sync_file_range` after the write went out).
#[derive(Debug)]
struct FlushReportsEio(SledLog);

impl LogStore for FlushReportsEio {
    fn write(&self, batch: &offboard::store::CommitBatch) -> Result<(), StoreError> {
        self.0.write(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        self.0.sync()?;
        Err(StoreError::Io(
            "Input/output error (os error 5), injected".into(),
        ))
    }
    delegate_reads!(0);
}

#[tokio::test]
async fn a_command_whose_flush_reported_eio_is_outcome_unknown_and_its_retry_answers_from_the_log()
{
    // Given an engine whose flush writes and then reports EIO,
    let dir = tempfile::tempdir().unwrap();
    let request = append_one(touch(1));
    {
        let store: Arc<dyn LogStore> =
            Arc::new(FlushReportsEio(SledLog::open(dir.path()).unwrap()));
        let vault = Arc::new(KeyVault::open(dir.path().join("keys")).unwrap());
        let engine = Engine::with_parts(store, vault, Arc::new(SystemClock)).unwrap();
        // when a command is sent, then it is not "nothing was written" but unknown,
        let answer = engine.append(request.clone()).await.unwrap_err();
        assert_eq!(answer.code(), "outcome_unknown");
        assert!(answer
            .to_string()
            .contains("retry with the same Idempotency-Key"));
    }
    // and after a restart the retry with the same id answers from the log: it was stored.
    let engine = Engine::open(dir.path()).unwrap();
    let retry = engine.append(request).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.positions, Some((1, 1)));
    assert_eq!(engine.last_position(), 1);
}
