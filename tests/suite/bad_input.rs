//! Issue 15 §5, "bad input never corrupts state", at the level of `decide`: credit and
//! weight figures stay within their documented maximums, so no projection overflows;
//! every rebalance the engine suggests is one it accepts (a property); emails and
//! names are compared in NFC, case-folded, and hide nothing; an org's name never reads
//! as an id. (The CLI's reproductions are in `tests/cli/bad_input.rs`.)

use offboard::domain::{plan, Command, NewUser, MAX_CREDITS};
use offboard_events::*;
use offboard_projections::{total_weight, MAX_TOTAL_WEIGHT};
use proptest::prelude::*;
use uuid::Uuid;

use super::gwt::{user_actor, Scenario};

fn person(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        first_name: "Élise".into(),
        last_name: "Roy".into(),
        job_title: None,
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    }
}

fn invite(email: &str) -> Command {
    Command::InviteUser {
        user: person(email),
        role: Role::Member,
        manager: None,
        active: true,
    }
}

#[test]
fn credits_stay_within_the_maximum_in_the_pool_and_in_a_users_history() {
    // Given an org with one member and an empty pool.
    let mut s = Scenario::new("Credits");
    let owner = user_actor(s.owner);
    let uma = s.hire("uma@credits.example", Role::Member);
    // When one command names more than the maximum, then invalid_input.
    s.when(
        owner.clone(),
        Command::AddCreditsToPool {
            amount: MAX_CREDITS + 1,
        },
    )
    .then_error("invalid_input");
    // When the pool is filled, then one more credit is refused ("the pool would exceed").
    s.run(
        owner.clone(),
        Command::AddCreditsToPool {
            amount: MAX_CREDITS,
        },
    );
    let e = s
        .when(owner.clone(), Command::AddCreditsToPool { amount: 1 })
        .then_error("invalid_input");
    assert!(e.to_string().contains("the pool would exceed"), "{e}");
    // Given all of it granted and used, and the pool filled again: the user's usage
    // history is at the maximum, so using one more credit is refused.
    for command in [
        Command::GrantCredits {
            user: uma,
            amount: MAX_CREDITS,
        },
        Command::UseCredits {
            user: uma,
            amount: MAX_CREDITS,
        },
        Command::AddCreditsToPool {
            amount: MAX_CREDITS,
        },
        Command::GrantCredits {
            user: uma,
            amount: 1,
        },
    ] {
        s.run(owner.clone(), command);
    }
    let e = s
        .when(
            owner,
            Command::UseCredits {
                user: uma,
                amount: 1,
            },
        )
        .then_error("invalid_input");
    assert!(e.to_string().contains("usage history would exceed"), "{e}");
    // Then the projections hold every figure exactly, with nothing left unapplied.
    let credits = s.org_state().credits();
    assert_eq!(credits.pool(), MAX_CREDITS - 1);
    assert_eq!(credits.balance(uma), 1);
    assert_eq!(credits.used_total(uma), MAX_CREDITS);
    assert!(credits.overflows().is_empty());
}

#[test]
fn a_distribution_an_earlier_build_let_exceed_the_maximum_is_brought_down_to_it() {
    // Given ann = bob = u32::MAX, as earlier builds accepted.
    let mut s = Scenario::new("Legacy");
    let ann = s.hire("ann@legacy.example", Role::Member);
    let bob = s.hire("bob@legacy.example", Role::Member);
    let id = DistributionId(Uuid::from_u128(0xd15));
    let huge = vec![
        Member {
            user: ann,
            weight: u32::MAX,
        },
        Member {
            user: bob,
            weight: u32::MAX,
        },
    ];
    s.given(vec![DistributionCreated {
        distribution_id: id,
        name: "Huge".into(),
        kind: DistributionKind::Rotation,
        members: huge.clone(),
        backup: None,
    }
    .into()]);
    // When ann leaves, then the suggestion (bob alone, at the maximum) is accepted.
    let owner = user_actor(s.owner);
    let bob_alone = vec![Member {
        user: bob,
        weight: MAX_TOTAL_WEIGHT as u32,
    }];
    let place = &plan(s.org_state(), ann).unwrap().distributions[0];
    assert_eq!(place.suggested.as_ref(), Some(&bob_alone));
    s.when(
        owner.clone(),
        Command::RemoveDistributionMember {
            distribution: "Huge".into(),
            user: ann,
            members: None,
        },
    )
    .then_events(vec![DistributionRebalanced {
        distribution_id: id,
        before: huge,
        after: bob_alone,
    }
    .into()]);
    // And an edit must come down to the maximum too, saying so.
    let e = s
        .when(
            owner,
            Command::SetDistributionMembers {
                distribution: "Huge".into(),
                members: vec![Member {
                    user: bob,
                    weight: 7,
                }],
            },
        )
        .then_error("invalid_input");
    assert!(
        e.to_string().contains("add up to 1000000, the maximum"),
        "{e}"
    );
}

