//! Issue 15, section 2: a damaged or shortened log is never served as healthy. The log
//! loses its newest frame to a flipped bit (sled's recovery drops it without a word); the
//! checkpoint and head record saved at close remember it, so every command, `verify` and
//! `serve` refuse with `integrity_broken` naming the positions, until `repair
//! --accept-loss` records the loss. A head recorded earlier (`head`, `serve --anchor`)
//! catches a log shortened or rewritten and re-hashed whole.

use serde_json::Value;

use crate::util::*;

const DANA: &str = "dana@example.com";
const ANN_X: &str = "ann@example.com";
const PAT_X: &str = "pat@example.com";

/// The issue's reproduction up to the transfer: init, two users, a resource (position 8)
/// and its transfer to Ann (position 9, the newest frame of the log).
fn transferred() -> Dir {
    transferred_after(|_| {})
}

/// [`transferred`], running `prepare` on the directory just before the transfer (after
/// it, anything opening the directory may make sled write frames past the transfer's).
fn transferred_after(prepare: impl FnOnce(&Dir)) -> Dir {
    let d = registered();
    prepare(&d);
    let moved = d.json(&["transfer", PAT_X, "--resource", "buyer:B-1", "--to", ANN_X]);
    assert_eq!(
        moved["positions"],
        serde_json::json!({"first": 9, "last": 9})
    );
    d
}

/// The reproduction up to the resource's registration: Dana's org, Ann and Pat, and
/// `buyer:B-1` owned by Pat (position 8).
fn registered() -> Dir {
    let d = Dir::new();
    d.ok(&[
        "init",
        "--org",
        "Acme",
        "--owner-email",
        DANA,
        "--owner-first",
        "Dana",
        "--owner-last",
        "Reyes",
    ]);
    for (email, first, last) in [(ANN_X, "Ann", "Lee"), (PAT_X, "Pat", "Kim")] {
        d.ok(&[
            "user", "add", "--email", email, "--first", first, "--last", last,
        ]);
    }
    d.ok(&["resource", "add", "buyer:B-1", "--owner", PAT_X]);
    d
}

/// Flips one bit in sled's file inside the newest frame (at the last `buyer:B-1`, which
/// only the transfer's event holds there): sled's CRC then drops that frame on recovery.
fn flip_newest_frame(d: &Dir) {
    let path = d.data().join("db");
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"buyer:B-1";
    let at = bytes
        .windows(needle.len())
        .rposition(|w| w == needle)
        .expect("the transfer is in the file");
    bytes[at] ^= 1;
    std::fs::write(&path, bytes).unwrap();
}

fn message(error: &Value) -> &str {
    error["message"].as_str().unwrap()
}

#[test]
fn a_log_that_lost_its_newest_frame_is_refused_naming_the_missing_position() {
    // Given the transfer at position 9 acknowledged, then the newest frame damaged,
    let d = transferred();
    flip_newest_frame(&d);
    // when verify and a read run (before: "Log intact: 8 events" and Pat as the owner),
    let verify = d.fails(3, &["verify"]);
    let owner = d.fails(3, &["owner", "buyer:B-1"]);
    // then both refuse with integrity_broken, naming the lost position and what said so,
    for error in [&verify, &owner] {
        assert_eq!(error["code"], "integrity_broken", "{error}");
        let text = message(error);
        assert!(text.contains("the log ends at 8"), "{text}");
        assert!(text.contains("positions 9..=9 are missing"), "{text}");
        assert!(text.contains("projection checkpoint at 9"), "{text}");
        assert!(text.contains("head record at 9"), "{text}");
    }
    // and so does a write, and serve: nothing can append at 9 again (before: the next
    // command under serve reused position 9).
    let write = d.fails(
        3,
        &[
            "user",
            "add",
            "--email",
            "x@example.com",
            "--first",
            "X",
            "--last",
            "Y",
        ],
    );
    assert_eq!(write["code"], "integrity_broken");
    let serve = serve_refusal(&d, &[]);
    assert_eq!(serve["code"], "integrity_broken", "{serve}");
    // Looking did not erase the evidence: it still refuses.
    assert_eq!(d.fails(3, &["verify"])["code"], "integrity_broken");
}

