//! A big org: 1,000 users owning 1,000,000 resources, one of them 100,000 buyers. Times
//! TransferAllBuyers of that user until durable, its revert, the offboarding that
//! deletes the user, and the restore with ownership returned; peak memory; and the
//! auditor's point queries (owner as of a time, a user's history).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tokio::task::JoinSet;

use super::fixture::{keys, Fixture, CHUNK};
use super::place::Place;
use super::{fail, figure, quantile, rss, BenchConfig, BenchError, Figure};
use crate::domain::{Command, OffboardPlan, Recipients, Strategy};
use crate::engine::Options;
use offboard_events::ResourceKey;

/// A small deterministic generator (xorshift64*), so runs pick the same samples.
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

pub async fn run(config: &BenchConfig, place: &Place) -> Result<Vec<Figure>, BenchError> {
    rss::reset_peak();
    let users = config.scaled(1_000, 8) as usize;
    let total = config.scaled(1_000_000, 2_000);
    let buyers = config.scaled(100_000, 200);
    let scenario = format!("bulk: {buyers} buyers of {total}");
    let fx = Arc::new(Fixture::new(place.open("bulk", Options::default())?, users).await?);
    let (leaver, colleagues) = (fx.users[0], fx.users[1..4].to_vec());

    // Load: the leaver's buyers, the rest spread over everyone else in three kinds.
    let mut loads: Vec<(offboard_events::UserId, Vec<ResourceKey>)> = Vec::new();
    for chunk in keys("buyer", "L", 0..buyers).chunks(CHUNK) {
        loads.push((leaver, chunk.to_vec()));
    }
    let others = &fx.users[1..];
    let per_user = (total - buyers) / others.len() as u64;
    for (i, user) in others.iter().enumerate() {
        let kind = ["buyer", "lead", "deal"][i % 3];
        loads.push((*user, keys(kind, &format!("u{i}"), 0..per_user)));
    }
    let mut tasks = JoinSet::new();
    for (owner, resources) in loads {
        let fx = Arc::clone(&fx);
        tasks.spawn(async move {
            fx.run(Command::RegisterResources { owner, resources })
                .await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(fail)??;
    }
    let loaded_at = Utc::now();

    let timed = |started: Instant| started.elapsed().as_secs_f64();
    let started = Instant::now();
    let transfer = fx
        .run(Command::TransferAll {
            from: leaver,
            kind: "buyer".into(),
            to: colleagues.clone(),
            strategy: Strategy::RoundRobin,
        })
        .await?;
    let transfer_s = timed(started);

    let started = Instant::now();
    fx.run(Command::RevertOffboarding {
        correlation_id: transfer.correlation_id,
    })
    .await?;
    let revert_s = timed(started);

    let plan = OffboardPlan {
        resources: BTreeMap::from([(
            "buyer".to_owned(),
            Recipients {
                to: colleagues.clone(),
                strategy: Strategy::Even,
            },
        )]),
        default_to: Some(colleagues[0]),
        ..OffboardPlan::default()
    };
    let delete_s = fx.offboard_and_delete(leaver, plan).await?;
    let restore_s = fx.restore_with_ownership(leaver).await?;
    let owned_back = fx
        .engine
        .state()
        .org(fx.org)
        .map_or(0, |o| o.ownership().total_owned(leaver));
    if owned_back != buyers {
        return Err(fail(format!(
            "restore returned {owned_back} of {buyers} buyers"
        )));
    }
    let peak = rss::peak_mib().unwrap_or(0.0);

    // Point queries an auditor makes.
    let mut dice = Dice::new(17);
    let now = Utc::now();
    let span = (now - loaded_at).num_milliseconds().max(1) as u64;
    let mut owner_at = Vec::new();
    for _ in 0..10_000 {
        let key = if dice.below(2) == 0 {
            ResourceKey::new("buyer", &format!("L-{}", dice.below(buyers))).expect("a valid key")
        } else {
            let i = dice.below(others.len() as u64) as usize;
            ResourceKey::new(
                ["buyer", "lead", "deal"][i % 3],
                &format!("u{i}-{}", dice.below(per_user.max(1))),
            )
            .expect("a valid key")
        };
        let at = loaded_at + chrono::Duration::milliseconds(dice.below(span) as i64);
        let started = Instant::now();
        let owner = fx
            .engine
            .state()
            .org(fx.org)
            .and_then(|o| o.owner_at_time(&key, at));
        owner_at.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(owner);
    }
    let mut history = Vec::new();
    for _ in 0..300 {
        let user = fx.users[dice.below(fx.users.len() as u64) as usize];
        let started = Instant::now();
        let events = fx.engine.user_history(fx.org, user).map_err(fail)?;
        history.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(events);
    }
    let owner_p99 = quantile(&mut owner_at, 0.99);
    let history_p99 = quantile(&mut history, 0.99);

    Ok(vec![
        figure(
            &scenario,
            "TransferAllBuyers until durable",
            transfer_s,
            "s",
            "<= 1 s",
            Some(transfer_s <= 1.0),
        ),
        figure(
            &scenario,
            "revert of that transfer",
            revert_s,
            "s",
            "",
            None,
        ),
        figure(
            &scenario,
            "offboard + delete of the user",
            delete_s,
            "s",
            "",
            None,
        ),
        figure(
            &scenario,
            "restore with return_ownership",
            restore_s,
            "s",
            "<= 1 s",
            Some(restore_s <= 1.0),
        ),
        figure(
            &scenario,
            "peak RSS",
            peak,
            "MiB",
            "<= 300 MB",
            Some(peak * 1.048_576 <= 300.0),
        ),
        figure(
            &scenario,
            "owner as of T, p99",
            owner_p99,
            "ms",
            "<= 1 ms",
            Some(owner_p99 <= 1.0),
        ),
        figure(
            &scenario,
            "a user's history, p99",
            history_p99,
            "ms",
            "<= 10 ms",
            Some(history_p99 <= 10.0),
        ),
    ])
}
