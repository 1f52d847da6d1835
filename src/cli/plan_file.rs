//! The `offboard --plan FILE` format: an [`OffboardPlan`] whose users are written as
//! emails (or ids), so people can write and read it. The guided walk-through builds one
//! too, and `plan USER --template` prints one with the suggestions filled in.
//!
//! ```json
//! {
//!   "default_to": "ann@example.com",
//!   "resources": {"buyer": {"to": ["ann@example.com", "bob@example.com"], "strategy": "even"}},
//!   "roles": {"servicing_specialist": {"to": ["bob@example.com"]}},
//!   "distributions": {"Website leads": [{"user": "ann@example.com", "weight": 3}]},
//!   "labels": {"Hot leads": "bob@example.com", "Old label": null},
//!   "duties": {"dealer_trade_contact": "ann@example.com"},
//!   "reports_to": "sam@example.com",
//!   "credits_to": "pool"
//! }
//! ```
//! Every field is optional. What the file does not mention goes to `default_to`
//! (resources of unlisted kinds, record roles, duties, reports, backup places);
//! distributions not
//! listed take the suggested rebalance; labels not listed just lose the user.

use std::collections::BTreeMap;
use std::path::Path;

use offboard_events::Member;
use offboard_projections::{rebalanced_total, total_weight};
use serde::{Deserialize, Serialize};

use super::error::CliError;
use super::names::Names;
use super::resolve;
use crate::domain::{OffboardPlan, Recipients, Strategy};
use crate::server::PlanView;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_to: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, RecipientsFile>,
    /// Record role → who takes the user's place in it (R29).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, RecipientsFile>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub distributions: BTreeMap<String, Vec<MemberFile>>,
    /// Label → replacement (`null`: no replacement).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, Option<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub duties: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reports_to: Option<String>,
    /// `pool` or a user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientsFile {
    pub to: Vec<String>,
    #[serde(default)]
    pub strategy: Strategy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberFile {
    pub user: String,
    pub weight: u32,
}

impl PlanFile {
    /// Reads a plan file (`-`: standard input); a malformed one is `invalid_input` naming
    /// the file.
    pub fn read(path: &Path) -> Result<Self, CliError> {
        let bytes = super::input::read(path)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            CliError::invalid(format!(
                "{} is not a valid plan: {e}",
                super::input::name(path)
            ))
        })
    }

    /// The plan with every user resolved in the org.
    pub fn resolve(&self, org: &dyn Names) -> Result<OffboardPlan, CliError> {
        let user = |s: &str| org.user(s);
        let mut plan = OffboardPlan {
            default_to: self.default_to.as_deref().map(user).transpose()?,
            reports_to: self.reports_to.as_deref().map(user).transpose()?,
            credits_to: self
                .credits_to
                .as_deref()
                .map(|c| resolve::credit_account(org, c))
                .transpose()?,
            ..OffboardPlan::default()
        };
        for (files, into) in [
            (&self.resources, &mut plan.resources),
            (&self.roles, &mut plan.roles),
        ] {
            for (name, r) in files {
                let to = resolve::users(org, &r.to)?;
                let strategy = r.strategy;
                into.insert(name.clone(), Recipients { to, strategy });
            }
        }
        for (name, members) in &self.distributions {
            let members = members
                .iter()
                .map(|m| {
                    Ok(Member {
                        user: user(&m.user)?,
                        weight: m.weight,
                    })
                })
                .collect::<Result<Vec<_>, CliError>>()?;
            plan.distributions.insert(name.clone(), members);
        }
        for (name, replacement) in &self.labels {
            if let Some(r) = replacement {
                plan.labels.insert(name.clone(), user(r)?);
            }
        }
        for (duty, holder) in &self.duties {
            plan.duties.insert(duty.clone(), user(holder)?);
        }
        Ok(plan)
    }

    /// A starting point for `plan`: everything to `heir`, suggestions accepted, credits
    /// to the pool.
    pub fn template(org: &dyn Names, plan: &PlanView, heir: Option<&str>) -> Self {
        let heir = heir.map(str::to_owned);
        let mut file = PlanFile {
            default_to: heir.clone(),
            ..PlanFile::default()
        };
        if let Some(h) = &heir {
            for kind in plan.resources.keys() {
                file.resources.insert(
                    kind.clone(),
                    RecipientsFile {
                        to: vec![h.clone()],
                        strategy: Strategy::RoundRobin,
                    },
                );
            }
            for role in plan.roles.keys() {
                file.roles.insert(
                    role.clone(),
                    RecipientsFile {
                        to: vec![h.clone()],
                        strategy: Strategy::RoundRobin,
                    },
                );
            }
            for duty in &plan.duties {
                file.duties.insert(duty.clone(), h.clone());
            }
            if !plan.manages.is_empty() {
                file.reports_to = Some(h.clone());
            }
        }
        for d in plan.distributions.iter().filter(|d| d.member) {
            let members = match (&d.suggested, &heir) {
                (Some(s), _) => s.clone(),
                (None, Some(h)) => match org.user(h) {
                    Ok(id) => vec![Member {
                        user: id,
                        weight: u32::try_from(rebalanced_total(total_weight(&d.members)))
                            .expect("a rebalanced total is at most MAX_TOTAL_WEIGHT"),
                    }],
                    Err(_) => continue,
                },
                (None, None) => continue,
            };
            file.distributions.insert(
                d.name.clone(),
                members
                    .iter()
                    .map(|m| MemberFile {
                        user: org.email(m.user),
                        weight: m.weight,
                    })
                    .collect(),
            );
        }
        for label in &plan.labels {
            file.labels.insert(label.clone(), None);
        }
        if plan.credit_balance > 0 {
            file.credits_to = Some("pool".to_owned());
        }
        file
    }
}
