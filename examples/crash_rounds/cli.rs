//! Running the `offboard` CLI embedded on the data directory (`--json`), as an operator
//! would between server runs.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `bin --data data --json ARGS...`; its JSON document on exit 0, else why not.
pub fn run(bin: &Path, data: &Path, args: &[&str]) -> Result<Value, String> {
    let output = Command::new(bin)
        .arg("--data")
        .arg(data)
        .arg("--json")
        .args(args)
        .output()
        .map_err(|e| format!("running offboard {}: {e}", args.join(" ")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "offboard {}: {} {} {}",
            args.join(" "),
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_str(&stdout)
        .map_err(|e| format!("offboard {}: not JSON ({e}): {stdout}", args.join(" ")))
}

/// `offboard verify` on the data directory (or on `OFFBOARD_STORE` when set): the
/// position and hash of the chain's head.
pub fn verify(bin: &Path, data: &Path) -> Result<(u64, String), String> {
    let doc = run(bin, data, &["verify"])?;
    match (
        doc["ok"].as_bool(),
        doc["events"].as_u64(),
        doc["head_hash"].as_str(),
    ) {
        (Some(true), Some(events), Some(hash)) => Ok((events, hash.to_owned())),
        _ => Err(format!("offboard verify answered {doc}")),
    }
}
