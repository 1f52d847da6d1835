//! Size and speed at scale: a million resources in at most ~150 MB, and moving 100,000
//! of one owner's resources in time proportional to the move, not to the org.
//!
//! Ignored by default: they want a release build, and each measures this process's
//! resident memory, so run them one at a time:
//! `cargo test --release -p offboard-projections --test scale -- --ignored --nocapture --exact NAME`

mod support;

use std::time::Instant;

use offboard_events::*;
use offboard_projections::State;
use support::*;

/// Resident memory of this process in bytes, where Linux tells it.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn buyers(owner: usize, range: std::ops::Range<usize>) -> Vec<ResourceKey> {
    range
        .map(|i| key(&format!("buyer:B-{owner}-{i:06}")))
        .collect()
}

const OWNERS: usize = 10;
const PER_OWNER: usize = 100_000;

/// An org with ten users owning 100,000 buyers each, registered `batch` at a time, each
/// registration its own command (own correlation id) and dropped once applied. Returns
/// the state and how much resident memory grew while registering.
fn a_million_buyers(batch: usize) -> (State, Option<u64>) {
    let mut log = Log::with_org(org(1), "Big", user(1));
    for n in 0..OWNERS {
        log.hire(user(100 + n as u128), &format!("u{n}@big.test"), None);
    }
    let mut state = log.state();
    let before = resident_bytes();
    let started = Instant::now();
    for owner in 0..OWNERS {
        for first in (0..PER_OWNER).step_by(batch) {
            let env = envelope(
                state.position() + 1,
                org(1),
                at(0),
                Actor::System,
                correlation(u128::from(state.position())),
                ResourcesRegistered {
                    owner: user(100 + owner as u128),
                    resources: buyers(owner, first..first + batch),
                }
                .into(),
            );
            state.apply(&env);
        }
    }
    let grown = resident_bytes()
        .zip(before)
        .map(|(after, before)| after - before);
    assert_eq!(
        state.org(org(1)).unwrap().ownership().len(),
        OWNERS * PER_OWNER
    );
    println!(
        "1,000,000 resources registered {batch} per event in {:?}; resident memory grew by {:?} MiB",
        started.elapsed(),
        grown.map(|g| g >> 20)
    );
    (state, grown)
}

#[test]
#[ignore = "measures memory; run in release"]
fn a_million_resources_one_per_command() {
    // The worst case: every resource its own command, so the audit view also holds a
    // million events and a million correlation ids (about 95 MiB of the total).
    let (_, grown) = a_million_buyers(1);
    if let Some(grown) = grown {
        assert!(grown < 180 << 20, "{grown} bytes");
    }
}

#[test]
#[ignore = "measures memory and time; run in release"]
fn a_million_resources_and_a_hundred_thousand_moved() {
    // Imported 10,000 per event.
    let (mut state, grown) = a_million_buyers(10_000);
    if let Some(grown) = grown {
        assert!(grown < 150 << 20, "{grown} bytes for a million resources");
    }

    let moved = Handover {
        to: user(101),
        resources: buyers(0, 0..PER_OWNER),
    };
    let transfer = envelope(
        state.position() + 1,
        org(1),
        at(1),
        Actor::User { id: user(1) },
        correlation(2),
        ResourcesTransferred {
            from: user(100),
            handovers: vec![moved],
            reason: TransferReason::AllOfKind,
        }
        .into(),
    );
    let started = Instant::now();
    state.apply(&transfer);
    let moved_in = started.elapsed();
    println!("100,000 resources moved in {moved_in:?}");
    let o = state.org(org(1)).unwrap();
    assert_eq!(o.ownership().total_owned(user(100)), 0);
    assert_eq!(o.ownership().total_owned(user(101)), 2 * PER_OWNER as u64);
    assert_eq!(o.owner_history(&key("buyer:B-0-000042")).len(), 2);

    let started = Instant::now();
    let bytes = state.to_checkpoint_bytes();
    let saved_in = started.elapsed();
    let started = Instant::now();
    let back = State::from_checkpoint_bytes(&bytes).unwrap();
    println!(
        "checkpoint: {} bytes, written in {saved_in:?}, loaded in {:?}",
        bytes.len(),
        started.elapsed()
    );
    assert_eq!(
        back.org(org(1)).unwrap().ownership().total_owned(user(101)),
        200_000
    );
}
