//! Comparing a system of record's export with the views: row by row against the
//! ownership projection, never holding the file. What it keeps is bounded by the views
//! (one `u32` per resource slot: the line that named it) and by what changes (the keys
//! to register or move), so a million unchanged rows cost 4 MB.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use offboard_events::{ResourceKey, UserId, UserStatus};
use offboard_projections::OrgState;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rows::{BadRow, ResourceRow};
use crate::domain::{Command, Holding, RoleHolders};

/// How many changes a report spells out (all are counted by kind and action).
pub const SHOWN_CHANGES: usize = 20;

/// What a sync does to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// New (or retired, and listed again): registered to the row's owner.
    Register,
    /// Owned by someone else: moved to the row's owner (reason `sync`).
    Move,
    /// Not in the file: retired.
    Retire,
    /// A `role:NAME` column names other holders than the views (R29).
    Role,
}

/// One change, as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// The file's line naming the resource (`null` for a retirement: no line does).
    pub line: Option<u64>,
    pub resource: String,
    pub action: Action,
    /// The owner now (`null` for a registration).
    pub from: Option<String>,
    /// The owner after the sync (`null` for a retirement).
    pub to: Option<String>,
}

/// How many resources of one kind each action touches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KindCounts {
    pub register: u64,
    #[serde(rename = "move")]
    pub moved: u64,
    pub retire: u64,
    /// Rows that already agree with the views.
    pub unchanged: u64,
}

/// The diff: rows read, rows of kinds the sync leaves out, counts by kind, and the
/// first [`SHOWN_CHANGES`] changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Diff {
    pub rows: u64,
    /// Rows of a kind `--kind` does not name.
    pub ignored: u64,
    /// Every kind the sync covers, even one with nothing to do.
    pub kinds: BTreeMap<String, KindCounts>,
    /// Record roles (record, role) whose holders change (`role:NAME` columns, R29).
    #[serde(default)]
    pub roles: u64,
    pub changes: Vec<Change>,
}

impl Diff {
    /// How many resources change (registered, moved or retired).
    pub fn changed(&self) -> u64 {
        self.kinds
            .values()
            .map(|c| c.register + c.moved + c.retire)
            .sum::<u64>()
            + self.roles
    }

    fn note(&mut self, kind: &str, action: Action, change: impl FnOnce() -> Change) {
        let counts = match self.kinds.get_mut(kind) {
            Some(counts) => counts,
            None => self.kinds.entry(kind.to_owned()).or_default(),
        };
        match action {
            Action::Register => counts.register += 1,
            Action::Move => counts.moved += 1,
            Action::Retire => counts.retire += 1,
            Action::Role => {}
        }
        if self.changes.len() < SHOWN_CHANGES {
            self.changes.push(change());
        }
    }
}

/// Reads rows against the views one at a time ([`Self::row`]), then works out what
/// the file no longer lists ([`Self::finish`]). Every call takes the org's views as they
/// are then: a caller may let go of the read lock between rows (resource slots never
/// change meaning), and `SyncResources` checks everything again when it is decided.
#[derive(Debug, Default)]
pub struct Planner {
    /// `--kind`: only these kinds (empty: the kinds the file holds).
    only: BTreeSet<String>,
    /// The kinds seen in rows the sync reads.
    seen_kinds: BTreeSet<String>,
    /// Resource slot → the line that named it (0: none yet).
    seen: Vec<u32>,
    /// Keys the views do not know yet → the line that named them.
    new: HashMap<ResourceKey, u32>,
    /// An owner as written → the user, or why not.
    owners: HashMap<String, Result<UserId, String>>,
    /// Owner after the sync → what is registered or moved to them.
    wanted: BTreeMap<UserId, Vec<ResourceKey>>,
    /// Record roles whose holders change, as the file names them.
    roles: Vec<RoleHolders>,
    diff: Diff,
    bad: Vec<BadRow>,
}

/// What a sync will do: the diff and the resources to give each owner and to retire.
#[derive(Debug, Default)]
pub struct Plan {
    pub diff: Diff,
    wanted: BTreeMap<UserId, Vec<ResourceKey>>,
    retire: Vec<ResourceKey>,
    roles: Vec<RoleHolders>,
}

/// The user an owner column names: an email, an external id (the identity provider's,
/// exact) or a user id; listed.
fn owner_named(org: &OrgState, text: &str) -> Result<UserId, String> {
    let text = text.trim();
    let directory = org.directory();
    if let Some(user) = directory.user_by_email(text) {
        return Ok(user.id);
    }
    if let Some(user) = directory.user_by_external_id(text) {
        return Ok(user.id);
    }
    match text
        .parse::<UserId>()
        .ok()
        .and_then(|id| directory.user(id))
    {
        Some(user) if user.is_listed() => Ok(user.id),
        _ => Err(format!(
            "no user {text:?} (by email, external id or id) in {:?}",
            org.name()
        )),
    }
}

