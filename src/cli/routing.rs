//! Who gets new work: singleton duties (`duty`), distributions (`distribution`: lead
//! rotations, workflow automations, integrations) and shared labels (`label`).

use offboard_events::{DistributionKind, Member, UserId};
use serde::Serialize;
use serde_json::json;

use super::args::{DistributionCmd, DistributionKindArg, DutyCmd, LabelCmd};
use super::describe::{kind_word, members as member_list};
use super::error::CliError;
use super::{resolve, Ctx};
use crate::domain::Command;

/// Every duty's name and holder: the org's views, or the server's.
fn duties(cx: &Ctx) -> Result<Vec<(String, UserId)>, CliError> {
    Ok(match cx.remote() {
        None => cx.read(|org| Ok(org.duties().all().map(|(d, u)| (d.to_owned(), u)).collect()))?,
        Some(r) => r
            .get::<Vec<crate::server::DutyView>>("/v1/duties")?
            .into_iter()
            .map(|d| (d.duty, d.holder))
            .collect(),
    })
}

/// `not_found` unless a duty is named `name`, listing the duties there are: assigning a
/// name no duty has takes `--new`.
fn known_duty(cx: &Ctx, name: &str) -> Result<(), CliError> {
    let duties = duties(cx)?;
    if duties.iter().any(|(d, _)| d == name.trim()) {
        return Ok(());
    }
    let names: Vec<&str> = duties.iter().map(|(d, _)| d.as_str()).collect();
    let known = match names.is_empty() {
        true => "there are none yet".to_owned(),
        false => format!("there are {}", names.join(", ")),
    };
    Err(CliError::not_found(format!(
        "no duty is named {:?} ({known}): check the spelling, or add --new to create it",
        name.trim()
    )))
}

pub fn duty(cx: &mut Ctx, c: &DutyCmd) -> Result<(), CliError> {
    match c {
        DutyCmd::Assign { name, user, new } => {
            let to = cx.user(user)?;
            if !new {
                known_duty(cx, name)?;
            }
            cx.run(
                Command::AssignDuty {
                    duty: name.clone(),
                    to,
                },
                None,
            )?;
            Ok(())
        }
        DutyCmd::List => {
            #[derive(Serialize)]
            struct DutyView {
                duty: String,
                holder_id: UserId,
                holder_email: String,
            }
            let duties = duties(cx)?;
            let views: Vec<DutyView> = cx.names(|n| {
                Ok(duties
                    .into_iter()
                    .map(|(duty, holder_id)| DutyView {
                        duty,
                        holder_id,
                        holder_email: n.email(holder_id),
                    })
                    .collect())
            })?;
            if cx.out.is_json() {
                cx.out.doc(&json!({ "duties": views }))?;
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| vec![v.duty.clone(), v.holder_email.clone()])
                    .collect();
                cx.out.table(&["duty", "holder"], &rows);
            }
            Ok(())
        }
    }
}

fn members(cx: &Ctx, args: &[String]) -> Result<Vec<Member>, CliError> {
    cx.names(|n| args.iter().map(|m| resolve::member(n, m)).collect())
}

