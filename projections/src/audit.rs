//! Audit indexes (R25): which events concern a user, which events one business
//! operation (correlation id) wrote, who acted in each event and what type it is, and
//! the org's timeline for "what was the position at time T".
//!
//! One compact record per event of the org (position, time, correlation id and an
//! interned actor) serves all of them, and also gives the ownership history its
//! correlation id and actor without storing them once per resource. Each event's type
//! is one more byte (an interned name), so a timeline filtered by actor or type walks
//! these records in memory and reads from the log only the events it shows.
//!
//! Every command has its own correlation id, so the correlation index gets an entry for
//! nearly every command: a `Vec` per entry would double the audit view's memory. One
//! operation's events are written together, so they are one run of consecutive events
//! of the org, stored inline as (first index, length); only events of a correlation
//! that comes back after others (rare) are listed separately.

use foldhash::fast::RandomState;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use offboard_events::{Actor, CorrelationId, CreditAccount, Envelope, Event, UserId};
use serde::{Deserialize, Serialize};

use crate::packed::{self, Packed};

/// Who acted in an event, and for whom (R5, R6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Acting {
    pub actor: Actor,
    pub on_behalf_of: Option<UserId>,
}

/// What the audit view keeps of every event: 40 bytes, the actor interned.
#[derive(Clone, Copy, Debug)]
struct EventMeta {
    position: u64,
    occurred_at: DateTime<Utc>,
    correlation_id: CorrelationId,
    acting: u32,
}

/// One event as the audit view knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRecord<'a> {
    pub position: u64,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: CorrelationId,
    pub actor: &'a Actor,
    pub on_behalf_of: Option<UserId>,
    /// The event's type name, e.g. `ResourcesTransferred`.
    pub event_type: &'a str,
}

/// The audit indexes of one org.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Audit {
    /// Every event of the org, in log order.
    #[serde(
        serialize_with = "packed::serialize_vec",
        deserialize_with = "packed::deserialize_vec"
    )]
    events: Vec<EventMeta>,
    /// Distinct actors, in first-seen order.
    acting: Vec<Acting>,
    /// Each event's type, as an index into `types` (one byte: there are fewer than 256
    /// event types), parallel to `events`.
    #[serde(
        serialize_with = "packed::serialize_vec",
        deserialize_with = "packed::deserialize_vec"
    )]
    kinds: Vec<u8>,
    /// Distinct event type names, in first-seen order (names, not the build's
    /// numbering, so a checkpoint reads the same whatever order a build lists them in).
    types: Vec<String>,
    #[serde(skip)]
    acting_slots: HashMap<Acting, u32, RandomState>,
    /// User → positions of the events that concern them.
    #[serde(
        serialize_with = "packed::serialize_lists",
        deserialize_with = "packed::deserialize_lists"
    )]
    by_user: HashMap<UserId, Vec<u64>, RandomState>,
    #[serde(
        serialize_with = "packed::serialize_map",
        deserialize_with = "packed::deserialize_map"
    )]
    by_correlation: BTreeMap<CorrelationId, Run>,
    /// Indexes of events whose correlation's run had ended before them.
    returns: BTreeMap<CorrelationId, Vec<u32>>,
    /// The users of the event being applied: reused, so collecting them allocates nothing.
    #[serde(skip)]
    concerned: Vec<UserId>,
}

/// Consecutive events of the org: (index of the first in `events`, how many).
#[derive(Clone, Copy, Debug)]
struct Run(u32, u32);

impl Packed for EventMeta {
    const WIDTH: usize = 8 + 12 + 16 + 4;
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.position.to_le_bytes());
        packed::pack_time(&self.occurred_at, out);
        packed::pack_uuid(&self.correlation_id.0, out);
        out.extend_from_slice(&self.acting.to_le_bytes());
    }
    fn unpack(b: &[u8]) -> Option<Self> {
        Some(Self {
            position: u64::from_le_bytes(b[0..8].try_into().ok()?),
            occurred_at: packed::unpack_time(&b[8..20])?,
            correlation_id: CorrelationId(packed::unpack_uuid(&b[20..36])),
            acting: u32::from_le_bytes(b[36..40].try_into().ok()?),
        })
    }
}

