//! A domain command as an API request, from the server's own route table
//! ([`crate::server::command_routes`]) and the command's wire form: the CLI resolves
//! users the same way in both modes and builds the same [`Command`]; in client mode this
//! fills the route's path from the command's fields and sends the rest as the body
//! (users by id). No per-command code: a new command needs only its route.

use serde_json::Value;

use crate::cli::error::CliError;
use crate::domain::{Command, CommandKind};
use crate::server::client::encode_segment;
use crate::server::command_routes::{route, template_params};

/// A command request: `POST path` with `body`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub path: String,
    pub body: Value,
}

/// The endpoint and body of `command`. Creating an organization has no endpoint (only
/// the system actor may, on the data directory): a usage error.
pub fn request(command: &Command) -> Result<Request, CliError> {
    let Some(route) = route(CommandKind::from(command)) else {
        return Err(CliError::usage(
            "creating an organization works on the data directory only (`offboard init`)",
        ));
    };
    let mut body = match serde_json::to_value(command.to_wire()) {
        Ok(Value::Object(body)) => body,
        Ok(_) => unreachable!("a tagged enum serializes as an object"),
        Err(e) => return Err(CliError::invalid(format!("the command as JSON: {e}"))),
    };
    body.remove("type");
    let mut values = route
        .path_fields
        .iter()
        .map(|field| match body.remove(*field) {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        });
    let path = route
        .path
        .split('/')
        .map(|segment| {
            if template_params(segment).next().is_some() {
                encode_segment(&values.next().unwrap_or_default())
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    Ok(Request {
        path,
        body: Value::Object(body),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeSet;

    use offboard_events::{
        CorrelationId, CreditAccount, DistributionKind, FollowUp, Member, PrincipalKind, Role,
        UserId,
    };
    use strum::IntoEnumIterator;

    use super::*;
    use crate::domain::{NewUser, OffboardPlan, Recipients, Strategy};

    /// One command of every kind but `CreateOrganization`, naming users `a` and `b`.
    pub(crate) fn every_command_with(a: UserId, b: UserId) -> Vec<Command> {
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
            Command::SetPolicy(crate::domain::PolicyChange {
                retention_days: Some(7),
                ..Default::default()
            }),
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
                    external_id: None,
                    department: None,
                    employee_number: None,
                    user_name: None,
                },
                role: Role::Member,
                manager: Some(b),
                active: true,
            },
            Command::ActivateUser { user: a },
            Command::Deprovision {
                user: a,
                deactivate_only: false,
            },
            Command::UpdateProfile {
                user: a,
                change: crate::domain::ProfileChange {
                    email: Some("e2@x.example".into()),
                    external_id: Some("00u1".into()),
                    ..Default::default()
                },
            },
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
            Command::UpdateGroup {
                group: "east".into(),
                name: Some("East region".into()),
                external_id: None,
            },
            Command::DeleteGroup {
                group: "east".into(),
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
            Command::RetireResources { resources: key() },
            Command::SyncResources {
                owners: vec![crate::domain::Holding {
                    owner: a,
                    resources: key(),
                }],
                retire: vec!["lead:L-1".parse().unwrap()],
                roles: vec![crate::domain::RoleHolders {
                    role: "watcher".into(),
                    resource: "deal:D-9".parse().unwrap(),
                    holders: vec![a, b],
                }],
            },
            Command::DeclareRecordRole {
                role: "watcher".into(),
                multi: true,
            },
            Command::SetRecordRole {
                role: "servicing_specialist".into(),
                user: b,
                resources: key(),
            },
            Command::UnsetRecordRole {
                role: "watcher".into(),
                user: Some(a),
                resources: key(),
            },
            Command::TransferRecordRoles {
                from: a,
                role: "servicing_specialist".into(),
                kind: Some("deal".into()),
                to: vec![b],
                strategy: Strategy::Even,
            },
            Command::ApplyUserChanges {
                changes: vec![
                    Command::SetManager {
                        user: a,
                        manager: Some(b),
                    }
                    .to_wire(),
                    Command::ChangeRole {
                        user: "neo@example.com".into(),
                        role: Role::Admin,
                    },
                ],
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
            Command::ScheduleOffboarding {
                user: a,
                at: "2030-01-31".into(),
                plan: Some(plan.clone()),
                then: FollowUp::Deactivate,
                delete_after_days: Some(30),
                confirm: Some("CONFIRM".into()),
            },
            Command::MoveSchedule {
                schedule: offboard_events::ScheduleId::new(),
                at: "2030-02-01T09:00:00+01:00".into(),
            },
            Command::CancelSchedule {
                schedule: offboard_events::ScheduleId::new(),
            },
            Command::RunSchedule {
                schedule: offboard_events::ScheduleId::new(),
            },
            Command::Offboard {
                user: a,
                plan,
                then: FollowUp::Deactivate,
                confirm: None,
            },
        ]
    }

    fn every_command() -> Vec<Command> {
        every_command_with(UserId::new(), UserId::new())
    }

    #[test]
    fn every_command_kind_has_a_route_and_a_sample_here() {
        let sampled: BTreeSet<CommandKind> =
            every_command().iter().map(CommandKind::from).collect();
        assert_eq!(sampled.len(), every_command().len(), "one of each");
        for kind in CommandKind::iter() {
            let routed = route(kind).is_some();
            assert_eq!(routed, kind != CommandKind::CreateOrganization, "{kind:?}");
            assert_eq!(sampled.contains(&kind), routed, "{kind:?} has no sample");
        }
    }

    /// Every request a client builds reaches its handler in the real router and is read
    /// as a command: never the fallback 404, a 405, a 415 or a 400 (a body the server
    /// does not take). The domain may still refuse it (these users and names mostly do
    /// not exist), which is beside the point here.
    #[tokio::test]
    async fn every_request_reaches_its_route_in_the_real_router_and_parses() {
        use axum::body::Body;
        use tower::ServiceExt;

        let engine = std::sync::Arc::new(crate::Engine::in_memory());
        let org = offboard_events::OrgId::new();
        let meta = crate::CommandMeta::new(org, offboard_events::Actor::System);
        let owner = NewUser {
            email: "owner@acme.example".into(),
            first_name: "O".into(),
            last_name: "W".into(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        };
        let create = Command::CreateOrganization {
            name: "Acme".into(),
            owner,
        };
        engine.execute(meta, create).await.unwrap();
        let token = crate::server::tokens::create(&engine, Some("Acme"), "owner@acme.example")
            .unwrap()
            .token;
        let state = crate::server::AppState::with_options(engine, Default::default()).unwrap();
        let app = crate::server::app(state);
        for command in every_command() {
            let r = request(&command).unwrap();
            let sent = axum::http::Request::post(&r.path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(r.body.to_string()))
                .unwrap();
            let answer = app.clone().oneshot(sent).await.unwrap();
            let status = answer.status().as_u16();
            let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let name = command.name();
            assert!(
                ![400, 405, 415].contains(&status),
                "{name}: {status} {text}"
            );
            assert!(!text.contains("no such endpoint"), "{name}: {text}");
        }
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
