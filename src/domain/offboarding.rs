//! Offboarding a user in one atomic command (R10, R16, R22): the guided `Offboard` with a
//! plan, `TransferAccount` (everything to one colleague), and `DeleteUser` (nothing moves
//! but distribution and label places; anything still held blocks). All three run the
//! same steps — resources, managed users, duties, distributions, labels, credits, then
//! the follow-up — and check the follow-up against what is left after the moves.

use std::collections::BTreeSet;

use offboard_events::{
    CreditAccount, CreditsTransferred, DistributionBackupChanged, DistributionRebalanced,
    DutyAssigned, Event, FollowUp, Handover, LabelMemberAdded, LabelMemberRemoved, Member,
    OffboardingCompleted, OffboardingOperation, OffboardingStarted, ResourcesTransferred, Role,
    TransferReason, UserDeactivated, UserDeleted, UserManagerChanged, UserRoleChanged, UserStatus,
};
use offboard_projections::{suggested_rebalance, User};

use super::authority::Scope;
use super::command::{OffboardPlan, Recipients, Strategy};
use super::error::{Decided, DomainError};
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
    run(
        scope,
        target,
        plan,
        OffboardingOperation::Offboard,
        then,
        confirm,
        Vec::new(),
    )
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
    run(
        scope,
        target,
        &plan,
        OffboardingOperation::TransferAccount,
        then,
        confirm,
        permissions,
    )
}

