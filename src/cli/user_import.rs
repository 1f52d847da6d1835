//! `user import FILE [--dry-run]`: the directory from an HR or identity export (CSV or
//! JSON lines: email, first, last, title, role, manager, external_id, active,
//! user_name). Users the org does not know are invited; known ones (by external id, else
//! by email) get what changed: their profile, role, manager and whether they are
//! active. The whole
//! file is checked first and every bad row reported with its line (nothing written);
//! the same file again writes nothing. The directory is read through the read layer,
//! so this works on a data directory and through a server alike. Every change goes in
//! ONE `apply_user_changes` command: the domain decides each against the state the ones
//! before it leave, and writes all of them or none (a refusal the row checks could not
//! see, or a concurrent change, leaves nothing half-imported).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use offboard_events::{Role, UserStatus};
use serde::Deserialize;
use serde_json::json;

use super::error::{CliError, EXIT_REJECTED};
use super::{input, Ctx};
use crate::domain::{plural, Command, NewUser, ProfileChange, UserRef};
use crate::read::UsersQuery;
use crate::server::UserView;
use crate::sync::rows::{bad_rows_message, header_words, BadRow, Records};

/// A yes/no column: a JSON boolean, or text such as `true`, `yes`, `1`, `active`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn value(&self) -> Result<Option<bool>, String> {
        let text = match self {
            Flag::Bool(b) => return Ok(Some(*b)),
            Flag::Text(t) => t.trim().to_ascii_lowercase(),
        };
        match text.as_str() {
            "" => Ok(None),
            "true" | "yes" | "y" | "1" | "active" => Ok(Some(true)),
            "false" | "no" | "n" | "0" | "inactive" | "deactivated" => Ok(Some(false)),
            other => Err(format!("active {other:?}: expected true or false")),
        }
    }
}

/// One row as written.
#[derive(Debug, Deserialize)]
struct UserRow {
    email: String,
    #[serde(default)]
    first: Option<String>,
    #[serde(default)]
    last: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    manager: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    active: Option<Flag>,
    /// The identity provider's user name when it is not the email.
    #[serde(default)]
    user_name: Option<String>,
}

/// The field a CSV header names, case and spacing aside (`First Name`, `Job Title`,
/// `externalId`…). `None` for a column the import does not read.
fn field_of(header: &str) -> Option<&'static str> {
    Some(match header_words(header).as_str() {
        "email" | "e mail" | "work email" => "email",
        "user name" | "username" | "login" => "user_name",
        "first" | "first name" | "given name" => "first",
        "last" | "last name" | "family name" | "surname" => "last",
        "title" | "job title" => "title",
        "role" => "role",
        "manager" | "manager email" => "manager",
        "external id" | "externalid" => "external_id",
        "active" => "active",
        _ => return None,
    })
}

/// A text column: `None` when absent or blank.
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// What the import does, counted and listed.
#[derive(Debug, Default)]
struct Changes {
    /// The changes in file order, users named by id or email.
    commands: Vec<(usize, Command<UserRef>)>,
    /// Rows whose user gets a manager named by email or external id, resolved once
    /// every invitation is known: (line, user's email, manager as written).
    managers: Vec<(usize, String, Option<String>)>,
    counts: BTreeMap<&'static str, u64>,
    bad: Vec<BadRow>,
}

impl Changes {
    fn push(&mut self, line: usize, what: &'static str, command: Command<UserRef>) {
        *self.counts.entry(what).or_default() += 1;
        self.commands.push((line, command));
    }
}

/// The directory as the read layer gives it: listed users by email (case folded) and
/// by external id.
struct Directory {
    by_email: HashMap<String, UserView>,
    by_external: HashMap<String, String>,
}

impl Directory {
    fn read(cx: &Ctx) -> Result<Self, CliError> {
        let users = cx.reader()?.all(UsersQuery::default(), |p| p.users)?;
        let mut by_external = HashMap::new();
        let mut by_email = HashMap::new();
        for u in users {
            if let Some(x) = &u.external_id {
                by_external.insert(x.clone(), u.email.to_lowercase());
            }
            by_email.insert(u.email.to_lowercase(), u);
        }
        Ok(Self {
            by_email,
            by_external,
        })
    }

    /// The known user a row names: by its external id, else by its email.
    fn find(&self, row: &UserRow) -> Option<&UserView> {
        given(&row.external_id)
            .and_then(|x| self.by_external.get(x))
            .and_then(|email| self.by_email.get(email))
            .or_else(|| self.by_email.get(&row.email.trim().to_lowercase()))
    }
}