#[test]
fn a_tail_lost_after_a_sigkill_is_named_by_the_head_note_of_the_last_acknowledged_round() {
    // Given the transfer acknowledged by a server that is then SIGKILLed: no checkpoint at
    // close, so the projection checkpoint and the head record still say 8,
    let d = registered();
    let t = token(&d, DANA);
    let server = Server::start(&d);
    let moved =
        server
            .client(&d, &t)
            .json(&["transfer", PAT_X, "--resource", "buyer:B-1", "--to", ANN_X]);
    let last = moved["positions"]["last"].as_u64().unwrap();
    drop(server);
    // when the newest frame is then damaged (before: "Log intact", the transfer gone,
    // and the next command handed position 9 out again),
    flip_newest_frame(&d);
    // then opening refuses, and what says the log went further is the head note alone,
    let verify = d.fails(3, &["verify"]);
    assert_eq!(verify["code"], "integrity_broken", "{verify}");
    let text = message(&verify);
    assert!(
        text.contains(&format!("positions {last}..={last} are missing")),
        "{text}"
    );
    assert!(text.contains(&format!("head note at {last}")), "{text}");
    assert!(!text.contains("projection checkpoint"), "{text}");
    // and repair --accept-loss records the loss and moves the note back with the log.
    d.ok(&["repair", "--accept-loss"]);
    assert_eq!(d.json(&["verify"])["events"], last);
    let events = d.events(&["--from", &last.to_string()]);
    assert_eq!(events[0]["event_type"], "LogLossAccepted");
}

#[test]
fn a_shortened_log_whose_checkpoint_head_record_and_head_note_were_removed_is_still_refused() {
    // Given the transfer at 9, then its frame damaged and every side file that says how
    // far the log went removed: the checkpoint, the head record and the head note,
    let d = transferred();
    flip_newest_frame(&d);
    for gone in [
        "checkpoints/projections",
        "checkpoints/chain-head",
        "chain-head.note",
    ] {
        std::fs::remove_file(d.data().join(gone)).unwrap();
    }
    // when verify runs (before: "Log intact: 8 events", the transfer gone unnoticed),
    let verify = d.fails(3, &["verify"]);
    // then it refuses, naming the missing note and that a loss can no longer be told,
    assert_eq!(verify["code"], "integrity_broken", "{verify}");
    let text = message(&verify);
    assert!(text.contains("chain-head.note is missing"), "{text}");
    assert!(text.contains("after 8 cannot be told"), "{text}");
    // and repair explains, printing the head to compare with one kept outside, and
    // writes nothing (neither did verify: no empty note appeared),
    let explained = d.json(&["repair"]);
    assert_eq!(explained["accepted"], false, "{explained}");
    assert!(
        explained["head"].as_str().unwrap().starts_with("8:"),
        "{explained}"
    );
    assert!(!d.data().join("chain-head.note").exists());
    assert_eq!(d.fails(3, &["verify"])["code"], "integrity_broken");
    // until --accept-loss writes the note again at the log's end, recording no loss
    // (none is known).
    let accepted = d.json(&["repair", "--accept-loss"]);
    assert_eq!(accepted["note_missing"], true, "{accepted}");
    assert_eq!(d.json(&["verify"])["events"], 8);
}

#[test]
fn damage_in_the_first_frame_is_named_in_offboards_words_without_sleds_raw_line() {
    // Given a log whose first frame is damaged (sled's snapshot then names a point its
    // log no longer reaches),
    let d = transferred();
    d.ok(&["verify"]);
    let path = d.data().join("db");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(4).position(|w| w == b"Acme").unwrap();
    bytes[at] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    // when verify runs,
    let run = d.command().arg("verify").output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    // then it refuses, naming what was lost and what it did about sled's snapshot,
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("positions 1..=9 are missing"), "{stderr}");
    assert!(stderr.contains("sled replays its log instead"), "{stderr}");
    // and sled's own line ("unexpected corruption encountered in storage snapshot
    // file. stable lsn …") is not printed before it.
    assert!(!stderr.contains("stable lsn"), "{stderr}");
}

#[test]
fn damage_behind_a_snapshot_written_later_is_still_named_and_repairable() {
    // Given the transfer at position 9, then a command that opens the directory again
    // (sled may write a snapshot whose point lies past the transfer's frame),
    let d = transferred();
    d.ok(&["verify"]);
    // when the transfer's frame is damaged (before: every command, repair included,
    // answered `storage` "Read corrupted data at file offset None", for good),
    flip_newest_frame(&d);
    // then opening discards sled's snapshot, sled replays its log up to the damage, and
    // the durable claims name what was lost,
    let verify = d.fails(3, &["verify"]);
    assert_eq!(verify["code"], "integrity_broken", "{verify}");
    assert!(
        message(&verify).contains("positions 9..=9 are missing"),
        "{verify}"
    );
    // and repair --accept-loss is the way out, as for damage without a snapshot.
    d.ok(&["repair", "--accept-loss"]);
    d.ok(&["verify"]);
}

