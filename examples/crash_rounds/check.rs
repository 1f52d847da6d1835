//! The checks after a kill and a restart, against the new server: the log read back
//! from the last verified head (that event's hash unchanged, then gapless and linked,
//! ending where `offboard verify` ended), every acknowledged command there at the
//! positions it was told and exactly as sent, no refused command written, an unknown one
//! either absent or wholly there, no command nobody sent; the server's owners and credits
//! views equal to the harness's fold, credits conserved; and a resend of every command
//! in the log answering `duplicate: true` with the same positions.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};
use offboard_events::{CommandId, Envelope, UserId};

use super::clients::{Outcome, Sent};
use super::http::{Answer, Http};
use super::ledger::{Credits, Ledger};

/// Resends in flight at once.
const RESENDS: usize = 16;

/// What one round's check counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub sent: usize,
    pub acked: usize,
    pub refused: usize,
    pub unknown_present: usize,
    pub unknown_absent: usize,
    /// Commands resent after the restart (acknowledged, and unknown ones found present).
    pub resent: usize,
    /// Events the round added to the log.
    pub events: u64,
}

/// Reads the log from the ledger's head to the end and folds it; the events read.
pub async fn catch_up(http: &Http, ledger: &mut Ledger) -> Result<Vec<Envelope>, String> {
    let mut events = http.events_from(ledger.head.max(1)).await?.into_iter();
    if ledger.head > 0 {
        match events.next() {
            Some(e) if e.position == ledger.head && e.hash == ledger.head_hash => {}
            Some(e) => {
                return Err(format!(
                    "position {} was verified with hash {} and now reads {} {}",
                    ledger.head, ledger.head_hash, e.position, e.hash
                ))
            }
            None => return Err(format!("verified position {} is gone", ledger.head)),
        }
    }
    let events: Vec<Envelope> = events.collect();
    for e in &events {
        ledger.apply(e)?;
    }
    Ok(events)
}

/// Every check of a round; the violations found (none: the round passed).
pub async fn round(
    http: &Http,
    ledger: &mut Ledger,
    sent: &[Sent],
    verified: (u64, String),
) -> (Tally, Vec<String>) {
    let mut tally = Tally {
        sent: sent.len(),
        ..Tally::default()
    };
    let mut bad = Vec::new();
    if verified.0 < ledger.head {
        bad.push(format!(
            "the log shrank: verified {} events, earlier {}",
            verified.0, ledger.head
        ));
        return (tally, bad);
    }
    let events = match catch_up(http, ledger).await {
        Ok(events) => events,
        Err(why) => return (tally, vec![why]),
    };
    tally.events = events.len() as u64;
    if (ledger.head, &ledger.head_hash) != (verified.0, &verified.1) {
        bad.push(format!(
            "the stream ends at {} {}, verify at {} {}",
            ledger.head, ledger.head_hash, verified.0, verified.1
        ));
    }
    let mut by_command: HashMap<CommandId, Vec<&Envelope>> = HashMap::new();
    for e in &events {
        by_command.entry(e.command_id).or_default().push(e);
    }
    let mut resend = Vec::new();
    for s in sent {
        let id = CommandId(s.key);
        let logged = by_command.remove(&id);
        let what = format!("{} {}", s.op.kind(), s.key);
        match (&s.outcome, logged) {
            (Outcome::Acked(positions), logged) => {
                tally.acked += 1;
                let at = ledger.commands.get(&id).copied();
                if at != *positions {
                    bad.push(format!("acknowledged {what} at {positions:?} is at {at:?}"));
                } else if !logged.is_some_and(|l| s.op.matches(&l)) {
                    bad.push(format!("acknowledged {what} is not in the log as sent"));
                } else {
                    resend.push((s, at));
                }
            }
            (Outcome::Refused(status, code), logged) => {
                tally.refused += 1;
                if logged.is_some() {
                    bad.push(format!("{what} was refused ({status} {code}) but written"));
                }
            }
            (Outcome::Unknown(_), None) => tally.unknown_absent += 1,
            (Outcome::Unknown(_), Some(logged)) => {
                tally.unknown_present += 1;
                if s.op.matches(&logged) {
                    resend.push((s, ledger.commands.get(&id).copied()));
                } else {
                    bad.push(format!("unanswered {what} is in the log, but not as sent"));
                }
            }
        }
    }
    for id in by_command.keys() {
        bad.push(format!("command {id} is in the log but no client sent it"));
    }
    bad.extend(views(http, ledger).await);
    tally.resent = resend.len();
    bad.extend(resend_all(http, resend).await);
    (tally, bad)
}

