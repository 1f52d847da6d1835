//! Manager chains: a new manager may not close a loop, and the loop check costs nothing
//! for a user who manages nobody (a directory import sets the managers of thousands of
//! new users down deep chains in one command).

use offboard::domain::Command;
use offboard_events::{Role, UserId};

use super::gwt::{user_actor, Scenario};

/// Given: a chain of `n` members, each managed by the one before (`chain[0]` by nobody).
fn chain(n: usize) -> (Scenario, Vec<UserId>) {
    let mut s = Scenario::new("Chain");
    let owner = user_actor(s.owner);
    let mut users: Vec<UserId> = Vec::with_capacity(n);
    for i in 0..n {
        let user = s.hire(&format!("u{i}@chain.example"), Role::Member);
        if let Some(&above) = users.last() {
            let manager = Some(above);
            s.run(owner.clone(), Command::SetManager { user, manager });
        }
        users.push(user);
    }
    (s, users)
}

#[test]
fn a_manager_below_the_user_in_the_chain_is_refused() {
    // Given u0 ← u1 ← … ← u4 (u4 at the bottom).
    let (mut s, users) = chain(5);
    let owner = user_actor(s.owner);
    // When u0 (who heads the chain) is to be managed by u4, Then: a loop, refused.
    let e = s
        .when(
            owner,
            Command::SetManager {
                user: users[0],
                manager: Some(users[4]),
            },
        )
        .then_error("invalid_input");
    assert!(e.to_string().contains("manage their own manager"), "{e}");
}

#[test]
fn a_user_who_manages_nobody_may_join_the_bottom_of_any_chain() {
    // Given a chain of 200 and a new hire who manages nobody.
    let (mut s, users) = chain(200);
    let new = s.hire("new@chain.example", Role::Member);
    let owner = user_actor(s.owner);
    // When the new hire is put under the bottom of the chain, Then: one change.
    let bottom = users[199];
    let events = s
        .when(
            owner,
            Command::SetManager {
                user: new,
                manager: Some(bottom),
            },
        )
        .events();
    assert_eq!(events.len(), 1, "{events:?}");
}
