//! Compensation (R12): give back what one offboarding moved away, with new events that
//! mirror the old ones. Anything that has changed again since is left where it is and
//! reported as skipped, so a restore never overwrites later work.

use std::collections::BTreeMap;

use offboard_events::{
    CreditAccount, CreditsTransferred, DistributionBackupChanged, DistributionRebalanced,
    DutyAssigned, Envelope, Event, Handover, LabelMemberAdded, LabelMemberRemoved,
    RecordRolesTransferred, ResourceKey, ResourcesTransferred, SkippedItem, TransferReason, UserId,
    UserManagerChanged, UserReactivated, UserRoleChanged, UserStatus,
};
use offboard_projections::OrgState;

/// What compensating one offboarding decided.
#[derive(Debug, Default)]
pub struct Compensation {
    pub events: Vec<Event>,
    /// How many things came back (resources count one each).
    pub returned: u64,
    pub skipped: Vec<SkippedItem>,
}

impl Compensation {
    fn skip(&mut self, item: String, reason: String) {
        self.skipped.push(SkippedItem { item, reason });
    }
}

fn email(org: &OrgState, user: UserId) -> String {
    org.directory()
        .user(user)
        .map_or_else(|| user.to_string(), |u| u.profile.email.clone())
}

/// Mirrors every move of `offboarding` (the events of one correlation) that took
/// something away from `user`, against the state as it is now. `ends_active` says
/// whether the user is active once compensated: unused credits only go back to an
/// active user, because a deactivated one may not hold any (R8, seed 004).
pub fn compensate(
    org: &OrgState,
    user: UserId,
    offboarding: &[Envelope],
    ends_active: bool,
) -> Compensation {
    let mut undo = Undo {
        org,
        user,
        ends_active,
        out: Compensation::default(),
    };
    for envelope in offboarding {
        undo.event(envelope);
    }
    undo.out
}

/// Compensating one offboarding: one method per kind of move it made.
struct Undo<'a> {
    org: &'a OrgState,
    user: UserId,
    ends_active: bool,
    out: Compensation,
}

