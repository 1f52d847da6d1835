//! Record roles at scale (issue 20 §2): a user holding 100,000 records in three roles
//! (servicing specialist, watcher — multi-holder — and subscriber), on records other
//! users own, is offboarded in one command (each role to its own colleague, then
//! deleted) and restored with everything returned. Times each until durable.

use std::collections::BTreeMap;

use super::fixture::{keys, Fixture, CHUNK};
use super::place::Place;
use super::{fail, figure, BenchConfig, BenchError, Figure};
use crate::domain::{Command, OffboardPlan, Recipients, Strategy};
use crate::engine::Options;

const ROLES: [&str; 3] = ["servicing_specialist", "watcher", "subscriber"];

pub async fn run(config: &BenchConfig, place: &Place) -> Result<Vec<Figure>, BenchError> {
    let users = config.scaled(1_000, 8) as usize;
    let records = config.scaled(100_000, 200);
    let scenario = format!("roles: {records} records in 3 roles");
    let fx = Fixture::new(place.open("roles", Options::default())?, users).await?;
    let (leaver, heirs) = (fx.users[0], &fx.users[1..4]);

    // The records belong to the other users; the leaver holds all three roles on each.
    let deals = keys("deal", "R", 0..records);
    let owners = &fx.users[1..];
    for (i, chunk) in deals.chunks(CHUNK).enumerate() {
        fx.register(owners[i % owners.len()], chunk.to_vec())
            .await?;
    }
    fx.run(Command::DeclareRecordRole {
        role: "watcher".into(),
        multi: true,
    })
    .await?;
    for role in ROLES {
        for chunk in deals.chunks(CHUNK) {
            fx.run(Command::SetRecordRole {
                role: role.into(),
                user: leaver,
                resources: chunk.to_vec(),
            })
            .await?;
        }
    }

    let plan = OffboardPlan {
        roles: ROLES
            .iter()
            .zip(heirs)
            .map(|(role, heir)| {
                let to = vec![*heir];
                let strategy = Strategy::RoundRobin;
                ((*role).to_owned(), Recipients { to, strategy })
            })
            .collect::<BTreeMap<_, _>>(),
        ..OffboardPlan::default()
    };
    let offboard_s = fx.offboard_and_delete(leaver, plan).await?;
    held(&fx, leaver, 0)?;
    let restore_s = fx.restore_with_ownership(leaver).await?;
    held(&fx, leaver, 3 * records)?;

    Ok(vec![
        figure(
            &scenario,
            "offboard (3 roles handed over) + delete",
            offboard_s,
            "s",
            "<= 1 s",
            Some(offboard_s <= 1.0),
        ),
        figure(
            &scenario,
            "restore with return_ownership",
            restore_s,
            "s",
            "",
            None,
        ),
    ])
}

/// Fails the bench unless `user` holds `expected` (record, role) pairs.
fn held(fx: &Fixture, user: offboard_events::UserId, expected: u64) -> Result<(), BenchError> {
    let state = fx.engine.state();
    let org = state.org(fx.org).ok_or_else(|| fail("org missing"))?;
    let n: u64 = org.record_roles().counts_of(user).values().sum();
    match n == expected {
        true => Ok(()),
        false => Err(fail(format!("{user} holds {n} roles, expected {expected}"))),
    }
}
