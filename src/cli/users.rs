//! The directory: `user add|list|show|role|manager|activate|update` and `group
//! add|join|leave|update|remove`.

use std::collections::BTreeMap;

use offboard_events::{DistributionKind, Role, UserStatus};
use serde::Serialize;
use serde_json::json;

use super::args::{GroupCmd, PageArgs, UserAdd, UserCmd};
use super::context::written;
use super::error::CliError;
use super::Ctx;
use crate::domain::{Command, NewUser, ProfileChange};
use crate::read::{
    CreditsQuery, DistributionsQuery, DutiesQuery, LabelsQuery, OwnersQuery, UserQuery, UsersQuery,
};
use crate::server::UserView;

/// One place in a distribution, as `user show` prints it.
#[derive(Debug, Serialize)]
struct PlaceView {
    name: String,
    kind: DistributionKind,
    /// `null` when the user is only the backup.
    weight: Option<u32>,
    backup: bool,
}

/// What `user show` adds to the directory's [`UserView`].
#[derive(Debug, Serialize)]
struct UserDetail {
    #[serde(flatten)]
    user: UserView,
    resources_by_kind: BTreeMap<String, u64>,
    duties: Vec<String>,
    distributions: Vec<PlaceView>,
    labels: Vec<String>,
    reports: Vec<String>,
    credit_balance: u64,
    credits_used: u64,
}

pub fn user(cx: &mut Ctx, c: &UserCmd) -> Result<(), CliError> {
    match c {
        UserCmd::Add(a) => add(cx, a),
        UserCmd::Import { file, dry_run } => super::user_import::import(cx, file, *dry_run),
        UserCmd::List { status, page } => list(cx, status.as_deref(), page),
        UserCmd::Show { user } => show(cx, user),
        UserCmd::Roles { user, role, kind } => {
            super::roles::user_roles(cx, user, role.as_deref(), kind.as_deref())
        }
        UserCmd::Role { user, role } => {
            let role: Role = role.parse().map_err(CliError::invalid)?;
            let user = cx.user(user)?;
            cx.run(Command::ChangeRole { user, role }, None)?;
            Ok(())
        }
        UserCmd::Manager { user, manager } => {
            let manager = cx.optional_user(manager)?;
            let user = cx.user(user)?;
            cx.run(Command::SetManager { user, manager }, None)?;
            Ok(())
        }
        UserCmd::Activate { user } => {
            let user = cx.user(user)?;
            cx.run(Command::ActivateUser { user }, None)?;
            Ok(())
        }
        UserCmd::Update(u) => {
            let user = cx.user(&u.user)?;
            let change = ProfileChange {
                email: u.email.clone(),
                first_name: u.first.clone(),
                last_name: u.last.clone(),
                job_title: u.title.clone(),
                external_id: u.external_id.clone(),
                user_name: u.user_name.clone(),
                ..ProfileChange::default()
            };
            cx.run(Command::UpdateProfile { user, change }, None)?;
            Ok(())
        }
    }
}

fn add(cx: &mut Ctx, a: &UserAdd) -> Result<(), CliError> {
    let role: Role = a.role.parse().map_err(CliError::invalid)?;
    let manager = match &a.manager {
        Some(m) => Some(cx.user(m)?),
        None => None,
    };
    let command = Command::InviteUser {
        user: NewUser {
            email: a.email.clone(),
            first_name: a.first.clone(),
            last_name: a.last.clone(),
            job_title: a.title.clone(),
            external_id: a.external_id.clone(),
            department: None,
            employee_number: None,
            user_name: a.user_name.clone(),
        },
        role,
        manager,
        active: !a.inactive,
    };
    let name = command.name();
    let done = cx.execute(command)?;
    let user_id = done.invited();
    let lines = cx.describe(&done, None)?;
    let appended = &done.appended;
    if cx.out.is_json() {
        let extra = json!({ "user_id": user_id });
        let doc = written(&name, lines.join("\n"), appended, &done.events, extra)?;
        cx.out.doc(&doc)?;
    } else {
        for l in lines {
            cx.out.line(l);
        }
        if let Some(id) = user_id {
            cx.out.line(format!("  user id {id}"));
        }
    }
    Ok(())
}

fn list(cx: &mut Ctx, status: Option<&str>, page: &PageArgs) -> Result<(), CliError> {
    let status: Option<UserStatus> = status
        .map(|s| s.parse().map_err(CliError::invalid))
        .transpose()?;
    let query = UsersQuery {
        status,
        ..UsersQuery::default()
    };
    let mut users: Vec<UserView> = Vec::new();
    let next = cx.reader()?.walk(query, page, |p| {
        users.extend(p.users);
        Ok(())
    })?;
    if cx.out.is_json() {
        cx.out.doc(&json!({ "users": users, "next": next }))?;
        return Ok(());
    }
    // A deleted user's email may be taken again and a purged one's is gone: their id is
    // what `restore`, `history --user` and `user show` are given, so it is shown.
    let with_ids = users
        .iter()
        .any(|u| matches!(u.status, UserStatus::Deleted | UserStatus::Purged));
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            let mut row = vec![
                u.email.clone(),
                format!("{} {}", u.first_name, u.last_name),
                u.role.as_str().to_owned(),
                u.status.as_str().to_owned(),
                u.manager_email.clone().unwrap_or_else(|| "-".into()),
                u.resources.to_string(),
            ];
            if with_ids {
                row.push(u.id.to_string());
            }
            row
        })
        .collect();
    let mut header = vec!["email", "name", "role", "status", "manager", "resources"];
    if with_ids {
        header.push("id");
    }
    cx.out.table(&header, &rows);
    cx.out.line(format!(
        "{} {}",
        users.len(),
        crate::domain::plural("user", users.len() as u64)
    ));
    more(cx, next.as_deref());
    Ok(())
}

