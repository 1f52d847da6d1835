//! Scenario `partition`: cut the leader off from PostgreSQL (its proxy: PostgreSQL-side
//! sockets closed, the node side black-holed). Another node must lead within the
//! failover limit and the old leader must stop answering `/readyz` as the leader; then
//! heal, and it must come back as a follower. Figures: time until another node leads,
//! until the old one stepped down, and until it followed again after the heal.

use std::time::{Duration, Instant};

use fastrand::Rng;

use super::args::Args;
use super::nodes::Nodes;
use super::report::Report;

/// How long a partitioned leader may take to step down, or a healed one to follow,
/// before the run gives up waiting (past the failover limit it is a violation already).
const PATIENCE: Duration = Duration::from_secs(60);
/// How often the old leader is asked whether it stepped down.
const POLL: Duration = Duration::from_millis(25);

/// Partitions the leader `times` times.
pub async fn run(
    nodes: &mut Nodes,
    (args, times): (&Args, u32),
    rng: &mut Rng,
    report: &mut Report,
) -> Result<(), String> {
    if nodes.nodes.len() < 2 {
        println!("partition: skipped (needs two nodes or more)");
        return Ok(());
    }
    let limit = Duration::from_millis(args.failover_ms);
    for round in 1..=times {
        let delay = rng.u64(args.min_delay_ms..=args.max_delay_ms.max(args.min_delay_ms));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let (old, _) = nodes.wait_for_leader(None, PATIENCE).await?;
        nodes.nodes[old].proxy.partition();
        let cut = Instant::now();
        let (next, took) = nodes.wait_for_leader(Some(old), PATIENCE).await?;
        let stepped_down = loop {
            if !nodes.probe(old).await.is_leader() {
                break cut.elapsed();
            }
            if cut.elapsed() > PATIENCE {
                return Err(format!(
                    "partitioned node {old} still leads after {PATIENCE:?}"
                ));
            }
            tokio::time::sleep(POLL).await;
        };
        nodes.nodes[old].proxy.heal();
        let healed = Instant::now();
        nodes.wait_for_role(old, "follower", PATIENCE).await?;
        println!(
            "partition {round}/{times}: node {old} cut off {delay} ms into the round; node \
             {next} leads after {} ms; node {old} stepped down after {} ms and follows {} ms \
             after the heal",
            took.as_millis(),
            stepped_down.as_millis(),
            healed.elapsed().as_millis()
        );
        report.within(&format!("partition {round}: a new leader"), took, limit);
        report.within(
            &format!("partition {round}: the old leader's step-down"),
            stepped_down,
            limit,
        );
        report.partitions.push(took);
        nodes.revive(report).await?;
    }
    Ok(())
}