#[test]
fn repair_explains_without_writing_and_accepting_the_loss_records_it_in_the_log() {
    // Given a log that lost position 9,
    let d = transferred();
    flip_newest_frame(&d);
    // when repair runs without --accept-loss,
    let looked = d.json(&["repair"]);
    // then it says what it would drop, and nothing changed: the directory still refuses.
    assert_eq!(looked["accepted"], false);
    assert_eq!(
        (
            looked["missing_from"].as_u64(),
            looked["missing_to"].as_u64()
        ),
        (Some(9), Some(9))
    );
    let drops = looked["would_drop"].to_string();
    assert!(drops.contains("projection checkpoint at 9"), "{drops}");
    assert!(drops.contains("head record at 9"), "{drops}");
    assert_eq!(d.fails(3, &["verify"])["code"], "integrity_broken");

    // When the operator accepts the loss,
    let accepted = d.json(&["repair", "--accept-loss"]);
    assert_eq!(accepted["accepted"], true, "{accepted}");
    // then the directory opens again, the chain verifies, and position 9 is the record of
    // the loss, by the system, naming what claimed the lost position,
    assert_eq!(d.json(&["verify"])["events"], 9);
    let events = d.events(&["--from", "9"]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "LogLossAccepted");
    assert_eq!(events[0]["actor"]["kind"], "system", "{}", events[0]);
    let data = &events[0]["data"];
    assert_eq!(
        (data["missing_from"].as_u64(), data["missing_to"].as_u64()),
        (Some(9), Some(9))
    );
    assert_eq!(data["claimed_head_hash"].as_str().map(str::len), Some(64));
    assert!(data["claimed_by"]
        .to_string()
        .contains("projection checkpoint at 9"));
    // the org's timeline lists it,
    let timeline = d.json(&["history", "--org"]);
    assert!(
        timeline.to_string().contains("LogLossAccepted"),
        "{timeline}"
    );
    // the views answer from the log as it is (the lost transfer is not there),
    let owner = d.json(&["owner", "buyer:B-1"]);
    assert!(owner.to_string().contains(PAT_X), "{owner}");
    // commands go on after it, and a second repair finds nothing to do.
    let next = d.json(&[
        "user",
        "add",
        "--email",
        "x@example.com",
        "--first",
        "X",
        "--last",
        "Y",
    ]);
    assert_eq!(next["positions"]["first"], 10);
    assert_eq!(d.json(&["repair"])["damaged"], false);
}

#[test]
fn head_prints_pos_hash_and_verify_expect_head_names_what_differs() {
    // Given a directory and its head as `head` prints it,
    let d = transferred();
    let text = d.ok(&["head"]);
    let head = d.json(&["head"]);
    assert_eq!(text.trim(), head["head"].as_str().unwrap());
    assert_eq!(head["position"], 9);
    let hash = head["hash"].as_str().unwrap().to_owned();
    assert_eq!(text.trim(), format!("9:{hash}"));
    // when verify is asked to hold it, or an earlier one, it passes,
    let held = d.json(&["verify", "--expect-head", &format!("9:{hash}")]);
    assert_eq!(held["heads_checked"], 1);
    // but a head past the log's end, or another hash at its position, is integrity_broken
    let past = d.fails(3, &["verify", "--expect-head", &format!("12:{hash}")]);
    assert_eq!(past["code"], "integrity_broken");
    assert!(
        message(&past).contains("positions 10..=12 are missing"),
        "{past}"
    );
    let other = d.fails(3, &["verify", "--expect-head", &format!("8:{hash}")]);
    assert_eq!(other["code"], "integrity_broken");
    assert!(
        message(&other).contains("the event at 8 has hash"),
        "{other}"
    );
    // and a malformed head is invalid input.
    assert_eq!(
        d.fails(1, &["verify", "--expect-head", "9:nothex"])["code"],
        "invalid_input"
    );
}

#[test]
fn an_export_edited_and_fully_rehashed_is_refused_by_import_log_expect_head() {
    // Given an export and the head of the directory it came from,
    let d = transferred();
    let head = d.json(&["head"])["head"].as_str().unwrap().to_owned();
    let file = d.path("log.jsonl");
    d.ok(&["export", file.to_str().unwrap()]);
    // and a copy edited (a user's first name) and re-hashed whole, which verifies on its
    // own (before: import-log accepted it as intact),
    let edited = rehash_with(&std::fs::read_to_string(&file).unwrap(), 7);
    let forged = d.write("forged.jsonl", &edited);
    std::fs::copy(d.path("log.jsonl.keys"), d.path("forged.jsonl.keys")).ok();
    let unchecked = Dir::new();
    unchecked.ok(&["import-log", forged.to_str().unwrap()]);
    // when it is imported expecting the recorded head, it is refused and nothing imported,
    let into = Dir::new();
    let refused = into.fails(
        3,
        &[
            "import-log",
            forged.to_str().unwrap(),
            "--expect-head",
            &head,
        ],
    );
    assert_eq!(refused["code"], "integrity_broken");
    assert!(
        message(&refused).contains("nothing was imported"),
        "{refused}"
    );
    assert!(!into.data().join("db").exists(), "nothing written");
    // while the genuine export is accepted.
    let genuine = Dir::new();
    genuine.ok(&["import-log", file.to_str().unwrap(), "--expect-head", &head]);
}