impl Planner {
    /// A planner for the kinds named (`kinds` empty: the kinds the file holds).
    pub fn new(kinds: &[String]) -> Self {
        Self {
            only: kinds.iter().map(|k| k.trim().to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Compares one row (line `line` of the file) with `org`'s views.
    pub fn row(&mut self, org: &OrgState, line: usize, row: Result<ResourceRow, String>) {
        self.diff.rows += 1;
        let row = match row {
            Ok(row) => row,
            Err(why) => return self.bad.push(BadRow::invalid(line, why)),
        };
        let kind = row.key.kind();
        if !self.only.is_empty() && !self.only.contains(kind) {
            self.diff.ignored += 1;
            return;
        }
        if kind == "group" {
            let why = format!("{}: groups are offboard's own and are not synced", row.key);
            return self.bad.push(BadRow::invalid(line, why));
        }
        if !self.seen_kinds.contains(kind) {
            self.seen_kinds.insert(kind.to_owned());
        }
        let owner = self.user_named(org, &row.owner);
        let key = row.key.clone();
        let compared = self
            .compare(org, line, row.key, owner)
            .and_then(|()| self.compare_roles(org, line, &key, row.roles));
        if let Err(bad) = compared {
            self.bad.push(bad);
        }
    }

    /// The user a column names, looked up once per spelling.
    fn user_named(&mut self, org: &OrgState, text: &str) -> Result<UserId, String> {
        match self.owners.get(text) {
            Some(found) => found.clone(),
            None => {
                let found = owner_named(org, text);
                self.owners.insert(text.to_owned(), found.clone());
                found
            }
        }
    }

    /// Notes each `role:NAME` column whose holders differ from the views (R29): the
    /// record ends with exactly those holders, each active if new to it.
    fn compare_roles(
        &mut self,
        org: &OrgState,
        line: usize,
        key: &ResourceKey,
        roles: Vec<(String, Vec<String>)>,
    ) -> Result<(), BadRow> {
        let invalid = |why: String| BadRow::invalid(line, why);
        for (role, names) in roles {
            if !offboard_events::is_valid_role_name(&role) {
                return Err(invalid(format!("role:{role} is not a record role name")));
            }
            let mut holders = Vec::with_capacity(names.len());
            for name in &names {
                let id = self.user_named(org, name).map_err(|why| BadRow {
                    line,
                    why,
                    code: "not_found",
                })?;
                holders.push(id);
            }
            let records = org.record_roles();
            let now = records.holders(org.ownership(), key, &role);
            if now.len() == holders.len() && holders.iter().all(|h| now.contains(h)) {
                continue;
            }
            if holders.len() > 1 && !records.is_multi(&role) {
                return Err(invalid(format!(
                    "{key} names {} {role}s, a single-holder role",
                    holders.len()
                )));
            }
            for new in holders.iter().filter(|h| !now.contains(h)) {
                let user = org.directory().user(*new);
                if let Some(user) = user.filter(|u| u.status != UserStatus::Active) {
                    return Err(invalid(format!(
                        "{} is {} and cannot be {role} of {key}; choose an active user",
                        user.profile.email,
                        user.status.as_str()
                    )));
                }
            }
            let emails = |users: &[UserId]| {
                let all: Vec<String> = users.iter().map(|u| crate::read::email(org, *u)).collect();
                (!all.is_empty()).then(|| all.join(", "))
            };
            self.diff.roles += 1;
            if self.diff.changes.len() < SHOWN_CHANGES {
                self.diff.changes.push(Change {
                    line: Some(line as u64),
                    resource: format!("{key} ({role})"),
                    action: Action::Role,
                    from: emails(&now),
                    to: emails(&holders),
                });
            }
            self.roles.push(RoleHolders {
                role,
                resource: key.clone(),
                holders,
            });
        }
        Ok(())
    }

    /// Notes what `key` needs to end up with `owner` (the row's owner, or why it names
    /// nobody); why not, for a bad row. A key is marked seen first, so a repeat is
    /// reported even after a bad owner.
    fn compare(
        &mut self,
        org: &OrgState,
        line: usize,
        key: ResourceKey,
        owner: Result<UserId, String>,
    ) -> Result<(), BadRow> {
        let invalid = |why: String| BadRow::invalid(line, why);
        let ownership = org.ownership();
        // Found as a reader names it: a row in the normal spelling of a key an earlier
        // build stored otherwise is that resource (`domain::spelling`), not a new one.
        let now = match ownership.find_slot(key.as_str()) {
            Some(slot) => {
                let i = slot as usize;
                if self.seen.len() <= i {
                    self.seen.resize(ownership.slots().max(i + 1), 0);
                }
                if self.seen[i] != 0 {
                    return Err(invalid(twice(&key, self.seen[i])));
                }
                self.seen[i] = line as u32;
                ownership.owner_in_slot(slot)
            }
            None => {
                if let Some(first) = self.new.insert(key.clone(), line as u32) {
                    return Err(invalid(twice(&key, first)));
                }
                // New to the org: the command would refuse it without naming the line.
                if let Some(why) = crate::domain::new_key_refusal(&key) {
                    return Err(invalid(why));
                }
                None
            }
        };
        let owner = owner.map_err(|why| BadRow {
            line,
            why,
            code: "not_found",
        })?;
        let email = |id: UserId| crate::read::email(org, id);
        let action = match now {
            Some(now) if now == owner => {
                let kind = key.kind();
                if let Some(counts) = self.diff.kinds.get_mut(kind) {
                    counts.unchanged += 1;
                } else {
                    self.diff
                        .kinds
                        .entry(kind.to_owned())
                        .or_default()
                        .unchanged += 1;
                }
                return Ok(());
            }
            Some(_) => {
                let user = org.directory().user(owner);
                if let Some(user) = user.filter(|u| u.status != UserStatus::Active) {
                    return Err(invalid(format!(
                        "{} is {} and cannot receive {key}; choose an active user",
                        user.profile.email,
                        user.status.as_str()
                    )));
                }
                Action::Move
            }
            None => Action::Register,
        };
        self.diff.note(key.kind(), action, || Change {
            line: Some(line as u64),
            resource: key.to_string(),
            action,
            from: now.map(email),
            to: Some(email(owner)),
        });
        self.wanted.entry(owner).or_default().push(key);
        Ok(())
    }

    /// Every bad row so far.
    pub fn bad(&self) -> &[BadRow] {
        &self.bad
    }

    /// The plan: what the rows asked for, and every resource of a covered kind that has
    /// an owner and no row (retired). The bad rows instead, if there are any.
    pub fn finish(mut self, org: &OrgState) -> Result<Plan, Vec<BadRow>> {
        if !self.bad.is_empty() {
            return Err(self.bad);
        }
        let covered = match self.only.is_empty() {
            true => std::mem::take(&mut self.seen_kinds),
            false => std::mem::take(&mut self.only),
        };
        let ownership = org.ownership();
        let mut retire = Vec::new();
        for kind in &covered {
            self.diff.kinds.entry(kind.clone()).or_default();
            for (slot, text) in ownership.live_of_kind(kind) {
                if self.seen.get(slot as usize).is_some_and(|line| *line != 0) {
                    continue;
                }
                let key: ResourceKey = match text.parse() {
                    Ok(key) => key,
                    Err(_) => continue,
                };
                let from = ownership.owner_in_slot(slot);
                self.diff.note(kind, Action::Retire, || Change {
                    line: None,
                    resource: text.to_owned(),
                    action: Action::Retire,
                    from: from.map(|id| crate::read::email(org, id)),
                    to: None,
                });
                retire.push(key);
            }
        }
        Ok(Plan {
            diff: self.diff,
            wanted: self.wanted,
            retire,
            roles: self.roles,
        })
    }
}

fn twice(key: &ResourceKey, first: u32) -> String {
    format!("{key} is listed twice (first on line {first})")
}

impl Plan {
    /// The plan as `SyncResources` commands of at most `size` resources each: owners
    /// first, then retirements. Empty when the views already agree with the file.
    pub fn batches(&self, size: usize) -> Vec<Command> {
        let size = size.max(1);
        let mut batches = Vec::new();
        let mut owners: Vec<Holding> = Vec::new();
        let mut filled = 0;
        for (owner, keys) in &self.wanted {
            let mut keys = keys.as_slice();
            while !keys.is_empty() {
                let (now, later) = keys.split_at((size - filled).min(keys.len()));
                owners.push(Holding {
                    owner: *owner,
                    resources: now.to_vec(),
                });
                filled += now.len();
                keys = later;
                if filled == size {
                    batches.push(Command::SyncResources {
                        owners: std::mem::take(&mut owners),
                        retire: Vec::new(),
                        roles: Vec::new(),
                    });
                    filled = 0;
                }
            }
        }
        let mut retire = self.retire.as_slice();
        while !retire.is_empty() || !owners.is_empty() {
            let (now, later) = retire.split_at((size - filled).min(retire.len()));
            batches.push(Command::SyncResources {
                owners: std::mem::take(&mut owners),
                retire: now.to_vec(),
                roles: Vec::new(),
            });
            filled = 0;
            retire = later;
        }
        // Roles last, in batches of their own: every record they name is registered by
        // then.
        for chunk in self.roles.chunks(size) {
            batches.push(Command::SyncResources {
                owners: Vec::new(),
                retire: Vec::new(),
                roles: chunk.to_vec(),
            });
        }
        batches
    }
}
