//! Provisioners and deprovisioning (issue 17): an identity provider's principal invites,
//! updates, deactivates and deprovisions members and managers, never the owner or an
//! admin; deprovisioning runs the org's policy as one command and never leaves the
//! leaver able to sign in.

use offboard::domain::{Command, NewUser, PolicyChange};
use offboard_events::*;

use super::gwt::{keys, user_actor, Scenario};

fn okta() -> Actor {
    Actor::Provisioner {
        name: "okta".into(),
    }
}

/// Given: an org served by the provisioner `okta`, with Sam (manager) managing Pat
/// (member); Pat owns three buyers, is the dealer trade contact, shares a rotation
/// with Ann, manages Zed and holds 5 credits.
fn org() -> (Scenario, UserId, UserId, UserId) {
    let mut s = Scenario::new("Acme");
    let owner = user_actor(s.owner);
    s.run(
        owner.clone(),
        Command::RegisterPrincipal {
            kind: PrincipalKind::Provisioner,
            name: "okta".into(),
        },
    );
    let sam = s.hire("sam@acme.example", Role::Manager);
    let pat = s.hire("pat@acme.example", Role::Member);
    let ann = s.hire("ann@acme.example", Role::Member);
    let zed = s.hire("zed@acme.example", Role::Member);
    for (user, manager) in [(pat, sam), (zed, pat)] {
        s.run(
            owner.clone(),
            Command::SetManager {
                user,
                manager: Some(manager),
            },
        );
    }
    s.own(pat, keys("buyer", 0..3));
    for command in [
        Command::AssignDuty {
            duty: "dealer_trade_contact".into(),
            to: pat,
        },
        Command::CreateDistribution {
            name: "North rotation".into(),
            kind: DistributionKind::Rotation,
            members: vec![
                Member {
                    user: pat,
                    weight: 1,
                },
                Member {
                    user: ann,
                    weight: 1,
                },
            ],
            backup: None,
        },
        Command::AddCreditsToPool { amount: 10 },
        Command::GrantCredits {
            user: pat,
            amount: 5,
        },
    ] {
        s.run(owner.clone(), command);
    }
    (s, sam, pat, ann)
}

fn set_policy(s: &mut Scenario, deprovision: Deprovision, then: FollowUp) {
    s.run(
        user_actor(s.owner),
        Command::SetPolicy(PolicyChange {
            deprovision: Some(deprovision),
            deprovision_then: Some(then),
            ..PolicyChange::default()
        }),
    );
}

#[test]
fn a_provisioner_invites_members_and_managers_but_not_admins_and_never_touches_the_owner() {
    let (mut s, sam, _, _) = org();
    let invite = |email: &str, role| Command::InviteUser {
        user: NewUser {
            email: email.into(),
            first_name: "New".into(),
            last_name: "Hire".into(),
            job_title: None,
            external_id: Some(format!("ext-{email}")),
            department: None,
            employee_number: None,
            user_name: None,
        },
        role,
        manager: Some(sam),
        active: true,
    };
    s.run(okta(), invite("mia@acme.example", Role::Manager));
    // The provisioner is the actor of what it causes.
    assert_eq!(s.log.last().unwrap().actor, okta());
    s.when(okta(), invite("ada@acme.example", Role::Admin))
        .then_error("forbidden");
    let owner = s.owner;
    s.when(okta(), Command::DeactivateUser { user: owner })
        .then_error("forbidden");
    s.when(
        okta(),
        Command::Deprovision {
            user: owner,
            deactivate_only: false,
        },
    )
    .then_error("forbidden");
    let mia = s.user("mia@acme.example");
    s.when(
        okta(),
        Command::ChangeRole {
            user: mia,
            role: Role::Admin,
        },
    )
    .then_error("forbidden");
    // Only the commands an identity provider sends.
    s.when(okta(), Command::AddCreditsToPool { amount: 1 })
        .then_error("forbidden");
}

#[test]
fn an_unregistered_provisioner_is_forbidden() {
    let (mut s, _, pat, _) = org();
    let stranger = Actor::Provisioner {
        name: "google".into(),
    };
    s.when(
        stranger,
        Command::Deprovision {
            user: pat,
            deactivate_only: false,
        },
    )
    .then_error("forbidden");
}