#[test]
fn a_key_an_earlier_build_stored_in_another_spelling_stays_one_resource_found_by_its_normal_one() {
    // Given keys Pat holds as earlier builds stored them: decomposed, spaced after the
    // colon, and with an invisible character.
    let mut s = Scenario::new("Legacy keys");
    let pat = s.hire("pat@legacy.example", Role::Member);
    let ann = s.hire("ann@legacy.example", Role::Member);
    let stored = ["buyer:Zoe\u{308}", "buyer: N-1", "buyer:Q\u{200b}-1"].map(ResourceKey::stored);
    s.given(vec![ResourcesRegistered {
        owner: pat,
        resources: stored.to_vec(),
    }
    .into()]);
    let owner = user_actor(s.owner);
    let typed = |t: &str| offboard::domain::resource_key(t).unwrap();
    // When the normal spelling is registered, then it already exists: no look-alike twin.
    s.when(
        owner.clone(),
        Command::RegisterResources {
            owner: ann,
            resources: vec![typed("buyer:Zo\u{eb}")],
        },
    )
    .then_error("already_exists");
    // When two are transferred by their normal spellings, then the stored resources move,
    // and the event names them as stored (one resource, one history).
    let events = s.run(
        owner.clone(),
        Command::TransferResources {
            from: pat,
            resources: vec![typed("buyer:Zo\u{eb}"), typed("buyer:N-1")],
            to: ann,
        },
    );
    let Event::ResourcesTransferred(moved) = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(moved.handovers[0].resources, stored[..2].to_vec());
    assert_eq!(s.owner_of("buyer:Zoe\u{308}"), Some(ann));
    assert_eq!(
        s.org_state().ownership().owner_of(&typed("buyer:N-1")),
        Some(ann)
    );
    // And the key with an invisible character is retired by typing it as stored.
    s.run(
        owner.clone(),
        Command::RetireResources {
            resources: vec![typed("buyer:Q\u{200b}-1")],
        },
    );
    assert_eq!(s.owner_of("buyer:Q\u{200b}-1"), None);
    // But a new key with one is refused.
    s.when(
        owner,
        Command::RegisterResources {
            owner: ann,
            resources: vec![typed("buyer:R\u{200b}-1")],
        },
    )
    .then_error("invalid_input");
}

#[test]
fn a_key_an_earlier_build_stored_in_both_spellings_is_refused_as_naming_two_resources() {
    // Given buyer:Zoë stored twice by an earlier build: decomposed (Pat's) and composed
    // (Ann's), two resources that print alike,
    let mut s = Scenario::new("Twice");
    let pat = s.hire("pat@twice.example", Role::Member);
    let ann = s.hire("ann@twice.example", Role::Member);
    for (owner, text) in [(pat, "buyer:Zoe\u{308}"), (ann, "buyer:Zo\u{eb}")] {
        s.given(vec![ResourcesRegistered {
            owner,
            resources: vec![ResourceKey::stored(text)],
        }
        .into()]);
    }
    let typed = offboard::domain::resource_key("buyer:Zoe\u{308}").unwrap();
    // when a command names it (typed either way, it reads the same), then it is refused
    // naming both, rather than acting on one of them silently.
    for command in [
        Command::RetireResources {
            resources: vec![typed.clone()],
        },
        Command::TransferResources {
            from: ann,
            resources: vec![typed],
            to: pat,
        },
    ] {
        let e = s
            .when(user_actor(s.owner), command)
            .then_error("invalid_input");
        assert!(e.to_string().contains("names two resources"), "{e}");
    }
    assert_eq!(s.owner_of("buyer:Zo\u{eb}"), Some(ann));
    assert_eq!(s.owner_of("buyer:Zoe\u{308}"), Some(pat));
}

