//! Which endpoint carries each domain command, and its body. The CLI resolves users the
//! same way in both modes and builds the same [`Command`]; in client mode this turns it
//! into the API request (users by id), so per-command argument handling is written once.

use offboard_events::{CreditAccount, Member, UserId};
use serde_json::{json, Value};

use crate::cli::error::CliError;
use crate::domain::{Command, OffboardPlan};
use crate::server::client::encode_segment;

/// A command request: `POST path` with `body`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub path: String,
    pub body: Value,
}

fn post(path: String, body: Value) -> Result<Request, CliError> {
    Ok(Request { path, body })
}

fn user_path(user: UserId, action: &str) -> String {
    format!("/v1/users/{user}/{action}")
}

fn named(collection: &str, name: &str, action: &str) -> String {
    format!("/v1/{collection}/{}/{action}", encode_segment(name))
}

fn members(list: &[Member]) -> Value {
    Value::Array(
        list.iter()
            .map(|m| json!({ "user": m.user, "weight": m.weight }))
            .collect(),
    )
}

fn account(a: CreditAccount) -> Value {
    match a {
        CreditAccount::Pool => json!("pool"),
        CreditAccount::User { id } => json!(id),
    }
}

fn plan(p: &OffboardPlan) -> Value {
    json!({
        "resources": p.resources.iter().map(|(kind, r)| {
            (kind.clone(), json!({ "to": r.to, "strategy": r.strategy }))
        }).collect::<serde_json::Map<_, _>>(),
        "default_to": p.default_to,
        "distributions": p.distributions.iter().map(|(name, list)| {
            (name.clone(), members(list))
        }).collect::<serde_json::Map<_, _>>(),
        "labels": p.labels,
        "duties": p.duties,
        "reports_to": p.reports_to,
        "credits_to": p.credits_to.map(account),
    })
}

