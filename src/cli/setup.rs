//! Setting an organization up: `init` (as the system actor), `policy`, `principal`,
//! `orgs`, `transfer-org`.

use offboard_events::{Actor, Deprovision, OrgId, Policy, PrincipalKind};
use serde::Serialize;
use serde_json::json;

use super::args::{Init, PolicyArgs, PrincipalCmd};
use super::context::written;
use super::error::CliError;
use super::names::Names;
use super::{resolve, Ctx};
use crate::domain::{Command, NewUser, PolicyChange};
use crate::engine::CommandMeta;
use crate::read::OrgQuery;

/// `init --org NAME --owner-email …`: a new org whose owner is active at once.
pub fn init(cx: &mut Ctx, a: &Init) -> Result<(), CliError> {
    let name = cx
        .global
        .org
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| CliError::usage("init needs the organization's name: --org NAME"))?;
    let org_id = OrgId::new();
    let command = Command::CreateOrganization {
        name: name.clone(),
        owner: NewUser {
            email: a.owner_email.clone(),
            first_name: a.owner_first.clone(),
            last_name: a.owner_last.clone(),
            job_title: a.owner_title.clone(),
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        },
    };
    let meta = CommandMeta::new(org_id, Actor::System);
    let appended = cx.submit_as(meta, command)?;
    let (org, owner) = {
        let state = cx.engine()?.state();
        let org = state
            .org(org_id)
            .ok_or_else(|| CliError::not_found("the new organization"))?;
        (org.name().to_owned(), org.owner())
    };
    let events = cx.events_of(&appended)?;
    if cx.out.is_json() {
        let message = format!("Created organization {org:?} owned by {}.", a.owner_email);
        let extra = json!({ "org_id": org_id, "owner_id": owner });
        let doc = written("create_organization", message, &appended, &events, extra)?;
        cx.out.doc(&doc)?;
    } else {
        cx.out.line(format!(
            "Created organization {org:?} (id {org_id}) in {}, owned by {} (id {owner}).",
            cx.session()?.location(),
            a.owner_email.trim()
        ));
        cx.out
            .line("Commands act as the owner unless --as names someone else.");
    }
    Ok(())
}

/// `policy`: shows the policy; with flags, changes those fields (the owner only).
pub fn policy(cx: &mut Ctx, a: &PolicyArgs) -> Result<(), CliError> {
    let current = cx.names(|n| n.policy())?;
    let changing = a.confirmation_phrase.is_some()
        || a.retention_days.is_some()
        || a.deactivate_requires_demotion.is_some()
        || a.delete_requires_no_credit_history.is_some()
        || a.deprovision.is_some()
        || a.deprovision_then.is_some()
        || a.deactivate_handover.is_some()
        || a.time_zone.is_some()
        || a.reprovision.is_some();
    if !changing {
        if cx.out.is_json() {
            cx.out.doc(&json!({ "policy": current }))?;
        } else {
            show_policy(cx, &current);
        }
        return Ok(());
    }
    let change = PolicyChange {
        confirmation_phrase: a.confirmation_phrase.clone(),
        retention_days: a.retention_days,
        deactivate_requires_demotion: a.deactivate_requires_demotion,
        delete_requires_no_credit_history: a.delete_requires_no_credit_history,
        deprovision: a
            .deprovision
            .as_deref()
            .map(|d| deprovision(cx, d))
            .transpose()?,
        deprovision_then: a
            .deprovision_then
            .as_deref()
            .map(|t| t.parse().map_err(CliError::invalid))
            .transpose()?,
        deactivate_handover: a.deactivate_handover,
        time_zone: a.time_zone.clone(),
        reprovision: a.reprovision,
    };
    // The domain applies the change to the policy in force when it decides; this is
    // what it will be unless another change lands first.
    let policy = change.applied_to(&current);
    cx.run_with(
        Command::SetPolicy(change),
        None,
        json!({ "policy": policy }),
    )?;
    Ok(())
}

/// `--deprovision`: `deactivate`, `offboard_to_manager` or `offboard_to:USER` (an email
/// or id, stored as the id).
fn deprovision(cx: &mut Ctx, arg: &str) -> Result<Deprovision, CliError> {
    match arg.trim().strip_prefix("offboard_to:") {
        Some(user) => Ok(Deprovision::OffboardTo(cx.user(user)?)),
        None => arg.parse().map_err(CliError::invalid),
    }
}

