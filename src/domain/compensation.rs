//! Compensation (R12): give back what one offboarding moved away, with new events that
//! mirror the old ones. Anything that has changed again since is left where it is and
//! reported as skipped, so a restore never overwrites later work.

use std::collections::BTreeMap;

use offboard_events::{
    CreditAccount, CreditsTransferred, DistributionBackupChanged, DistributionRebalanced,
    DutyAssigned, Envelope, Event, Handover, LabelMemberAdded, LabelMemberRemoved, ResourceKey,
    ResourcesTransferred, SkippedItem, TransferReason, UserId, UserManagerChanged, UserReactivated,
    UserRoleChanged, UserStatus,
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
    let mut out = Compensation::default();
    for envelope in offboarding {
        match &envelope.event {
            Event::ResourcesTransferred(t) if t.from == user => {
                resources(org, user, envelope.position, t, &mut out)
            }
            Event::UserManagerChanged(e) if e.from == Some(user) => {
                let report = org.directory().user(e.user_id);
                match report {
                    Some(r)
                        if r.is_listed()
                            && r.manager == e.to
                            && manages_above(org, e.user_id, user) =>
                    {
                        out.skip(
                            format!("report:{}", email(org, e.user_id)),
                            "now sits above the user in the manager chain; returning them would make a loop".to_owned(),
                        );
                    }
                    Some(r) if r.is_listed() && r.manager == e.to => {
                        out.events.push(
                            UserManagerChanged {
                                user_id: e.user_id,
                                from: e.to,
                                to: Some(user),
                            }
                            .into(),
                        );
                        out.returned += 1;
                    }
                    _ => out.skip(
                        format!("report:{}", email(org, e.user_id)),
                        "has another manager or left since".to_owned(),
                    ),
                }
            }
            Event::DutyAssigned(e) if e.previous == Some(user) => {
                if org.duties().holder(&e.duty) == Some(e.holder) {
                    out.events.push(
                        DutyAssigned {
                            duty: e.duty.clone(),
                            holder: user,
                            previous: Some(e.holder),
                        }
                        .into(),
                    );
                    out.returned += 1;
                } else {
                    out.skip(
                        format!("duty:{}", e.duty),
                        "reassigned again since".to_owned(),
                    );
                }
            }
            Event::DistributionRebalanced(e) if e.before.iter().any(|m| m.user == user) => {
                match org.distributions().get(e.distribution_id) {
                    Some(d) if d.members == e.after => {
                        out.events.push(
                            DistributionRebalanced {
                                distribution_id: e.distribution_id,
                                before: e.after.clone(),
                                after: e.before.clone(),
                            }
                            .into(),
                        );
                        out.returned += 1;
                    }
                    Some(d) => out.skip(
                        format!("distribution:{}", d.name),
                        "members or weights changed since".to_owned(),
                    ),
                    None => out.skip(
                        format!("distribution:{}", e.distribution_id),
                        "no longer exists".to_owned(),
                    ),
                }
            }
            Event::DistributionBackupChanged(e) if e.from == Some(user) => {
                match org.distributions().get(e.distribution_id) {
                    Some(d) if d.backup == e.to => {
                        out.events.push(
                            DistributionBackupChanged {
                                distribution_id: e.distribution_id,
                                from: e.to,
                                to: Some(user),
                            }
                            .into(),
                        );
                        out.returned += 1;
                    }
                    Some(d) => out.skip(
                        format!("distribution:{} backup", d.name),
                        "backup changed since".to_owned(),
                    ),
                    None => out.skip(
                        format!("distribution:{}", e.distribution_id),
                        "no longer exists".to_owned(),
                    ),
                }
            }
            Event::LabelMemberRemoved(e) if e.user == user => match org.labels().get(e.label_id) {
                Some(l) if !l.members.contains(&user) => {
                    out.events.push(
                        LabelMemberAdded {
                            label_id: e.label_id,
                            user,
                        }
                        .into(),
                    );
                    out.returned += 1;
                }
                Some(_) => {}
                None => out.skip(
                    format!("label:{}", e.label_id),
                    "no longer exists".to_owned(),
                ),
            },
            // The replacement the offboarding put in the user's label place steps back out.
            Event::LabelMemberAdded(e)
                if e.user != user
                    && org
                        .labels()
                        .get(e.label_id)
                        .is_some_and(|l| l.members.contains(&e.user)) =>
            {
                out.events.push(
                    LabelMemberRemoved {
                        label_id: e.label_id,
                        user: e.user,
                    }
                    .into(),
                );
            }
            Event::CreditsTransferred(e)
                if e.from == (CreditAccount::User { id: user }) && !ends_active =>
            {
                out.skip(
                    format!("credits:{}", e.amount),
                    "the user comes back deactivated and a deactivated user holds no credits"
                        .to_owned(),
                );
            }
            Event::CreditsTransferred(e) if e.from == (CreditAccount::User { id: user }) => {
                let available = match e.to {
                    CreditAccount::Pool => org.credits().pool(),
                    CreditAccount::User { id } => org.credits().balance(id),
                };
                if available >= e.amount {
                    out.events.push(
                        CreditsTransferred {
                            from: e.to,
                            to: CreditAccount::User { id: user },
                            amount: e.amount,
                        }
                        .into(),
                    );
                    out.returned += 1;
                } else {
                    out.skip(
                        format!("credits:{}", e.amount),
                        format!("only {available} left where they went; spent since"),
                    );
                }
            }
            // Permissions that TransferAccount moved: the user's role comes back, the
            // heir's promotion is undone if it still stands.
            Event::UserRoleChanged(e) => match org.directory().user(e.user_id) {
                Some(u) if u.role == e.to => {
                    out.events.push(
                        UserRoleChanged {
                            user_id: e.user_id,
                            from: e.to,
                            to: e.from,
                        }
                        .into(),
                    );
                }
                _ => out.skip(
                    format!("role:{}", email(org, e.user_id)),
                    "changed again since".to_owned(),
                ),
            },
            Event::UserDeactivated(e)
                if e.user_id == user
                    && org
                        .directory()
                        .user(user)
                        .is_some_and(|u| u.status == UserStatus::Deactivated) =>
            {
                out.events.push(UserReactivated { user_id: user }.into());
            }
            _ => {}
        }
    }
    out
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
                Some(&(since, owner)) if since == position && owner == handover.to => {
                    back.entry(handover.to).or_default().push(key.clone());
                }
                Some(&(_, owner)) => out.skip(
                    key.to_string(),
                    format!("moved again since; now owned by {}", email(org, owner)),
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
