//! `offboard`: the event-sourced offboarding engine.
//!
//! Layers, from the bottom: [`store`] (the append-only log on sled, or in memory),
//! [`engine`] (the single writer with group commit, recovery and reads),
//! [`integrity`] (hash-chain verification), [`clock`]; [`server`] serves the engine over
//! HTTP.

pub mod clock;
pub mod domain;
pub mod engine;
pub mod integrity;
pub mod privacy;
pub mod server;
pub mod store;

pub use engine::{
    AppendError, AppendRequest, Appended, CommandMeta, Engine, ExpectedVersion, ReadError,
};
