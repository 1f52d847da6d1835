//! Scenario `behind`: stop a follower, append `--behind-events` events while it is down
//! (user imports of up to [`CHUNK`] rows: one command, at least one event a row),
//! restart it. It must not answer `/readyz` 200 while it is more than `CATCHING_UP_LAG`
//! behind (it refuses connections while it replays at open, or answers `catching_up`),
//! then answer `follower` and reach the leader's position; the figure is its replay rate (events
//! missed over the time from its start until it reached that position).

use std::time::{Duration, Instant};

use fastrand::Rng;
use offboard::engine::CATCHING_UP_LAG;

use super::clients::Outcome;
use super::load::Load;
use super::nodes::Nodes;
use super::ops::Op;
use super::report::Report;

/// Rows per import (linear in its rows since the manager-loop check skips users who
/// manage nobody: ~0.8 s per 1,000 rows on a debug build; small chunks keep each
/// command's group far below the writer's 5 s storage patience under load).
const CHUNK: u64 = 500;
/// How long the restarted follower may take to catch up before the run gives up.
const PATIENCE: Duration = Duration::from_secs(300);
/// How often its position is asked.
const POLL: Duration = Duration::from_millis(25);

/// Leaves a follower `events` behind, `times` times.
pub async fn run(
    nodes: &mut Nodes,
    load: &mut Load,
    (events, times): (u64, u32),
    rng: &mut Rng,
    report: &mut Report,
) -> Result<(), String> {
    if nodes.nodes.len() < 2 {
        println!("behind: skipped (needs two nodes or more)");
        return Ok(());
    }
    for round in 1..=times {
        let (leader, _) = nodes.wait_for_leader(None, PATIENCE).await?;
        let follower = (leader + 1 + rng.usize(..nodes.nodes.len() - 1)) % nodes.nodes.len();
        let before = nodes.probe(leader).await.position.unwrap_or(0);
        nodes.kill(follower);
        let appending = Instant::now();
        let (mut first, mut appended) = (0, 0);
        while appended < events {
            let count = CHUNK.min(events - appended);
            let domain = format!("b{round}.behind.example");
            let op = Op::ImportUsers {
                domain,
                first,
                count,
            };
            match load.send(op, rng).await {
                Outcome::Acked(Some((from, to))) => appended += to + 1 - from,
                other => return Err(format!("behind {round}: an import answered {other:?}")),
            }
            first += count;
        }
        let appending = appending.elapsed();
        let (leader, _) = nodes.wait_for_leader(None, PATIENCE).await?;
        let target = nodes.probe(leader).await.position.unwrap_or(0);
        let started = Instant::now();
        nodes.start(follower).await?;
        let seen = nodes.wait_for_role(follower, "follower", PATIENCE).await?;
        while nodes.probe(follower).await.position.unwrap_or(0) < target {
            if started.elapsed() > PATIENCE {
                return Err(format!(
                    "behind {round}: node {follower} not at {target} after {PATIENCE:?}"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
        let took = started.elapsed();
        let missed = target.saturating_sub(before);
        let rate = missed as f64 / took.as_secs_f64();
        let roles: Vec<&str> = seen.iter().map(|p| p.role.as_str()).collect();
        println!(
            "behind {round}/{times}: node {follower} missed {missed} events (appended in {:.1} \
             s); restarted, it answered {}, reached {target} after {:.1} s: {rate:.0} events/s",
            appending.as_secs_f64(),
            roles.join(" → "),
            took.as_secs_f64()
        );
        // Ready (200) only within CATCHING_UP_LAG of the log: before, it refuses
        // connections (replaying as it opens) or answers 503 `catching_up`.
        let early = seen
            .iter()
            .find(|p| p.status == 200 && p.position.unwrap_or(0) + CATCHING_UP_LAG < target);
        if let Some(early) = early {
            report.violation(format!(
                "behind {round}: node {follower} answered ready as {} at {:?}, more than {CATCHING_UP_LAG} events short of {target}",
                early.role, early.position
            ));
        }
        report.replay_rates.push(rate);
        nodes.revive(report).await?;
    }
    Ok(())
}