#[test]
fn the_default_policy_deactivates_and_moves_nothing() {
    let (mut s, _, pat, _) = org();
    let events = s.run(
        okta(),
        Command::Deprovision {
            user: pat,
            deactivate_only: false,
        },
    );
    assert_eq!(events, vec![UserDeactivated { user_id: pat }.into()]);
    assert_eq!(s.owner_of("buyer:00000"), Some(pat));
    // A second deprovisioning has nothing left to do.
    s.when(
        okta(),
        Command::Deprovision {
            user: pat,
            deactivate_only: false,
        },
    )
    .then_error("invalid_state");
}

#[test]
fn offboard_to_manager_then_delete_hands_everything_over_in_one_command() {
    // Given the policy offboard_to_manager, then delete
    let (mut s, sam, pat, ann) = org();
    set_policy(&mut s, Deprovision::OffboardToManager, FollowUp::Delete);
    let pool_before = s.org_state().credits().pool();
    // When okta deprovisions Pat
    let from = s.log.len();
    s.run(
        okta(),
        Command::Deprovision {
            user: pat,
            deactivate_only: false,
        },
    );
    let written = &s.log[from..];
    // Then one command wrote it all, as okta
    assert!(written
        .iter()
        .all(|e| e.correlation_id == written[0].correlation_id));
    assert!(written.iter().all(|e| e.actor == okta()));
    // And the buyers, the duty and the report went to Sam, the rotation to Ann alone,
    // the credits to the pool, and Pat is deleted
    let org = s.org_state();
    assert!((0..3).all(|i| s.owner_of(&format!("buyer:{i:05}")) == Some(sam)));
    assert_eq!(org.duties().holder("dealer_trade_contact"), Some(sam));
    let zed = s.user("zed@acme.example");
    assert_eq!(org.directory().user(zed).unwrap().manager, Some(sam));
    let rotation = org.distributions().by_name("North rotation").unwrap();
    assert_eq!(
        rotation.members.iter().map(|m| m.user).collect::<Vec<_>>(),
        vec![ann]
    );
    assert_eq!(org.credits().pool(), pool_before + 5);
    assert_eq!(s.status(pat), UserStatus::Deleted);
}

#[test]
fn an_impossible_handover_still_deactivates_and_records_what_is_pending() {
    // Given Pat is the only member of a rotation, and the policy hands over to Pat's
    // manager, then deletes
    let (mut s, _, pat, _) = org();
    s.run(
        user_actor(s.owner),
        Command::CreateDistribution {
            name: "Solo".into(),
            kind: DistributionKind::Automation,
            members: vec![Member {
                user: pat,
                weight: 1,
            }],
            backup: None,
        },
    );
    set_policy(&mut s, Deprovision::OffboardToManager, FollowUp::Delete);
    // When okta deprovisions Pat
    let events = s.run(
        okta(),
        Command::Deprovision {
            user: pat,
            deactivate_only: false,
        },
    );
    // Then Pat can no longer sign in, keeps the buyers, and what is pending is recorded
    assert_eq!(events[0], UserDeactivated { user_id: pat }.into());
    let Event::DeprovisionPending(pending) = &events[1] else {
        panic!("expected DeprovisionPending, got {events:?}");
    };
    assert_eq!(pending.pending[0].code, "replacement_required");
    assert_eq!(s.status(pat), UserStatus::Deactivated);
    assert_eq!(s.owner_of("buyer:00000"), Some(pat));
}

#[test]
fn offboard_to_without_a_manager_records_the_missing_recipient() {
    let (mut s, sam, _, _) = org();
    set_policy(&mut s, Deprovision::OffboardToManager, FollowUp::Deactivate);
    // Sam has no manager: nothing can be handed over, access goes all the same
    let events = s.run(
        okta(),
        Command::Deprovision {
            user: sam,
            deactivate_only: false,
        },
    );
    assert!(events.contains(&UserDeactivated { user_id: sam }.into()));
    assert!(matches!(events.last(), Some(Event::DeprovisionPending(_))));
    // (the policy demotes a manager before deactivating)
    assert!(events.contains(
        &UserRoleChanged {
            user_id: sam,
            from: Role::Manager,
            to: Role::Member
        }
        .into()
    ));
}