/// The server's owners and credits views (every page) against the fold; credits
/// conserved.
async fn views(http: &Http, ledger: &Ledger) -> Vec<String> {
    let mut bad = Vec::new();
    match http.get_all("/v1/owners", "owners").await {
        Ok((owned, _)) => {
            let owners: Option<HashMap<String, UserId>> = Some(
                owned
                    .iter()
                    .filter_map(|r| {
                        let key = r["resource"].as_str()?.to_owned();
                        Some((key, r["owner"].as_str()?.parse().ok()?))
                    })
                    .collect(),
            );
            let count = owned.len();
            let expected: HashMap<String, UserId> =
                ledger.owners.iter().map(|(k, v)| (k.clone(), *v)).collect();
            if owners.as_ref() != Some(&expected) || count != expected.len() {
                bad.push(format!(
                    "GET /v1/owners lists {count} resources, the log {} (or other owners)",
                    expected.len()
                ));
            }
        }
        Err(why) => bad.push(why),
    }
    match http.get_all("/v1/credits", "users").await {
        Ok((users, mut view)) => {
            view["users"] = serde_json::Value::Array(users);
            bad.extend(credits(&view, ledger))
        }
        Err(why) => bad.push(why),
    }
    bad
}

fn credits(view: &serde_json::Value, ledger: &Ledger) -> Vec<String> {
    let mut bad = Vec::new();
    let pool = view["pool"].as_u64().unwrap_or(u64::MAX);
    let mut users = std::collections::BTreeMap::new();
    for u in view["users"].as_array().into_iter().flatten() {
        let (Some(id), Some(balance), Some(used)) = (
            u["user"].as_str().and_then(|s| s.parse::<UserId>().ok()),
            u["balance"].as_u64(),
            u["used"].as_u64(),
        ) else {
            bad.push(format!("GET /v1/credits: an unreadable user {u}"));
            continue;
        };
        users.insert(id, Credits { balance, used });
    }
    let held: u128 = users
        .values()
        .map(|c| u128::from(c.balance) + u128::from(c.used))
        .sum();
    if u128::from(pool) + held != u128::from(ledger.added) {
        bad.push(format!(
            "credits not conserved: pool {pool} + balances and used {held} != added {}",
            ledger.added
        ));
    }
    let mut expected = ledger.credits.clone();
    expected.retain(|_, c| *c != Credits::default());
    users.retain(|_, c| *c != Credits::default());
    if pool != ledger.pool || users != expected {
        bad.push(format!(
            "GET /v1/credits (pool {pool}) differs from the log's credits (pool {})",
            ledger.pool
        ));
    }
    bad
}

/// Resends each command with its key: `duplicate: true` at the logged positions
/// (`Op::answers_resend`).
async fn resend_all(http: &Http, resend: Vec<(&Sent, Option<(u64, u64)>)>) -> Vec<String> {
    let answers = stream::iter(resend)
        .map(|(s, at)| async move { (s, at, http.command(&s.op, s.key).await) })
        .buffer_unordered(RESENDS)
        .collect::<Vec<_>>()
        .await;
    let mut bad = Vec::new();
    for (s, at, answer) in answers {
        let what = format!("{} {}", s.op.kind(), s.key);
        match answer {
            Answer::Done(body) => {
                if !s.op.answers_resend(&body, at) {
                    bad.push(format!("resent {what} (logged at {at:?}) answered {body}"));
                }
            }
            other => bad.push(format!("resent {what} answered {other:?}")),
        }
    }
    bad
}
