//! Offboarding a user in one atomic command (R10, R16, R22): the guided `Offboard` with a
//! plan, `TransferAccount` (everything to one colleague), and `DeleteUser` (nothing moves
//! but distribution and label places; anything still held blocks). All three run the
//! same steps — resources, record roles, managed users, duties, distributions, labels,
//! credits, then the follow-up — and check the follow-up against what is left after the
//! moves.

use std::collections::BTreeSet;

use offboard_events::{
    CreditAccount, CreditsTransferred, DistributionBackupChanged, DistributionRebalanced,
    DutyAssigned, Event, FollowUp, Handover, LabelMemberAdded, LabelMemberRemoved, Member,
    OffboardingCompleted, OffboardingOperation, OffboardingStarted, RecordRolesTransferred,
    ResourcesTransferred, Role, TransferReason, UserDeleted, UserManagerChanged, UserRoleChanged,
    UserStatus,
};
use offboard_projections::User;

use super::authority::Scope;
use super::command::{OffboardPlan, Recipients, Strategy};
use super::distributions::suggestion;
use super::error::{Decided, DomainError};
use super::handover;
use super::holdings::Holdings;
use super::resources::{check_recipients, split};

/// R22: carry out a whole plan for `user`, then the follow-up.
pub fn offboard(
    scope: Scope,
    user: offboard_events::UserId,
    plan: &OffboardPlan,
    then: FollowUp,
    confirm: Option<&str>,
) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    Offboarding {
        scope,
        target,
        plan,
        operation: OffboardingOperation::Offboard,
        then,
        confirm,
        permissions: Vec::new(),
        scheduled: false,
    }
    .run()
}

/// R28: a scheduled offboarding's run — `plan` (or, without one, a delete as
/// `DeleteUser` does it) then the follow-up. Authority and the confirmation phrase were
/// checked when it was scheduled; everything else is checked against the state now.
pub fn scheduled(
    scope: Scope,
    target: &User,
    plan: Option<&OffboardPlan>,
    then: FollowUp,
) -> Decided<Vec<Event>> {
    let none = OffboardPlan::default();
    Offboarding {
        scope,
        target,
        plan: plan.unwrap_or(&none),
        operation: match plan {
            Some(_) => OffboardingOperation::Offboard,
            None => OffboardingOperation::Delete,
        },
        then,
        confirm: None,
        permissions: Vec::new(),
        scheduled: true,
    }
    .run()
}

/// R16: everything `from` holds — resources, groups, managed users, duties,
/// distribution and label places, unused credits and permissions — goes to `to`.
pub fn transfer_account(
    scope: Scope,
    from: offboard_events::UserId,
    to: offboard_events::UserId,
    then: FollowUp,
    confirm: Option<&str>,
) -> Decided<Vec<Event>> {
    let target = scope.user(from)?;
    let heir = scope.recipient(to)?;
    if heir.id == target.id {
        return Err(DomainError::InvalidInput(
            "an account cannot be transferred to itself".to_owned(),
        ));
    }
    let mut plan = OffboardPlan {
        default_to: Some(to),
        credits_to: Some(CreditAccount::User { id: to }),
        ..OffboardPlan::default()
    };
    for d in scope.org.distributions().distributions_of(from) {
        plan.distributions.insert(
            d.name.clone(),
            replace_member(&d.name, &d.members, from, to)?,
        );
    }
    for l in scope.org.labels().labels_of(from) {
        plan.labels.insert(l.name.clone(), to);
    }
    // Seed 001: "all their permissions" move too; the leaver keeps the member role.
    let mut permissions = Vec::new();
    if matches!(target.role, Role::Admin | Role::Manager) {
        if heir.role < target.role {
            permissions.push(
                UserRoleChanged {
                    user_id: to,
                    from: heir.role,
                    to: target.role,
                }
                .into(),
            );
        }
        permissions.push(
            UserRoleChanged {
                user_id: from,
                from: target.role,
                to: Role::Member,
            }
            .into(),
        );
    }
    Offboarding {
        scope,
        target,
        plan: &plan,
        operation: OffboardingOperation::TransferAccount,
        then,
        confirm,
        permissions,
        scheduled: false,
    }
    .run()
}

