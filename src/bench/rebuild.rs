//! A log of 1,000,000 events: rebuilding every projection from position 1, against the
//! bound "scan sled and deserialize the envelopes, nothing else"; then start-up with a
//! checkpoint until the first query is answered.

use std::sync::Arc;
use std::time::Instant;

use offboard_events::{
    Actor, Event, Handover, ResourcesTransferred, TransferReason, UserManagerChanged,
};

use super::bulk::Dice;
use super::fixture::{keys, Fixture};
use super::place::Place;
use super::{fail, figure, BenchConfig, BenchError, Figure};
use crate::engine::decode;
use crate::engine::Options;
use crate::{AppendRequest, CommandMeta};

/// Events per append while loading.
const PER_APPEND: u64 = 1_000;

pub async fn run(config: &BenchConfig, place: &Place) -> Result<Vec<Figure>, BenchError> {
    let target = config.scaled(1_000_000, 5_000);
    let scenario = format!("{target} events");
    let fx = Fixture::new(
        place.open("rebuild", Options::default())?,
        config.scaled(1_000, 10) as usize,
    )
    .await?;
    let resources = keys("task", "r", 0..config.scaled(100_000, 1_000));
    let mut owners: Vec<usize> = (0..resources.len()).map(|i| i % fx.users.len()).collect();
    // One pass to group the resources by first owner (not one pass per user).
    let mut holdings = vec![Vec::new(); fx.users.len()];
    for (key, owner) in resources.iter().zip(&owners) {
        holdings[*owner].push(key.clone());
    }
    for (user, mine) in fx.users.iter().zip(holdings) {
        fx.register(*user, mine).await?;
    }

    // Plausible traffic: single-resource moves between users, and manager changes.
    let mut dice = Dice::new(7);
    while fx.engine.last_position() < target {
        let mut events = Vec::with_capacity(PER_APPEND as usize);
        for _ in 0..PER_APPEND {
            let to = dice.below(fx.users.len() as u64) as usize;
            if dice.below(10) < 7 {
                let r = dice.below(resources.len() as u64) as usize;
                let from = owners[r];
                if from == to {
                    continue;
                }
                owners[r] = to;
                events.push(Event::from(ResourcesTransferred {
                    from: fx.users[from],
                    handovers: vec![Handover {
                        to: fx.users[to],
                        resources: vec![resources[r].clone()],
                    }],
                    reason: TransferReason::Selected,
                }));
            } else {
                let user = fx.users[dice.below(fx.users.len() as u64) as usize];
                events.push(
                    UserManagerChanged {
                        user_id: user,
                        from: None,
                        to: Some(fx.users[to]),
                    }
                    .into(),
                );
            }
        }
        let meta = CommandMeta::new(fx.org, Actor::User { id: fx.owner });
        fx.engine
            .append(AppendRequest {
                meta,
                expected: Vec::new(),
                events,
            })
            .await
            .map_err(fail)?;
    }
    let events = fx.engine.last_position();
    // The writer's periodic checkpoint of the state just loaded may still be saving on
    // its own thread: let it finish (and save the rest) before anything is timed, so
    // the bound and the rebuild both run on an otherwise idle engine.
    fx.engine.checkpoint_now().map_err(fail)?;

    // The bound: read and decode every envelope, nothing else.
    let started = Instant::now();
    let mut decoded = 0u64;
    let mut failure = None;
    fx.engine
        .store()
        .scan(
            1,
            u64::MAX,
            &mut |position, bytes| match decode(fx.engine.vault(), position, bytes) {
                Ok(envelope) => {
                    decoded += 1;
                    std::hint::black_box(envelope);
                    true
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            },
        )
        .map_err(fail)?;
    if let Some(e) = failure {
        return Err(fail(e));
    }
    let bound = decoded as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let rebuilt = fx.engine.rebuild_projections(&mut |_| {}).map_err(fail)?;
    let rebuild = rebuilt as f64 / started.elapsed().as_secs_f64();
    // Issue 7's figure for sled; issue 21 §4's for PostgreSQL (events cross the network).
    let (target, floor) = match place.postgres_url("rebuild") {
        None => (">= 1000000 ev/s", 1_000_000.0),
        Some(_) => (">= 300000 ev/s", 300_000.0),
    };
    let ratio = rebuild / bound;
    let started = Instant::now();
    fx.engine.checkpoint_now().map_err(fail)?;
    let checkpoint = started.elapsed().as_secs_f64();

    // Start-up: a clean shutdown leaves a checkpoint at the end of the log.
    let Fixture { engine, org, .. } = fx;
    drop(Arc::try_unwrap(engine).map_err(|_| fail("engine still shared"))?);
    let started = Instant::now();
    let reopened = place.reopen("rebuild", Options::default())?;
    let found = reopened.state().org(org).and_then(|o| {
        o.directory()
            .user_by_email("u1@bench.example")
            .map(|u| u.id)
    });
    let startup = started.elapsed().as_secs_f64();
    if found.is_none() {
        return Err(fail("first query after start-up found nothing"));
    }
    let replayed = reopened.recovery().replayed as f64;

    Ok(vec![
        figure(&scenario, "log size", events as f64, "events", "", None),
        figure(
            &scenario,
            "bound: scan + deserialize",
            bound,
            "ev/s",
            "",
            None,
        ),
        figure(
            &scenario,
            "rebuild all projections",
            rebuild,
            "ev/s",
            target,
            Some(rebuild >= floor),
        ),
        figure(
            &scenario,
            "rebuild / bound",
            ratio,
            "x",
            ">= 0.6x",
            Some(ratio >= 0.6),
        ),
        figure(
            &scenario,
            "checkpoint save (encrypted)",
            checkpoint,
            "s",
            "",
            None,
        ),
        figure(
            &scenario,
            "start-up to first query",
            startup,
            "s",
            "<= 0.5 s",
            Some(startup <= 0.5),
        ),
        figure(
            &scenario,
            "events replayed at start-up",
            replayed,
            "events",
            "",
            None,
        ),
    ])
}
