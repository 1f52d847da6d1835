//! Events in plain words, for people: what a command did, one sentence per change,
//! naming users by email. Offboarding markers say nothing on their own.

use std::collections::BTreeMap;

use offboard_events::{Actor, CreditAccount, Envelope, Event, Handover, Member, UserId};

use super::names::Names;
use crate::domain::plural;

/// One sentence per event that changed something people care about.
pub fn events(org: &dyn Names, events: &[Envelope]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.org_id == org.org_id())
        .filter_map(|e| event(org, &e.event))
        .collect()
}

/// One sentence for any event, offboarding markers included (for history listings).
pub fn sentence(org: &dyn Names, env: &Envelope) -> String {
    match &env.event {
        Event::OffboardingStarted(e) => format!(
            "Started {} of {} (then {}).",
            serde_json::to_value(e.operation)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default(),
            org.email(e.user),
            serde_json::to_value(e.then)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
        Event::OffboardingCompleted(e) => format!(
            "Completed the offboarding step of {} ({} {} moved).",
            org.email(e.user),
            e.resources_moved,
            plural("resource", e.resources_moved)
        ),
        other => event(org, other).unwrap_or_default(),
    }
}

/// Who acted, for people: an email, `support:NAME`, `auditor:NAME` or `system`, with
/// the impersonated user.
pub fn actor(org: &dyn Names, env: &Envelope) -> String {
    acting(org, &env.actor, env.on_behalf_of)
}

/// [`actor`] of an actor and the user it acted for, if any: `dana@acme.example`,
/// `support:helpdesk for pat@acme.example`.
pub fn acting(org: &dyn Names, actor: &Actor, on_behalf_of: Option<UserId>) -> String {
    let who = match actor {
        Actor::User { id } => org.email(*id),
        other => other.to_string(),
    };
    match on_behalf_of {
        Some(u) => format!("{who} for {}", org.email(u)),
        None => who,
    }
}

/// `10 buyers`, or `25 resources (10 buyers, 15 leads)`.
pub fn count_by_kind(keys: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    for key in keys {
        let kind = key.as_ref().split_once(':').map_or("resource", |(k, _)| k);
        *kinds.entry(kind.to_owned()).or_default() += 1;
        total += 1;
    }
    let parts: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{n} {}", plural(k, *n)))
        .collect();
    match parts.len() {
        0 => "nothing".to_owned(),
        1 => parts[0].clone(),
        _ => format!("{total} resources ({})", parts.join(", ")),
    }
}

/// `ann@x (2), bob@x (1)`.
pub fn members(org: &dyn Names, members: &[Member]) -> String {
    members
        .iter()
        .map(|m| format!("{} ({})", org.email(m.user), m.weight))
        .collect::<Vec<_>>()
        .join(", ")
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn handovers(org: &dyn Names, from: UserId, handovers: &[Handover]) -> String {
    let all = handovers
        .iter()
        .flat_map(|h| h.resources.iter().map(|k| k.as_str()));
    format!(
        "Moved {} {}.",
        count_by_kind(all),
        from_to(org, from, handovers)
    )
}

/// `from pat@x to ann@x`, or `from pat@x to ann@x (5) and bob@x (5)`.
fn from_to(org: &dyn Names, from: UserId, handovers: &[Handover]) -> String {
    let to: Vec<String> = if handovers.len() == 1 {
        vec![org.email(handovers[0].to)]
    } else {
        handovers
            .iter()
            .map(|h| format!("{} ({})", org.email(h.to), h.resources.len()))
            .collect()
    };
    format!("from {} to {}", org.email(from), and_list(&to))
}

/// `deal:D-9` for one record, else `3 deals` (or `25 resources (10 deals, 15 leads)`).
fn records(keys: &[offboard_events::ResourceKey]) -> String {
    match keys {
        [one] => one.to_string(),
        many => count_by_kind(many.iter().map(|k| k.as_str())),
    }
}

fn account(org: &dyn Names, a: CreditAccount) -> String {
    match a {
        CreditAccount::Pool => "the pool".to_owned(),
        CreditAccount::User { id } => org.email(id),
    }
}

fn label_name(org: &dyn Names, id: offboard_events::LabelId) -> String {
    org.label_name(id)
        .map_or_else(|| id.to_string(), |name| format!("{name:?}"))
}

fn distribution_name(org: &dyn Names, id: offboard_events::DistributionId) -> String {
    org.distribution_name(id)
        .map_or_else(|| id.to_string(), |name| format!("{name:?}"))
}

fn event(org: &dyn Names, event: &Event) -> Option<String> {
    let who = |id: UserId| org.email(id);
    Some(match event {
        Event::OrganizationCreated(e) => format!("Created the organization {:?}.", e.name),
        Event::PolicyChanged(e) => format!(
            "Policy: confirmation phrase {:?}, restorable for {} days, demotion before deactivation {}, no deletion after credit use {}.",
            e.policy.confirmation_phrase,
            e.policy.retention_days,
            on_off(e.policy.deactivate_requires_demotion),
            on_off(e.policy.delete_requires_no_credit_history)
        ),
        Event::OrgOwnershipTransferred(e) => format!(
            "{} now owns the organization; {} is an admin.",
            who(e.to),
            who(e.from)
        ),
        Event::PrincipalRegistered(e) => format!(
            "{} {:?} now serves this organization.",
            match e.kind {
                offboard_events::PrincipalKind::Support => "Support agent",
                offboard_events::PrincipalKind::Auditor => "Auditor",
                offboard_events::PrincipalKind::Provisioner => "Provisioner",
            },
            e.name
        ),
        Event::LogLossAccepted(e) => format!(
            "The operator accepted the loss of positions {}..={} (claimed by {}); the log goes on from here.",
            e.missing_from,
            e.missing_to,
            e.claimed_by.join(", ")
        ),
        Event::UserInvited(e) => format!(
            "Added {} ({} {}, {}).",
            e.profile.email,
            e.profile.first_name,
            e.profile.last_name,
            e.role.as_str()
        ),
        Event::UserActivated(e) => format!("{} is active.", who(e.user_id)),
        Event::UserRoleChanged(e) => format!(
            "{} is now {} {} (was {}).",
            who(e.user_id),
            article(e.to.as_str()),
            e.to.as_str(),
            e.from.as_str()
        ),
        Event::UserManagerChanged(e) => match e.to {
            Some(m) => format!("{} now reports to {}.", who(e.user_id), who(m)),
            None => format!("{} has no manager now.", who(e.user_id)),
        },
        Event::UserJoinedGroup(e) => format!("{} joined group {:?}.", who(e.user_id), e.group.id()),
        Event::UserLeftGroup(e) => format!("{} left group {:?}.", who(e.user_id), e.group.id()),
        Event::GroupChanged(e) => format!(
            "Group {} is now named {:?}{}.",
            e.group,
            e.name,
            match &e.external_id {
                Some(x) => format!(", external id {x}"),
                None => String::new(),
            }
        ),
        Event::UserProfileChanged(e) => format!("{}'s profile changed.", e.profile.email),
        Event::DeprovisionPending(e) => format!(
            "Deprovisioning {} could not hand everything over: {}.",
            who(e.user_id),
            e.pending
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Event::UserDeactivated(e) => format!(
            "Deactivated {}: they can no longer sign in, keep what they still own, and their seat is still billed.",
            who(e.user_id)
        ),
        Event::WorkLeftUnattended(e) => format!(
            "Deactivating {} leaves work with nobody: {}.",
            who(e.user_id),
            e.items.iter().map(|i| i.message.as_str()).collect::<Vec<_>>().join("; ")
        ),
        Event::UserReactivated(e) => format!("Reactivated {}: they can sign in again.", who(e.user_id)),
        Event::UserDeleted(e) => format!(
            "Deleted {}: gone from the directory, seat no longer billed, email free again; restorable for {}.",
            who(e.user_id),
            org.policy()
                .map_or_else(|_| "the retention window".to_owned(), |p| format!("{} days", p.retention_days))
        ),
        Event::UserRestored(e) => format!("Restored {} as {}.", who(e.user_id), e.status.as_str()),
        Event::UserPurged(e) => format!("Purged user {}: their personal data is unreadable forever.", e.user_id),
        Event::ResourcesRegistered(e) => format!(
            "Registered {} owned by {}.",
            count_by_kind(e.resources.iter().map(|k| k.as_str())),
            who(e.owner)
        ),
        Event::ResourcesTransferred(e) => match e.reason {
            offboard_events::TransferReason::Sync => format!(
                "{} (sync: the system of record names the new owner)",
                handovers(org, e.from, &e.handovers).trim_end_matches('.')
            ),
            _ => handovers(org, e.from, &e.handovers),
        },
        Event::ResourcesRetired(e) => format!(
            "Retired {} of {}{}: owned by nobody from now on, history kept.",
            count_by_kind(e.resources.iter().map(|k| k.as_str())),
            who(e.owner),
            match e.reason {
                offboard_events::RetireReason::Sync => " (no longer in the system of record)",
                offboard_events::RetireReason::Removed => "",
            }
        ),
        Event::RecordRoleDeclared(e) => format!(
            "Declared record role {} {}.",
            e.role.replace('_', " "),
            match e.multi {
                true => "multi-holder: any number of holders per record",
                false => "single-holder: one holder per record",
            }
        ),
        Event::RecordRoleAssigned(e) => format!(
            "{} is now {} of {}.",
            who(e.user),
            e.role.replace('_', " "),
            records(&e.resources)
        ),
        Event::RecordRoleUnassigned(e) => format!(
            "{} is no longer {} of {}.",
            who(e.user),
            e.role.replace('_', " "),
            records(&e.resources)
        ),
        Event::RecordRolesTransferred(e) => {
            let keys: Vec<_> = e.handovers.iter().flat_map(|h| h.resources.iter().cloned()).collect();
            format!(
                "Moved the {} role on {} {}.",
                e.role.replace('_', " "),
                records(&keys),
                from_to(org, e.from, &e.handovers)
            )
        }
        Event::DutyAssigned(e) => match e.previous {
            Some(p) => format!(
                "{} is now the {} (was {}).",
                who(e.holder),
                e.duty.replace('_', " "),
                who(p)
            ),
            None => format!("{} is now the {}.", who(e.holder), e.duty.replace('_', " ")),
        },
        Event::DistributionCreated(e) => format!(
            "Created {} {:?}: {}{}.",
            kind_word(e.kind),
            e.name,
            members(org, &e.members),
            e.backup.map(|b| format!("; backup {}", who(b))).unwrap_or_default()
        ),
        Event::DistributionRebalanced(e) => format!(
            "{} now routes to {} (was {}).",
            distribution_name(org, e.distribution_id),
            members(org, &e.after),
            members(org, &e.before)
        ),
        Event::DistributionBackupChanged(e) => format!(
            "{}'s backup is now {} (was {}).",
            distribution_name(org, e.distribution_id),
            e.to.map_or("nobody".to_owned(), who),
            e.from.map_or("nobody".to_owned(), who)
        ),
        Event::LabelCreated(e) => format!(
            "Created label {:?} with {}.",
            e.name,
            if e.members.is_empty() {
                "no members".to_owned()
            } else {
                and_list(&e.members.iter().map(|m| who(*m)).collect::<Vec<_>>())
            }
        ),
        Event::LabelMemberAdded(e) => format!("Added {} to label {}.", who(e.user), label_name(org, e.label_id)),
        Event::LabelMemberRemoved(e) => format!("Removed {} from label {}.", who(e.user), label_name(org, e.label_id)),
        Event::CreditsAddedToPool(e) => format!("Added {} {} to the pool.", e.amount, plural("credit", e.amount)),
        Event::CreditsGranted(e) => format!("Granted {} {} from the pool to {}.", e.amount, plural("credit", e.amount), who(e.user)),
        Event::CreditsUsed(e) => format!("{} used {} {}.", who(e.user), e.amount, plural("credit", e.amount)),
        Event::CreditsTransferred(e) => format!(
            "Moved {} {} from {} to {}.",
            e.amount,
            plural("credit", e.amount),
            account(org, e.from),
            account(org, e.to)
        ),
        Event::OffboardingStarted(_) | Event::OffboardingCompleted(_) => return None,
        Event::OffboardingReverted(e) => format!(
            "Reverted operation {}: {} returned, {} skipped.",
            e.reverted,
            e.returned,
            e.skipped.len()
        ),
        Event::OffboardingScheduled(e) => format!(
            "Scheduled schedule {}: {} is offboarded at {}{}{}.",
            e.schedule_id,
            who(e.user),
            e.at.to_rfc3339(),
            match e.then {
                offboard_events::FollowUp::Delete => ", then deleted",
                _ => ", then deactivated",
            },
            e.delete_after_days
                .map_or_else(String::new, |d| format!(", and deleted {d} days later"))
        ),
        Event::ScheduleMoved(e) => format!(
            "Moved the {} run of schedule {} ({}) from {} to {}.",
            e.phase.as_str(),
            e.schedule_id,
            who(e.user),
            e.from.to_rfc3339(),
            e.to.to_rfc3339()
        ),
        Event::ScheduleCancelled(e) => {
            format!("Cancelled schedule {} ({}).", e.schedule_id, who(e.user))
        }
        Event::ScheduleStarted(e) => format!(
            "Schedule {} started its {} run for {} (due {}).",
            e.schedule_id,
            e.phase.as_str(),
            who(e.user),
            e.due.to_rfc3339()
        ),
        Event::ScheduleCompleted(e) => format!(
            "Schedule {} completed its {} run for {}{}.",
            e.schedule_id,
            e.phase.as_str(),
            who(e.user),
            e.delete_at
                .map_or_else(String::new, |t| format!("; the delete runs at {}", t.to_rfc3339()))
        ),
        Event::ScheduleFailed(e) => format!(
            "Schedule {} failed its {} run for {}: {}{}",
            e.schedule_id,
            e.phase.as_str(),
            who(e.user),
            e.message,
            if e.deactivated {
                " — access was removed all the same."
            } else {
                "."
            }
        ),
    })
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

pub fn kind_word(kind: offboard_events::DistributionKind) -> &'static str {
    match kind {
        offboard_events::DistributionKind::Rotation => "lead rotation",
        offboard_events::DistributionKind::Automation => "workflow automation",
        offboard_events::DistributionKind::Integration => "integration",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_like_sentences() {
        assert_eq!(count_by_kind(["buyer:1", "buyer:2"]), "2 buyers");
        assert_eq!(count_by_kind(["buyer:1"]), "1 buyer");
        assert_eq!(
            count_by_kind(["buyer:1", "lead:2", "lead:3"]),
            "3 resources (1 buyer, 2 leads)"
        );
        assert_eq!(
            and_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }
}
