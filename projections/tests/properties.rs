//! Folding is deterministic and checkpoints lose nothing: over random, mostly plausible
//! histories (with some odd events mixed in), applying one by one, replaying from
//! scratch, and loading a checkpoint then applying the tail all give the same bytes and
//! answer every query the same way.

mod support;

use std::fmt::Write as _;

use offboard_events::*;
use offboard_projections::{replay_until, State};
use proptest::prelude::*;
use support::*;
use uuid::Uuid;

/// Raw dice for one step; [`History::step`] turns them into an event that mostly makes
/// sense given what happened before.
type Dice = (u8, u32, u32, u32);

const KINDS: &[&str] = &["buyer", "lead", "group", "deal", "request"];

/// What the generator knows of one org so far (not a model of the fold: only enough
/// to name things that exist).
#[derive(Default)]
struct Known {
    users: Vec<UserId>,
    resources: Vec<String>,
    labels: Vec<LabelId>,
    distributions: Vec<DistributionId>,
}

struct History {
    log: Log,
    orgs: Vec<(OrgId, Known)>,
    current: usize,
    next_id: u128,
}

impl History {
    fn new() -> Self {
        let mut history = History {
            log: Log::new(org(1)),
            orgs: Vec::new(),
            current: 0,
            next_id: 100,
        };
        for n in 1..=2 {
            history.log.org = org(n);
            let owner = history.fresh();
            history.log.create_org(&format!("Org{n}"), owner);
            let known = Known {
                users: vec![owner],
                ..Known::default()
            };
            history.orgs.push((org(n), known));
        }
        history.log.org = org(1);
        history
    }

    fn fresh(&mut self) -> UserId {
        self.next_id += 1;
        user(self.next_id)
    }

    fn known(&mut self) -> &mut Known {
        &mut self.orgs[self.current].1
    }

    /// A known user most of the time, sometimes a stranger.
    fn someone(&mut self, dice: u32) -> UserId {
        let users = &self.known().users;
        if dice.is_multiple_of(17) || users.is_empty() {
            user(u128::from(dice % 5) + 9_000)
        } else {
            users[dice as usize % users.len()]
        }
    }

    fn some_resources(&mut self, dice: u32, count: u32) -> Vec<ResourceKey> {
        let resources = &self.known().resources;
        if resources.is_empty() {
            return vec![key(&format!("buyer:stray-{dice}"))];
        }
        (0..count)
            .map(|i| key(&resources[(dice as usize + i as usize * 7) % resources.len()]))
            .collect()
    }