/// R10/R11: delete with the confirmation phrase. Nothing is reassigned except the places
/// the user leaves in distributions (suggested rebalance) and labels.
pub fn delete(scope: Scope, user: offboard_events::UserId, confirm: &str) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    Offboarding {
        scope,
        target,
        plan: &OffboardPlan::default(),
        operation: OffboardingOperation::Delete,
        then: FollowUp::Delete,
        confirm: Some(confirm),
        permissions: Vec::new(),
        scheduled: false,
    }
    .run()
}

/// Issue 17: a deprovisioning's handover — `plan`, the role changes `permissions`, then
/// `then` — as an `Offboard` the org's policy confirms (no phrase is typed: the owner
/// chose the policy).
pub(super) fn deprovision_offboard(
    scope: Scope,
    user: offboard_events::UserId,
    plan: &OffboardPlan,
    then: FollowUp,
    permissions: Vec<Event>,
) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    Offboarding {
        scope,
        target,
        plan,
        operation: OffboardingOperation::Offboard,
        then,
        confirm: Some(scope.org.policy().confirmation_phrase.as_str()),
        permissions,
        scheduled: false,
    }
    .run()
}

/// `members` with `from` replaced by `to` (weights merged if `to` is already a member).
/// A merged weight past `u32` (only in a distribution an earlier build let exceed
/// `MAX_TOTAL_WEIGHT`) is refused: rebalance that distribution first.
fn replace_member(
    name: &str,
    members: &[Member],
    from: offboard_events::UserId,
    to: offboard_events::UserId,
) -> Decided<Vec<Member>> {
    let moving = members
        .iter()
        .find(|m| m.user == from)
        .map_or(0, |m| m.weight);
    let mut out: Vec<Member> = members.iter().filter(|m| m.user != from).copied().collect();
    match out.iter_mut().find(|m| m.user == to) {
        Some(existing) => {
            existing.weight = existing.weight.checked_add(moving).ok_or_else(|| {
                DomainError::InvalidInput(format!(
                    "{name:?}: the merged weight would exceed {}: rebalance it first",
                    u32::MAX
                ))
            })?
        }
        None => {
            let at = members
                .iter()
                .position(|m| m.user == from)
                .unwrap_or(out.len())
                .min(out.len());
            out.insert(
                at,
                Member {
                    user: to,
                    weight: moving,
                },
            );
        }
    }
    Ok(out)
}

/// One offboarding to decide: who leaves, by which operation, what the plan says, and
/// what follows. `run` takes the domain's own steps in order, each a method.
struct Offboarding<'a> {
    scope: Scope<'a>,
    target: &'a User,
    plan: &'a OffboardPlan,
    operation: OffboardingOperation,
    then: FollowUp,
    /// The confirmation phrase as typed (a delete needs the org's).
    confirm: Option<&'a str>,
    /// The role changes `TransferAccount` adds: the leaver's permissions move too.
    permissions: Vec<Event>,
    /// A scheduled run (R28): authority and the phrase were checked when scheduled.
    scheduled: bool,
}

/// What the steps have decided so far, and what the user still holds after them.
struct Progress {
    left: Holdings,
    events: Vec<Event>,
    /// Resources handed over (the `OffboardingCompleted` count).
    moved: u64,
}

impl Progress {
    fn push(&mut self, event: impl Into<Event>) {
        self.events.push(event.into());
    }
}