/// `new` when it is given and differs from `old`.
fn differs(new: Option<&str>, old: Option<&str>) -> Option<String> {
    new.filter(|n| Some(*n) != old).map(str::to_owned)
}

/// The profile fields of `row` that differ from `known`.
fn profile_change(row: &UserRow, known: &UserView) -> ProfileChange {
    let email = row.email.trim();
    ProfileChange {
        email: (!email.eq_ignore_ascii_case(&known.email)).then(|| email.to_owned()),
        first_name: differs(given(&row.first), Some(&known.first_name)),
        last_name: differs(given(&row.last), Some(&known.last_name)),
        job_title: differs(given(&row.title), known.job_title.as_deref()),
        external_id: differs(given(&row.external_id), known.external_id.as_deref()),
        // Not columns of an import: the identity provider sets them over SCIM.
        department: None,
        employee_number: None,
        user_name: given(&row.user_name)
            .filter(|n| !n.eq_ignore_ascii_case(&known.user_name))
            .map(str::to_owned),
    }
}

/// The commands one good row asks for.
fn plan_row(dir: &Directory, line: usize, row: UserRow, out: &mut Changes) -> Result<(), String> {
    let role = given(&row.role).map(|r| r.parse::<Role>()).transpose()?;
    if role == Some(Role::Owner) {
        return Err("the owner role is given with transfer-org, not by an import".to_owned());
    }
    let active = row.active.as_ref().map(Flag::value).transpose()?.flatten();
    let email = row.email.trim().to_owned();
    if !email.contains('@') {
        return Err(format!("email {email:?} is not an email address"));
    }
    match dir.find(&row) {
        None => {
            let (Some(first), Some(last)) = (given(&row.first), given(&row.last)) else {
                return Err(format!("{email} is new: first and last names are needed"));
            };
            let user = NewUser {
                email: email.clone(),
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                job_title: given(&row.title).map(str::to_owned),
                external_id: given(&row.external_id).map(str::to_owned),
                department: None,
                employee_number: None,
                user_name: given(&row.user_name).map(str::to_owned),
            };
            let invite = Command::InviteUser {
                user,
                role: role.unwrap_or(Role::Member),
                manager: None,
                active: active.unwrap_or(true),
            };
            out.push(line, "invite", invite);
        }
        Some(known) => {
            let change = profile_change(&row, known);
            if change != ProfileChange::default() {
                let user = UserRef::from(known.id);
                out.push(
                    line,
                    "update_profile",
                    Command::UpdateProfile { user, change },
                );
            }
            if let Some(role) = role.filter(|r| *r != known.role) {
                let user = UserRef::from(known.id);
                out.push(line, "change_role", Command::ChangeRole { user, role });
            }
            let user = UserRef::from(known.id);
            match (active, known.status) {
                (Some(true), UserStatus::Invited) => {
                    out.push(line, "activate", Command::ActivateUser { user })
                }
                (Some(true), UserStatus::Deactivated) => {
                    out.push(line, "reactivate", Command::ReactivateUser { user })
                }
                (Some(false), UserStatus::Active) => {
                    out.push(line, "deactivate", Command::DeactivateUser { user })
                }
                _ => {}
            }
        }
    }
    if let Some(manager) = &row.manager {
        let manager = given(&Some(manager.clone())).map(str::to_owned);
        out.managers.push((line, email, manager));
    }
    Ok(())
}

/// Resolves the manager columns against the directory and the file (a manager may be
/// invited by the same file): `SetManager` where the manager changes.
fn plan_managers(dir: &Directory, file: &HashMap<String, String>, out: &mut Changes) {
    for (line, email, manager) in std::mem::take(&mut out.managers) {
        let wanted = match &manager {
            None => None,
            Some(m) => {
                let key = dir
                    .by_external
                    .get(m)
                    .or_else(|| file.get(m))
                    .cloned()
                    .unwrap_or_else(|| m.to_lowercase());
                if !dir.by_email.contains_key(&key) && !file.contains_key(&key) {
                    out.bad.push(BadRow {
                        line,
                        why: format!("manager {m:?}: no such user in the directory or the file"),
                        code: "not_found",
                    });
                    continue;
                }
                Some(key)
            }
        };
        let current = dir
            .by_email
            .get(&email.to_lowercase())
            .and_then(|u| u.manager_email.as_ref())
            .map(|m| m.to_lowercase());
        if wanted != current {
            *out.counts.entry("set_manager").or_default() += 1;
            out.managers.push((line, email, wanted));
        }
    }
}

