//! The directory: `user add|list|show|role|manager|activate` and `group add|join|leave`.

use std::collections::BTreeMap;

use offboard_events::{Role, UserId, UserStatus};
use offboard_projections::{OrgState, User};
use serde::Serialize;
use serde_json::json;

use super::args::{GroupCmd, UserAdd, UserCmd};
use super::error::CliError;
use super::names::Names;
use super::remote::Remote;
use super::{resolve, Ctx};
use crate::domain::{Command, NewUser};

/// One user as `user list` and `user show` print it.
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub job_title: Option<String>,
    pub role: Role,
    pub status: UserStatus,
    pub manager_id: Option<UserId>,
    pub manager_email: Option<String>,
    pub groups: Vec<String>,
    /// How many resources the user owns.
    pub resources: u64,
}

impl UserView {
    /// The server's view of a user, with the manager's email.
    pub fn from_api(names: &dyn Names, u: &crate::server::UserView) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            job_title: u.job_title.clone(),
            role: u.role,
            status: u.status,
            manager_id: u.manager,
            manager_email: u.manager.map(|m| names.email(m)),
            groups: u.groups.clone(),
            resources: u.resources,
        }
    }

    pub fn of(org: &OrgState, u: &User) -> Self {
        Self {
            id: u.id,
            email: u.profile.email.clone(),
            first_name: u.profile.first_name.clone(),
            last_name: u.profile.last_name.clone(),
            job_title: u.profile.job_title.clone(),
            role: u.role,
            status: u.status,
            manager_id: u.manager,
            manager_email: u.manager.map(|m| resolve::email(org, m)),
            groups: u.groups.iter().map(|g| g.id().to_owned()).collect(),
            resources: org.ownership().total_owned(u.id),
        }
    }
}

/// What `user show` adds to a [`UserView`].
#[derive(Debug, Serialize)]
struct UserDetail {
    #[serde(flatten)]
    user: UserView,
    resources_by_kind: BTreeMap<String, u64>,
    duties: Vec<String>,
    distributions: Vec<serde_json::Value>,
    labels: Vec<String>,
    reports: Vec<String>,
    credit_balance: u64,
    credits_used: u64,
}

pub fn user(cx: &mut Ctx, c: &UserCmd) -> Result<(), CliError> {
    match c {
        UserCmd::Add(a) => add(cx, a),
        UserCmd::List { status } => list(cx, status.as_deref()),
        UserCmd::Show { user } => show(cx, user),
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
        cx.out.doc(&json!({
            "ok": true,
            "command": name,
            "message": lines.join("\n"),
            "user_id": user_id,
            "command_id": appended.command_id,
            "correlation_id": appended.correlation_id,
            "positions": appended.positions.map(|(x, y)| [x, y]),
            "duplicate": appended.duplicate,
            "events": done.events,
        }))?;
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

fn list(cx: &mut Ctx, status: Option<&str>) -> Result<(), CliError> {
    let status: Option<UserStatus> = status
        .map(|s| s.parse().map_err(CliError::invalid))
        .transpose()?;
    let mut views: Vec<UserView> = match cx.remote() {
        None => cx.read(|org| {
            Ok(org
                .directory()
                .users()
                .filter(|u| match status {
                    Some(s) => u.status == s,
                    None => u.is_listed(),
                })
                .map(|u| UserView::of(org, u))
                .collect())
        })?,
        Some(r) => {
            let status = status.map(|s| s.as_str().to_owned());
            let users: Vec<crate::server::UserView> = r.get(&format!(
                "/v1/users{}",
                Remote::query(&[("status", status)])
            ))?;
            r.remember(&users);
            users.iter().map(|u| UserView::from_api(r, u)).collect()
        }
    };
    views.sort_by_key(|u| u.email.to_lowercase());
    if cx.out.is_json() {
        cx.out.doc(&json!({ "users": views }))?;
        return Ok(());
    }
    // A deleted user's email may be taken again and a purged one's is gone: their id is
    // what `restore`, `history --user` and `user show` are given, so it is shown.
    let with_ids = views
        .iter()
        .any(|u| matches!(u.status, UserStatus::Deleted | UserStatus::Purged));
    let rows: Vec<Vec<String>> = views
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
        views.len(),
        crate::domain::plural("user", views.len() as u64)
    ));
    Ok(())
}