impl Undo<'_> {
    /// Mirrors `envelope`'s event if it took something away from the user.
    fn event(&mut self, envelope: &Envelope) {
        let user = self.user;
        match &envelope.event {
            Event::ResourcesTransferred(t) if t.from == user => {
                resources(self.org, user, envelope.position, t, &mut self.out)
            }
            Event::RecordRolesTransferred(t) if t.from == user => {
                record_roles(self.org, user, self.ends_active, t, &mut self.out)
            }
            Event::UserManagerChanged(e) if e.from == Some(user) => self.report(e),
            Event::DutyAssigned(e) if e.previous == Some(user) => self.duty(e),
            Event::DistributionRebalanced(e) if e.before.iter().any(|m| m.user == user) => {
                self.distribution(e)
            }
            Event::DistributionBackupChanged(e) if e.from == Some(user) => self.backup(e),
            Event::LabelMemberRemoved(e) if e.user == user => self.label_place(e),
            Event::LabelMemberAdded(e) if e.user != user => self.label_replacement(e),
            Event::CreditsTransferred(e) if e.from == (CreditAccount::User { id: user }) => {
                self.credits(e)
            }
            Event::UserRoleChanged(e) => self.role(e),
            Event::UserDeactivated(e) if e.user_id == user => self.deactivation(),
            _ => {}
        }
    }

    fn give_back(&mut self, event: impl Into<Event>) {
        self.out.events.push(event.into());
        self.out.returned += 1;
    }

    /// A report comes back unless they have another manager, left, or now sit above
    /// the user (a loop).
    fn report(&mut self, e: &UserManagerChanged) {
        let (org, user) = (self.org, self.user);
        let item = || format!("report:{}", email(org, e.user_id));
        match org.directory().user(e.user_id) {
            Some(r)
                if r.is_listed() && r.manager == e.to && manages_above(org, e.user_id, user) =>
            {
                self.out.skip(
                    item(),
                    "now sits above the user in the manager chain; returning them would make a loop".to_owned(),
                );
            }
            Some(r) if r.is_listed() && r.manager == e.to => self.give_back(UserManagerChanged {
                user_id: e.user_id,
                from: e.to,
                to: Some(user),
            }),
            _ => self
                .out
                .skip(item(), "has another manager or left since".to_owned()),
        }
    }

    /// A duty comes back if its holder is still the one the offboarding named.
    fn duty(&mut self, e: &DutyAssigned) {
        if self.org.duties().holder(&e.duty) == Some(e.holder) {
            self.give_back(DutyAssigned {
                duty: e.duty.clone(),
                holder: self.user,
                previous: Some(e.holder),
            });
        } else {
            self.out.skip(
                format!("duty:{}", e.duty),
                "reassigned again since".to_owned(),
            );
        }
    }

    /// A distribution's members and weights come back if unchanged since, and if every
    /// other member they had then is still active: giving back a deleted colleague's
    /// place would put work in the hands of someone who is gone (a property test found
    /// it: a colleague deleted and purged after the offboarding came back as a member).
    fn distribution(&mut self, e: &DistributionRebalanced) {
        let (org, user) = (self.org, self.user);
        let inactive = e.before.iter().find(|m| {
            m.user != user
                && org
                    .directory()
                    .user(m.user)
                    .is_none_or(|u| u.status != UserStatus::Active)
        });
        match org.distributions().get(e.distribution_id) {
            Some(d) if d.members == e.after && inactive.is_some() => self.out.skip(
                format!("distribution:{}", d.name),
                format!(
                    "{} was a member then and is not active now",
                    email(org, inactive.map_or(user, |m| m.user))
                ),
            ),
            Some(d) if d.members == e.after => self.give_back(DistributionRebalanced {
                distribution_id: e.distribution_id,
                before: e.after.clone(),
                after: e.before.clone(),
            }),
            Some(d) => self.out.skip(
                format!("distribution:{}", d.name),
                "members or weights changed since".to_owned(),
            ),
            None => self.out.skip(
                format!("distribution:{}", e.distribution_id),
                "no longer exists".to_owned(),
            ),
        }
    }

    /// A distribution's backup place comes back if its backup is unchanged since.
    fn backup(&mut self, e: &DistributionBackupChanged) {
        match self.org.distributions().get(e.distribution_id) {
            Some(d) if d.backup == e.to => self.give_back(DistributionBackupChanged {
                distribution_id: e.distribution_id,
                from: e.to,
                to: Some(self.user),
            }),
            Some(d) => self.out.skip(
                format!("distribution:{} backup", d.name),
                "backup changed since".to_owned(),
            ),
            None => self.out.skip(
                format!("distribution:{}", e.distribution_id),
                "no longer exists".to_owned(),
            ),
        }
    }

    /// The user's label place comes back (nothing to do if they are in it again).
    fn label_place(&mut self, e: &LabelMemberRemoved) {
        match self.org.labels().get(e.label_id) {
            Some(l) if !l.members.contains(&self.user) => self.give_back(LabelMemberAdded {
                label_id: e.label_id,
                user: self.user,
            }),
            Some(_) => {}
            None => self.out.skip(
                format!("label:{}", e.label_id),
                "no longer exists".to_owned(),
            ),
        }
    }

    /// The replacement the offboarding put in the user's label place steps back out.
    fn label_replacement(&mut self, e: &LabelMemberAdded) {
        let still_in = self
            .org
            .labels()
            .get(e.label_id)
            .is_some_and(|l| l.members.contains(&e.user));
        if still_in {
            self.out.events.push(
                LabelMemberRemoved {
                    label_id: e.label_id,
                    user: e.user,
                }
                .into(),
            );
        }
    }

    /// Unused credits come back to a user who ends active, if they are still where
    /// they went.
    fn credits(&mut self, e: &CreditsTransferred) {
        if !self.ends_active {
            self.out.skip(
                format!("credits:{}", e.amount),
                "the user comes back deactivated and a deactivated user holds no credits"
                    .to_owned(),
            );
            return;
        }
        let available = match e.to {
            CreditAccount::Pool => self.org.credits().pool(),
            CreditAccount::User { id } => self.org.credits().balance(id),
        };
        if available >= e.amount {
            self.give_back(CreditsTransferred {
                from: e.to,
                to: CreditAccount::User { id: self.user },
                amount: e.amount,
            });
        } else {
            self.out.skip(
                format!("credits:{}", e.amount),
                format!("only {available} left where they went; spent since"),
            );
        }
    }

    /// Permissions that TransferAccount moved: the user's role comes back, the heir's
    /// promotion is undone if it still stands.
    fn role(&mut self, e: &UserRoleChanged) {
        match self.org.directory().user(e.user_id) {
            Some(u) if u.role == e.to => self.out.events.push(
                UserRoleChanged {
                    user_id: e.user_id,
                    from: e.to,
                    to: e.from,
                }
                .into(),
            ),
            _ => self.out.skip(
                format!("role:{}", email(self.org, e.user_id)),
                "changed again since".to_owned(),
            ),
        }
    }

    /// A deactivation by the offboarding is undone if the user is still deactivated.
    fn deactivation(&mut self) {
        let deactivated = self
            .org
            .directory()
            .user(self.user)
            .is_some_and(|u| u.status == UserStatus::Deactivated);
        if deactivated {
            self.out
                .events
                .push(UserReactivated { user_id: self.user }.into());
        }
    }
}

