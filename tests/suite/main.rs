//! The integration suite: one test binary, one module per topic (ripgrep's layout), so
//! the whole suite links once.

mod crash;
mod log;
mod support;