/// The export `text` with the event at `position` changed (its `event_id`, which is not
/// sealed) and every hash from there on recomputed: a forgery that verifies.
fn rehash_with(text: &str, position: u64) -> String {
    let mut prev: Option<String> = None;
    let mut out = String::new();
    for line in text.lines() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        let at = value["position"].as_u64().unwrap();
        if at == position {
            value["event_id"] = Value::String("00000000-0000-7000-8000-000000000001".into());
        }
        if let Some(prev) = &prev {
            value["prev_hash"] = Value::String(prev.clone());
        }
        if at >= position {
            let hash = offboard_events::canonical::envelope_hash(&value);
            value["hash"] = Value::String(hash);
        }
        prev = Some(value["hash"].as_str().unwrap().to_owned());
        out.push_str(&value.to_string());
        out.push('\n');
    }
    out
}

#[test]
fn serve_anchor_appends_the_head_and_verify_anchor_checks_every_line() {
    // Given a server recording its head in a file outside the data directory,
    let d = transferred();
    let anchor = d.path("anchor.txt");
    let t = token(&d, DANA);
    let server = Server::start_with(
        &d,
        &["--anchor", anchor.to_str().unwrap(), "--anchor-every", "1"],
    );
    let c = server.client(&d, &t);
    c.ok(&[
        "user",
        "add",
        "--email",
        "x@example.com",
        "--first",
        "X",
        "--last",
        "Y",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // when it stops,
    assert_eq!(server.terminate(), Some(0));
    // then the file holds the head at start and the head at shutdown, each `TIME POS HASH`,
    let lines: Vec<String> = std::fs::read_to_string(&anchor)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(lines[0].split(' ').nth(1) == Some("9"), "{lines:?}");
    let last = d.json(&["head"]);
    assert_eq!(
        lines.last().unwrap().split(' ').skip(1).collect::<Vec<_>>(),
        vec![
            last["position"].to_string(),
            last["hash"].as_str().unwrap().to_owned()
        ]
    );
    // and verify --anchor checks every line,
    let checked = d.json(&["verify", "--anchor", anchor.to_str().unwrap()]);
    assert_eq!(checked["heads_checked"].as_u64(), Some(lines.len() as u64));
    // naming the first line a log does not hold (here: a forged line past the end).
    let mut forged = lines.clone();
    forged.push(format!("2026-11-30T23:00:00Z 40 {}", "ab".repeat(32)));
    let forged_file = d.write("forged-anchor.txt", &forged.join("\n"));
    let broken = d.fails(3, &["verify", "--anchor", forged_file.to_str().unwrap()]);
    assert_eq!(broken["code"], "integrity_broken");
    assert!(
        message(&broken).contains(&format!("line {}", forged.len())),
        "{broken}"
    );
    // An emptied anchor file is refused, never passed as checked.
    let emptied = d.write("emptied-anchor.txt", "");
    let nothing = d.fails(1, &["verify", "--anchor", emptied.to_str().unwrap()]);
    assert_eq!(nothing["code"], "invalid_input", "{nothing}");
    assert!(message(&nothing).contains("no head to check"), "{nothing}");
    // And serve does not serve a log that lacks the last head its anchor file recorded.
    let refused = serve_refusal(&d, &["--anchor", forged_file.to_str().unwrap()]);
    assert_eq!(refused["code"], "integrity_broken", "{refused}");
}

/// Runs `serve EXTRA...` expecting it to refuse at once (exit 3): its `error` object.
/// A server that starts instead is killed and the test fails, rather than hanging.
fn serve_refusal(d: &Dir, extra: &[&str]) -> Value {
    let mut child = d
        .command()
        .args(["--json", "serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("serve started on a log it should refuse");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(3));
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    serde_json::from_str::<Value>(&stdout).unwrap()["error"].clone()
}

#[test]
fn a_consumer_past_the_end_refuses_opening_and_repair_moves_it_back() {
    // Given a consumer that acked the transfer at 9 (its record as the server writes it:
    // serving here would make sled write past the transfer's frame),
    let mut prepared = None;
    let d = transferred_after(|d| {
        let org = d.json(&["orgs"])["orgs"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        prepared = Some((token(d, DANA), org));
    });
    let (t, org) = prepared.unwrap();
    std::fs::write(
        d.data()
            .join(format!("checkpoints/server.consumer.{org}.crm")),
        r#"{"position":9,"acked_at":"2026-11-30T22:40:00Z"}"#,
    )
    .unwrap();
    // and the log then losing position 9,
    flip_newest_frame(&d);
    // when the directory opens, the consumer is among what claims position 9,
    let refused = d.fails(3, &["verify"]);
    assert!(
        message(&refused).contains("consumer crm of org"),
        "{refused}"
    );
    // and when the loss is accepted,
    d.json(&["repair", "--accept-loss"]);
    // then the consumer stands at 8, so it receives the loss record at 9 next.
    let server = Server::start(&d);
    let (status, consumer) = http(&server.url, "GET", "/v1/consumers/crm", Some(&t), None);
    assert_eq!(
        (status, consumer["position"].as_u64()),
        (200, Some(8)),
        "{consumer}"
    );
    assert_eq!(server.terminate(), Some(0));
    let record = d.events(&["--from", "9"]);
    assert!(
        record[0]["data"]["claimed_by"]
            .to_string()
            .contains("consumer crm"),
        "{}",
        record[0]
    );
}

/// The transferred directory with a webhook subscription added before the transfer,
/// its cursor file then set to `position` (as its delivery would leave it).
fn subscribed_with_cursor_at(position: u64) -> (Dir, uuid::Uuid) {
    let mut added = None;
    let d = transferred_after(|d| {
        added = Some(d.json(&["webhook", "add", "https://crm.example.com/hook"]));
    });
    let id: uuid::Uuid = added.unwrap()["subscription"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (cursor, _) = offboard::webhooks::cursor::CursorFile::open(Some(&d.data()), id).unwrap();
    cursor.write_synced(position).unwrap();
    (d, id)
}

#[test]
fn a_webhook_cursor_past_the_end_refuses_opening_and_repair_moves_it_back() {
    // Given a webhook subscription whose cursor stands at the transfer at 9 (as its
    // delivery would leave it; a tester found repair left it there, so the loss record
    // and the next acknowledged event were never delivered),
    let (d, id) = subscribed_with_cursor_at(9);
    // and the log then losing position 9,
    flip_newest_frame(&d);
    // when the directory opens, the subscription is among what claims position 9,
    let refused = d.fails(3, &["verify"]);
    assert!(
        message(&refused).contains(&format!("webhook subscription {id}")),
        "{refused}"
    );
    // and when the loss is accepted,
    let repaired = d.json(&["repair", "--accept-loss"]);
    assert!(
        repaired["dropped"].to_string().contains("moved back to 8"),
        "{repaired}"
    );
    // then its cursor stands at 8, so the loss record at 9 is delivered next.
    let shown = d.json(&["webhook", "show", &id.to_string()]);
    assert_eq!(shown["cursor"], 8, "{shown}");
    let record = d.events(&["--from", "9"]);
    assert_eq!(record[0]["event_type"], "LogLossAccepted", "{}", record[0]);
    assert!(
        record[0]["data"]["claimed_by"]
            .to_string()
            .contains("webhook subscription"),
        "{}",
        record[0]
    );
}

#[test]
fn repair_forgets_the_failed_attempts_of_a_lost_event_so_the_loss_record_starts_afresh() {
    // Given a subscription delivered up to `at` (8, or 5 when 6..=8 are not of its types)
    // whose event in hand, the transfer at 9, failed twice and waits for its next attempt
    // an hour away,
    for at in [8, 5] {
        let (d, id) = subscribed_with_cursor_at(at);
        let failed = offboard::webhooks::Attempt {
            position: 9,
            webhook_id: "msg_x".into(),
            at: chrono::Utc::now(),
            outcome: "failed".into(),
            status: Some(500),
            detail: None,
            duration_ms: 3,
        };
        let progress = offboard::webhooks::Progress {
            cursor: at,
            attempts: 2,
            next_attempt_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            recent: std::collections::VecDeque::from([failed]),
            ..Default::default()
        };
        std::fs::write(
            d.data().join(format!("checkpoints/server.webhook.{id}")),
            serde_json::to_vec(&progress).unwrap(),
        )
        .unwrap();
        // and the log then losing position 9,
        flip_newest_frame(&d);
        // when the loss is accepted,
        d.fails(3, &["verify"]);
        d.json(&["repair", "--accept-loss"]);
        // then the subscription stands where it stood, with no attempt counted and
        // nothing waited for: the loss record now at 9 is a new event, tried at once and
        // --webhook-attempts times (a tester saw it inherit the lost event's backoff and
        // be parked early).
        let shown = d.json(&["webhook", "show", &id.to_string()]);
        assert_eq!(
            (
                &shown["cursor"],
                &shown["attempts"],
                &shown["next_attempt_at"]
            ),
            (&serde_json::json!(at), &serde_json::json!(0), &Value::Null),
            "{shown}"
        );
    }
}

#[test]
fn a_repair_interrupted_after_recording_the_loss_is_finished_by_running_it_again() {
    // Given a log that lost position 9, and its head record as it was before the repair,
    let d = transferred();
    flip_newest_frame(&d);
    let record = d.data().join("checkpoints/chain-head");
    let claimed = std::fs::read(&record).unwrap();
    // and a repair that recorded the loss but died before replacing the head record
    // (simulated: the old record put back),
    d.json(&["repair", "--accept-loss"]);
    std::fs::write(&record, &claimed).unwrap();
    // when the directory opens, the stale record names another hash at 9: refused,
    let refused = d.fails(3, &["verify"]);
    assert!(message(&refused).contains("rewritten"), "{refused}");
    // and when repair runs again, it recognises its own record and only finishes:
    let finished = d.json(&["repair", "--accept-loss"]);
    assert_eq!(finished["accepted"], true, "{finished}");
    assert_eq!(d.json(&["verify"])["events"], 9);
    let events = d.events(&["--from", "9"]);
    assert_eq!(events.len(), 1, "the loss is recorded once");
    assert_eq!(events[0]["event_type"], "LogLossAccepted");
}

#[test]
fn repair_refuses_a_log_rewritten_behind_its_head_record() {
    // Given a directory whose head record names a hash its log never had at 9,
    let d = transferred();
    let record = d.data().join("checkpoints/chain-head");
    std::fs::write(
        &record,
        format!(r#"{{"position":9,"hash":"{}"}}"#, "ab".repeat(32)),
    )
    .unwrap();
    // when repair runs, even accepting loss, it refuses: a rewrite is not a loss.
    let refused = d.fails(3, &["repair", "--accept-loss"]);
    assert_eq!(refused["code"], "integrity_broken");
    assert!(
        message(&refused).contains("never one changed behind a record"),
        "{refused}"
    );
    assert_eq!(d.fails(3, &["verify"])["code"], "integrity_broken");
}

#[test]
fn a_missing_blob_file_is_log_corrupt_and_serve_refuses_writes_once_its_scan_meets_it() {
    // Given events large enough for sled to keep some in files of their own (blobs/),
    let d = transferred();
    for n in 0..40 {
        let keys: Vec<String> = (0..100)
            .map(|j| format!("buyer:R{n}-{j}-{}", "0".repeat(150)))
            .collect();
        let mut args = vec!["resource", "add"];
        args.extend(keys.iter().map(String::as_str));
        args.extend(["--owner", ANN_X]);
        d.ok(&args);
    }
    let t = token(&d, DANA);
    let blobs = d.data().join("blobs");
    let first = std::fs::read_dir(&blobs)
        .expect("sled wrote blobs")
        .next()
        .expect("at least one blob")
        .unwrap()
        .path();
    // when one of them is deleted,
    std::fs::remove_file(&first).unwrap();
    // then verify names the damage (log_corrupt), not a passing storage fault,
    let refused = d.fails(3, &["verify"]);
    assert_eq!(refused["code"], "log_corrupt", "{refused}");
    // and serve, once its pass over the log meets it, is not ready and refuses writes
    // while reads keep answering (a tester saw it log "writes are refused" and go on).
    let server = Server::start(&d);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, ready) = http(&server.url, "GET", "/readyz", None, None);
        if status == 503 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {ready}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let body = serde_json::json!({ "amount": 1 });
    let (status, answer) = http(
        &server.url,
        "POST",
        "/v1/credits/pool",
        Some(&t),
        Some(&body),
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (503, Some("log_corrupt")),
        "{answer}"
    );
    let (status, users) = http(&server.url, "GET", "/v1/users", Some(&t), None);
    assert_eq!(status, 200, "{users}");
    server.terminate();
}

#[test]
fn an_unusable_checkpoint_is_rebuilt_and_says_so() {
    // Given a directory whose projection checkpoint was damaged,
    let d = transferred();
    let path = d.data().join("checkpoints/projections");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    // when it opens, then the projections are rebuilt from the log (nothing lost)
    let run = d.run(&["owner", "buyer:B-1"]);
    assert!(run.status.success(), "{run:?}");
    assert!(String::from_utf8_lossy(&run.stdout).contains(ANN_X));
    // and stderr says the checkpoint could not be used (a tester saw it rebuilt
    // without a word).
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("checkpoints/projections") && stderr.contains("cannot be used"),
        "{stderr}"
    );
}

/// The side files that say how far the log went: the projection checkpoint, the head
/// record and the head note.
const SIDE_FILES: [&str; 3] = [
    "checkpoints/projections",
    "checkpoints/chain-head",
    "chain-head.note",
];

/// The transfer at 9 acknowledged and its head kept outside (`offboard head`), then
/// position 9 really lost and every side file that knew of it removed: nothing in the
/// directory can tell the log went past 8. Returns the directory, the head kept outside
/// (9:…) and the head the log now has (8:…).
fn lost_with_nothing_left_that_knew() -> (Dir, String, String) {
    let mut survivor = None;
    let d = transferred_after(|d| survivor = Some(d.json(&["head"])["head"].clone()));
    let kept = d.json(&["head"])["head"].as_str().unwrap().to_owned();
    flip_newest_frame(&d);
    for gone in SIDE_FILES {
        std::fs::remove_file(d.data().join(gone)).unwrap();
    }
    let survivor = survivor.unwrap().as_str().unwrap().to_owned();
    assert!(kept.starts_with("9:") && survivor.starts_with("8:"));
    (d, kept, survivor)
}

/// Every file under `checkpoints/` and the head note, with its bytes.
fn side_files(d: &Dir) -> Vec<(String, Option<Vec<u8>>)> {
    let mut names: Vec<String> = std::fs::read_dir(d.data().join("checkpoints"))
        .unwrap()
        .map(|e| format!("checkpoints/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    names.push("chain-head.note".to_owned());
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(d.data().join(&name)).ok();
            (name, bytes)
        })
        .collect()
}

#[test]
fn repair_expect_head_refuses_a_log_shorter_than_the_head_kept_outside_and_writes_nothing() {
    // Given the head 9:… kept outside, then position 9 lost with the checkpoint, the head
    // record and the head note (before: `repair --accept-loss` wrote the note at 8 and
    // recorded no loss, and only `verify --expect-head` could still catch it),
    let (d, kept, survivor) = lost_with_nothing_left_that_knew();
    let before = side_files(&d);
    // when repair is told the head kept outside, accepting the loss or only looking,
    for args in [
        vec!["repair", "--accept-loss", "--expect-head", &kept],
        vec!["repair", "--expect-head", &kept],
    ] {
        let refused = d.fails(3, &args);
        // then it refuses with verify's code, saying what it found and what was expected,
        assert_eq!(refused["code"], "integrity_broken", "{args:?}: {refused}");
        let text = message(&refused);
        assert!(
            text.contains(&format!("the log's head is {survivor}")),
            "{text}"
        );
        assert!(
            text.contains(&format!("--expect-head names {kept}")),
            "{text}"
        );
        assert!(text.contains("positions 9..=9 are missing"), "{text}");
        assert!(text.contains("nothing was written"), "{text}");
    }
    // and changed nothing: no note written, no checkpoint rebuilt, the log still refused,
    assert_eq!(side_files(&d), before);
    assert!(!d.data().join("chain-head.note").exists());
    assert_eq!(d.fails(3, &["verify"])["code"], "integrity_broken");
    // another hash at the log's end is refused as well, naming the hash found there,
    let forged = format!("8:{}", "ab".repeat(32));
    let other = d.fails(3, &["repair", "--accept-loss", "--expect-head", &forged]);
    assert_eq!(other["code"], "integrity_broken", "{other}");
    let found = survivor.split_once(':').unwrap().1;
    assert!(
        message(&other).contains(&format!("the event at 8 has hash {found}")),
        "{other}"
    );
    assert_eq!(side_files(&d), before);
    // and a malformed head is invalid input, as for verify, before anything is opened.
    let malformed = d.fails(1, &["repair", "--accept-loss", "--expect-head", "9:nothex"]);
    assert_eq!(malformed["code"], "invalid_input", "{malformed}");
    assert!(message(&malformed).contains("--expect-head"), "{malformed}");
    assert_eq!(side_files(&d), before);
}

#[test]
fn repair_expect_head_goes_on_when_the_log_ends_exactly_at_the_head_kept_outside() {
    // Given a whole log of 8 events, its head kept outside, then the checkpoint, the head
    // record and the head note removed (the directory is refused: nothing vouches for 8),
    let d = registered();
    let kept = d.json(&["head"])["head"].as_str().unwrap().to_owned();
    let older = d.events(&["--from", "7"])[0]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    for gone in SIDE_FILES {
        std::fs::remove_file(d.data().join(gone)).unwrap();
    }
    assert_eq!(d.fails(3, &["verify"])["code"], "integrity_broken");
    // when repair is given an older head the log holds but goes past, it refuses (the
    // check is for the log's end, exactly),
    let older = d.fails(
        3,
        &[
            "repair",
            "--accept-loss",
            "--expect-head",
            &format!("7:{older}"),
        ],
    );
    assert_eq!(older["code"], "integrity_broken", "{older}");
    assert!(
        message(&older).contains(&format!("goes on to {kept}")),
        "{older}"
    );
    assert!(!d.data().join("chain-head.note").exists());
    // and when it is given the head kept outside, it goes on as it does without one: the
    // note is written again at 8, no loss recorded, and the directory opens.
    let accepted = d.json(&["repair", "--accept-loss", "--expect-head", &kept]);
    assert_eq!(accepted["accepted"], true, "{accepted}");
    assert_eq!(accepted["head"], kept.as_str(), "{accepted}");
    assert!(d.data().join("chain-head.note").exists());
    assert_eq!(d.json(&["verify"])["events"], 8);
    assert_eq!(d.json(&["head"])["head"], kept.as_str());
}

#[test]
fn repair_says_accepting_the_loss_alone_cannot_tell_a_whole_log_from_a_shortened_one() {
    // Given position 9 lost with nothing left in the directory that knew of it,
    let (d, _, survivor) = lost_with_nothing_left_that_knew();
    // when repair only looks, then it says plainly that --accept-loss cannot tell a whole
    // log from a shortened one, and points at --expect-head,
    let looked = d.ok(&["repair"]);
    assert!(
        looked.contains("cannot tell a whole log from a shortened one"),
        "{looked}"
    );
    assert!(looked.contains("--expect-head"), "{looked}");
    assert!(looked.contains(&survivor), "{looked}");
    // and so does `repair --help`,
    let help = d.ok(&["repair", "--help"]);
    assert!(help.contains("--expect-head <POS:HASH>"), "{help}");
    assert!(
        help.contains("cannot tell a whole log from a shortened one"),
        "{help}"
    );
    // and when the loss is accepted without --expect-head, it says so again, in one
    // tense: what was missing, what it wrote (before: "Before it, … is missing").
    let accepted = d.ok(&["repair", "--accept-loss"]);
    assert!(
        accepted.contains("cannot tell a whole log from a shortened one"),
        "{accepted}"
    );
    assert!(accepted.contains("--expect-head"), "{accepted}");
    assert!(!accepted.contains("Before it"), "{accepted}");
    assert!(
        accepted.contains("chain-head.note was missing or unreadable"),
        "{accepted}"
    );
    assert!(!accepted.contains(" is missing"), "{accepted}");
    assert!(
        accepted.contains(&format!("Wrote the head note again at {survivor}")),
        "{accepted}"
    );
}

#[test]
fn accepting_a_lost_tail_prints_the_new_head_and_says_which_positions_were_lost() {
    // Given a log that lost position 9 (it ends at 8),
    let d = transferred();
    flip_newest_frame(&d);
    // when the loss is accepted,
    let accepted = d.json(&["repair", "--accept-loss"]);
    // then the head the log now has is printed as `offboard head` prints it, to keep
    // outside the directory (before: printed only when the head note was missing),
    let head = d.ok(&["head"]).trim().to_owned();
    assert!(head.starts_with("9:"), "{head}");
    assert_eq!(accepted["head"], head.as_str(), "{accepted}");
    let text = accepted["message"].as_str().unwrap();
    assert!(text.contains(&head), "{text}");
    // and the sentence says which positions were lost and where the log ends now, which
    // is where the record of the loss stands (before: "Accepted the loss of positions
    // 9..=9: …; the log now ends at 9").
    assert!(text.contains("position 9 was lost"), "{text}");
    assert!(
        text.contains("the surviving log ends at position 8"),
        "{text}"
    );
    assert!(
        text.contains("the log now ends at position 9, with the record of the loss"),
        "{text}"
    );
}

#[test]
fn lost_tail_messages_say_where_the_log_ends_and_name_no_position_past_it() {
    // Given a log of 9 events and its export,
    let d = transferred();
    let hash = d.json(&["head"])["hash"].as_str().unwrap().to_owned();
    let export = d.path("log.jsonl");
    d.ok(&["export", export.to_str().unwrap()]);
    // when verify and import-log are given a head past the end, and verify runs once
    // position 9 is lost,
    let expected = d.fails(3, &["verify", "--expect-head", &format!("12:{hash}")]);
    let imported = Dir::new().fails(
        3,
        &[
            "import-log",
            export.to_str().unwrap(),
            "--expect-head",
            &format!("12:{hash}"),
        ],
    );
    flip_newest_frame(&d);
    let refused = d.fails(3, &["verify"]);
    // then each says where the log ends and which positions are missing, and none says
    // it is broken "at position 12" (or 10, or 9) as though that position existed.
    for (error, ends, missing) in [
        (
            &expected,
            "the log ends at 9",
            "positions 10..=12 are missing",
        ),
        (
            &imported,
            "ends at position 9",
            "positions 10..=12 are missing",
        ),
        (&refused, "the log ends at 8", "positions 9..=9 are missing"),
    ] {
        assert_eq!(error["code"], "integrity_broken", "{error}");
        let text = message(error);
        assert!(!text.contains("broken at position"), "{text}");
        assert!(text.contains(ends), "{text}");
        assert!(text.contains(missing), "{text}");
    }
    // The same once nothing is left that knew how far the log went.
    for gone in SIDE_FILES {
        std::fs::remove_file(d.data().join(gone)).unwrap();
    }
    let unknown = d.fails(3, &["verify"]);
    let text = message(&unknown);
    assert!(!text.contains("broken at position"), "{text}");
    assert!(text.contains("the log ends at 8"), "{text}");
}