pub fn distribution(cx: &mut Ctx, c: &DistributionCmd) -> Result<(), CliError> {
    match c {
        DistributionCmd::Add {
            name,
            kind,
            members: m,
            backup,
        } => {
            let kind = match kind {
                DistributionKindArg::Rotation => DistributionKind::Rotation,
                DistributionKindArg::Automation => DistributionKind::Automation,
                DistributionKindArg::Integration => DistributionKind::Integration,
            };
            let members = members(cx, m)?;
            let backup = match backup {
                Some(b) => cx.optional_user(b)?,
                None => None,
            };
            cx.run(
                Command::CreateDistribution {
                    name: name.clone(),
                    kind,
                    members,
                    backup,
                },
                None,
            )?;
        }
        DistributionCmd::Members { name, members: m } => {
            let members = members(cx, m)?;
            cx.run(
                Command::SetDistributionMembers {
                    distribution: name.clone(),
                    members,
                },
                None,
            )?;
        }
        DistributionCmd::Backup { name, user } => {
            let backup = cx.optional_user(user)?;
            cx.run(
                Command::SetDistributionBackup {
                    distribution: name.clone(),
                    backup,
                },
                None,
            )?;
        }
        DistributionCmd::List => {
            #[derive(Serialize)]
            struct MemberView {
                user_id: UserId,
                email: String,
                weight: u32,
            }
            #[derive(Serialize)]
            struct DistributionView {
                id: offboard_events::DistributionId,
                name: String,
                kind: DistributionKind,
                members: Vec<MemberView>,
                backup_id: Option<UserId>,
                backup_email: Option<String>,
            }
            let all: Vec<crate::server::DistributionView> = match cx.remote() {
                None => cx.read(|org| {
                    Ok(org
                        .distributions()
                        .all()
                        .map(|d| crate::server::DistributionView {
                            id: d.id,
                            name: d.name.clone(),
                            kind: d.kind,
                            members: d.members.clone(),
                            backup: d.backup,
                        })
                        .collect())
                })?,
                Some(r) => r.get("/v1/distributions")?,
            };
            let (views, rows) = cx.names(|org| {
                let mut views = Vec::new();
                let mut rows = Vec::new();
                for d in &all {
                    rows.push(vec![
                        d.name.clone(),
                        kind_word(d.kind).to_owned(),
                        member_list(org, &d.members),
                        d.backup.map_or("-".into(), |b| org.email(b)),
                    ]);
                    views.push(DistributionView {
                        id: d.id,
                        name: d.name.clone(),
                        kind: d.kind,
                        members: d
                            .members
                            .iter()
                            .map(|m| MemberView {
                                user_id: m.user,
                                email: org.email(m.user),
                                weight: m.weight,
                            })
                            .collect(),
                        backup_id: d.backup,
                        backup_email: d.backup.map(|b| org.email(b)),
                    });
                }
                Ok((views, rows))
            })?;
            if cx.out.is_json() {
                cx.out.doc(&json!({ "distributions": views }))?;
            } else {
                cx.out
                    .table(&["name", "kind", "members (weight)", "backup"], &rows);
            }
        }
    }
    Ok(())
}

pub fn label(cx: &mut Ctx, c: &LabelCmd) -> Result<(), CliError> {
    match c {
        LabelCmd::Add { name, members } => {
            let members = cx.names(|n| resolve::users(n, members))?;
            cx.run(
                Command::CreateLabel {
                    name: name.clone(),
                    members,
                },
                None,
            )?;
        }
        LabelCmd::List => {
            #[derive(Serialize)]
            struct LabelView {
                id: offboard_events::LabelId,
                name: String,
                members: Vec<String>,
            }
            let all: Vec<crate::server::LabelView> = match cx.remote() {
                None => cx.read(|org| {
                    Ok(org
                        .labels()
                        .all()
                        .map(|l| crate::server::LabelView {
                            id: l.id,
                            name: l.name.clone(),
                            members: l.members.iter().copied().collect(),
                        })
                        .collect())
                })?,
                Some(r) => r.get("/v1/labels")?,
            };
            let views: Vec<LabelView> = cx.names(|org| {
                Ok(all
                    .into_iter()
                    .map(|l| LabelView {
                        id: l.id,
                        name: l.name,
                        members: l.members.iter().map(|m| org.email(*m)).collect(),
                    })
                    .collect())
            })?;
            if cx.out.is_json() {
                cx.out.doc(&json!({ "labels": views }))?;
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|l| vec![l.name.clone(), l.members.join(", ")])
                    .collect();
                cx.out.table(&["label", "members"], &rows);
            }
        }
    }
    Ok(())
}