impl Packed for Run {
    const WIDTH: usize = 8;
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
        out.extend_from_slice(&self.1.to_le_bytes());
    }
    fn unpack(b: &[u8]) -> Option<Self> {
        Some(Self(
            u32::from_le_bytes(b[0..4].try_into().ok()?),
            u32::from_le_bytes(b[4..8].try_into().ok()?),
        ))
    }
}

impl Audit {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        let acting = self.acting_slot(&env.actor, env.on_behalf_of);
        let index = self.events.len() as u32;
        let kind = self.type_slot(env.event.event_type());
        self.kinds.push(kind);
        self.events.push(EventMeta {
            position: env.position,
            occurred_at: env.occurred_at,
            correlation_id: env.correlation_id,
            acting,
        });
        match self.by_correlation.get_mut(&env.correlation_id) {
            None => {
                self.by_correlation
                    .insert(env.correlation_id, Run(index, 1));
            }
            Some(run) if run.0 + run.1 == index => run.1 += 1,
            Some(_) => self
                .returns
                .entry(env.correlation_id)
                .or_default()
                .push(index),
        }
        // One event can name a user twice (e.g. as member before and after). Repeats
        // are dropped here rather than by reading each list's last position: that read
        // is a cache miss per user, where a push alone is a store the CPU does not wait on.
        let mut users = std::mem::take(&mut self.concerned);
        concerned_users(env, &mut users);
        users.sort_unstable();
        users.dedup();
        for user in users.drain(..) {
            self.by_user.entry(user).or_default().push(env.position);
        }
        self.concerned = users;
    }

    /// Rebuilds the actor index, which is not serialized, after checking that every
    /// stored index points inside its table (a damaged checkpoint is refused).
    pub(crate) fn rebuild(&mut self) -> Result<(), String> {
        let (events, actors) = (self.events.len(), self.acting.len());
        if let Some(meta) = self.events.iter().find(|m| m.acting as usize >= actors) {
            return Err(format!(
                "event {} names actor {} of {actors}",
                meta.position, meta.acting
            ));
        }
        if self.kinds.len() != events || self.kinds.iter().any(|k| *k as usize >= self.types.len())
        {
            return Err(format!(
                "{} event types for {events} events, naming {} types",
                self.kinds.len(),
                self.types.len()
            ));
        }
        let runs_fit = self
            .by_correlation
            .values()
            .all(|Run(first, len)| (u64::from(*first) + u64::from(*len)) as usize <= events);
        let returns_fit = self
            .returns
            .values()
            .flatten()
            .all(|i| (*i as usize) < events);
        if !runs_fit || !returns_fit {
            return Err("a correlation names events past the end".to_owned());
        }
        self.acting_slots = self
            .acting
            .iter()
            .enumerate()
            .map(|(i, a)| (a.clone(), i as u32))
            .collect();
        Ok(())
    }

    fn acting_slot(&mut self, actor: &Actor, on_behalf_of: Option<UserId>) -> u32 {
        // The last event's actor is the likeliest (one command writes several events):
        // no hashing, and no clone of the actor to look it up.
        if let Some(last) = self.events.last() {
            let known = &self.acting[last.acting as usize];
            if known.actor == *actor && known.on_behalf_of == on_behalf_of {
                return last.acting;
            }
        }
        let acting = Acting {
            actor: actor.clone(),
            on_behalf_of,
        };
        if let Some(slot) = self.acting_slots.get(&acting) {
            return *slot;
        }
        let slot = self.acting.len() as u32;
        self.acting.push(acting.clone());
        self.acting_slots.insert(acting, slot);
        slot
    }

    fn type_slot(&mut self, name: &str) -> u8 {
        // The last event's type is the likeliest (a load is many events of one type).
        if let Some(last) = self.kinds.last() {
            if self.types[*last as usize] == name {
                return *last;
            }
        }
        if let Some(i) = self.types.iter().position(|t| t == name) {
            return i as u8;
        }
        // There are fewer than 256 event types (a test says so).
        self.types.push(name.to_owned());
        (self.types.len() - 1) as u8
    }

    fn record(&self, index: usize) -> EventRecord<'_> {
        let meta = &self.events[index];
        let acting = &self.acting[meta.acting as usize];
        EventRecord {
            position: meta.position,
            occurred_at: meta.occurred_at,
            correlation_id: meta.correlation_id,
            actor: &acting.actor,
            on_behalf_of: acting.on_behalf_of,
            event_type: &self.types[self.kinds[index] as usize],
        }
    }

    /// The org's event at `position`, if that position belongs to this org.
    pub fn event(&self, position: u64) -> Option<EventRecord<'_>> {
        let i = self
            .events
            .binary_search_by_key(&position, |m| m.position)
            .ok()?;
        Some(self.record(i))
    }

    /// Every event of the org, in log order.
    pub fn events(&self) -> impl Iterator<Item = EventRecord<'_>> {
        (0..self.events.len()).map(|i| self.record(i))
    }

    /// How many events the org has.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Positions of the events that concern `user`: their own stream, resources moved to
    /// or from them, duties, distribution and label places, credits, manager changes and
    /// what was done on their behalf.
    pub fn positions_for_user(&self, user: UserId) -> &[u64] {
        self.by_user.get(&user).map_or(&[], Vec::as_slice)
    }

    /// Positions of every event one business operation wrote (R22, R25).
    pub fn positions_for_correlation(&self, id: CorrelationId) -> Vec<u64> {
        let Some(Run(first, len)) = self.by_correlation.get(&id).copied() else {
            return Vec::new();
        };
        let run = first as usize..(first + len) as usize;
        let returns = self.returns.get(&id).into_iter().flatten();
        run.chain(returns.map(|i| *i as usize))
            .map(|i| self.events[i].position)
            .collect()
    }

    /// Every correlation id of this org whose 32 hex digits start with `prefix` (lowercase
    /// hex digits, at most 32, no hyphens), in id order: how a CLI finds the operation a
    /// short id names.
    pub fn correlations_with_prefix(&self, prefix: &str) -> Vec<CorrelationId> {
        let bound = |pad: char| {
            let text: String = prefix
                .chars()
                .chain(std::iter::repeat(pad))
                .take(32)
                .collect();
            uuid::Uuid::try_parse(&text).ok().map(CorrelationId)
        };
        let (Some(low), Some(high)) = (bound('0'), bound('f')) else {
            return Vec::new();
        };
        self.by_correlation
            .range(low..=high)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The last position of this org that occurred at or before `time` (0 if none):
    /// "as of time T" is "as of this position". Relies on `occurred_at` never decreasing
    /// along the log, which the single writer guarantees.
    pub fn last_position_at_or_before(&self, time: DateTime<Utc>) -> u64 {
        let after = self.events.partition_point(|m| m.occurred_at <= time);
        after.checked_sub(1).map_or(0, |i| self.events[i].position)
    }

    /// The org's timeline between two times, both included (R25).
    pub fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = EventRecord<'_>> {
        let start = self.events.partition_point(|m| m.occurred_at < from);
        let end = self
            .events
            .partition_point(|m| m.occurred_at <= to)
            .max(start);
        (start..end).map(|i| self.record(i))
    }

    /// Which events a filter keeps: those whose actor passes `actor` (asked once per
    /// distinct actor, not per event) and, when `event_type` is named, of that type.
    pub fn select(
        &self,
        actor: Option<&dyn Fn(&Acting) -> bool>,
        event_type: Option<&str>,
    ) -> Selection {
        Selection {
            actors: actor.map(|keep| self.acting.iter().map(keep).collect()),
            kind: event_type.map(|name| self.types.iter().position(|t| t == name).map(|i| i as u8)),
        }
    }

    /// Whether the org's event at `position` is one `selection` keeps (`false` for a
    /// position that is not the org's).
    pub fn keeps(&self, selection: &Selection, position: u64) -> bool {
        self.events
            .binary_search_by_key(&position, |m| m.position)
            .is_ok_and(|i| self.kept(selection, i))
    }

    fn kept(&self, selection: &Selection, index: usize) -> bool {
        let actor_ok = selection
            .actors
            .as_ref()
            .is_none_or(|keep| keep[self.events[index].acting as usize]);
        let type_ok = selection
            .kind
            .is_none_or(|kind| kind == Some(self.kinds[index]));
        actor_ok && type_ok
    }

    /// Positions of the org's events after `after`, between two times (both included),
    /// that `selection` keeps, in log order. A lazy walk over the in-memory records:
    /// taking the first `n` costs as many records as it passes, and reads no event.
    pub fn scan<'a>(
        &'a self,
        selection: &'a Selection,
        after: u64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = u64> + 'a {
        let start = self
            .events
            .partition_point(|m| m.position <= after || m.occurred_at < from);
        let none = selection.kind == Some(None);
        self.events[start..]
            .iter()
            .enumerate()
            .take_while(move |(_, m)| !none && m.occurred_at <= to)
            .filter(move |(i, _)| self.kept(selection, start + i))
            .map(|(_, m)| m.position)
    }
}

