//! The state of every organization, folded from the log one envelope at a time, and
//! time travel by replaying into a fresh state.

use std::collections::BTreeMap;

use offboard_events::{Envelope, Event, OrgId};
use serde::{Deserialize, Serialize};

use crate::org::OrgState;
use crate::streams::Streams;
use crate::text::caseless_key;

/// Every org's projections and the last position applied.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    position: u64,
    /// The hash of the envelope at `position` (empty before the first event, and in a
    /// checkpoint of an earlier build that did not record it): a checkpoint names the
    /// exact event it stopped at, so opening can tell a log rewritten behind it.
    #[serde(default)]
    hash: String,
    orgs: BTreeMap<OrgId, OrgState>,
    /// Name key ([`caseless_key`]) → the org first created under it.
    names: BTreeMap<String, OrgId>,
    /// Every stream's positions, whatever its org.
    streams: Streams,
}

impl State {
    /// Version of the checkpoint shape and of the fold's meaning. Bump it whenever
    /// either changes: checkpoints of another version are discarded and rebuilt.
    /// 5: names and emails are indexed by [`caseless_key`] (was: lowercase), and credits
    /// report the events they could not apply without overflowing.
    /// 6: scheduled offboardings (R28).
    /// 7: users carry when they were invited and last changed, groups their display
    /// names and times (SCIM `meta.created`, `meta.lastModified`).
    /// 8: the audit view records each event's type (timeline filters by type).
    /// 9: record roles (issue 20 §2).
    pub const VERSION: u32 = 9;

    /// Folds one envelope in. Never fails and never panics.
    ///
    /// - An envelope at or before [`State::position`] was applied already and is
    ///   skipped, so replaying a tail that overlaps a checkpoint is harmless.
    /// - Events of org X change only org X (R1); events of an org never created are
    ///   skipped (only the position advances).
    /// - Events naming unknown users, resources, labels or distributions change what
    ///   they can and ignore the rest.
    pub fn apply(&mut self, env: &Envelope) {
        if env.position <= self.position {
            return;
        }
        self.position = env.position;
        self.hash.clone_from(&env.hash);
        self.streams.record(&env.stream_id, env.position);
        if let Event::OrganizationCreated(created) = &env.event {
            if !self.orgs.contains_key(&env.org_id) {
                self.names
                    .entry(caseless_key(&created.name))
                    .or_insert(env.org_id);
                let org = OrgState::new(env.org_id, created, env.position);
                self.orgs.insert(env.org_id, org);
            }
        }
        if let Some(org) = self.orgs.get_mut(&env.org_id) {
            org.apply(env);
        }
    }

    /// The stream index: every stream's versions and positions.
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// The last position applied (0 = nothing yet).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The hash of the envelope at [`State::position`] (hex SHA-256); empty when nothing
    /// was applied, or when this state came from a checkpoint that did not record it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn org(&self, id: OrgId) -> Option<&OrgState> {
        self.orgs.get(&id)
    }

    /// The org named `name`, compared by [`caseless_key`] (NFC, case folded); with
    /// several, the first created.
    pub fn org_by_name(&self, name: &str) -> Option<&OrgState> {
        self.names
            .get(&caseless_key(name))
            .and_then(|id| self.orgs.get(id))
    }

    /// Every org, by id.
    pub fn orgs(&self) -> impl Iterator<Item = &OrgState> {
        self.orgs.values()
    }

    /// Rebuilds every index that checkpoints leave out; `Err` says what does not fit.
    pub(crate) fn rebuild(&mut self) -> Result<(), String> {
        for (id, org) in &mut self.orgs {
            org.rebuild().map_err(|e| format!("org {id}: {e}"))?;
        }
        Ok(())
    }
}

/// A fresh state from the envelopes up to and including `until_position` ("as of
/// position"; for "as of time" ask [`crate::Audit::last_position_at_or_before`] first).
/// Stops reading at the first envelope past it, as the log is in position order.
pub fn replay_until(envs: impl IntoIterator<Item = Envelope>, until_position: u64) -> State {
    let mut state = State::default();
    for env in envs {
        if env.position > until_position {
            break;
        }
        state.apply(&env);
    }
    state
}
