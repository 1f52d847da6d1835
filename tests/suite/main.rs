//! The integration suite: one test binary, one module per topic (ripgrep's layout), so
//! the whole suite links once.

mod bench;
mod crash;
// Shared helpers: not every topic uses every helper.
#[allow(dead_code)]
mod gwt;
mod log;
mod privacy;
mod restore;
mod seed_000_truck_pros;
#[allow(dead_code)]
mod support;
mod support_restore;
mod time_travel;