/// The endpoint and body of `command`. Creating an organization has no endpoint (only
/// the system actor may, on the data directory).
pub fn request(command: &Command) -> Result<Request, CliError> {
    match command {
        Command::CreateOrganization { .. } => Err(CliError::usage(
            "creating an organization works on the data directory only (`offboard init`)",
        )),
        Command::SetPolicy { policy } => post("/v1/org/policy".into(), json!(policy)),
        Command::TransferOrgOwnership { to } => {
            post("/v1/org/transfer-ownership".into(), json!({ "to": to }))
        }
        Command::RegisterPrincipal { kind, name } => post(
            "/v1/org/principals".into(),
            json!({ "kind": kind, "name": name }),
        ),
        Command::InviteUser {
            user,
            role,
            manager,
            active,
        } => post(
            "/v1/users".into(),
            json!({
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "job_title": user.job_title,
                "role": role,
                "manager": manager,
                "active": active,
            }),
        ),
        Command::ActivateUser { user } => post(user_path(*user, "activate"), json!({})),
        Command::ChangeRole { user, role } => {
            post(user_path(*user, "role"), json!({ "role": role }))
        }
        Command::SetManager { user, manager } => {
            post(user_path(*user, "manager"), json!({ "manager": manager }))
        }
        Command::CreateGroup { name, owner } => {
            post("/v1/groups".into(), json!({ "name": name, "owner": owner }))
        }
        Command::JoinGroup { group, user } => {
            post(named("groups", group, "join"), json!({ "user": user }))
        }
        Command::LeaveGroup { group, user } => {
            post(named("groups", group, "leave"), json!({ "user": user }))
        }
        Command::DeactivateUser { user } => post(user_path(*user, "deactivate"), json!({})),
        Command::ReactivateUser { user } => post(user_path(*user, "reactivate"), json!({})),
        Command::DeleteUser { user, confirm } => {
            post(user_path(*user, "delete"), json!({ "confirm": confirm }))
        }
        Command::RegisterResources { owner, resources } => post(
            user_path(*owner, "resources"),
            json!({ "resources": resources }),
        ),
        Command::TransferResources {
            from,
            resources,
            to,
        } => post(
            user_path(*from, "transfer-resources"),
            json!({ "resources": resources, "to": to }),
        ),
        Command::TransferAll {
            from,
            kind,
            to,
            strategy,
        } => post(
            user_path(*from, "transfer-all"),
            json!({ "kind": kind, "to": to, "strategy": strategy }),
        ),
        Command::TransferAccount {
            from,
            to,
            then,
            confirm,
        } => post(
            user_path(*from, "transfer-account"),
            json!({ "to": to, "then": then, "confirm": confirm }),
        ),
        Command::AssignDuty { duty, to } => {
            post(named("duties", duty, "assign"), json!({ "to": to }))
        }
        Command::CreateDistribution {
            name,
            kind,
            members: list,
            backup,
        } => post(
            "/v1/distributions".into(),
            json!({ "name": name, "kind": kind, "members": members(list), "backup": backup }),
        ),
        Command::RemoveDistributionMember {
            distribution,
            user,
            members: list,
        } => post(
            named("distributions", distribution, "remove-member"),
            json!({ "user": user, "members": list.as_deref().map(members) }),
        ),
        Command::SetDistributionMembers {
            distribution,
            members: list,
        } => post(
            named("distributions", distribution, "members"),
            json!({ "members": members(list) }),
        ),
        Command::SetDistributionBackup {
            distribution,
            backup,
        } => post(
            named("distributions", distribution, "backup"),
            json!({ "backup": backup }),
        ),
        Command::CreateLabel { name, members } => post(
            "/v1/labels".into(),
            json!({ "name": name, "members": members }),
        ),
        Command::AddLabelMember { label, user } => {
            post(named("labels", label, "add"), json!({ "user": user }))
        }
        Command::RemoveLabelMember {
            label,
            user,
            replacement,
        } => post(
            named("labels", label, "remove"),
            json!({ "user": user, "replacement": replacement }),
        ),
        Command::AddCreditsToPool { amount } => {
            post("/v1/credits/pool".into(), json!({ "amount": amount }))
        }
        Command::GrantCredits { user, amount } => post(
            user_path(*user, "credits/grant"),
            json!({ "amount": amount }),
        ),
        Command::UseCredits { user, amount } => {
            post(user_path(*user, "credits/use"), json!({ "amount": amount }))
        }
        Command::TransferCredits { from, to, amount } => post(
            "/v1/credits/transfer".into(),
            json!({ "from": account(*from), "to": account(*to), "amount": amount }),
        ),
        Command::RestoreUser {
            user,
            return_ownership,
            new_email,
            reactivate,
        } => post(
            user_path(*user, "restore"),
            json!({
                "return_ownership": return_ownership,
                "new_email": new_email,
                "reactivate": reactivate,
            }),
        ),
        Command::RevertOffboarding { correlation_id } => post(
            format!("/v1/offboardings/{correlation_id}/revert"),
            json!({}),
        ),
        Command::PurgeUser { user, confirm } => {
            post(user_path(*user, "purge"), json!({ "confirm": confirm }))
        }
        Command::PurgeExpired => post("/v1/purge-expired".into(), json!({})),
        Command::Offboard {
            user,
            plan: p,
            then,
            confirm,
        } => post(
            user_path(*user, "offboard"),
            json!({ "plan": plan(p), "then": then, "confirm": confirm }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use offboard_events::{CorrelationId, DistributionKind, FollowUp, Policy, PrincipalKind, Role};

    use super::*;
    use crate::domain::{NewUser, Recipients, Strategy};

    /// One command of every kind but `CreateOrganization`.
    fn every_command() -> Vec<Command> {
        let (a, b) = (UserId::new(), UserId::new());
        let key = || vec!["buyer:B-1".parse().unwrap()];
        let member = vec![Member { user: b, weight: 1 }];
        let mut plan = OffboardPlan {
            default_to: Some(b),
            credits_to: Some(CreditAccount::Pool),
            ..OffboardPlan::default()
        };
        plan.resources.insert(
            "buyer".into(),
            Recipients {
                to: vec![b],
                strategy: Strategy::Even,
            },
        );
        plan.distributions
            .insert("North rotation".into(), member.clone());
        plan.labels.insert("Hot".into(), b);
        vec![
            Command::SetPolicy {
                policy: Policy::default(),
            },
            Command::TransferOrgOwnership { to: a },
            Command::RegisterPrincipal {
                kind: PrincipalKind::Auditor,
                name: "x".into(),
            },
            Command::InviteUser {
                user: NewUser {
                    email: "e@x".into(),
                    first_name: "E".into(),
                    last_name: "X".into(),
                    job_title: None,
                },
                role: Role::Member,
                manager: Some(b),
                active: true,
            },
            Command::ActivateUser { user: a },
            Command::ChangeRole {
                user: a,
                role: Role::Admin,
            },
            Command::SetManager {
                user: a,
                manager: None,
            },
            Command::CreateGroup {
                name: "east".into(),
                owner: a,
            },
            Command::JoinGroup {
                group: "east side".into(),
                user: a,
            },
            Command::LeaveGroup {
                group: "east".into(),
                user: a,
            },
            Command::DeactivateUser { user: a },
            Command::ReactivateUser { user: a },
            Command::DeleteUser {
                user: a,
                confirm: "CONFIRM".into(),
            },
            Command::RegisterResources {
                owner: a,
                resources: key(),
            },
            Command::TransferResources {
                from: a,
                resources: key(),
                to: b,
            },
            Command::TransferAll {
                from: a,
                kind: "buyer".into(),
                to: vec![b],
                strategy: Strategy::RoundRobin,
            },
            Command::TransferAccount {
                from: a,
                to: b,
                then: FollowUp::Delete,
                confirm: Some("CONFIRM".into()),
            },
            Command::AssignDuty {
                duty: "dealer_trade_contact".into(),
                to: b,
            },
            Command::CreateDistribution {
                name: "North rotation".into(),
                kind: DistributionKind::Rotation,
                members: member.clone(),
                backup: Some(a),
            },
            Command::RemoveDistributionMember {
                distribution: "North rotation".into(),
                user: a,
                members: Some(member.clone()),
            },
            Command::SetDistributionMembers {
                distribution: "North rotation".into(),
                members: member,
            },
            Command::SetDistributionBackup {
                distribution: "North rotation".into(),
                backup: None,
            },
            Command::CreateLabel {
                name: "Hot".into(),
                members: vec![a],
            },
            Command::AddLabelMember {
                label: "Hot".into(),
                user: a,
            },
            Command::RemoveLabelMember {
                label: "Hot".into(),
                user: a,
                replacement: Some(b),
            },
            Command::AddCreditsToPool { amount: 5 },
            Command::GrantCredits { user: a, amount: 5 },
            Command::UseCredits { user: a, amount: 5 },
            Command::TransferCredits {
                from: CreditAccount::User { id: a },
                to: CreditAccount::Pool,
                amount: 5,
            },
            Command::RestoreUser {
                user: a,
                return_ownership: true,
                new_email: None,
                reactivate: false,
            },
            Command::RevertOffboarding {
                correlation_id: CorrelationId::new(),
            },
            Command::PurgeUser {
                user: a,
                confirm: "CONFIRM".into(),
            },
            Command::PurgeExpired,
            Command::Offboard {
                user: a,
                plan,
                then: FollowUp::Deactivate,
                confirm: None,
            },
        ]
    }

    /// Whether `path` fits the template `/v1/users/{user}/role`.
    fn fits(template: &str, path: &str) -> bool {
        let (t, p): (Vec<&str>, Vec<&str>) =
            (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len()
            && t.iter()
                .zip(&p)
                .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
    }

    #[test]
    fn every_command_goes_to_a_documented_endpoint_with_a_body_it_accepts() {
        let api = serde_json::to_value(crate::server::openapi()).unwrap();
        let paths = api["paths"].as_object().unwrap();
        let commands = every_command();
        let names: std::collections::BTreeSet<String> =
            commands.iter().map(Command::name).collect();
        assert_eq!(names.len(), commands.len(), "one of each");
        let mut checked = 0;
        for command in &commands {
            let r = request(command).unwrap();
            let (template, item) = paths
                .iter()
                .find(|(t, item)| fits(t, &r.path) && item.get("post").is_some())
                .unwrap_or_else(|| panic!("{}: no POST {}", command.name(), r.path));
            // Every field sent is a property the endpoint's body documents.
            let body = &item["post"]["requestBody"]["content"]["application/json"]["schema"];
            if let (Some(reference), Some(sent)) = (body["$ref"].as_str(), r.body.as_object()) {
                let name = reference.rsplit('/').next().unwrap();
                let schema = &api["components"]["schemas"][name]["properties"];
                checked += 1;
                for field in sent.keys() {
                    assert!(
                        schema.get(field).is_some(),
                        "{}: {template} does not take {field:?}",
                        command.name()
                    );
                }
            }
        }
        assert!(checked >= 25, "bodies checked: {checked}");
        assert_eq!(
            request(&Command::JoinGroup {
                group: "east side".into(),
                user: UserId::new(),
            })
            .unwrap()
            .path,
            "/v1/groups/east%20side/join"
        );
    }
}
