//! What a user holds that someone else must take over before they can leave (R10, R8),
//! and the blockers that follow. An offboarding subtracts what it moves and asks for the
//! blockers of what remains, so a plan that leaves something behind is refused with the
//! full list.

use std::collections::BTreeMap;

use offboard_events::{Role, UnattendedWork, UserId, UserStatus};
use offboard_projections::{OrgState, User};
use serde::Serialize;

use super::error::Blocker;

/// Everything `user` is responsible for, with counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Holdings {
    pub is_org_owner: bool,
    pub role: Option<Role>,
    /// Kind → how many resources of it the user owns.
    pub resources: BTreeMap<String, u64>,
    /// Record role → on how many records the user holds it (R29).
    pub roles: BTreeMap<String, u64>,
    pub duties: Vec<String>,
    /// Distributions (by name) where the user is the only member.
    pub sole_member_of: Vec<String>,
    /// Distributions (by name) where the user is the only active member (R26): with the
    /// user deactivated, the distribution routes work to nobody.
    pub sole_active_member_of: Vec<String>,
    /// Distributions (by name) where the user is the backup.
    pub backup_of: Vec<String>,
    pub reports: Vec<UserId>,
    /// How many of `reports` are active (R26: their manager's absence leaves them with nobody).
    pub active_reports: u64,
    pub credit_balance: u64,
    pub credits_used: u64,
}

impl Holdings {
    pub fn of(org: &OrgState, user: &User) -> Self {
        let distributions = org.distributions();
        Self {
            is_org_owner: org.owner() == user.id,
            role: Some(user.role),
            resources: org.ownership().counts_by_kind(user.id),
            roles: org.record_roles().counts_of(user.id),
            duties: org.duties().duties_of(user.id),
            sole_member_of: distributions
                .distributions_of(user.id)
                .filter(|d| d.is_sole_member(user.id))
                .map(|d| d.name.clone())
                .collect(),
            sole_active_member_of: distributions
                .distributions_of(user.id)
                .filter(|d| {
                    d.members
                        .iter()
                        .all(|m| m.user == user.id || !is_active(org, m.user))
                })
                .map(|d| d.name.clone())
                .collect(),
            backup_of: distributions
                .backup_of(user.id)
                .map(|d| d.name.clone())
                .collect(),
            reports: org.directory().reports_of(user.id).collect(),
            active_reports: org
                .directory()
                .reports_of(user.id)
                .filter(|r| is_active(org, *r))
                .count() as u64,
            credit_balance: org.credits().balance(user.id),
            credits_used: org.credits().used_total(user.id),
        }
    }

    /// R10: why the user cannot be deleted, in a fixed order.
    pub fn delete_blockers(&self, delete_requires_no_credit_history: bool) -> Vec<Blocker> {
        let mut out = Vec::new();
        if self.is_org_owner {
            out.push(org_owner());
        }
        for (kind, count) in &self.resources {
            out.push(Blocker::new(
                "owns_resources",
                Some(kind.clone()),
                *count,
                format!("owns {count} {}", plural(kind, *count)),
            ));
        }
        out.extend(self.role_blockers());
        for duty in &self.duties {
            out.push(Blocker::new(
                "holds_duty",
                Some(duty.clone()),
                1,
                format!("is the {}", duty.replace('_', " ")),
            ));
        }
        for name in &self.sole_member_of {
            out.push(Blocker::new(
                "sole_member",
                Some(name.clone()),
                1,
                format!("is the only member of {name:?}"),
            ));
        }
        for name in &self.backup_of {
            out.push(Blocker::new(
                "distribution_backup",
                Some(name.clone()),
                1,
                format!("is backup in {name:?}"),
            ));
        }
        if !self.reports.is_empty() {
            let n = self.reports.len() as u64;
            out.push(Blocker::new(
                "manages_users",
                None,
                n,
                format!("manages {n} {}", plural("user", n)),
            ));
        }
        if self.credit_balance > 0 {
            out.push(credits_balance(self.credit_balance));
        }
        if delete_requires_no_credit_history && self.credits_used > 0 {
            let n = self.credits_used;
            out.push(Blocker::new(
                "credit_history",
                None,
                n,
                format!("has used {n} {} (deactivate instead)", plural("credit", n)),
            ));
        }
        out
    }

