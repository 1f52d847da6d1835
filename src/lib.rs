//! `offboard`: the event-sourced offboarding engine.
//!
//! Layers, from the bottom: [`store`] (the append-only log on sled, or in memory),
//! [`engine`] (the single writer with group commit, recovery and reads),
//! [`integrity`] (hash-chain verification), [`privacy`] (sealed personal data),
//! [`clock`], [`domain`] (the rules as pure decisions); on top, the command line
//! ([`cli`]), the HTTP API and event stream ([`server`]), the CloudEvents mapping of the
//! event stream ([`cloudevents`]) and the benchmark ([`bench`]).

pub mod anchor;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod cloudevents;
pub mod console;
pub mod domain;
pub mod engine;
pub mod integrity;
pub mod privacy;
pub mod read;
pub mod scim;
pub mod server;
pub mod store;
pub mod sync;
pub mod webhooks;

pub use engine::{
    AppendError, AppendRequest, Appended, CommandMeta, Engine, ExpectedVersion, ReadError,
};