/// After a `--limit` page, how to ask for the next one.
pub fn more(cx: &mut Ctx, next: Option<&str>) {
    if let Some(cursor) = next.and_then(crate::read::page::cursor_of) {
        cx.out.line(format!("More: add --cursor {cursor}"));
    }
}

/// `user show`: the user, what they own by kind, their duties, places in
/// distributions and labels, reports and credits, each from its query.
fn show(cx: &mut Ctx, user: &str) -> Result<(), CliError> {
    let id = cx.any_user(user)?;
    let reader = cx.reader()?;
    let view = reader.ask(&UserQuery {
        user: Some(id.into()),
    })?;
    let mut resources_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let owned = OwnersQuery {
        owner: Some(id.into()),
        ..OwnersQuery::default()
    };
    reader.walk(owned, &PageArgs::default(), |p| {
        for o in p.owners {
            *resources_by_kind.entry(o.kind).or_default() += 1;
        }
        Ok(())
    })?;
    let duties = reader.all(DutiesQuery::default(), |p| p.duties)?;
    let distributions = reader.all(DistributionsQuery::default(), |p| p.distributions)?;
    let labels = reader.all(LabelsQuery::default(), |p| p.labels)?;
    let credits = reader.all(CreditsQuery::default(), |p| p.users)?;
    let users = reader.all(UsersQuery::default(), |p| p.users)?;
    let balance = credits.iter().find(|b| b.user == id);
    let detail = UserDetail {
        resources_by_kind,
        duties: duties
            .into_iter()
            .filter(|d| d.holder == id)
            .map(|d| d.duty)
            .collect(),
        distributions: distributions
            .into_iter()
            .filter_map(|d| {
                let weight = d
                    .members
                    .iter()
                    .find(|m| m.user == id)
                    .and_then(|m| m.weight);
                (weight.is_some() || d.backup == Some(id)).then(|| PlaceView {
                    name: d.name,
                    kind: d.kind,
                    weight,
                    backup: d.backup == Some(id),
                })
            })
            .collect(),
        labels: labels
            .into_iter()
            .filter(|l| l.members.iter().any(|m| m.user == id))
            .map(|l| l.name)
            .collect(),
        reports: users
            .into_iter()
            .filter(|u| u.manager == Some(id))
            .map(|u| u.email)
            .collect(),
        credit_balance: balance.map_or(0, |b| b.balance),
        credits_used: balance.map_or(0, |b| b.used),
        user: view,
    };
    if cx.out.is_json() {
        cx.out.doc(&detail)?;
        return Ok(());
    }
    print_detail(cx, &detail);
    Ok(())
}

fn print_detail(cx: &mut Ctx, detail: &UserDetail) {
    let u = &detail.user;
    let none = || "-".to_owned();
    let list = |v: &[String]| if v.is_empty() { none() } else { v.join(", ") };
    let rows = vec![
        vec!["id".into(), u.id.to_string()],
        vec!["email".into(), u.email.clone()],
        vec!["name".into(), format!("{} {}", u.first_name, u.last_name)],
        vec!["title".into(), u.job_title.clone().unwrap_or_else(none)],
        vec![
            "external id".into(),
            u.external_id.clone().unwrap_or_else(none),
        ],
        vec!["user name".into(), u.user_name.clone()],
        vec!["role".into(), u.role.as_str().into()],
        vec!["status".into(), u.status.as_str().into()],
        vec![
            "manager".into(),
            u.manager_email.clone().unwrap_or_else(none),
        ],
        vec!["groups".into(), list(&u.groups)],
        vec![
            "resources".into(),
            if detail.resources_by_kind.is_empty() {
                none()
            } else {
                detail
                    .resources_by_kind
                    .iter()
                    .map(|(k, n)| format!("{n} {}", crate::domain::plural(k, *n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ],
        vec!["duties".into(), list(&detail.duties)],
        vec![
            "distributions".into(),
            if detail.distributions.is_empty() {
                none()
            } else {
                detail
                    .distributions
                    .iter()
                    .map(|d| match d.weight {
                        Some(w) => format!("{} (weight {w})", d.name),
                        None => format!("{} (backup)", d.name),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ],
        vec!["labels".into(), list(&detail.labels)],
        vec!["manages".into(), list(&detail.reports)],
        vec![
            "credits".into(),
            format!(
                "{} unused, {} used",
                detail.credit_balance, detail.credits_used
            ),
        ],
    ];
    cx.out.table(&["field", "value"], &rows);
}

pub fn group(cx: &mut Ctx, c: &GroupCmd) -> Result<(), CliError> {
    let command = match c {
        GroupCmd::Add { name, owner } => Command::CreateGroup {
            name: name.clone(),
            owner: cx.user(owner)?,
        },
        GroupCmd::Join { name, user } => Command::JoinGroup {
            group: name.clone(),
            user: cx.user(user)?,
        },
        GroupCmd::Leave { name, user } => Command::LeaveGroup {
            group: name.clone(),
            user: cx.user(user)?,
        },
        GroupCmd::Update {
            name,
            display,
            external_id,
        } => Command::UpdateGroup {
            group: name.clone(),
            name: display.clone(),
            external_id: external_id.clone(),
        },
        GroupCmd::Remove { name } => Command::DeleteGroup {
            group: name.clone(),
        },
    };
    let lead = match c {
        GroupCmd::Add { name, owner } => Some(format!("Created group {name:?} owned by {owner}.")),
        _ => None,
    };
    cx.run(command, lead)?;
    Ok(())
}
