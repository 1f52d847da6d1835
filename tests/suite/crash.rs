//! Crash safety (sled's own crash-test pattern): this test binary re-launches itself as a
//! child that appends as fast as it can, kills it with SIGKILL at a random moment, then
//! reopens the directory and checks that every acknowledged command is there, the log is
//! gapless and the hash chain verifies. Three rounds on the same directory, so recovery
//! from an earlier kill is itself recovered from. On every store (sled, PostgreSQL).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use offboard::store::Location;
use offboard::Engine;

use super::stores::{places, Place};
use offboard_events::CommandId;

use super::support::{append_one, touch};

const DIR_VAR: &str = "OFFBOARD_CRASH_CHILD_DIR";
/// The PostgreSQL URL when the child runs on PostgreSQL (`DIR_VAR` is then the local directory).
const STORE_VAR: &str = "OFFBOARD_CRASH_CHILD_STORE";

#[test]
#[ignore = "the child half of `acknowledged_commands_survive_sigkill`, which runs it"]
fn child_appends_until_killed() {
    let dir = std::env::var(DIR_VAR).expect("run by acknowledged_commands_survive_sigkill");
    let store = std::env::var(STORE_VAR).ok().filter(|url| !url.is_empty());
    let location = Location::choose(store.as_deref(), dir.into()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine = Arc::new(Engine::open_at(&location).unwrap());
        let mut tasks = Vec::new();
        for task in 0..16u64 {
            let engine = Arc::clone(&engine);
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let request = append_one(touch(task * 100_000 + i % 50));
                    let id = request.meta.command_id;
                    let done = engine.append(request).await.unwrap();
                    // Printed only after the append is durable: the parent's ground truth.
                    println!("ack {} {id}", done.positions.unwrap().0);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_commands_survive_sigkill() {
    for place in places() {
        eprintln!("store: {}", place.name);
        survive_sigkill_on(&place);
    }
}

fn survive_sigkill_on(place: &Place) {
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<(u64, CommandId)> = Vec::new();
    for round in 0..3u64 {
        let mut child = Command::new(&exe)
            .args([
                "crash::child_appends_until_killed",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, place.dir.path())
            .env(STORE_VAR, place.url().unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_ack, acking) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("ack ") {
                    let (position, id) = rest.split_once(' ').unwrap();
                    lines.push((
                        position.parse::<u64>().unwrap(),
                        id.parse::<CommandId>().unwrap(),
                    ));
                    let _ = first_ack.send(());
                }
            }
            lines
        });
        // The random moment is counted from the child's first acknowledgement, so a
        // loaded machine that is slow to start the child still kills it mid-stream.
        let _ = acking.recv_timeout(Duration::from_secs(60));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        std::thread::sleep(Duration::from_millis(300 + (nanos + round * 7919) % 700));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let round_acks = reader.join().unwrap();
        assert!(
            !round_acks.is_empty(),
            "round {round}: the child acknowledged nothing before the kill"
        );
        acked.extend(round_acks);

        let engine = place.open();
        let report = engine.verify(&mut |_| {}).unwrap();
        for (position, id) in &acked {
            assert!(
                *position <= report.events,
                "acknowledged position {position} lost"
            );
            let event = engine.read_one(*position).unwrap();
            assert_eq!(
                event.command_id, *id,
                "position {position} holds another command"
            );
        }
    }
}
