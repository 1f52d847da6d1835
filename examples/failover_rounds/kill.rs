//! Scenario `kill`: round after round, SIGKILL the leader at a random moment, time until
//! another node answers `/readyz` as the leader, restart the killed node and wait until
//! it follows. With one node the figure is its restart until it leads again.

use std::time::{Duration, Instant};

use fastrand::Rng;

use super::args::Args;
use super::nodes::Nodes;
use super::report::Report;

/// How long a restarted node may take to answer `/readyz` as a follower.
const REJOIN: Duration = Duration::from_secs(60);
/// How long to wait for any leader before giving up on the round.
const NO_LEADER: Duration = Duration::from_secs(30);

/// Runs `args.rounds` kills.
pub async fn run(
    nodes: &mut Nodes,
    args: &Args,
    rng: &mut Rng,
    report: &mut Report,
) -> Result<(), String> {
    let limit = Duration::from_millis(args.failover_ms);
    for round in 1..=args.rounds {
        let delay = rng.u64(args.min_delay_ms..=args.max_delay_ms.max(args.min_delay_ms));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let (leader, _) = nodes.wait_for_leader(None, NO_LEADER).await?;
        nodes.kill(leader);
        let killed = Instant::now();
        let (next, took) = if nodes.nodes.len() == 1 {
            nodes.start(leader).await?;
            let (_, _) = nodes.wait_for_leader(None, NO_LEADER).await?;
            (leader, killed.elapsed())
        } else {
            let (next, took) = nodes.wait_for_leader(Some(leader), NO_LEADER).await?;
            nodes.start(leader).await?;
            nodes.wait_for_role(leader, "follower", REJOIN).await?;
            (next, took)
        };
        println!(
            "kill {round}/{}: node {leader} killed {delay} ms into the round; node {next} leads \
             after {} ms; node {leader} back in {:.1} s",
            args.rounds,
            took.as_millis(),
            killed.elapsed().as_secs_f64()
        );
        report.within(&format!("failover {round}"), took, limit);
        report.failovers.push(took);
        nodes.revive(report).await?;
    }
    Ok(())
}
