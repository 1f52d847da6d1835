//! `offboard-events`: the event contract of offboard.
//!
//! Downstream systems depend on this crate alone to read the log or the event stream:
//! the [`Envelope`] (R24), every domain [`Event`] with its type tag and schema version,
//! upcasting of old versions ([`upcast`]), the canonical bytes and hash chain
//! ([`canonical`]), the stored form of an envelope ([`stored`]), and the JSON Schema ([`schema`]).

pub mod actor;
pub mod canonical;
pub mod credit;
pub mod deprovision;
pub mod distribution;
pub mod duty;
pub mod envelope;
pub mod event;
pub mod ids;
pub mod label;
pub mod offboarding;
pub mod org;
pub mod ownership;
pub mod record_role;
pub mod resource;
pub mod schedule;
pub mod schema;
pub mod stored;
pub mod upcast;
pub mod user;

pub use actor::Actor;
pub use credit::*;
pub use deprovision::*;
pub use distribution::*;
pub use duty::*;
pub use envelope::{Envelope, RawEnvelope};
pub use event::Event;
pub use ids::*;
pub use label::*;
pub use offboarding::*;
pub use org::*;
pub use ownership::*;
pub use record_role::*;
pub use resource::{ResourceKey, ResourceKeyError};
pub use schedule::*;
pub use stored::StoredEnvelope;
pub use upcast::DecodeError;
pub use user::*;