/// What [`Audit::select`] keeps: per actor slot whether it passes (`None`: every actor),
/// and the event type's slot (`None`: every type; `Some(None)`: a type the org never
/// recorded, so nothing).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    actors: Option<Vec<bool>>,
    kind: Option<Option<u8>>,
}

/// Adds the users an event concerns to `users`, possibly with repeats.
fn concerned_users(env: &Envelope, users: &mut Vec<UserId>) {
    users.extend(env.on_behalf_of);
    match &env.event {
        Event::OrganizationCreated(e) => users.push(e.owner),
        Event::OrgOwnershipTransferred(e) => users.extend([e.from, e.to]),
        Event::UserInvited(e) => users.extend([Some(e.user_id), e.manager].into_iter().flatten()),
        Event::UserManagerChanged(e) => {
            users.extend([Some(e.user_id), e.from, e.to].into_iter().flatten())
        }
        Event::UserActivated(e) => users.push(e.user_id),
        Event::UserRoleChanged(e) => users.push(e.user_id),
        Event::UserJoinedGroup(e) => users.push(e.user_id),
        Event::UserLeftGroup(e) => users.push(e.user_id),
        Event::GroupChanged(e) => users.push(e.owner),
        Event::UserProfileChanged(e) => users.push(e.user_id),
        Event::UserDeactivated(e) => users.push(e.user_id),
        Event::WorkLeftUnattended(e) => users.push(e.user_id),
        Event::UserReactivated(e) => users.push(e.user_id),
        Event::UserDeleted(e) => users.push(e.user_id),
        Event::UserRestored(e) => users.push(e.user_id),
        Event::UserPurged(e) => users.push(e.user_id),
        Event::DeprovisionPending(e) => users.push(e.user_id),
        Event::ResourcesRegistered(e) => users.push(e.owner),
        Event::ResourcesRetired(e) => users.push(e.owner),
        Event::ResourcesTransferred(e) => {
            users.push(e.from);
            users.extend(e.handovers.iter().map(|h| h.to));
        }
        Event::RecordRoleAssigned(e) => users.push(e.user),
        Event::RecordRoleUnassigned(e) => users.push(e.user),
        Event::RecordRolesTransferred(e) => {
            users.push(e.from);
            users.extend(e.handovers.iter().map(|h| h.to));
        }
        Event::DutyAssigned(e) => users.extend([Some(e.holder), e.previous].into_iter().flatten()),
        Event::DistributionCreated(e) => {
            users.extend(e.members.iter().map(|m| m.user).chain(e.backup));
        }
        Event::DistributionRebalanced(e) => {
            users.extend(e.before.iter().chain(&e.after).map(|m| m.user));
        }
        Event::DistributionBackupChanged(e) => users.extend(e.from.into_iter().chain(e.to)),
        Event::LabelCreated(e) => users.extend(e.members.iter().copied()),
        Event::LabelMemberAdded(e) => users.push(e.user),
        Event::LabelMemberRemoved(e) => users.push(e.user),
        Event::CreditsGranted(e) => users.push(e.user),
        Event::CreditsUsed(e) => users.push(e.user),
        Event::CreditsTransferred(e) => {
            for account in [e.from, e.to] {
                if let CreditAccount::User { id } = account {
                    users.push(id);
                }
            }
        }
        Event::OffboardingStarted(e) => users.push(e.user),
        Event::OffboardingCompleted(e) => users.push(e.user),
        Event::OffboardingReverted(e) => users.push(e.user),
        Event::OffboardingScheduled(e) => users.push(e.user),
        Event::ScheduleMoved(e) => users.push(e.user),
        Event::ScheduleCancelled(e) => users.push(e.user),
        Event::ScheduleStarted(e) => users.push(e.user),
        Event::ScheduleCompleted(e) => users.push(e.user),
        Event::ScheduleFailed(e) => users.push(e.user),
        Event::PolicyChanged(_)
        | Event::PrincipalRegistered(_)
        | Event::LogLossAccepted(_)
        | Event::RecordRoleDeclared(_)
        | Event::CreditsAddedToPool(_) => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_type_fits_in_a_byte() {
        assert!(offboard_events::Event::TYPES.len() < 256);
    }
}
