//! PostgreSQL's own rate for what one acknowledged command costs it at the least: one
//! row of event-sized bytes INSERTed and committed (`synchronous_commit` on), by
//! `pgbench` with 64 clients, measured in the same run as offboard on that server, so
//! the figure "group commit / pgbench" compares like with like (issue 21 §4: offboard's
//! 64-client throughput should be ≥ 5× it, because one transaction carries a group).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::place::Place;
use super::throughput::CLIENTS;
use super::{fail, BenchConfig, BenchError};
use crate::store::postgres::PgPool;

/// Bytes per inserted row: about one stored transfer event (canonical JSON with its hash).
const ROW_BYTES: usize = 600;

/// `pgbench`'s transactions per second with [`CLIENTS`] clients, each one INSERT of
/// [`ROW_BYTES`] committed, on a database of its own on `place`'s server; `None` on
/// sled. Runs 5 s at full scale, 2 s below.
///
/// Errors: `pgbench` not found (Debian's `postgresql-client`), or it failed (its
/// stderr is in the message).
pub fn single_insert_rate(config: &BenchConfig, place: &Place) -> Result<Option<f64>, BenchError> {
    let Some(url) = place.fresh_database("pgbench")? else {
        return Ok(None);
    };
    PgPool::connect(&url)
        .and_then(|pool| {
            pool.run(|client| async move {
                let table = "CREATE TABLE bench_events \
                             (position bigserial PRIMARY KEY, bytes bytea NOT NULL)";
                client.batch_execute(table).await?;
                Ok(())
            })
        })
        .map_err(fail)?;
    let script = place.path("pgbench-insert.sql");
    std::fs::write(
        &script,
        format!(
            "INSERT INTO bench_events (bytes) VALUES (convert_to(repeat('x', {ROW_BYTES}), 'UTF8'));\n"
        ),
    )
    .map_err(fail)?;
    let seconds = if config.scale >= 1.0 { 5 } else { 2 };
    let output = Command::new(program("pgbench")?)
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &CLIENTS.to_string(), "-T", &seconds.to_string()])
        .arg("-f")
        .arg(&script)
        .arg(&url)
        .output()
        .map_err(|e| fail(format!("pgbench: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    tps(&String::from_utf8_lossy(&output.stdout))
        .map(Some)
        .ok_or_else(|| fail("pgbench printed no tps line"))
}

/// `name` on PATH, else in Debian's versioned `/usr/lib/postgresql/*/bin`.
fn program(name: &str) -> Result<PathBuf, BenchError> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    let debian = || {
        let mut found: Vec<PathBuf> = std::fs::read_dir(Path::new("/usr/lib/postgresql"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|v| v.path().join("bin").join(name))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    };
    on_path.or_else(debian).ok_or_else(|| {
        fail(format!(
            "{name} not found: install Debian's postgresql-client to compare with pgbench"
        ))
    })
}

/// The rate of pgbench's `tps = 1234.5 (without initial connection time)` line.
fn tps(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_read_from_pgbench_s_tps_line() {
        let out = "number of failed transactions: 0 (0.000%)\n\
                   latency average = 4.1 ms\n\
                   tps = 15532.811937 (without initial connection time)\n";
        assert_eq!(tps(out), Some(15532.811937));
        assert_eq!(tps("nothing here"), None);
    }
}
