//! The checks after the last scenario, with the load stopped: every node converges to
//! the same position and the same owners and users answers; then, with the nodes
//! stopped, `offboard verify` on the store; then one node again for crash_rounds'
//! checks (`check::round`): the log gapless and linked from the first client command to
//! the verified head, every acknowledged command there exactly once at its positions and
//! as sent, nothing refused written, no command nobody sent, the owners and credits
//! views equal to the harness's fold, and every command resent answering `duplicate`.

use std::time::{Duration, Instant};

use super::check::{self, Tally};
use super::clients::Sent;
use super::http::Http;
use super::ledger::Ledger;
use super::nodes::Nodes;
use super::report::Report;

/// How long the nodes may take to reach the same position once the load stopped.
const CONVERGE: Duration = Duration::from_secs(120);
/// How often they are asked.
const POLL: Duration = Duration::from_millis(50);

/// Waits until every running node is at the same position; compares their views.
pub async fn converge(nodes: &Nodes, token: &str, report: &mut Report) -> Result<u64, String> {
    let started = Instant::now();
    let (position, reached) = loop {
        let mut positions = Vec::new();
        for i in nodes.live() {
            let probe = nodes.probe(i).await;
            positions.push((i, probe.status, probe.role, probe.position));
        }
        let first = positions.first().and_then(|p| p.3);
        if positions
            .iter()
            .all(|p| p.1 == 200 && p.3.is_some() && p.3 == first)
        {
            break (first.unwrap_or(0), started.elapsed());
        }
        if started.elapsed() > CONVERGE {
            report.violation(format!(
                "the nodes did not converge within {CONVERGE:?}: {positions:?}"
            ));
            return Ok(0);
        }
        tokio::time::sleep(POLL).await;
    };
    for (path, field) in [("/v1/owners", "owners"), ("/v1/users", "users")] {
        let mut answers = Vec::new();
        for i in nodes.live() {
            let url = nodes.url(i).unwrap_or_default();
            let (items, _) = Http::new(&url, token).get_all(path, field).await?;
            answers.push((i, items));
        }
        for (i, items) in &answers[1..] {
            if *items != answers[0].1 {
                report.violation(format!(
                    "GET {path}: node {i} lists {} items, node {} {} (or others)",
                    items.len(),
                    answers[0].0,
                    answers[0].1.len()
                ));
            }
        }
    }
    println!(
        "converged: {} nodes at position {position} {} ms after the load stopped; the same \
         owners and users (compared in {:.1} s)",
        nodes.live().len(),
        reached.as_millis(),
        (started.elapsed() - reached).as_secs_f64()
    );
    Ok(position)
}

/// crash_rounds' checks of every command sent, against node `i`.
pub async fn commands(
    nodes: &Nodes,
    (i, token): (usize, &str),
    ledger: &mut Ledger,
    sent: &[Sent],
    verified: (u64, String),
    report: &mut Report,
) -> Tally {
    let http = Http::new(&nodes.url(i).unwrap_or_default(), token);
    let (tally, bad) = check::round(&http, ledger, sent, verified).await;
    for why in bad {
        report.violation(why);
    }
    tally
}
