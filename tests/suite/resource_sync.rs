//! Issue 17 §2 rules, Given/When/Then: retiring resources by hand (`RetireResources`)
//! and one batch of a sync (`SyncResources`). A retired resource keeps its history, owns
//! nothing, blocks nothing and may be registered again; a sync batch registers, moves
//! with reason `sync` and retires, and decided again writes nothing; a restore skips
//! what was retired meanwhile and says so.

use std::collections::BTreeMap;

use offboard::domain::{Command, Holding, OffboardPlan, Recipients, Strategy};
use offboard_events::*;

use super::gwt::{key, keys, user_actor, Scenario};

fn retire(resources: Vec<ResourceKey>) -> Command {
    Command::RetireResources { resources }
}

fn batch(owners: Vec<(UserId, Vec<ResourceKey>)>, retire: Vec<ResourceKey>) -> Command {
    let owners = owners
        .into_iter()
        .map(|(owner, resources)| Holding { owner, resources })
        .collect();
    Command::SyncResources {
        owners,
        retire,
        roles: Vec::new(),
    }
}

/// Given: Pat owns buyers 0–2, Ann and Bob own nothing.
fn shop() -> (Scenario, UserId, UserId, UserId) {
    let mut s = Scenario::new("Shop");
    let pat = s.hire("pat@shop.example", Role::Member);
    let ann = s.hire("ann@shop.example", Role::Member);
    let bob = s.hire("bob@shop.example", Role::Member);
    s.own(pat, keys("buyer", 0..3));
    (s, pat, ann, bob)
}

#[test]
fn a_removed_resource_keeps_its_history_owns_nothing_blocks_nothing_and_can_come_back() {
    let (mut s, pat, ann, _) = shop();
    let owner = user_actor(s.owner);
    s.when(owner.clone(), retire(keys("buyer", 0..3)))
        .then_events(vec![ResourcesRetired {
            owner: pat,
            resources: keys("buyer", 0..3),
            reason: RetireReason::Removed,
        }
        .into()]);
    s.run(owner.clone(), retire(keys("buyer", 0..3)));
    assert_eq!(s.owner_of("buyer:00000"), None);
    assert_eq!(s.org_state().ownership().total_owned(pat), 0);
    assert_eq!(s.org_state().ownership().len(), 0);
    let history = s.org_state().owner_history(&key("buyer:00000"));
    assert_eq!(
        history.iter().map(|c| c.owner).collect::<Vec<_>>(),
        vec![Some(pat), None]
    );
    // Blocks nothing: Pat can be deleted.
    s.run(
        owner.clone(),
        Command::DeleteUser {
            user: pat,
            confirm: "CONFIRM".into(),
        },
    );
    // And can be registered again, to someone else.
    s.own(ann, vec![key("buyer:00000")]);
    assert_eq!(s.owner_of("buyer:00000"), Some(ann));
}

#[test]
fn remove_refuses_unknown_or_retired_records_groups_repeats_and_strangers() {
    let (mut s, pat, ann, _) = shop();
    let owner = user_actor(s.owner);
    s.when(owner.clone(), retire(vec![key("buyer:nope")]))
        .then_error("not_found");
    s.when(owner.clone(), retire(vec![key("group:east")]))
        .then_error("invalid_input");
    s.when(owner.clone(), retire(vec![key("buyer:00000"); 2]))
        .then_error("invalid_input");
    s.when(owner.clone(), retire(vec![]))
        .then_error("invalid_input");
    s.when(user_actor(ann), retire(vec![key("buyer:00000")]))
        .then_error("forbidden");
    // Pat may retire Pat's own.
    s.run(user_actor(pat), retire(vec![key("buyer:00000")]));
    s.when(owner, retire(vec![key("buyer:00000")]))
        .then_error("not_found");
}

#[test]
fn a_sync_batch_registers_moves_with_reason_sync_and_retires_then_writes_nothing_again() {
    let (mut s, pat, ann, bob) = shop();
    let owner = user_actor(s.owner);
    let command = batch(
        vec![
            (pat, vec![key("buyer:00000")]),
            (ann, vec![key("buyer:00001"), key("buyer:00009")]),
        ],
        vec![key("buyer:00002"), key("buyer:00042")],
    );
    s.when(owner.clone(), command.clone()).then_events(vec![
        ResourcesRegistered {
            owner: ann,
            resources: vec![key("buyer:00009")],
        }
        .into(),
        ResourcesTransferred {
            from: pat,
            handovers: vec![Handover {
                to: ann,
                resources: vec![key("buyer:00001")],
            }],
            reason: TransferReason::Sync,
        }
        .into(),
        ResourcesRetired {
            owner: pat,
            resources: vec![key("buyer:00002")],
            reason: RetireReason::Sync,
        }
        .into(),
    ]);
    s.run(owner.clone(), command.clone());
    s.when(owner.clone(), command).then_events(vec![]);
    // A retired record listed again is registered again.
    s.when(owner, batch(vec![(bob, vec![key("buyer:00002")])], vec![]))
        .then_events(vec![ResourcesRegistered {
            owner: bob,
            resources: vec![key("buyer:00002")],
        }
        .into()]);
}

#[test]
fn a_sync_batch_needs_an_admin_and_an_active_new_owner() {
    let (mut s, pat, ann, bob) = shop();
    let owner = user_actor(s.owner);
    let admin = s.hire("ada@shop.example", Role::Admin);
    let move_to_bob = batch(vec![(bob, vec![key("buyer:00000")])], vec![]);
    s.when(user_actor(pat), move_to_bob.clone())
        .then_error("forbidden");
    s.run(owner.clone(), Command::DeactivateUser { user: bob });
    s.when(user_actor(admin), move_to_bob)
        .then_error("invalid_input");
    s.when(owner, batch(vec![(ann, vec![key("group:x")])], vec![]))
        .then_error("invalid_input");
}

#[test]
fn a_restore_skips_what_was_retired_meanwhile_and_reports_it() {
    let (mut s, pat, ann, _) = shop();
    let owner = user_actor(s.owner);
    let plan = OffboardPlan {
        resources: BTreeMap::from([(
            "buyer".to_owned(),
            Recipients {
                to: vec![ann],
                strategy: Strategy::RoundRobin,
            },
        )]),
        ..OffboardPlan::default()
    };
    s.run(
        owner.clone(),
        Command::Offboard {
            user: pat,
            plan,
            then: FollowUp::Delete,
            confirm: Some("CONFIRM".into()),
        },
    );
    // The CRM closed one of the records meanwhile.
    s.run(owner.clone(), batch(vec![], vec![key("buyer:00001")]));
    let events = s.run(
        owner,
        Command::RestoreUser {
            user: pat,
            return_ownership: true,
            new_email: None,
            reactivate: true,
        },
    );
    let Some(Event::OffboardingReverted(reverted)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(reverted.returned, 2);
    assert_eq!(reverted.skipped.len(), 1);
    assert_eq!(reverted.skipped[0].item, "buyer:00001");
    assert!(
        reverted.skipped[0].reason.contains("retired"),
        "{reverted:?}"
    );
    assert_eq!(s.owner_of("buyer:00000"), Some(pat));
    assert_eq!(s.owner_of("buyer:00001"), None);
}