    fn step(&mut self, (op, a, b, c): Dice) {
        self.log.minute += i64::from(a % 3) - 1; // push adds one: steps of 0, 1 or 2 minutes
        self.log.actor = match b % 4 {
            0 => Actor::System,
            1 => Actor::Support { name: "sam".into() },
            _ => Actor::User {
                id: self.someone(c),
            },
        };
        self.log.on_behalf_of = (c % 11 == 0).then(|| self.someone(a));
        self.log.correlation = correlation(u128::from(a % 20));
        let event: Event = match op % 32 {
            0 | 1 => {
                let id = self.fresh();
                let manager = (b % 3 != 0).then(|| self.someone(c));
                self.known().users.push(id);
                UserInvited {
                    user_id: id,
                    // A small pool of emails, in varying case, so some collide.
                    profile: profile(&format!("{}{}@x.test", ["u", "U"][c as usize % 2], b % 40)),
                    role: [Role::Member, Role::Manager, Role::Admin][a as usize % 3],
                    manager,
                }
                .into()
            }
            2 => UserActivated {
                user_id: self.someone(b),
            }
            .into(),
            3 => UserDeactivated {
                user_id: self.someone(b),
            }
            .into(),
            4 => UserReactivated {
                user_id: self.someone(b),
            }
            .into(),
            5 => UserDeleted {
                user_id: self.someone(b),
            }
            .into(),
            6 => UserRestored {
                user_id: self.someone(b),
                status: [UserStatus::Deactivated, UserStatus::Active][c as usize % 2],
            }
            .into(),
            7 if c % 4 == 0 => UserPurged {
                user_id: self.someone(b),
            }
            .into(),
            7 | 8 => UserRoleChanged {
                user_id: self.someone(b),
                from: Role::Member,
                to: [Role::Member, Role::Manager, Role::Admin][c as usize % 3],
            }
            .into(),
            9 => UserManagerChanged {
                user_id: self.someone(b),
                from: None,
                to: (c % 4 != 0).then(|| self.someone(c)),
            }
            .into(),
            10 => UserJoinedGroup {
                user_id: self.someone(b),
                group: key(&format!("group:g{}", c % 6)),
            }
            .into(),
            11 => UserLeftGroup {
                user_id: self.someone(b),
                group: key(&format!("group:g{}", c % 6)),
            }
            .into(),
            12 => UserProfileChanged {
                user_id: self.someone(b),
                profile: profile(&format!("p{}@x.test", c % 40)),
            }
            .into(),
            13..=15 => {
                let owner = self.someone(b);
                let mut resources = Vec::new();
                for i in 0..(c % 6) {
                    let text = format!(
                        "{}:r{}-{}",
                        KINDS[(a + i) as usize % KINDS.len()],
                        b % 1000,
                        i
                    );
                    self.known().resources.push(text.clone());
                    resources.push(key(&text));
                }
                if c % 9 == 0 {
                    resources.extend(self.some_resources(a, 1)); // registered again: odd
                }
                ResourcesRegistered { owner, resources }.into()
            }
            16..=18 => {
                let from = self.someone(b);
                let handovers = (0..=(c % 3))
                    .map(|i| Handover {
                        to: self.someone(c.wrapping_add(i * 31)),
                        resources: self.some_resources(a.wrapping_add(i), 1 + a % 12),
                    })
                    .collect();
                ResourcesTransferred {
                    from,
                    handovers,
                    reason: TransferReason::Offboarding,
                }
                .into()
            }
            19 => DutyAssigned {
                duty: [
                    "billing_contact",
                    "dealer_trade_contact",
                    "default_lead_owner",
                ][c as usize % 3]
                    .into(),
                holder: self.someone(b),
                previous: None,
            }
            .into(),
            20 => {
                let id = DistributionId(Uuid::from_u128(u128::from(c % 8) + 500));
                self.known().distributions.push(id);
                DistributionCreated {
                    distribution_id: id,
                    name: format!("Rotation {}", c % 8),
                    kind: DistributionKind::Rotation,
                    members: self.members(a, b),
                    backup: (a % 2 == 0).then(|| self.someone(c)),
                }
                .into()
            }
            21 | 22 => {
                let id = self.distribution(c);
                if op % 32 == 21 {
                    DistributionRebalanced {
                        distribution_id: id,
                        before: Vec::new(),
                        after: self.members(a, b),
                    }
                    .into()
                } else {
                    DistributionBackupChanged {
                        distribution_id: id,
                        from: None,
                        to: (a % 3 != 0).then(|| self.someone(b)),
                    }
                    .into()
                }
            }
            23 => {
                let id = LabelId(Uuid::from_u128(u128::from(c % 8) + 700));
                self.known().labels.push(id);
                let members = (0..a % 4)
                    .map(|i| self.someone(b.wrapping_add(i)))
                    .collect();
                LabelCreated {
                    label_id: id,
                    name: format!("Label {}", c % 8),
                    members,
                }
                .into()
            }
            24 | 25 => {
                let labels = &self.known().labels;
                let label_id = match labels.len() {
                    0 => LabelId(Uuid::from_u128(799)),
                    n => labels[c as usize % n],
                };
                let user = self.someone(b);
                if op % 32 == 24 {
                    LabelMemberAdded { label_id, user }.into()
                } else {
                    LabelMemberRemoved { label_id, user }.into()
                }
            }
            26 => CreditsAddedToPool {
                amount: u64::from(c % 100),
            }
            .into(),
            27 => CreditsGranted {
                user: self.someone(b),
                amount: u64::from(c % 60),
            }
            .into(),
            28 => CreditsUsed {
                user: self.someone(b),
                amount: u64::from(c % 30),
            }
            .into(),
            29 => {
                let account = |h: &mut Self, dice: u32| match dice % 3 {
                    0 => CreditAccount::Pool,
                    _ => CreditAccount::User {
                        id: h.someone(dice),
                    },
                };
                CreditsTransferred {
                    from: account(self, b),
                    to: account(self, c),
                    amount: u64::from(a % 50),
                }
                .into()
            }
            30 => match c % 6 {
                0 => OffboardingStarted {
                    user: self.someone(b),
                    operation: OffboardingOperation::Offboard,
                    then: FollowUp::Delete,
                }
                .into(),
                1 => OffboardingCompleted {
                    user: self.someone(b),
                    resources_moved: u64::from(a % 10),
                }
                .into(),
                2 => OffboardingReverted {
                    user: self.someone(b),
                    reverted: correlation(u128::from(a % 20)),
                    returned: 0,
                    skipped: Vec::new(),
                }
                .into(),
                3 => PolicyChanged {
                    policy: Policy {
                        retention_days: a % 60,
                        ..Policy::default()
                    },
                }
                .into(),
                4 => OrgOwnershipTransferred {
                    from: self.someone(a),
                    to: self.someone(b),
                }
                .into(),
                _ => PrincipalRegistered {
                    kind: [PrincipalKind::Support, PrincipalKind::Auditor][a as usize % 2],
                    name: format!("p{}", b % 3),
                }
                .into(),
            },
            _ => {
                // Switch org; now and then write for an org that was never created.
                self.current = b as usize % self.orgs.len();
                self.log.org = if c % 7 == 0 {
                    org(3)
                } else {
                    self.orgs[self.current].0
                };
                UserActivated {
                    user_id: self.someone(a),
                }
                .into()
            }
        };
        self.log.push(event);
        self.log.org = self.orgs[self.current].0;
    }

