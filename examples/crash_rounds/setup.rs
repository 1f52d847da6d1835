//! The scene before the first round, set with the CLI on the data directory: an org, its
//! users, imported resources, credits in the pool and in every user's balance, and the
//! owner's API token.

use std::path::Path;

use offboard_events::UserId;

use super::cli;

/// The owner's email; every command of the clients acts as the owner.
const OWNER: &str = "owner@crash.example";
/// Credits bought before the first round.
const POOL: u64 = 1_000_000;
/// Credits granted to each user before the first round.
const GRANT: u64 = 1_000;

/// What the clients need: the token and the users they move things between.
#[derive(Debug, Clone)]
pub struct World {
    /// The owner's bearer token.
    pub token: String,
    /// The users (not the owner), by id.
    pub users: Vec<UserId>,
}

fn email(i: usize) -> String {
    format!("u{i}@crash.example")
}

/// Sets the scene on `data` (a new directory); `scratch` holds the import file.
pub fn create(
    bin: &Path,
    data: &Path,
    scratch: &Path,
    users: usize,
    resources: usize,
) -> Result<World, String> {
    let run = |args: &[&str]| cli::run(bin, data, args);
    run(&[
        "init",
        "--org",
        "Crash",
        "--owner-email",
        OWNER,
        "--owner-first",
        "Olive",
        "--owner-last",
        "Owner",
    ])?;
    let mut ids = Vec::with_capacity(users);
    for i in 0..users {
        let last = format!("N{i}");
        let doc = run(&[
            "user",
            "add",
            "--email",
            &email(i),
            "--first",
            "User",
            "--last",
            &last,
        ])?;
        let id = doc["user_id"].as_str().and_then(|s| s.parse().ok());
        ids.push(id.ok_or_else(|| format!("user add answered no user_id: {doc}"))?);
    }
    let csv = scratch.join("resources.csv");
    let mut rows = String::from("kind,id,owner\n");
    for r in 0..resources {
        rows.push_str(&format!("task,T{r},{}\n", email(r % users)));
    }
    std::fs::write(&csv, rows).map_err(|e| format!("{}: {e}", csv.display()))?;
    run(&["resource", "import", &csv.to_string_lossy()])?;
    run(&["credits", "add", &POOL.to_string()])?;
    for i in 0..users {
        run(&["credits", "grant", &email(i), &GRANT.to_string()])?;
    }
    let doc = run(&["token", "create", "--as", OWNER])?;
    let token = doc["token"]
        .as_str()
        .ok_or_else(|| format!("token create answered no token: {doc}"))?;
    Ok(World {
        token: token.to_owned(),
        users: ids,
    })
}
