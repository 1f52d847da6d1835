//! The CLI suite: one test binary that runs the real `offboard` binary in temporary
//! data directories, one module per command group (ripgrep's layout), covering every
//! subcommand, the JSON shapes, the error paths and the exit codes (1, 2, 3).

mod audit;
mod backup;
mod bad_input;
mod client;
mod connector;
mod damage;
mod demo;
mod errors;
mod failover;
mod guided;
mod habits;
mod ids;
mod kek;
mod offboarding;
mod pages;
#[allow(dead_code)]
#[path = "../common/pg_cluster.rs"]
mod pg_cluster;
mod readme;
mod resources;
mod restore;
mod roles;
mod routing;
mod schedule;
mod schema;
mod serve;
mod setup;
mod side_files;
mod store;
mod sync;
mod user_import;
mod users;
#[allow(dead_code)]
mod util;
mod webhooks;
