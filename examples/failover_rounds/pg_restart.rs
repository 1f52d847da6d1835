//! Scenario `pg-restart`: `pg_ctl restart -m fast` under load, at a random moment. Every
//! session ends (the leader's writer lock with it); the clients must see 503s with
//! `Retry-After` or dropped connections, never another 5xx or a hang (the load counts
//! those), and a node must lead again. The figure: from the restart's start until a
//! node answers as the leader again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fastrand::Rng;

use super::args::Args;
use super::nodes::Nodes;
use super::pg_cluster::Cluster;
use super::report::Report;

/// How long after the restart a node may take to lead, before the run gives up.
const NO_LEADER: Duration = Duration::from_secs(60);

/// Restarts PostgreSQL `times` times.
pub async fn run(
    nodes: &mut Nodes,
    pg: &Arc<Cluster>,
    (args, times): (&Args, u32),
    rng: &mut Rng,
    report: &mut Report,
) -> Result<(), String> {
    for round in 1..=times {
        let delay = rng.u64(args.min_delay_ms..=args.max_delay_ms.max(args.min_delay_ms));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let started = Instant::now();
        let cluster = Arc::clone(pg);
        tokio::task::spawn_blocking(move || cluster.restart_fast())
            .await
            .map_err(|e| format!("pg_ctl restart: {e}"))??;
        let restarted = started.elapsed();
        let (leader, _) = nodes.wait_for_leader(None, NO_LEADER).await?;
        let took = started.elapsed();
        println!(
            "pg-restart {round}/{times}: PostgreSQL restarted (-m fast) in {} ms, {delay} ms \
             into the round; node {leader} leads {} ms after the restart began",
            restarted.as_millis(),
            took.as_millis()
        );
        report.pg_restarts.push(took);
        nodes.revive(report).await?;
    }
    Ok(())
}
