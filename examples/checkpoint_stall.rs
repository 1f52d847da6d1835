//! What a periodic checkpoint costs the commands around it: loads a log of N events
//! (default 1,000,000) into a temporary data directory, then 64 clients each append
//! 1,000 one-event commands, crossing the writer's next checkpoint. Prints throughput
//! and ack latencies; the slowest answer shows any stall.
//!
//! `cargo run --release --example checkpoint_stall [-- EVENTS]`

use std::sync::Arc;
use std::time::Instant;

use offboard::{AppendRequest, CommandMeta, Engine};
use offboard_events::{
    Actor, Event, Handover, OrgId, OrganizationCreated, ResourceKey, ResourcesRegistered,
    ResourcesTransferred, TransferReason, UserId,
};
use uuid::Uuid;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USERS: usize = 1_000;
const CLIENTS: usize = 64;
const PER_CLIENT: usize = 1_000;

fn transfer(from: UserId, to: UserId, key: &ResourceKey) -> Event {
    ResourcesTransferred {
        from,
        handovers: vec![Handover {
            to,
            resources: vec![key.clone()],
        }],
        reason: TransferReason::Selected,
    }
    .into()
}

#[tokio::main]
async fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("EVENTS is a number"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = Arc::new(Engine::open(dir.path()).expect("the engine opens"));
    let org = OrgId(Uuid::new_v4());
    let users: Vec<UserId> = (0..USERS).map(|_| UserId(Uuid::new_v4())).collect();
    let meta = || CommandMeta::new(org, Actor::System);
    let append = |events: Vec<Event>| AppendRequest {
        meta: meta(),
        expected: Vec::new(),
        events,
    };
    let keys: Vec<ResourceKey> = (0..100 * USERS)
        .map(|i| format!("task:r{i}").parse().expect("a valid key"))
        .collect();
    let mut owners: Vec<usize> = (0..keys.len()).map(|i| i % USERS).collect();
    let mut setup = vec![Event::from(OrganizationCreated {
        name: "Stall".to_owned(),
        owner: users[0],
    })];
    for (u, user) in users.iter().enumerate() {
        setup.push(
            ResourcesRegistered {
                owner: *user,
                resources: keys.iter().skip(u).step_by(USERS).cloned().collect(),
            }
            .into(),
        );
    }
    engine.append(append(setup)).await.expect("set-up appends");
    let started = Instant::now();
    let mut n = 0usize;
    while engine.last_position() < events {
        let batch = (0..1_000)
            .map(|_| {
                n += 1;
                let r = (n * 7_919) % keys.len();
                let (from, to) = (owners[r], (owners[r] + 1 + n % 7) % USERS);
                owners[r] = to;
                transfer(users[from], users[to], &keys[r])
            })
            .collect();
        engine.append(append(batch)).await.expect("loading appends");
    }
    println!(
        "loaded {} events in {:.1} s",
        engine.last_position(),
        started.elapsed().as_secs_f64()
    );

    let (keys, users, owners) = (Arc::new(keys), Arc::new(users), Arc::new(owners));
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (engine, keys, users, owners) = (
            Arc::clone(&engine),
            Arc::clone(&keys),
            Arc::clone(&users),
            Arc::clone(&owners),
        );
        clients.spawn(async move {
            let mut latencies = Vec::with_capacity(PER_CLIENT);
            for i in 0..PER_CLIENT {
                let r = c * PER_CLIENT + i;
                let event = transfer(users[owners[r]], users[c], &keys[r]);
                let request = AppendRequest {
                    meta: CommandMeta::new(org, Actor::System),
                    expected: Vec::new(),
                    events: vec![event],
                };
                let sent = Instant::now();
                engine.append(request).await.expect("an append");
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = clients.join_next().await {
        latencies.extend(done.expect("a client"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{} commands in {elapsed:.2} s = {:.0}/s; ack p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.1} ms, slowest {:.1} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.5),
        at(0.99),
        at(0.999),
        latencies[latencies.len() - 1]
    );
}
