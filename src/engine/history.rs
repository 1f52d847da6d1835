//! Audit reads (R25): the events behind the audit indexes — a user's full history, every
//! owner a resource had, what one offboarding did, the org's timeline — and time travel:
//! any view as of a position or a time.

use chrono::{DateTime, Utc};
use offboard_events::{CorrelationId, Envelope, OrgId, ResourceKey, UserId};
use offboard_projections::{OwnershipChange, State};

use super::checkpoint;
use super::replay::{for_each_envelope, ReadError};
use super::Engine;

impl Engine {
    /// The envelopes at `positions`, in the order given.
    pub fn read_positions(&self, positions: &[u64]) -> Result<Vec<Envelope>, ReadError> {
        positions.iter().map(|p| self.read_one(*p)).collect()
    }

    /// Every event that concerns `user` in `org`, oldest first.
    pub fn user_history(&self, org: OrgId, user: UserId) -> Result<Vec<Envelope>, ReadError> {
        let positions = self
            .state()
            .org(org)
            .map(|o| o.audit().positions_for_user(user).to_vec())
            .unwrap_or_default();
        self.read_positions(&positions)
    }

    /// Every owner `key` had, oldest first, with who moved it and under which correlation.
    pub fn resource_history(&self, org: OrgId, key: &ResourceKey) -> Vec<OwnershipChange> {
        self.state()
            .org(org)
            .map(|o| o.owner_history(key))
            .unwrap_or_default()
    }

    /// Every event one business operation (e.g. one offboarding) wrote.
    pub fn correlation_history(
        &self,
        org: OrgId,
        id: CorrelationId,
    ) -> Result<Vec<Envelope>, ReadError> {
        let positions = self
            .state()
            .org(org)
            .map(|o| o.audit().positions_for_correlation(id))
            .unwrap_or_default();
        self.read_positions(&positions)
    }

    /// The org's events with `since <= occurred_at <= until`.
    pub fn timeline(
        &self,
        org: OrgId,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Envelope>, ReadError> {
        let positions: Vec<u64> = self
            .state()
            .org(org)
            .map(|o| {
                o.audit()
                    .between(since, until)
                    .map(|r| r.position)
                    .collect()
            })
            .unwrap_or_default();
        self.read_positions(&positions)
    }

    /// The last position of `org` at or before `time` ("as of time" is "as of position").
    pub fn position_at(&self, org: OrgId, time: DateTime<Utc>) -> u64 {
        self.state()
            .org(org)
            .map_or(0, |o| o.audit().last_position_at_or_before(time))
    }

    /// Every view as it stood right after `position`: the checkpoint if it is not past
    /// `position`, plus a replay of the log up to it.
    pub fn state_at(&self, position: u64) -> Result<State, ReadError> {
        let mut state = checkpoint::load(self.store().as_ref(), self.vault())?
            .and_then(Result::ok)
            .filter(|s| s.position() <= position)
            .unwrap_or_default();
        self.noticed(for_each_envelope(
            self.store().as_ref(),
            self.vault(),
            state.position() + 1,
            position.min(self.last_position()),
            &mut |e| state.apply(&e),
        ))?;
        Ok(state)
    }
}
