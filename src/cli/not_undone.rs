//! What a `restore` leaves in place: the operations before the deleting one that moved
//! things away from the user (an offboarding that deactivated them, a hand-picked
//! transfer). `restore --return-ownership` gives back only what the deleting offboarding
//! moved; these are named with the `revert ID` that gives theirs back.

use std::collections::BTreeSet;

use offboard_events::{CorrelationId, Envelope, Event, UserId};

use super::error::CliError;
use super::{Backend, Ctx};
use crate::read::{HistoryQuery, HistorySelector};

/// The correlation ids, oldest first, of the operations in `user`'s history that moved
/// things away from them, other than the one that deleted them and the ones reverted
/// since. Through a server, a token that may not read histories sees none.
pub fn operations(cx: &Ctx, user: UserId) -> Result<Vec<CorrelationId>, CliError> {
    let history = match cx.backend {
        Backend::Embedded(s) => s.engine().user_history(cx.org_id()?, user)?,
        Backend::Remote(_) => {
            let query = HistoryQuery {
                selector: HistorySelector::User(user.into()),
                ..HistoryQuery::default()
            };
            cx.reader()?
                .all(query, |page| page.events)
                .map(|events| events.into_iter().map(|e| e.0).collect())
                .unwrap_or_default()
        }
    };
    Ok(not_undone(&history, user))
}

/// [`operations`] over a history already read.
fn not_undone(history: &[Envelope], user: UserId) -> Vec<CorrelationId> {
    let mut moved: Vec<CorrelationId> = Vec::new();
    let mut excluded: BTreeSet<CorrelationId> = BTreeSet::new();
    for e in history {
        match &e.event {
            Event::OffboardingStarted(s) if s.user == user => moved.push(e.correlation_id),
            Event::ResourcesTransferred(t) if t.from == user => moved.push(e.correlation_id),
            Event::UserDeleted(d) if d.user_id == user => {
                excluded.insert(e.correlation_id);
            }
            Event::OffboardingReverted(r) => {
                excluded.insert(r.reverted);
            }
            _ => {}
        }
    }
    let mut seen = BTreeSet::new();
    moved
        .into_iter()
        .filter(|id| !excluded.contains(id) && seen.insert(*id))
        .collect()
}
