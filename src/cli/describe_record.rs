//! Events in plain words as they concern ONE record, for `history --resource KIND:ID`:
//! an auditor asking "who moved buyer B-17?" reads B-17's move, not the sentence of the
//! whole operation ("Moved 10,000 buyers from pat to ann (5,000) and bob (5,000)"),
//! which hides whom B-17 went to.

use offboard_events::{Envelope, Event, Handover, ResourceKey, TransferReason, UserId};

use super::describe;
use super::names::Names;
use crate::domain::plural;

/// One sentence for `env` as it concerns `key`; events that do not list records (or
/// do not list `key`) read as [`describe::sentence`] says.
pub fn about(org: &dyn Names, env: &Envelope, key: &ResourceKey) -> String {
    let who = |id: UserId| org.email(id);
    let listed = |keys: &[ResourceKey]| keys.contains(key);
    match &env.event {
        Event::ResourcesRegistered(e) if listed(&e.resources) => format!(
            "Registered {key} owned by {}{}.",
            who(e.owner),
            alongside(e.resources.len())
        ),
        Event::ResourcesTransferred(e) => match recipient(&e.handovers, key) {
            Some(to) => format!(
                "Moved {key} from {} to {}{}{}.",
                who(e.from),
                who(to),
                alongside(e.count()),
                match e.reason {
                    TransferReason::Sync => " (sync: the system of record names the new owner)",
                    TransferReason::Restore => " (given back by a restore or revert)",
                    _ => "",
                }
            ),
            None => describe::sentence(org, env),
        },
        Event::ResourcesRetired(e) if listed(&e.resources) => format!(
            "Retired {key} of {}: owned by nobody from now on, history kept{}.",
            who(e.owner),
            alongside(e.resources.len())
        ),
        Event::RecordRoleAssigned(e) if listed(&e.resources) => format!(
            "{} is now {} of {key}{}.",
            who(e.user),
            e.role.replace('_', " "),
            alongside(e.resources.len())
        ),
        Event::RecordRoleUnassigned(e) if listed(&e.resources) => format!(
            "{} is no longer {} of {key}{}.",
            who(e.user),
            e.role.replace('_', " "),
            alongside(e.resources.len())
        ),
        Event::RecordRolesTransferred(e) => match recipient(&e.handovers, key) {
            Some(to) => format!(
                "Moved the {} role on {key} from {} to {}{}.",
                e.role.replace('_', " "),
                who(e.from),
                who(to),
                alongside(e.handovers.iter().map(|h| h.resources.len()).sum())
            ),
            None => describe::sentence(org, env),
        },
        _ => describe::sentence(org, env),
    }
}

/// Who received `key` in `handovers`, if anyone did.
fn recipient(handovers: &[Handover], key: &ResourceKey) -> Option<UserId> {
    handovers
        .iter()
        .find(|h| h.resources.contains(key))
        .map(|h| h.to)
}

/// ` (with 9999 other records in the same event)`, or nothing for one record.
fn alongside(records: usize) -> String {
    match records.saturating_sub(1) {
        0 => String::new(),
        others => format!(
            " (with {others} other {} in the same event)",
            plural("record", others as u64)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alongside_counts_the_other_records_only() {
        assert_eq!(alongside(1), "");
        assert_eq!(alongside(2), " (with 1 other record in the same event)");
        assert_eq!(
            alongside(10_000),
            " (with 9999 other records in the same event)"
        );
    }
}
