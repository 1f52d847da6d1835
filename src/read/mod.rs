//! One read layer: every query the API and the CLI answer, as a type ([`Query`]) with
//! its answer type. The HTTP server checks who may read, calls [`Query::answer`] and
//! serializes the answer; the embedded CLI calls the same [`Query::answer`] on its open
//! engine; client mode sends [`Query::url`] and deserializes the same answer type. A new
//! query is one type here, one route in `server/`, and what the CLI prints of it.
//!
//! Every list answers in pages ([`page`]): `limit` (default 100, at most 1000), an
//! opaque `cursor`, and `next`, the next page's relative URL (`null` at the end).

mod directory;
mod history;
mod listings;
mod ownership;
pub mod page;
mod people;
mod plan;
mod record_roles;
mod schedules;

use std::any::Any;
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use offboard_events::OrgId;
use offboard_projections::{OrgState, State};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use directory::{OrgQuery, UserQuery, UsersPage, UsersQuery};
pub use history::{HistoryPage, HistoryQuery, HistorySelector};
pub use listings::{
    CreditsQuery, DistributionsPage, DistributionsQuery, DutiesPage, DutiesQuery, LabelsPage,
    LabelsQuery,
};
pub use ownership::{
    known_user, OwnerAtQuery, OwnerChangesPage, OwnerChangesQuery, OwnersPage, OwnersQuery,
    PositionQuery,
};
pub use page::{Cursor, Limit, PageAnswer, Paged, DEFAULT_LIMIT, MAX_LIMIT};
pub use people::{people, PeopleFilter, PeoplePage};
pub use plan::PlanQuery;
pub use record_roles::{
    HeldRoleView, HolderView, RecordRolesQuery, RecordRolesView, RoleChangeView, RoleHoldersView,
    UserRolesQuery, UserRolesView,
};
pub use schedules::{
    NextRunView, ScheduleFailureView, ScheduleQuery, ScheduleView, SchedulesPage, SchedulesQuery,
};

use crate::domain::DomainError;
use crate::engine::{Engine, ReadError};

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    /// The query is malformed (a bad limit or cursor, `at` with `position`): fix it.
    #[error("{0}")]
    Invalid(String),
    /// What it names is not in the caller's org.
    #[error("{0} not found")]
    NotFound(String),
    /// The log could not be read: storage, damage.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A rule of the domain answered (e.g. the user cannot be offboarded: not found).
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl ReadFailure {
    /// A failure the server's reference resolution gave, by its code.
    pub(crate) fn from_api(e: crate::server::ApiError) -> Self {
        match e.code() {
            "not_found" => Self::NotFound(e.to_string().trim_end_matches(" not found").to_owned()),
            _ => Self::Invalid(e.to_string()),
        }
    }
}

/// A read: where it is served (`path`), how it is answered on an open engine, and the
/// type of its answer (the JSON the API sends and the CLI prints).
pub trait Query: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    type Answer: Serialize + DeserializeOwned + JsonSchema + Send + 'static;

    /// The endpoint's path, without the query string (e.g. `/v1/owners`).
    fn path(&self) -> String;

    /// The answer in `scope`'s org, from its current views (and the log, for events).
    fn answer(&self, scope: &Scope<'_>) -> Result<Self::Answer, ReadFailure>;

    /// The relative URL asking this query: [`Self::path`] and the query's fields as the
    /// query string.
    fn url(&self) -> String {
        let query = serde_urlencoded::to_string(self).unwrap_or_default();
        match query.is_empty() {
            true => self.path(),
            false => format!("{}?{query}", self.path()),
        }
    }

    /// This query going on from `next`, the relative URL a page answered with.
    fn follow(&self, next: &str) -> Result<Self, ReadFailure>
    where
        Self: Paged,
    {
        let query = next.split_once('?').map_or("", |(_, q)| q);
        let parsed: Self = serde_urlencoded::from_str(query)
            .map_err(|e| ReadFailure::Invalid(format!("a `next` link that does not parse: {e}")))?;
        let mut going_on = self.clone();
        going_on.set_cursor(parsed.cursor().cloned());
        going_on.set_limit(parsed.limit());
        Ok(going_on)
    }
}

