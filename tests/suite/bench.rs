//! The benchmark keeps working: a tiny-scale run of every scenario on the real engine
//! produces every figure with a sane value. (The figures themselves are for people, via
//! `offboard bench`; no test asserts timings.)

use offboard::bench::{run, table, BenchConfig, BenchReport, Figure, Scenario};

/// The figure of `report` named `name`; panics naming it when it is missing.
fn figure<'a>(report: &'a BenchReport, name: &str) -> &'a Figure {
    report
        .figures
        .iter()
        .find(|f| f.figure == name)
        .unwrap_or_else(|| panic!("missing figure {name:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_and_reports_its_figures() {
    let scale = std::env::var("OFFBOARD_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.002);
    let report = run(
        &BenchConfig {
            scale,
            dir: None,
            only: Vec::new(),
            store: None,
        },
        &mut |_| {},
    )
    .await
    .unwrap();
    eprintln!("{}", table(&report));
    let names: Vec<&str> = report.figures.iter().map(|f| f.figure.as_str()).collect();
    for expected in [
        "group commit",
        "baseline: one flush per command",
        "group commit / baseline",
        "TransferAllBuyers until durable",
        "restore with return_ownership",
        "peak RSS",
        "owner as of T, p99",
        "a user's history, p99",
        "rebuild all projections",
        "bound: scan + deserialize",
        "start-up to first query",
        "commands/s over HTTP",
        "with / without conventions",
        "CPU per command, end to end",
        "conventions' share, router alone",
        "peak RSS during the sync",
        "identical second run (writes nothing)",
        "offboard (3 roles handed over) + delete",
        "delivered, catching up",
        "commit→delivery p99, 5000/s",
        "10 subscriptions / none",
    ] {
        assert!(
            names.contains(&expected),
            "missing figure {expected:?} in {names:?}"
        );
    }
    assert!(report
        .figures
        .iter()
        .all(|f| f.value.is_finite() && f.value >= 0.0));
    // The console: a p50 and a p99 for every page, through the router.
    let console: Vec<&str> = report
        .figures
        .iter()
        .filter(|f| f.scenario.starts_with("console: ") && f.figure.starts_with("p99"))
        .map(|f| f.scenario.as_str())
        .collect();
    for page in [
        "People, search by name",
        "Audit, UserDeleted events",
        "the chain",
    ] {
        assert!(
            console.contains(&format!("console: {page}").as_str()),
            "{page} missing in {console:?}"
        );
    }
    assert_eq!(console.len(), 12, "{console:?}");
    let per_flush = figure(&report, "commands per flush").value;
    assert!(
        per_flush > 1.0,
        "group commit groups commands under 64 clients ({per_flush} per flush)"
    );
    // The group-commit figure is the median of its runs, between the slowest and fastest.
    let value = |name: &str| figure(&report, name).value;
    let (slowest, median, fastest) = (
        value("slowest of 3 runs"),
        value("group commit"),
        value("fastest of 3 runs"),
    );
    assert!(
        slowest <= median && median <= fastest && slowest > 0.0,
        "{slowest} <= {median} <= {fastest}"
    );
}

/// Given a PostgreSQL server, When `bench --store URL --only throughput --only rebuild`
/// runs, Then every scenario runs in a database of its own and the report puts
/// offboard's group commit beside pgbench's one-INSERT-per-commit rate on that server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_the_throughput_is_reported_beside_pgbench() {
    let Some(url) = crate::stores::pg_cluster::database() else {
        return;
    };
    let report = run(
        &BenchConfig {
            scale: 0.002,
            dir: None,
            only: vec![Scenario::Throughput, Scenario::Rebuild],
            store: Some(url),
        },
        &mut |_| {},
    )
    .await
    .unwrap();
    eprintln!("{}", table(&report));
    assert_eq!(report.store, "PostgreSQL");
    let value = |name: &str| figure(&report, name);
    assert!(value("pgbench: 1 INSERT per commit").value > 0.0);
    assert_eq!(value("group commit / pgbench").target, ">= 5x");
    assert_eq!(value("rebuild all projections").target, ">= 300000 ev/s");
    assert!(value("group commit").value > 0.0);
}