/// R10/R11: delete with the confirmation phrase. Nothing is reassigned except the places
/// the user leaves in distributions (suggested rebalance) and labels.
pub fn delete(scope: Scope, user: offboard_events::UserId, confirm: &str) -> Decided<Vec<Event>> {
    let target = scope.user(user)?;
    run(
        scope,
        target,
        &OffboardPlan::default(),
        OffboardingOperation::Delete,
        FollowUp::Delete,
        Some(confirm),
        Vec::new(),
    )
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

#[allow(clippy::too_many_arguments)]
fn run(
    scope: Scope,
    target: &User,
    plan: &OffboardPlan,
    operation: OffboardingOperation,
    then: FollowUp,
    confirm: Option<&str>,
    permissions: Vec<Event>,
) -> Decided<Vec<Event>> {
    scope.may_change(target)?;
    let user = target.id;
    let policy = scope.org.policy();
    if then == FollowUp::Delete && confirm != Some(policy.confirmation_phrase.as_str()) {
        return Err(DomainError::ConfirmationRequired {
            expected: policy.confirmation_phrase.clone(),
        });
    }
    if let Some(d) = plan.default_to {
        check_recipients(scope, user, &[d])?;
    }
    check_plan_names(scope, target, plan)?;
    let mut left = Holdings::of(scope.org, target);
    let mut events: Vec<Event> = Vec::new();

    // Step 1: resources, by kind.
    let mut handovers: Vec<Handover> = Vec::new();
    let mut moved = 0u64;
    let kinds: Vec<String> = left.resources.keys().cloned().collect();
    for kind in kinds {
        let recipients = match (plan.resources.get(&kind), plan.default_to) {
            (Some(r), _) => r.clone(),
            (None, Some(d)) => Recipients {
                to: vec![d],
                strategy: Strategy::RoundRobin,
            },
            (None, None) => continue,
        };
        check_recipients(scope, user, &recipients.to)?;
        let keys = scope.org.ownership().resources_of(user, Some(&kind));
        moved += keys.len() as u64;
        for h in split(keys, &recipients.to, recipients.strategy) {
            match handovers.iter_mut().find(|x| x.to == h.to) {
                Some(existing) => existing.resources.extend(h.resources),
                None => handovers.push(h),
            }
        }
        left.resources.remove(&kind);
    }
    if !handovers.is_empty() {
        let reason = match operation {
            OffboardingOperation::TransferAccount => TransferReason::Account,
            _ => TransferReason::Offboarding,
        };
        events.push(
            ResourcesTransferred {
                from: user,
                handovers,
                reason,
            }
            .into(),
        );
    }

    // Step 2: the people the user manages.
    if let Some(new_manager) = plan.reports_to.or(plan.default_to) {
        check_recipients(scope, user, &[new_manager])?;
        // A report on the new manager's own chain up to the leaver (the new manager, or
        // someone above them) would close a loop by reporting to them, as `set_manager`
        // forbids: that report moves up to the leaver's own manager instead.
        let above = chain_up(scope, new_manager);
        for report in std::mem::take(&mut left.reports) {
            let to = if above.contains(&report) {
                target.manager
            } else {
                Some(new_manager)
            };
            events.push(
                UserManagerChanged {
                    user_id: report,
                    from: Some(user),
                    to,
                }
                .into(),
            );
        }
    }

    // Step 3: singleton duties (R17).
    for duty in std::mem::take(&mut left.duties) {
        match plan.duties.get(&duty).copied().or(plan.default_to) {
            Some(holder) => {
                check_recipients(scope, user, &[holder])?;
                events.push(
                    DutyAssigned {
                        duty,
                        holder,
                        previous: Some(user),
                    }
                    .into(),
                );
            }
            None => left.duties.push(duty),
        }
    }

    // Steps 2–3 of seed 003: automations and integrations, suggested or edited (R18).
    let with_plan = operation != OffboardingOperation::Delete;
    left.sole_member_of.clear();
    for d in scope.org.distributions().distributions_of(user) {
        let before = d.members.clone();
        let after = match named(&plan.distributions, &d.name) {
            Some(edited) => {
                check_members(scope, user, &d.name, &before, edited)?;
                edited.clone()
            }
            None => match suggested_rebalance(&before, user) {
                Some(suggested) => suggested,
                None if with_plan => {
                    return Err(DomainError::ReplacementRequired(format!("{:?}", d.name)))
                }
                None => {
                    left.sole_member_of.push(d.name.clone());
                    continue;
                }
            },
        };
        events.push(
            DistributionRebalanced {
                distribution_id: d.id,
                before,
                after,
            }
            .into(),
        );
    }
    left.backup_of.clear();
    for d in scope.org.distributions().backup_of(user) {
        match plan.default_to {
            Some(to) => events.push(
                DistributionBackupChanged {
                    distribution_id: d.id,
                    from: Some(user),
                    to: Some(to),
                }
                .into(),
            ),
            None => left.backup_of.push(d.name.clone()),
        }
    }

    // Step 4 of seed 003: labels (R19).
    for label in scope.org.labels().labels_of(user) {
        events.push(
            LabelMemberRemoved {
                label_id: label.id,
                user,
            }
            .into(),
        );
        if let Some(replacement) = named(&plan.labels, &label.name) {
            check_recipients(scope, user, &[*replacement])?;
            if !label.members.contains(replacement) {
                events.push(
                    LabelMemberAdded {
                        label_id: label.id,
                        user: *replacement,
                    }
                    .into(),
                );
            }
        }
    }

    // Unused credits (R20).
    if left.credit_balance > 0 {
        let destination = plan
            .credits_to
            .or(plan.default_to.map(|id| CreditAccount::User { id }));
        if let Some(to) = destination {
            if let CreditAccount::User { id } = to {
                check_recipients(scope, user, &[id])?;
            }
            events.push(
                CreditsTransferred {
                    from: CreditAccount::User { id: user },
                    to,
                    amount: left.credit_balance,
                }
                .into(),
            );
            left.credit_balance = 0;
        }
    }

    // Permissions (TransferAccount).
    if !permissions.is_empty() {
        left.role = Some(Role::Member);
        events.extend(permissions);
    }

    // The follow-up, checked against what is left.
    match then {
        FollowUp::None => {}
        FollowUp::Deactivate => {
            let blockers = left.deactivate_blockers(policy.deactivate_requires_demotion);
            if !blockers.is_empty() {
                return Err(DomainError::Blocked {
                    action: "deactivate",
                    user: target.profile.email.clone(),
                    blockers,
                });
            }
            if target.status == UserStatus::Active {
                events.push(UserDeactivated { user_id: user }.into());
            }
        }
        FollowUp::Delete => {
            let blockers = left.delete_blockers(policy.delete_requires_no_credit_history);
            if !blockers.is_empty() {
                return Err(DomainError::Blocked {
                    action: "delete",
                    user: target.profile.email.clone(),
                    blockers,
                });
            }
            events.push(UserDeleted { user_id: user }.into());
        }
    }

    if events.is_empty() {
        return Err(DomainError::NothingToTransfer(format!(
            "{} holds nothing the plan moves",
            target.profile.email
        )));
    }
    let mut out = Vec::with_capacity(events.len() + 2);
    out.push(
        OffboardingStarted {
            user,
            operation,
            then,
        }
        .into(),
    );
    out.extend(events);
    out.push(
        OffboardingCompleted {
            user,
            resources_moved: moved,
        }
        .into(),
    );
    Ok(out)
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
