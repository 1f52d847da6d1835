//! `offboard-projections`: pure folds of the offboard log.
//!
//! [`State::apply`] folds one [`offboard_events::Envelope`] into the views of its org
//! ([`OrgState`]): directory, ownership, duties, distributions, labels, credits, billed
//! seats and audit indexes. Applying never fails and does no I/O; deciding what may
//! happen is the engine's job, answering what is true is this crate's. Checkpoints
//! ([`State::to_checkpoint_bytes`]) let start-up replay only the tail of the log, and
//! [`replay_until`] answers "as of position" questions from scratch.

mod audit;
mod billing;
mod checkpoint;
mod credits;
mod directory;
mod distributions;
mod duties;
mod interner;
mod kinds;
mod labels;
mod org;
mod ownership;
mod packed;
mod record_roles;
mod schedules;
mod slots;
mod state;
mod streams;
pub mod text;

pub use audit::{Acting, Audit, EventRecord, Selection};
pub use billing::{Billing, SeatChange};
pub use checkpoint::CheckpointError;
pub use credits::{CreditUsage, Credits, MAX_CREDITS};
pub use directory::{Directory, Group, User, ERASED};
pub use distributions::{
    rebalanced_total, suggested_rebalance, total_weight, Distribution, Distributions,
    MAX_TOTAL_WEIGHT,
};
pub use duties::Duties;
pub use labels::{Label, Labels};
pub use org::{OrgState, OwnershipChange};
pub use ownership::{KeyOrder, Ownership};
pub use record_roles::{RecordRoles, RoleChange};
pub use schedules::{Schedule, ScheduleFailure, ScheduleStatus, Schedules};
pub use state::{replay_until, State};
pub use streams::Streams;