/// Reads, checks and (unless `dry_run`) carries out `file`; prints what it did.
pub fn import(cx: &mut Ctx, file: &Path, dry_run: bool) -> Result<(), CliError> {
    let source = input::name(file);
    let records: Records<_, UserRow> = Records::new(
        input::open(file)?,
        field_of,
        &[&["email"]],
        "email,first,last,title,role,manager,external_id,active,user_name (email at least)",
    )
    .map_err(|why| CliError::invalid(format!("{source}, line 1: {why}")))?;
    let dir = Directory::read(cx)?;
    let mut out = Changes::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    // External id or email as written → the row's email (lowercase), for managers.
    let mut in_file: HashMap<String, String> = HashMap::new();
    let mut rows = 0;
    for (line, row) in records {
        rows += 1;
        let row = match row {
            Ok(row) => row,
            Err(why) => {
                out.bad.push(BadRow::invalid(line, why));
                continue;
            }
        };
        let email = row.email.trim().to_lowercase();
        if let Some(first) = seen.insert(email.clone(), line) {
            let why = format!("{email} is listed twice (first on line {first})");
            out.bad.push(BadRow::invalid(line, why));
            continue;
        }
        in_file.insert(email.clone(), email.clone());
        if let Some(x) = given(&row.external_id) {
            in_file.insert(x.to_owned(), email.clone());
        }
        if let Err(why) = plan_row(&dir, line, row, &mut out) {
            out.bad.push(BadRow::invalid(line, why));
        }
    }
    plan_managers(&dir, &in_file, &mut out);
    if !out.bad.is_empty() {
        let (code, message) = bad_rows_message(&source, &mut out.bad, "nothing was written");
        return Err(CliError::new(code, message, EXIT_REJECTED));
    }
    if rows == 0 {
        return Err(CliError::invalid(format!("{source} holds no users")));
    }
    let counts = std::mem::take(&mut out.counts);
    let written = match (dry_run, counts.is_empty()) {
        (_, true) => 0,
        (true, false) => check(cx, &command(out)).map(|()| 0)?,
        (false, false) => send(cx, command(out))?,
    };
    report(cx, &source, rows, &counts, dry_run, written)
}

/// The import as one command: the changes in file order, then the managers (named by
/// email, so a manager the same file invites is found once invited).
fn command(changes: Changes) -> Command {
    let mut all: Vec<Command<UserRef>> = changes.commands.into_iter().map(|(_, c)| c).collect();
    for (_, email, manager) in changes.managers {
        all.push(Command::SetManager {
            user: UserRef(email),
            manager: manager.map(UserRef),
        });
    }
    Command::ApplyUserChanges { changes: all }
}

/// Sends the import's command; all its events are durable when it returns `Ok`, and
/// none was written when it returns `Err`. Returns the events written.
fn send(cx: &mut Ctx, command: Command) -> Result<u64, CliError> {
    Ok(cx.submit(command)?.count())
}

/// What a dry run can check beyond the rows: on a data directory, the domain decides
/// the very command against the current state and writes nothing (through a server,
/// the rows' checks are all a dry run makes).
fn check(cx: &mut Ctx, command: &Command) -> Result<(), CliError> {
    if cx.remote().is_some() {
        return Ok(());
    }
    let meta = cx.meta()?;
    cx.engine()?.dry_run(&meta, command)?;
    Ok(())
}

fn report(
    cx: &mut Ctx,
    source: &str,
    rows: u64,
    counts: &BTreeMap<&'static str, u64>,
    dry_run: bool,
    events: u64,
) -> Result<(), CliError> {
    let changes: u64 = counts.values().sum();
    let listed: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let what = match listed.is_empty() {
        true => "nothing to change".to_owned(),
        false => listed.join(", "),
    };
    let done = match (dry_run, changes) {
        (true, _) => "Dry run: nothing was written.".to_owned(),
        (false, 0) => "Already in step: nothing was written.".to_owned(),
        (false, _) => format!("Wrote {events} {}.", plural("event", events)),
    };
    let message = format!("{source}: {rows} {}: {what}. {done}", plural("row", rows));
    if cx.out.is_json() {
        cx.out.doc(&json!({
            "ok": true, "command": "import_users", "message": message, "dry_run": dry_run,
            "rows": rows, "changes": counts, "events": events,
        }))?;
    } else {
        cx.out.line(message);
    }
    Ok(())
}