fn show_policy(cx: &mut Ctx, p: &Policy) {
    cx.out.table(
        &["setting", "value"],
        &[
            vec!["confirmation_phrase".into(), p.confirmation_phrase.clone()],
            vec!["retention_days".into(), p.retention_days.to_string()],
            vec![
                "deactivate_requires_demotion".into(),
                p.deactivate_requires_demotion.to_string(),
            ],
            vec![
                "delete_requires_no_credit_history".into(),
                p.delete_requires_no_credit_history.to_string(),
            ],
            vec!["deprovision".into(), p.deprovision.to_string()],
            vec![
                "deprovision_then".into(),
                format!("{:?}", p.deprovision_then).to_lowercase(),
            ],
            vec![
                "deactivate_handover".into(),
                p.deactivate_handover.as_str().into(),
            ],
            vec!["time_zone".into(), p.time_zone.clone()],
            vec!["reprovision".into(), p.reprovision.as_str().into()],
        ],
    );
}

#[derive(Serialize)]
struct PrincipalView<'a> {
    kind: PrincipalKind,
    name: &'a str,
}

/// `principal add support|auditor NAME`, `principal list`.
pub fn principal(cx: &mut Ctx, c: &PrincipalCmd) -> Result<(), CliError> {
    match c {
        PrincipalCmd::Add { kind, name } => {
            cx.run(
                Command::RegisterPrincipal {
                    kind: *kind,
                    name: name.clone(),
                },
                None,
            )?;
            Ok(())
        }
        PrincipalCmd::List => {
            let list: Vec<(PrincipalKind, String)> = cx
                .ask(&OrgQuery {})?
                .principals
                .into_iter()
                .map(|p| (p.kind, p.name))
                .collect();
            if cx.out.is_json() {
                let views: Vec<PrincipalView> = list
                    .iter()
                    .map(|(kind, name)| PrincipalView { kind: *kind, name })
                    .collect();
                cx.out.doc(&json!({ "principals": views }))?;
            } else if list.is_empty() {
                cx.out
                    .line("No support agent, auditor or provisioner serves this organization.");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|(k, n)| {
                        let kind = match k {
                            PrincipalKind::Support => "support",
                            PrincipalKind::Auditor => "auditor",
                            PrincipalKind::Provisioner => "provisioner",
                        };
                        vec![kind.to_owned(), n.clone(), format!("{kind}:{n}")]
                    })
                    .collect();
                cx.out.table(&["kind", "name", "--as"], &rows);
            }
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct OrgView {
    id: OrgId,
    name: String,
    owner: String,
    users: usize,
    resources: usize,
    billed_seats: u64,
}

/// `orgs`: every organization in the directory (client mode: the token's).
pub fn orgs(cx: &mut Ctx) -> Result<(), CliError> {
    let views: Vec<OrgView> = if let Some(r) = cx.remote() {
        let org = r.org_view()?;
        vec![OrgView {
            id: org.id,
            name: org.name,
            owner: r.email(org.owner),
            users: org.users as usize,
            resources: org.resources as usize,
            billed_seats: org.billed_seats,
        }]
    } else {
        let state = cx.engine()?.state();
        state
            .orgs()
            .map(|o| OrgView {
                id: o.id(),
                name: o.name().to_owned(),
                owner: resolve::email(o, o.owner()),
                users: o.directory().listed().count(),
                resources: o.ownership().len(),
                billed_seats: o.billing().billed_seats(),
            })
            .collect()
    };
    if cx.out.is_json() {
        cx.out.doc(&json!({ "orgs": views }))?;
    } else if views.is_empty() {
        cx.out
            .line("No organization yet: run `offboard init --org NAME --owner-email …`.");
    } else {
        let rows: Vec<Vec<String>> = views
            .iter()
            .map(|v| {
                vec![
                    v.name.clone(),
                    v.id.to_string(),
                    v.owner.clone(),
                    v.users.to_string(),
                    v.resources.to_string(),
                    v.billed_seats.to_string(),
                ]
            })
            .collect();
        cx.out.table(
            &["name", "id", "owner", "users", "resources", "billed seats"],
            &rows,
        );
    }
    Ok(())
}

/// `transfer-org USER` (R3).
pub fn transfer_org(cx: &mut Ctx, user: &str) -> Result<(), CliError> {
    let to = cx.user(user)?;
    cx.run(Command::TransferOrgOwnership { to }, None)?;
    Ok(())
}