/// Where a query is answered: an engine and the caller's org. A scope that answers
/// several pages of one query as of a past position replays the log to it once; a
/// [`Scope::walking`] one also keeps what every page of a walk shares (the order of a
/// large listing), so a walk costs one sort, not one pass per page.
pub struct Scope<'a> {
    engine: &'a Engine,
    org: OrgId,
    past: OnceCell<(u64, State)>,
    /// `Some` for a walk: what its pages share, under a key naming the query.
    shared: Option<RefCell<Option<Shared>>>,
}

/// What a walk's pages share, and the key of the query it was made for.
type Shared = (String, Rc<dyn Any>);

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

impl<'a> Scope<'a> {
    /// A scope for one answer.
    pub fn new(engine: &'a Engine, org: OrgId) -> Self {
        Self {
            engine,
            org,
            past: OnceCell::new(),
            shared: None,
        }
    }

    /// A scope for every page of one walk, on views no one writes meanwhile (the
    /// embedded CLI holds the data directory).
    pub fn walking(engine: &'a Engine, org: OrgId) -> Self {
        Self {
            shared: Some(RefCell::new(None)),
            ..Self::new(engine, org)
        }
    }

    /// In a walk, what `make` computes for the query `key` names, computed once; `None`
    /// outside a walk (one page is cheaper without it).
    pub fn shared<T: 'static>(&self, key: &str, make: impl FnOnce() -> T) -> Option<Rc<T>> {
        let mut shared = self.shared.as_ref()?.borrow_mut();
        if let Some((k, value)) = shared.as_ref() {
            if k == key {
                if let Ok(value) = Rc::clone(value).downcast::<T>() {
                    return Some(value);
                }
            }
        }
        let value = Rc::new(make());
        *shared = Some((key.to_owned(), Rc::clone(&value) as Rc<dyn Any>));
        Some(value)
    }

    pub fn engine(&self) -> &'a Engine {
        self.engine
    }

    pub fn org_id(&self) -> OrgId {
        self.org
    }

    /// Runs `f` on the org's current views (under the read lock: `f` must not call
    /// back into the engine).
    pub fn now<R>(
        &self,
        f: impl FnOnce(&OrgState) -> Result<R, ReadFailure>,
    ) -> Result<R, ReadFailure> {
        let state = self.engine.state();
        let org = state
            .org(self.org)
            .ok_or_else(|| ReadFailure::NotFound(format!("organization {}", self.org)))?;
        f(org)
    }

    /// Runs `f` on the org as it stood right after `position` (`None`: it did not exist
    /// yet) and on today's org (for names).
    pub fn at<R>(
        &self,
        position: u64,
        f: impl FnOnce(Option<&OrgState>, &OrgState) -> Result<R, ReadFailure>,
    ) -> Result<R, ReadFailure> {
        if let Some((p, past)) = self.past.get() {
            if *p == position {
                return self.now(|now| f(past.org(self.org), now));
            }
        }
        let state = self.engine.state_at(position)?;
        match self.past.set((position, state)) {
            Ok(()) => {
                let (_, past) = self.past.get().expect("just set");
                self.now(|now| f(past.org(self.org), now))
            }
            // Kept for another position already: this one is not kept.
            Err((_, state)) => self.now(|now| f(state.org(self.org), now)),
        }
    }
}

/// What a query's path names (`what`, e.g. "a user"); a query built without it is
/// `invalid_input`.
fn named<'q, T>(part: Option<&'q T>, what: &str) -> Result<&'q T, ReadFailure> {
    part.ok_or_else(|| ReadFailure::Invalid(format!("name {what}")))
}

/// The email of `id` in `org`, or the id when the org does not know it.
pub fn email(org: &OrgState, id: offboard_events::UserId) -> String {
    org.directory()
        .user(id)
        .map_or_else(|| id.to_string(), |u| u.profile.email.clone())
}