fn show(cx: &mut Ctx, user: &str) -> Result<(), CliError> {
    let detail = match cx.remote() {
        None => show_embedded(cx, user)?,
        Some(r) => show_remote(r, user)?,
    };
    if cx.out.is_json() {
        cx.out.doc(&detail)?;
        return Ok(());
    }
    print_detail(cx, &detail);
    Ok(())
}

/// `user show` from the server: the user, what they own, their duties, places in
/// distributions and labels, reports and credits, each from its listing.
fn show_remote(r: &Remote, user: &str) -> Result<UserDetail, CliError> {
    let id = r.any_user(user)?;
    let view = r.user_view(id)?;
    let owned: Vec<crate::server::OwnedResource> = r.get(&format!("/v1/owners?owner={id}"))?;
    let mut resources_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for o in &owned {
        let kind = o.resource.split_once(':').map_or("", |(k, _)| k);
        *resources_by_kind.entry(kind.to_owned()).or_default() += 1;
    }
    let duties: Vec<crate::server::DutyView> = r.get("/v1/duties")?;
    let distributions: Vec<crate::server::DistributionView> = r.get("/v1/distributions")?;
    let labels: Vec<crate::server::LabelView> = r.get("/v1/labels")?;
    let credits: crate::server::CreditsView = r.get("/v1/credits")?;
    let mut reports: Vec<UserId> = r
        .prefetch_users()?
        .iter()
        .filter(|u| u.manager == Some(id))
        .filter(|u| !matches!(u.status, UserStatus::Deleted | UserStatus::Purged))
        .map(|u| u.id)
        .collect();
    reports.sort();
    let balance = credits.users.iter().find(|b| b.user == id);
    Ok(UserDetail {
        user: UserView {
            resources: owned.len() as u64,
            ..UserView::from_api(r, &view)
        },
        resources_by_kind,
        duties: duties
            .into_iter()
            .filter(|d| d.holder == id)
            .map(|d| d.duty)
            .collect(),
        distributions: distributions
            .into_iter()
            .filter_map(|d| {
                let weight = d.members.iter().find(|m| m.user == id).map(|m| m.weight);
                (weight.is_some() || d.backup == Some(id)).then(|| {
                    json!({
                        "name": d.name,
                        "kind": d.kind,
                        "weight": weight,
                        "backup": d.backup == Some(id),
                    })
                })
            })
            .collect(),
        labels: labels
            .into_iter()
            .filter(|l| l.members.contains(&id))
            .map(|l| l.name)
            .collect(),
        reports: reports.into_iter().map(|u| r.email(u)).collect(),
        credit_balance: balance.map_or(0, |b| b.balance),
        credits_used: balance.map_or(0, |b| b.used),
    })
}

fn show_embedded(cx: &Ctx, user: &str) -> Result<UserDetail, CliError> {
    cx.read(|org| {
        let id = resolve::any_user(org, user)?;
        let u = org
            .directory()
            .user(id)
            .ok_or_else(|| CliError::not_found(format!("user {user:?}")))?;
        let mut distributions = Vec::new();
        for d in org.distributions().all() {
            let weight = d.members.iter().find(|m| m.user == id).map(|m| m.weight);
            if weight.is_some() || d.backup == Some(id) {
                distributions.push(json!({
                    "name": d.name,
                    "kind": d.kind,
                    "weight": weight,
                    "backup": d.backup == Some(id),
                }));
            }
        }
        Ok(UserDetail {
            user: UserView::of(org, u),
            resources_by_kind: org.ownership().counts_by_kind(id),
            duties: org.duties().duties_of(id),
            distributions,
            labels: org.labels().labels_of(id).map(|l| l.name.clone()).collect(),
            reports: org
                .directory()
                .reports_of(id)
                .map(|r| resolve::email(org, r))
                .collect(),
            credit_balance: org.credits().balance(id),
            credits_used: org.credits().used_total(id),
        })
    })
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
                    .map(|d| match d["weight"].as_u64() {
                        Some(w) => format!("{} (weight {w})", d["name"].as_str().unwrap_or("")),
                        None => format!("{} (backup)", d["name"].as_str().unwrap_or("")),
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
    };
    let lead = match c {
        GroupCmd::Add { name, owner } => Some(format!("Created group {name:?} owned by {owner}.")),
        _ => None,
    };
    cx.run(command, lead)?;
    Ok(())
}
