//! Changing and removing groups (`UpdateGroup` → `GroupChanged`, `DeleteGroup` →
//! `UserLeftGroup` per member and `ResourcesRetired`): the key stays, names and
//! external ids are unique among groups, only the group's owner or an admin may, and a
//! removed group keeps its history and may be created again.

use offboard::domain::Command;
use offboard_events::*;

use super::gwt::{key, user_actor, Scenario};

/// Given: `group` owned by `owner`, with `members`.
fn group(s: &mut Scenario, name: &str, owner: UserId, members: &[UserId]) {
    let by = user_actor(s.owner);
    s.run(
        by.clone(),
        Command::CreateGroup {
            name: name.into(),
            owner,
        },
    );
    for m in members {
        s.run(
            by.clone(),
            Command::JoinGroup {
                group: name.into(),
                user: *m,
            },
        );
    }
}

fn update(group: &str, name: Option<&str>, external_id: Option<&str>) -> Command {
    Command::UpdateGroup {
        group: group.into(),
        name: name.map(str::to_owned),
        external_id: external_id.map(str::to_owned),
    }
}

#[test]
fn a_group_is_renamed_and_given_an_external_id_and_its_key_stays() {
    // Given the group east, owned by the manager Sam
    let mut s = Scenario::new("Acme");
    let sam = s.hire("sam@acme.example", Role::Manager);
    group(&mut s, "east", sam, &[]);
    // When Sam shows it as "East region" with the identity provider's id
    let events = s.run(
        user_actor(sam),
        update("east", Some(" East region "), Some("8aa1a0c0")),
    );
    // Then one GroupChanged, in Sam's stream, says what it now is
    assert_eq!(
        events,
        vec![Event::GroupChanged(GroupChanged {
            group: key("group:east"),
            owner: sam,
            name: "East region".into(),
            external_id: Some("8aa1a0c0".into()),
        })]
    );
    let directory = s.org_state().directory();
    let shown = directory.group(&key("group:east")).unwrap();
    assert_eq!(shown.name, "East region");
    assert!(shown.modified_at >= shown.created_at);
    // And members still join it by its key
    let pat = s.hire("pat@acme.example", Role::Member);
    s.run(
        user_actor(s.owner),
        Command::JoinGroup {
            group: "east".into(),
            user: pat,
        },
    );
    // And a blank external id clears it, the name stays
    s.run(user_actor(sam), update("east", None, Some(" ")));
    let shown = s
        .org_state()
        .directory()
        .group(&key("group:east"))
        .unwrap()
        .clone();
    assert_eq!(
        (shown.name.as_str(), shown.external_id),
        ("East region", None)
    );
}

#[test]
fn names_and_external_ids_are_unique_and_only_the_owner_or_an_admin_changes_a_group() {
    // Given groups east (Sam's, id x-1) and west (the owner's), and Ann, another manager
    let mut s = Scenario::new("Acme");
    let sam = s.hire("sam@acme.example", Role::Manager);
    let ann = s.hire("ann@acme.example", Role::Manager);
    let owner = s.owner;
    group(&mut s, "east", sam, &[]);
    group(&mut s, "west", owner, &[]);
    s.run(user_actor(sam), update("east", None, Some("x-1")));
    // When west takes east's name (another case) or external id: refused
    s.when(user_actor(owner), update("west", Some("EAST"), None))
        .then_error("already_exists");
    s.when(user_actor(owner), update("west", None, Some("x-1")))
        .then_error("external_id_taken");
    // When nothing changes: refused
    s.when(user_actor(sam), update("east", Some("east"), None))
        .then_error("invalid_state");
    // When Ann, a manager who does not own east, changes or removes it: refused
    s.when(user_actor(ann), update("east", Some("Mine"), None))
        .then_error("forbidden");
    s.when(
        user_actor(ann),
        Command::DeleteGroup {
            group: "east".into(),
        },
    )
    .then_error("forbidden");
    // And a group that does not exist is not found
    s.when(user_actor(owner), update("north", Some("North"), None))
        .then_error("not_found");
}

#[test]
fn removing_a_group_takes_every_member_out_retires_it_and_it_may_come_back() {
    // Given east with Pat and Lee, Lee deleted since (a restore must not bring east back)
    let mut s = Scenario::new("Acme");
    let pat = s.hire("pat@acme.example", Role::Member);
    let lee = s.hire("lee@acme.example", Role::Member);
    let owner = s.owner;
    group(&mut s, "east", owner, &[pat, lee]);
    s.run(
        user_actor(owner),
        Command::DeleteUser {
            user: lee,
            confirm: "CONFIRM".into(),
        },
    );
    // When the owner removes east
    let events = s.run(
        user_actor(owner),
        Command::DeleteGroup {
            group: "east".into(),
        },
    );
    // Then each member leaves it (in id order), then it is retired as removed
    let east = key("group:east");
    let mut leavers = vec![pat, lee];
    leavers.sort();
    let mut expected: Vec<Event> = leavers
        .into_iter()
        .map(|user_id| {
            Event::UserLeftGroup(UserLeftGroup {
                user_id,
                group: east.clone(),
            })
        })
        .collect();
    expected.push(Event::ResourcesRetired(ResourcesRetired {
        owner,
        resources: vec![east.clone()],
        reason: RetireReason::Removed,
    }));
    assert_eq!(events, expected);
    // And the group is gone: owned by nobody, no members, not in the directory
    assert_eq!(s.owner_of("group:east"), None);
    let directory = s.org_state().directory();
    assert!(directory.group(&east).is_none());
    assert_eq!(directory.group_members(&east).count(), 0);
    assert!(directory.user(lee).unwrap().groups.is_empty());
    // And its ownership history ends with the retirement
    let history = s.org_state().ownership().history(&east);
    assert_eq!(history.last().map(|(_, owner)| *owner), Some(None));
    // And a group of that name may be created again, with its key name as its name
    group(&mut s, "east", owner, &[]);
    let again = s.org_state().directory().group(&east).unwrap().clone();
    assert_eq!((again.name.as_str(), again.external_id), ("east", None));
}