#[test]
fn one_email_in_any_normal_form_and_case_is_one_user() {
    // Given élise, typed decomposed: she is stored in NFC.
    let mut s = Scenario::new("Mail");
    let owner = user_actor(s.owner);
    s.run(owner.clone(), invite("e\u{301}lise@mail.example"));
    let elise = s.user("\u{e9}lise@mail.example");
    let stored = &s.org_state().directory().user(elise).unwrap().profile;
    assert_eq!(stored.email, "\u{e9}lise@mail.example");
    assert_eq!(stored.first_name, "\u{c9}lise");
    // When she is invited again composed, or in capitals, then email_taken.
    for same in ["\u{e9}lise@mail.example", "E\u{301}LISE@MAIL.EXAMPLE"] {
        s.when(owner.clone(), invite(same))
            .then_error("email_taken");
    }
    // When an email hides an invisible or bidi character, then invalid_input.
    for sneaky in [
        "\u{e9}lise\u{200b}@mail.example",
        "\u{202e}lise@mail.example",
    ] {
        s.when(owner.clone(), invite(sneaky))
            .then_error("invalid_input");
    }
}

#[test]
fn an_org_name_that_reads_as_an_id_is_refused() {
    let mut s = Scenario::new("Real");
    for name in [
        s.org.to_string(),
        s.org.0.simple().to_string(),
        Uuid::from_u128(7).to_string().to_uppercase(),
    ] {
        s.when(
            Actor::System,
            Command::CreateOrganization {
                name,
                owner: person("eve@evil.example"),
            },
        )
        .then_error("invalid_input");
    }
}

/// Given a distribution with `weights` (members u0, u1, …), created by `decide` when it
/// accepts them, else (`legacy`) as an earlier build may have written it.
fn distribution(weights: &[u32], legacy: bool) -> Result<(Scenario, Vec<UserId>), String> {
    let mut s = Scenario::new("Weights");
    let users: Vec<UserId> = (0..weights.len())
        .map(|i| s.hire(&format!("u{i}@weights.example"), Role::Member))
        .collect();
    let members: Vec<Member> = users
        .iter()
        .zip(weights)
        .map(|(user, weight)| Member {
            user: *user,
            weight: *weight,
        })
        .collect();
    let total = total_weight(&members);
    let create = Command::CreateDistribution {
        name: "Rotation".into(),
        kind: DistributionKind::Rotation,
        members: members.clone(),
        backup: None,
    };
    match s.attempt(user_actor(s.owner), None, &create) {
        Ok(_) if total > MAX_TOTAL_WEIGHT => return Err(format!("total {total} accepted")),
        Err(e) if total <= MAX_TOTAL_WEIGHT => return Err(format!("total {total}: {e}")),
        Err(_) if legacy => {
            s.given(vec![DistributionCreated {
                distribution_id: DistributionId(Uuid::from_u128(0xd15)),
                name: "Rotation".into(),
                kind: DistributionKind::Rotation,
                members,
                backup: None,
            }
            .into()]);
        }
        Err(_) => return Err("refused".into()),
        Ok(_) => {}
    }
    Ok((s, users))
}

fn weights() -> impl Strategy<Value = Vec<u32>> {
    // Small weights, weights near the maximum total and any u32, mixed.
    let weight = prop_oneof![1..=10u32, 1..=(MAX_TOTAL_WEIGHT as u32), 1..=u32::MAX];
    prop::collection::vec(weight, 1..=5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every rebalance the engine suggests when a member leaves (the plan's, and the one
    /// `RemoveDistributionMember` applies without an edit) is one it accepts as an edit,
    /// for every distribution `decide` lets in and every one an earlier build wrote.
    #[test]
    fn every_suggested_rebalance_is_accepted(weights in weights(), legacy in any::<bool>()) {
        let created = distribution(&weights, legacy);
        let (mut s, users) = match created {
            Ok(given) => given,
            Err(e) if e == "refused" => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(e)),
        };
        let owner = user_actor(s.owner);
        for leaving in users {
            let place = plan(s.org_state(), leaving).unwrap().distributions.remove(0);
            let Some(suggested) = place.suggested else {
                prop_assert!(place.replacement_required, "no suggestion, yet not sole");
                continue;
            };
            prop_assert!(suggested.iter().all(|m| m.weight > 0), "{suggested:?}");
            for members in [None, Some(suggested.clone())] {
                let remove = Command::RemoveDistributionMember {
                    distribution: "Rotation".into(),
                    user: leaving,
                    members,
                };
                let events = s.when(owner.clone(), remove).0;
                let events = events.map_err(|e| {
                    TestCaseError::fail(format!("{suggested:?} suggested, then refused: {e}"))
                })?;
                let Event::DistributionRebalanced(e) = &events[0] else {
                    return Err(TestCaseError::fail("not a rebalance"));
                };
                prop_assert_eq!(&e.after, &suggested);
            }
        }
    }
}