    fn members(&mut self, a: u32, b: u32) -> Vec<Member> {
        (0..a % 4)
            .map(|i| Member {
                user: self.someone(b.wrapping_add(i * 13)),
                weight: (a >> 4) % 5,
            })
            .collect()
    }

    fn distribution(&mut self, dice: u32) -> DistributionId {
        let ids = &self.known().distributions;
        match ids.len() {
            0 => DistributionId(Uuid::from_u128(599)),
            n => ids[dice as usize % n],
        }
    }
}

/// Every query's answer over everything the history named, as text: indexes are not
/// in the checkpoint bytes, so this is what shows a rebuild went wrong.
fn answers(state: &State, history: &History) -> String {
    let mut out = String::new();
    let strangers: Vec<UserId> = (0..5).map(|i| user(9_000 + i)).collect();
    for org_state in state.orgs() {
        let o = org_state;
        let (_, known) = history.orgs.iter().find(|(id, _)| *id == o.id()).unwrap();
        writeln!(
            out,
            "{:?} {} {:?} {}",
            o.id(),
            o.name(),
            o.owner(),
            o.directory().billed_count()
        )
        .unwrap();
        for u in known.users.iter().chain(&strangers) {
            let dir = o.directory();
            let by_email = dir
                .user(*u)
                .and_then(|x| dir.user_by_email(&x.profile.email))
                .map(|x| x.id);
            writeln!(
                out,
                "{u} {by_email:?} {:?} {:?} {:?} {} {} {:?} {:?} {:?}",
                dir.reports_of(*u).collect::<Vec<_>>(),
                o.ownership().resources_of(*u, None),
                o.ownership().counts_by_kind(*u),
                o.ownership().total_owned(*u),
                o.credits().balance(*u),
                o.labels().labels_of(*u).map(|l| l.id).collect::<Vec<_>>(),
                o.distributions()
                    .distributions_of(*u)
                    .map(|d| d.id)
                    .collect::<Vec<_>>(),
                o.audit().positions_for_user(*u),
            )
            .unwrap();
        }
        for g in 0..6 {
            let group = key(&format!("group:g{g}"));
            writeln!(
                out,
                "{group} {:?}",
                o.directory().group_members(&group).collect::<Vec<_>>()
            )
            .unwrap();
        }
        for r in &known.resources {
            let r = key(r);
            writeln!(out, "{r} {:?}", o.owner_history(&r)).unwrap();
        }
        writeln!(out, "{:?}", o.ownership().kinds().collect::<Vec<_>>()).unwrap();
        writeln!(out, "{:?}", o.ownership().list(None, None)).unwrap();
        for email in (0..40).map(|i| format!("u{i}@x.test")) {
            write!(
                out,
                "{:?} ",
                o.directory().user_by_email(&email).map(|x| x.id)
            )
            .unwrap();
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn incremental_scratch_and_checkpoint_plus_tail_agree(
        steps in proptest::collection::vec(any::<Dice>(), 2_000),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut history = History::new();
        for dice in steps {
            history.step(dice);
        }
        let envelopes = &history.log.envelopes;
        let cut = cut.index(envelopes.len());

        let mut incremental = State::default();
        let mut checkpoint = Vec::new();
        for (i, env) in envelopes.iter().enumerate() {
            if i == cut {
                checkpoint = incremental.to_checkpoint_bytes();
            }
            incremental.apply(env);
        }
        let bytes = incremental.to_checkpoint_bytes();
        // The generator must keep producing histories worth checking.
        let busy = |o: &offboard_projections::OrgState| {
            o.ownership().len() > 50 && o.billing().changes().len() > 10 && o.directory().listed().count() > 10
        };
        prop_assert!(incremental.orgs().all(busy), "history too thin");

        let scratch = replay_until(envelopes.iter().cloned(), u64::MAX);
        prop_assert!(scratch.to_checkpoint_bytes() == bytes, "scratch differs");

        let as_of_cut = replay_until(envelopes.iter().cloned(), cut as u64);
        prop_assert!(as_of_cut.to_checkpoint_bytes() == checkpoint, "as-of differs");

        let mut resumed = State::from_checkpoint_bytes(&checkpoint).unwrap();
        for env in &envelopes[cut..] {
            resumed.apply(env);
        }
        prop_assert!(resumed.to_checkpoint_bytes() == bytes, "checkpoint + tail differs");
        prop_assert_eq!(answers(&resumed, &history), answers(&incremental, &history));

        let reloaded = State::from_checkpoint_bytes(&bytes).unwrap();
        prop_assert_eq!(answers(&reloaded, &history), answers(&incremental, &history));
    }
}
