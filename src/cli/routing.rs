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
use crate::read::{DistributionsQuery, DutiesQuery, LabelsQuery};

pub fn duty(cx: &mut Ctx, c: &DutyCmd) -> Result<(), CliError> {
    match c {
        DutyCmd::Assign { name, user } => {
            let to = cx.user(user)?;
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
            let duties: Vec<(String, UserId)> = cx
                .reader()?
                .all(DutiesQuery::default(), |p| p.duties)?
                .into_iter()
                .map(|d| (d.duty, d.holder))
                .collect();
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
            let all = cx
                .reader()?
                .all(DistributionsQuery::default(), |p| p.distributions)?;
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
            let all = cx.reader()?.all(LabelsQuery::default(), |p| p.labels)?;
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