    /// R8: why the user cannot be deactivated, in a fixed order.
    pub fn deactivate_blockers(&self, deactivate_requires_demotion: bool) -> Vec<Blocker> {
        let mut out = Vec::new();
        if self.is_org_owner {
            out.push(org_owner());
        }
        if let Some(role @ (Role::Admin | Role::Manager)) = self.role {
            if deactivate_requires_demotion && !self.is_org_owner {
                out.push(Blocker::new(
                    "demotion_required",
                    Some(role.as_str().to_owned()),
                    1,
                    format!(
                        "is {} {}: demote to member first",
                        article(role.as_str()),
                        role.as_str()
                    ),
                ));
            }
        }
        if self.credit_balance > 0 {
            out.push(credits_balance(self.credit_balance));
        }
        out
    }
}

impl Holdings {
    /// R29: one `holds_roles` blocker per record role the user holds, with its count.
    fn role_blockers(&self) -> impl Iterator<Item = Blocker> + '_ {
        self.roles.iter().map(|(role, count)| {
            Blocker::new(
                "holds_roles",
                Some(role.clone()),
                *count,
                format!(
                    "is {} on {count} {}",
                    role.replace('_', " "),
                    plural("record", *count)
                ),
            )
        })
    }

    /// R26: every place the user's deactivation leaves work with nobody, in a fixed
    /// order (`sole_member`, `holds_duty`, `holds_roles`, `distribution_backup`,
    /// `manages_users`). Policy `deactivate_handover` decides whether they block, are
    /// recorded, or neither.
    pub fn handover_gaps(&self) -> Vec<Blocker> {
        let mut out = Vec::new();
        for name in &self.sole_active_member_of {
            out.push(Blocker::new(
                "sole_member",
                Some(name.clone()),
                1,
                format!("is the only active member of {name:?}"),
            ));
        }
        for duty in &self.duties {
            out.push(Blocker::new(
                "holds_duty",
                Some(duty.clone()),
                1,
                format!("is the {}", duty.replace('_', " ")),
            ));
        }
        out.extend(self.role_blockers());
        for name in &self.backup_of {
            out.push(Blocker::new(
                "distribution_backup",
                Some(name.clone()),
                1,
                format!("is backup in {name:?}"),
            ));
        }
        if self.active_reports > 0 {
            let n = self.active_reports;
            out.push(Blocker::new(
                "manages_users",
                None,
                n,
                format!("manages {n} active {}", plural("user", n)),
            ));
        }
        out
    }
}

/// The event form of handover gaps (R26).
pub fn unattended(gaps: &[Blocker]) -> Vec<UnattendedWork> {
    gaps.iter()
        .map(|b| UnattendedWork {
            code: b.code.to_owned(),
            subject: b.subject.clone(),
            count: b.count,
            message: b.message.clone(),
        })
        .collect()
}

/// Whether `user` is active now (distributions route work only to active members, R8).
pub fn is_active(org: &OrgState, user: UserId) -> bool {
    org.directory()
        .user(user)
        .is_some_and(|u| u.status == UserStatus::Active)
}

fn org_owner() -> Blocker {
    Blocker::new(
        "org_owner",
        None,
        1,
        "is the organization's owner: transfer org ownership first".to_owned(),
    )
}

fn credits_balance(n: u64) -> Blocker {
    Blocker::new(
        "credits_balance",
        None,
        n,
        format!(
            "holds {n} unused {}: move them to the pool or a user first",
            plural("credit", n)
        ),
    )
}

/// `buyer` → `buyers`, `supplier_list` → `supplier lists`.
pub fn plural(kind: &str, count: u64) -> String {
    let word = kind.replace('_', " ");
    if count == 1 {
        word
    } else {
        format!("{word}s")
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