impl Offboarding<'_> {
    /// Checks the command, runs every step, checks the follow-up against what is left,
    /// and frames the events between `OffboardingStarted` and `OffboardingCompleted`.
    fn run(self) -> Decided<Vec<Event>> {
        self.check()?;
        let mut done = Progress {
            left: Holdings::of(self.scope.org, self.target),
            events: Vec::new(),
            moved: 0,
        };
        self.hand_over_resources(&mut done)?;
        self.hand_over_roles(&mut done)?;
        self.move_reports(&mut done)?;
        self.hand_over_duties(&mut done)?;
        self.rebalance_distributions(&mut done)?;
        self.replace_backups(&mut done);
        self.leave_labels(&mut done)?;
        self.move_credits(&mut done)?;
        self.move_permissions(&mut done);
        self.follow_up(&mut done)?;
        self.framed(done)
    }

    fn user(&self) -> offboard_events::UserId {
        self.target.id
    }

    /// Who may, the confirmation phrase of a delete, and a plan that names only
    /// recipients who may receive and places the user holds.
    fn check(&self) -> Decided<()> {
        if !self.scheduled {
            self.scope.may_change(self.target)?;
        }
        let policy = self.scope.org.policy();
        if self.then == FollowUp::Delete
            && !self.scheduled
            && self.confirm != Some(policy.confirmation_phrase.as_str())
        {
            return Err(DomainError::ConfirmationRequired {
                expected: policy.confirmation_phrase.clone(),
            });
        }
        if let Some(d) = self.plan.default_to {
            check_recipients(self.scope, self.user(), &[d])?;
        }
        check_plan_names(self.scope, self.target, self.plan)
    }

    /// Step 1: resources, by kind, to the plan's recipients for that kind or the default.
    fn hand_over_resources(&self, done: &mut Progress) -> Decided<()> {
        let (scope, user) = (self.scope, self.user());
        let mut handovers: Vec<Handover> = Vec::new();
        let kinds: Vec<String> = done.left.resources.keys().cloned().collect();
        for kind in kinds {
            let Some(recipients) = self.recipients(self.plan.resources.get(&kind)) else {
                continue;
            };
            check_recipients(scope, user, &recipients.to)?;
            let keys = scope.org.ownership().resources_of(user, Some(&kind));
            done.moved += keys.len() as u64;
            for h in split(keys, &recipients.to, recipients.strategy) {
                match handovers.iter_mut().find(|x| x.to == h.to) {
                    Some(existing) => existing.resources.extend(h.resources),
                    None => handovers.push(h),
                }
            }
            done.left.resources.remove(&kind);
        }
        if !handovers.is_empty() {
            done.push(ResourcesTransferred {
                from: user,
                handovers,
                reason: self.transfer_reason(),
            });
        }
        Ok(())
    }

    /// Step 1b (R29): the records where the user holds a role, per role, to the plan's
    /// recipients for that role or the default; a role with neither stays a blocker.
    fn hand_over_roles(&self, done: &mut Progress) -> Decided<()> {
        let (scope, user) = (self.scope, self.user());
        let roles: Vec<String> = done.left.roles.keys().cloned().collect();
        for role in roles {
            let Some(recipients) = self.recipients(named(&self.plan.roles, &role)) else {
                continue;
            };
            check_recipients(scope, user, &recipients.to)?;
            let org = scope.org;
            let keys = org
                .record_roles()
                .records_of(org.ownership(), user, Some(&role), None);
            done.push(RecordRolesTransferred {
                from: user,
                role: role.clone(),
                handovers: split(keys, &recipients.to, recipients.strategy),
                reason: self.transfer_reason(),
            });
            done.left.roles.remove(&role);
        }
        Ok(())
    }

    /// The plan's `entry` for a kind or role, else the default recipient (round
    /// robin), else nobody: it stays with the user.
    fn recipients(&self, entry: Option<&Recipients>) -> Option<Recipients> {
        match (entry, self.plan.default_to) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(d)) => Some(Recipients {
                to: vec![d],
                strategy: Strategy::RoundRobin,
            }),
            (None, None) => None,
        }
    }

    fn transfer_reason(&self) -> TransferReason {
        match self.operation {
            OffboardingOperation::TransferAccount => TransferReason::Account,
            _ => TransferReason::Offboarding,
        }
    }

    /// Step 2: the people the user manages, to `reports_to` or the default.
    fn move_reports(&self, done: &mut Progress) -> Decided<()> {
        let Some(new_manager) = self.plan.reports_to.or(self.plan.default_to) else {
            return Ok(());
        };
        check_recipients(self.scope, self.user(), &[new_manager])?;
        // A report on the new manager's own chain up to the leaver (the new manager, or
        // someone above them) would close a loop by reporting to them, as `set_manager`
        // forbids: that report moves up to the leaver's own manager instead.
        let above = chain_up(self.scope, new_manager);
        done.left.active_reports = 0;
        for report in std::mem::take(&mut done.left.reports) {
            let to = if above.contains(&report) {
                self.target.manager
            } else {
                Some(new_manager)
            };
            done.push(UserManagerChanged {
                user_id: report,
                from: Some(self.user()),
                to,
            });
        }
        Ok(())
    }

    /// Step 3: singleton duties (R17); one with no new holder stays a blocker.
    fn hand_over_duties(&self, done: &mut Progress) -> Decided<()> {
        for duty in std::mem::take(&mut done.left.duties) {
            match self
                .plan
                .duties
                .get(&duty)
                .copied()
                .or(self.plan.default_to)
            {
                Some(holder) => {
                    check_recipients(self.scope, self.user(), &[holder])?;
                    done.push(DutyAssigned {
                        duty,
                        holder,
                        previous: Some(self.user()),
                    });
                }
                None => done.left.duties.push(duty),
            }
        }
        Ok(())
    }

    /// Steps 2–3 of seed 003: automations and integrations, edited by the plan or
    /// rebalanced as suggested (R18). A delete without a plan leaves a distribution the
    /// user is alone in as a blocker; with a plan it needs a replacement.
    fn rebalance_distributions(&self, done: &mut Progress) -> Decided<()> {
        let (scope, user) = (self.scope, self.user());
        let with_plan = self.operation != OffboardingOperation::Delete;
        done.left.sole_member_of.clear();
        done.left.sole_active_member_of.clear();
        for d in scope.org.distributions().distributions_of(user) {
            let before = d.members.clone();
            let after = match named(&self.plan.distributions, &d.name) {
                Some(edited) => {
                    check_members(scope, user, &d.name, &before, edited)?;
                    edited.clone()
                }
                None => match suggestion(scope.org, &before, user) {
                    Some(suggested) => suggested,
                    None if with_plan => {
                        return Err(DomainError::ReplacementRequired(format!("{:?}", d.name)))
                    }
                    None => {
                        done.left.sole_member_of.push(d.name.clone());
                        done.left.sole_active_member_of.push(d.name.clone());
                        continue;
                    }
                },
            };
            done.push(DistributionRebalanced {
                distribution_id: d.id,
                before,
                after,
            });
        }
        Ok(())
    }

    /// The distributions the user is the backup of go to the default recipient; without
    /// one they stay blockers.
    fn replace_backups(&self, done: &mut Progress) {
        done.left.backup_of.clear();
        for d in self.scope.org.distributions().backup_of(self.user()) {
            match self.plan.default_to {
                Some(to) => done.push(DistributionBackupChanged {
                    distribution_id: d.id,
                    from: Some(self.user()),
                    to: Some(to),
                }),
                None => done.left.backup_of.push(d.name.clone()),
            }
        }
    }

    /// Step 4 of seed 003: the user leaves every label (R19), replaced where the plan
    /// names someone not already in it.
    fn leave_labels(&self, done: &mut Progress) -> Decided<()> {
        let user = self.user();
        for label in self.scope.org.labels().labels_of(user) {
            done.push(LabelMemberRemoved {
                label_id: label.id,
                user,
            });
            if let Some(replacement) = named(&self.plan.labels, &label.name) {
                check_recipients(self.scope, user, &[*replacement])?;
                if !label.members.contains(replacement) {
                    done.push(LabelMemberAdded {
                        label_id: label.id,
                        user: *replacement,
                    });
                }
            }
        }
        Ok(())
    }

    /// Unused credits (R20) to `credits_to` or the default recipient.
    fn move_credits(&self, done: &mut Progress) -> Decided<()> {
        if done.left.credit_balance == 0 {
            return Ok(());
        }
        let destination = self
            .plan
            .credits_to
            .or(self.plan.default_to.map(|id| CreditAccount::User { id }));
        let Some(to) = destination else {
            return Ok(());
        };
        if let CreditAccount::User { id } = to {
            check_recipients(self.scope, self.user(), &[id])?;
        }
        done.push(CreditsTransferred {
            from: CreditAccount::User { id: self.user() },
            to,
            amount: done.left.credit_balance,
        });
        done.left.credit_balance = 0;
        Ok(())
    }

    /// Permissions (`TransferAccount`): the leaver is a member from now on.
    fn move_permissions(&self, done: &mut Progress) {
        if !self.permissions.is_empty() {
            done.left.role = Some(Role::Member);
            done.events.extend(self.permissions.iter().cloned());
        }
    }

    /// The follow-up, checked against what is left after every step.
    fn follow_up(&self, done: &mut Progress) -> Decided<()> {
        let policy = self.scope.org.policy();
        let blocked = |action, blockers| DomainError::Blocked {
            action,
            user: self.target.profile.email.clone(),
            blockers,
        };
        match self.then {
            FollowUp::None => {}
            FollowUp::Deactivate => {
                let events = handover::deactivation(policy, self.target, &done.left)?;
                if self.target.status == UserStatus::Active {
                    done.events.extend(events);
                }
            }
            FollowUp::Delete => {
                let blockers = done
                    .left
                    .delete_blockers(policy.delete_requires_no_credit_history);
                if !blockers.is_empty() {
                    return Err(blocked("delete", blockers));
                }
                done.push(UserDeleted {
                    user_id: self.user(),
                });
            }
        }
        Ok(())
    }

    /// The events between `OffboardingStarted` and `OffboardingCompleted`; an
    /// offboarding that changes nothing is refused.
    fn framed(&self, done: Progress) -> Decided<Vec<Event>> {
        if done.events.is_empty() {
            return Err(DomainError::NothingToTransfer(format!(
                "{} holds nothing the plan moves",
                self.target.profile.email
            )));
        }
        let user = self.user();
        let mut out = Vec::with_capacity(done.events.len() + 2);
        out.push(
            OffboardingStarted {
                user,
                operation: self.operation,
                then: self.then,
            }
            .into(),
        );
        out.extend(done.events);
        out.push(
            OffboardingCompleted {
                user,
                resources_moved: done.moved,
            }
            .into(),
        );
        Ok(out)
    }
}

