//! Failover by failure (issue 21 §3), a CI-sized run of `examples/failover_rounds`: three
//! `serve` nodes on a throwaway PostgreSQL cluster under 16 resending clients, through
//! two rounds of each scenario (leader SIGKILLed, PostgreSQL restarted, leader
//! partitioned from PostgreSQL, a follower restarted 3,000 events behind), then every
//! acknowledged command checked and every node compared. The harness is an example
//! (`cargo test` builds it beside this binary); without it, or without PostgreSQL, the
//! test says why and passes, unless `OFFBOARD_REQUIRE_POSTGRES=1`.

use std::path::PathBuf;
use std::process::Command;

use crate::pg_cluster;

/// The example's binary, in this profile's `examples` directory.
fn harness() -> Option<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_offboard"));
    let path = bin.parent()?.join("examples").join("failover_rounds");
    path.is_file().then_some(path)
}

/// Whether PostgreSQL's programs are installed where the harness looks.
fn postgres_installed() -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("initdb").is_file()));
    let debian = std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|mut versions| {
        versions.any(|v| v.is_ok_and(|v| v.path().join("bin/initdb").is_file()))
    });
    on_path || debian
}

#[test]
fn three_nodes_survive_kills_restarts_partitions_and_a_far_behind_follower() {
    let skip = |why: &str| {
        assert!(
            !pg_cluster::required(),
            "OFFBOARD_REQUIRE_POSTGRES=1, but {why}"
        );
        eprintln!("skipping the failover rounds: {why}");
    };
    if !postgres_installed() {
        return skip("PostgreSQL is not installed (no initdb)");
    }
    let Some(harness) = harness() else {
        return skip(
            "the failover_rounds example is not built (cargo build --example failover_rounds)",
        );
    };
    // Given three nodes under load, When each failure happens twice
    let out = Command::new(&harness)
        .args(["--bin", env!("CARGO_BIN_EXE_offboard")])
        .args(["--rounds", "2", "--behind-events", "3000"])
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Then nothing acknowledged is lost, every failover took at most 5 s, and the
    // nodes agree
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.ends_with(" 0 violations"), "{stdout}");
    assert!(summary.contains("2 kills"), "{summary}");
}
