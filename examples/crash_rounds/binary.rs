//! Finding the `offboard` binary to relaunch: `--bin PATH`, or the one in this example's
//! own profile directory (`target/<profile>/offboard`). Cargo builds an example without
//! the package's binaries (`CARGO_BIN_EXE_*` exists only for integration tests), so the
//! README's command builds it first (`cargo build --release && cargo run --release
//! --example crash_rounds`). Asking cargo to build it from here was tried and dropped:
//! under `cargo run` the environment differs enough that build scripts re-ran and the
//! whole library was rebuilt on every run.

use std::path::{Path, PathBuf};

/// The binary to launch: `explicit` if given, else `target/<profile>/offboard` beside
/// this example. Its age is not checked: an example is relinked after the binary in the
/// same build, so "older than the example" said nothing about staleness.
pub fn offboard(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("--bin {}: no such file", path.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // target/<profile>/examples/crash_rounds → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in target/<profile>/examples", exe.display()))?;
    let bin = profile_dir.join(format!("offboard{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: build it first (`cargo build --release`) or give --bin PATH",
            bin.display()
        ))
    }
}
