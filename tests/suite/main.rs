//! The integration suite: one test binary, one module per topic (ripgrep's layout), so
//! the whole suite links once.

mod bad_input;
mod bench;
mod crash;
mod damage;
mod deprovision;
mod domain_properties;
mod durability;
mod full_disk;
mod groups;
// Shared helpers: not every topic uses every helper.
#[allow(dead_code)]
mod gwt;
mod handover;
mod log;
mod managers;
mod nodes;
mod pg_keys;
mod pipeline;
mod policy;
mod postgres;
mod privacy;
mod profile;
mod resource_sync;
mod restore;
mod roles;
mod scheduler;
mod schedules;
mod seed_000_truck_pros;
mod seed_001_procurement;
mod seed_002_mortgage_broker;
mod seed_003_telephony;
mod seed_004_data_credits;
mod stale_holder;
mod stuck_key;
#[allow(dead_code)]
mod support;
// Every store the contract tests run on (sled, and PostgreSQL when installed).
#[allow(dead_code)]
#[path = "../common/stores.rs"]
mod stores;
mod support_restore;
mod time_travel;
