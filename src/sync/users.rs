//! A directory import (`user import FILE`, `POST /v1/users/import`): the rows of an HR
//! or identity export (CSV or JSON lines: email, first, last, title, role, manager,
//! external_id, active, user_name) compared with the directory. Users the org does not
//! know are invited; known ones (by external id, else by email) get what changed: their
//! profile, role, manager and whether they are active. Every bad row is reported with
//! its line; the good file becomes ONE `ApplyUserChanges` command, which the domain
//! decides change by change and writes whole or not at all.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use offboard_events::{CorrelationId, Role, UserStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rows::{header_words, BadRow, Records};
use crate::domain::{plural, Command, NewUser, ProfileChange, UserRef};
use crate::server::{Positions, UserView};
use crate::Appended;

/// A file, planned: its rows, what it changes counted by action, and the one command
/// that changes it (`None` when the directory already agrees).
#[derive(Debug)]
pub struct UserImport {
    pub rows: u64,
    pub counts: BTreeMap<&'static str, u64>,
    pub command: Option<Command>,
}

/// Why a file cannot be imported.
#[derive(Debug)]
pub enum ImportError {
    /// The first line (a CSV header) says the file cannot be read as rows: why.
    Header(String),
    /// Every bad row, with its line.
    BadRows(Vec<BadRow>),
    /// No rows at all.
    Empty,
}

/// What an import found and did: the API's answer to `POST /v1/users/import` and the
/// CLI's `--json` document, the same shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportReport {
    pub ok: bool,
    /// Always `import_users`.
    pub command: String,
    /// One sentence: rows, changes by action, what was written.
    pub message: String,
    pub dry_run: bool,
    pub rows: u64,
    /// Action (`invite`, `update_profile`, `change_role`, `set_manager`, `activate`,
    /// `reactivate`, `deactivate`) → how many.
    pub changes: BTreeMap<String, u64>,
    /// Events written (0 for a dry run, or a file the directory already agrees with).
    pub events: u64,
    /// The correlation id of the one command sent (`null` when nothing was written).
    pub correlation_id: Option<CorrelationId>,
    /// First and last position written (`null` when nothing was).
    pub positions: Option<Positions>,
    /// `true` when this request resent an `Idempotency-Key` whose import was already
    /// written: nothing new was, and `events`, `correlation_id` and `positions` are the
    /// first request's (as every command resent under its key answers).
    #[serde(default)]
    pub duplicate: bool,
}

impl ImportReport {
    /// The report of `plan` read from `source`, whose command (if one was sent, not as
    /// a dry run) was answered `appended`.
    pub fn new(
        source: &str,
        plan: &UserImport,
        dry_run: bool,
        appended: Option<&Appended>,
    ) -> Self {
        let events = appended.map_or(0, Appended::count);
        let changes: u64 = plan.counts.values().sum();
        let listed: Vec<String> = plan
            .counts
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let what = match listed.is_empty() {
            true => "nothing to change".to_owned(),
            false => listed.join(", "),
        };
        let duplicate = appended.is_some_and(|a| a.duplicate);
        let done = match (dry_run, changes) {
            (true, _) => "Dry run: nothing was written.".to_owned(),
            _ if duplicate => format!(
                "Already written under this Idempotency-Key ({events} {}): nothing was written again.",
                plural("event", events)
            ),
            (false, 0) => "Already in step: nothing was written.".to_owned(),
            (false, _) => format!("Wrote {events} {}.", plural("event", events)),
        };
        let rows = plan.rows;
        Self {
            ok: true,
            command: "import_users".to_owned(),
            message: format!("{source}: {rows} {}: {what}. {done}", plural("row", rows)),
            dry_run,
            rows,
            changes: plan
                .counts
                .iter()
                .map(|(k, n)| ((*k).to_owned(), *n))
                .collect(),
            events,
            correlation_id: appended.map(|a| a.correlation_id),
            positions: appended
                .and_then(|a| a.positions)
                .map(|(first, last)| Positions { first, last }),
            duplicate,
        }
    }
}

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
    fn of(users: Vec<UserView>) -> Self {
        let mut by_external = HashMap::new();
        let mut by_email = HashMap::new();
        for u in users {
            if let Some(x) = &u.external_id {
                by_external.insert(x.clone(), u.email.to_lowercase());
            }
            by_email.insert(u.email.to_lowercase(), u);
        }
        Self {
            by_email,
            by_external,
        }
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
    // An import gives admin, manager or member; owner is transfer-org's (so an unknown
    // role lists only the three an import can give).
    let role = given(&row.role)
        .map(|r| {
            r.parse::<Role>().map_err(|_| {
                format!(
                    "unknown role {:?}: expected admin, manager or member",
                    r.trim()
                )
            })
        })
        .transpose()?;
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

/// Reads and checks every row of `input` against the directory's listed `users`: the
/// plan, or every bad row. Writes nothing.
pub fn plan_import<R: BufRead>(input: R, users: Vec<UserView>) -> Result<UserImport, ImportError> {
    let records: Records<_, UserRow> = Records::new(
        input,
        field_of,
        &[&["email"]],
        "email,first,last,title,role,manager,external_id,active,user_name (email at least)",
    )
    .map_err(ImportError::Header)?;
    let dir = Directory::of(users);
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
    finish(rows, out)
}

/// The plan of a file whose rows were all read.
fn finish(rows: u64, mut out: Changes) -> Result<UserImport, ImportError> {
    if !out.bad.is_empty() {
        return Err(ImportError::BadRows(out.bad));
    }
    if rows == 0 {
        return Err(ImportError::Empty);
    }
    let counts = std::mem::take(&mut out.counts);
    let command = (!counts.is_empty()).then(|| command(out));
    Ok(UserImport {
        rows,
        counts,
        command,
    })
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
