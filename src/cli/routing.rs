//! Who gets new work: singleton duties (`duty`), distributions (`distribution`: lead
//! rotations, workflow automations, integrations) and shared labels (`label`).

use offboard_events::{Member, UserStatus};
use serde_json::json;

use super::args::{DistributionCmd, DutyCmd, LabelCmd};
use super::describe::kind_word;
use super::error::CliError;
use super::{resolve, Ctx};
use crate::domain::Command;
use crate::read::{DistributionsQuery, DutiesQuery, LabelsQuery};
use crate::server::MemberView;

/// Every duty's name and holder, through the one read layer.
fn duties(cx: &mut Ctx) -> Result<Vec<crate::server::DutyView>, CliError> {
    cx.reader()?.all(DutiesQuery::default(), |p| p.duties)
}

/// `not_found` unless a duty is named `name`, listing the duties there are: assigning a
/// name no duty has takes `--new`.
fn known_duty(cx: &mut Ctx, name: &str) -> Result<(), CliError> {
    let duties = duties(cx)?;
    if duties.iter().any(|d| d.duty == name.trim()) {
        return Ok(());
    }
    let names: Vec<&str> = duties.iter().map(|d| d.duty.as_str()).collect();
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
            let duties = duties(cx)?;
            if cx.out.is_json() {
                cx.out.doc(&json!({ "duties": duties, "next": null }))?;
            } else {
                let rows: Vec<Vec<String>> = duties
                    .into_iter()
                    .map(|d| {
                        let holder = format!("{}{}", d.holder_email, not_active(d.holder_status));
                        vec![d.duty, holder]
                    })
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
            let kind = *kind;
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
            let all = cx
                .reader()?
                .all(DistributionsQuery::default(), |p| p.distributions)?;
            if cx.out.is_json() {
                cx.out.doc(&json!({ "distributions": all, "next": null }))?;
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|d| {
                        vec![
                            d.name.clone(),
                            kind_word(d.kind).to_owned(),
                            weighted(&d.members),
                            d.backup_email.as_ref().map_or_else(
                                || "-".into(),
                                |b| format!("{b}{}", not_active(d.backup_status)),
                            ),
                        ]
                    })
                    .collect();
                cx.out
                    .table(&["name", "kind", "members (weight)", "backup"], &rows);
            }
        }
    }
    Ok(())
}

/// `ann@x (2), bob@x (1) [deactivated: no new work]`.
fn weighted(members: &[MemberView]) -> String {
    members
        .iter()
        .map(|m| {
            let skipped = match m.status {
                Some(UserStatus::Active) | None => String::new(),
                Some(s) => format!(" [{}: no new work]", s.as_str()),
            };
            format!("{} ({}){skipped}", m.email, m.weight.unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` [deactivated]` for a holder who is not active (R26), empty for an active one.
fn not_active(status: Option<UserStatus>) -> String {
    match status {
        Some(UserStatus::Active) | None => String::new(),
        Some(s) => format!(" [{}]", s.as_str()),
    }
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
            let all = cx.reader()?.all(LabelsQuery::default(), |p| p.labels)?;
            if cx.out.is_json() {
                cx.out.doc(&json!({ "labels": all, "next": null }))?;
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|l| {
                        let emails: Vec<&str> =
                            l.members.iter().map(|m| m.email.as_str()).collect();
                        vec![l.name.clone(), emails.join(", ")]
                    })
                    .collect();
                cx.out.table(&["label", "members"], &rows);
            }
        }
    }
    Ok(())
}
