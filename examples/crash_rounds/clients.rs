//! The load: concurrent clients, each sending one command at a time until the server
//! stops answering, and keeping what each answer said. Resources are split between the
//! clients so that each knows its resources' owners (its own acknowledged transfers
//! are the only moves); credits are shared, so some are refused for want of a balance,
//! which is a refusal the checks see too (nothing may be written for it).

use std::sync::Arc;

use fastrand::Rng;
use offboard_events::{CreditAccount, UserId};
use uuid::Uuid;

use super::http::{Answer, Http};
use super::ledger::Ledger;
use super::ops::Op;

/// What became of one command.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// 2xx, with the positions it answered.
    Acked(Option<(u64, u64)>),
    /// 4xx with its code.
    Refused(u16, String),
    /// 5xx or no answer.
    Unknown(String),
}

/// One command sent, its key and its outcome.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The `Idempotency-Key`, a UUID: the command id in the log.
    pub key: Uuid,
    pub op: Op,
    pub outcome: Outcome,
}

/// One client's share of a round.
#[derive(Debug)]
pub struct Client {
    /// Its resources and their owners as of the round's start.
    pub held: Vec<(String, UserId)>,
    /// Its random source.
    pub rng: Rng,
    /// Unique within the run: names the resources it registers.
    pub tag: String,
}

/// Splits the resources between `clients` clients (each then knows its resources'
/// owners) and gives each its own random source; `round` names what they register.
pub fn share(ledger: &Ledger, clients: usize, rng: &mut Rng, round: u32) -> Vec<Client> {
    let mut out: Vec<Client> = (0..clients)
        .map(|c| Client {
            held: Vec::new(),
            rng: Rng::with_seed(rng.u64(..)),
            tag: format!("r{round}c{c}"),
        })
        .collect();
    for (i, (key, owner)) in ledger.owners.iter().enumerate() {
        out[i % clients].held.push((key.clone(), *owner));
    }
    out
}

/// Runs `clients` against `http` until each gets no answer; every command sent.
pub async fn run(http: &Http, users: &Arc<Vec<UserId>>, clients: Vec<Client>) -> Vec<Sent> {
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(one(http.clone(), Arc::clone(users), client)))
        .collect();
    let mut sent = Vec::new();
    for task in tasks {
        sent.extend(task.await.expect("a client task does not panic"));
    }
    sent
}

async fn one(http: Http, users: Arc<Vec<UserId>>, mut c: Client) -> Vec<Sent> {
    let mut sent = Vec::new();
    for n in 0.. {
        let op = choose(&mut c, &users, n);
        let key = new_key(&mut c.rng);
        let outcome = match http.command(&op, key).await {
            Answer::Done(body) => acked(&body),
            Answer::Refused(status, code) => Outcome::Refused(status, code),
            Answer::Unknown(why) => Outcome::Unknown(why),
            Answer::ServerError {
                status,
                retry_after,
                body,
            } => Outcome::Unknown(format!("{status} (Retry-After {retry_after:?}) {body}")),
        };
        note(&mut c, &op, &outcome);
        // Without an answer the server is gone (killed): this client's round is over. A
        // 503 is answered, so the client goes on until the kill.
        let gone = matches!(&outcome, Outcome::Unknown(why) if why.starts_with("no answer"));
        sent.push(Sent { key, op, outcome });
        if gone {
            break;
        }
    }
    sent
}

/// A new `Idempotency-Key` from the client's random source.
pub fn new_key(rng: &mut Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.u128(..).to_le_bytes()).into_uuid()
}

/// The outcome of a 2xx answer: its positions.
pub fn acked(body: &serde_json::Value) -> Outcome {
    let first = body["positions"]["first"].as_u64();
    let last = body["positions"]["last"].as_u64();
    Outcome::Acked(first.zip(last))
}

/// Keeps the client's resources current: an acknowledged transfer moved them, an
/// acknowledged registration added some.
pub fn note(c: &mut Client, op: &Op, outcome: &Outcome) {
    if let (Outcome::Acked(_), Op::Transfer { to, resources, .. }) = (outcome, op) {
        for (key, owner) in &mut c.held {
            if resources.contains(key) {
                *owner = *to;
            }
        }
    }
    if let (Outcome::Acked(_), Op::Register { owner, resources }) = (outcome, op) {
        c.held.extend(resources.iter().map(|k| (k.clone(), *owner)));
    }
}

/// The next command: mostly resource transfers, some registrations and credit moves.
pub fn choose(c: &mut Client, users: &[UserId], n: u64) -> Op {
    let user = |rng: &mut Rng| users[rng.usize(..users.len())];
    let roll = c.rng.u32(0..100);
    match roll {
        0..=44 if !c.held.is_empty() => {
            let (first, from) = c.held[c.rng.usize(..c.held.len())].clone();
            let mut resources = vec![first];
            // Sometimes a second resource of the same owner: a command moving several.
            let (second, owner) = &c.held[c.rng.usize(..c.held.len())];
            if owner == &from && !resources.contains(second) {
                resources.push(second.clone());
            }
            let mut to = user(&mut c.rng);
            while to == from {
                to = user(&mut c.rng);
            }
            Op::Transfer {
                from,
                to,
                resources,
            }
        }
        0..=54 => Op::Register {
            owner: user(&mut c.rng),
            resources: (0..c.rng.usize(1..=3))
                .map(|i| format!("task:{}-{n}-{i}", c.tag))
                .collect(),
        },
        55..=59 => Op::AddToPool {
            amount: c.rng.u64(1..=100),
        },
        60..=69 => Op::Grant {
            user: user(&mut c.rng),
            amount: c.rng.u64(1..=20),
        },
        70..=84 => Op::Use {
            user: user(&mut c.rng),
            amount: c.rng.u64(1..=10),
        },
        _ => {
            let from = CreditAccount::User {
                id: user(&mut c.rng),
            };
            let to = match c.rng.bool() {
                true => CreditAccount::Pool,
                false => CreditAccount::User {
                    id: user(&mut c.rng),
                },
            };
            Op::MoveCredits {
                from,
                to,
                amount: c.rng.u64(1..=10),
            }
        }
    }
}