/// `from` and every manager above it (stopping, should a loop already exist).
fn chain_up(scope: Scope, from: offboard_events::UserId) -> BTreeSet<offboard_events::UserId> {
    let mut chain = BTreeSet::new();
    let mut cursor = Some(from);
    while let Some(id) = cursor.filter(|id| chain.insert(*id)) {
        cursor = scope.org.directory().user(id).and_then(|u| u.manager);
    }
    chain
}

/// An edited distribution (R18): the leaver is out, every member active and listed once,
/// weights positive, and the total unchanged (so within `MAX_TOTAL_WEIGHT`).
fn check_members(
    scope: Scope,
    leaving: offboard_events::UserId,
    name: &str,
    before: &[Member],
    after: &[Member],
) -> Decided<()> {
    if after.is_empty() {
        return Err(DomainError::ReplacementRequired(format!("{name:?}")));
    }
    let mut seen = BTreeSet::new();
    for m in after {
        if m.user == leaving {
            return Err(DomainError::InvalidInput(format!(
                "{name:?} still lists the user who is leaving"
            )));
        }
        if m.weight == 0 {
            return Err(DomainError::InvalidInput(format!(
                "{name:?}: weights must be positive"
            )));
        }
        if !seen.insert(m.user) {
            return Err(DomainError::InvalidInput(format!(
                "{name:?} lists a member twice"
            )));
        }
        scope.recipient(m.user)?;
    }
    super::distributions::same_total(&format!("{name:?}: "), before, after)
}