/// Whether `report` is `user` or one of `user`'s managers, directly or higher up: then
/// making `user` the report's manager would close a loop.
fn manages_above(org: &OrgState, report: UserId, user: UserId) -> bool {
    let mut cursor = Some(user);
    // Bounded by the directory's size, in case a loop already exists.
    for _ in 0..=org.directory().users().count() {
        match cursor {
            Some(id) if id == report => return true,
            Some(id) => cursor = org.directory().user(id).and_then(|u| u.manager),
            None => return false,
        }
    }
    false
}

/// Resources moved away at `position` come back if their last move is still that one.
fn resources(
    org: &OrgState,
    user: UserId,
    position: u64,
    t: &ResourcesTransferred,
    out: &mut Compensation,
) {
    let mut back: BTreeMap<UserId, Vec<ResourceKey>> = BTreeMap::new();
    for handover in &t.handovers {
        for key in &handover.resources {
            let history = org.ownership().history(key);
            match history.last() {
                Some(&(since, Some(owner))) if since == position && owner == handover.to => {
                    back.entry(handover.to).or_default().push(key.clone());
                }
                Some(&(_, Some(owner))) => out.skip(
                    key.to_string(),
                    format!("moved again since; now owned by {}", email(org, owner)),
                ),
                Some(&(_, None)) => out.skip(
                    key.to_string(),
                    "retired since (its system of record no longer lists it)".to_owned(),
                ),
                None => out.skip(key.to_string(), "no longer exists".to_owned()),
            }
        }
    }
    for (holder, resources) in back {
        out.returned += resources.len() as u64;
        out.events.push(
            ResourcesTransferred {
                from: holder,
                handovers: vec![Handover {
                    to: user,
                    resources,
                }],
                reason: TransferReason::Restore,
            }
            .into(),
        );
    }
}

/// R29: a record role handed over comes back if its recipient still holds it (the only
/// holder, for a single-holder role) and the user does not hold it again already — and
/// only to a user who ends active: a role is work, and a deactivated holder would leave
/// it with nobody (as with credits).
fn record_roles(
    org: &OrgState,
    user: UserId,
    ends_active: bool,
    t: &RecordRolesTransferred,
    out: &mut Compensation,
) {
    let (roles, ownership) = (org.record_roles(), org.ownership());
    let multi = roles.is_multi(&t.role);
    let mut back: BTreeMap<UserId, Vec<ResourceKey>> = BTreeMap::new();
    for handover in &t.handovers {
        for key in &handover.resources {
            let holders = roles.holders(ownership, key, &t.role);
            let item = || format!("{key} ({})", t.role);
            let still = holders.contains(&handover.to) && (multi || holders.len() == 1);
            if !ends_active {
                out.skip(
                    item(),
                    "the user comes back deactivated and a role needs an active holder".to_owned(),
                );
            } else if ownership.owner_of(key).is_none() {
                out.skip(
                    item(),
                    "retired since (its system of record no longer lists it)".to_owned(),
                );
            } else if holders.contains(&user) {
                // Held again already: nothing to give back.
            } else if still {
                back.entry(handover.to).or_default().push(key.clone());
            } else {
                let now = match holders.as_slice() {
                    [] => "nobody holds it now".to_owned(),
                    h => format!(
                        "now held by {}",
                        h.iter()
                            .map(|u| email(org, *u))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                out.skip(item(), format!("reassigned since; {now}"));
            }
        }
    }
    for (holder, resources) in back {
        out.returned += resources.len() as u64;
        out.events.push(
            RecordRolesTransferred {
                from: holder,
                role: t.role.clone(),
                handovers: vec![Handover {
                    to: user,
                    resources,
                }],
                reason: TransferReason::Restore,
            }
            .into(),
        );
    }
}
