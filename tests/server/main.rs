//! The HTTP server's tests: one binary, one module per topic. `router` drives every
//! endpoint through `tower::ServiceExt::oneshot` (no socket); the others run a real
//! server on 127.0.0.1.

mod backup;
mod console;
mod conventions;
#[path = "../common/delegate_reads.rs"]
mod delegate;
mod health;
mod metrics;
mod min_position;
mod nodes;
mod pages;
mod pg_nodes;
mod pg_partition;
#[path = "../common/pg_proxy.rs"]
mod pg_proxy;
mod router;
mod scim;
mod seeds;
mod side_files;
mod stream;
// Every store the contract tests run on (sled, and PostgreSQL when installed).
#[allow(dead_code)]
#[path = "../common/stores.rs"]
mod stores;
#[allow(dead_code)]
mod support;
mod user_changes;
mod webhook_pace;
mod webhooks;