/// The plan entry for `name`, matched case-insensitively like every name lookup.
fn named<'p, T>(entries: &'p std::collections::BTreeMap<String, T>, name: &str) -> Option<&'p T> {
    entries
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A plan that names a distribution, label or duty the user has no place in would be
/// silently ignored, and the admin's edit lost: refuse it instead.
fn check_plan_names(scope: Scope, target: &User, plan: &OffboardPlan) -> Decided<()> {
    let user = target.id;
    for name in plan.distributions.keys() {
        let known = scope
            .org
            .distributions()
            .distributions_of(user)
            .any(|d| d.name.eq_ignore_ascii_case(name));
        if !known {
            return Err(DomainError::InvalidInput(format!(
                "the plan edits distribution {name:?}, which {} is not a member of",
                target.profile.email
            )));
        }
    }
    for name in plan.labels.keys() {
        if !scope
            .org
            .labels()
            .labels_of(user)
            .any(|l| l.name.eq_ignore_ascii_case(name))
        {
            return Err(DomainError::InvalidInput(format!(
                "the plan replaces {} in label {name:?}, which they are not in",
                target.profile.email
            )));
        }
    }
    let roles = scope.org.record_roles().counts_of(user);
    for role in plan.roles.keys() {
        if !roles.keys().any(|r| r.eq_ignore_ascii_case(role)) {
            return Err(DomainError::InvalidInput(format!(
                "the plan hands over role {role:?}, which {} holds on no record",
                target.profile.email
            )));
        }
    }
    let duties = scope.org.duties().duties_of(user);
    for duty in plan.duties.keys() {
        if !duties.contains(duty) {
            return Err(DomainError::InvalidInput(format!(
                "the plan reassigns duty {duty:?}, which {} does not hold",
                target.profile.email
            )));
        }
    }
    Ok(())
}
