//! The org's names and ids as the server answers them ([`Names`] for [`Remote`]): users
//! are looked up by email or id (the read layer's `UserQuery`) and remembered for the
//! rest of the command; the org, its labels and distributions are fetched once (every
//! page), when needed.

use std::collections::HashMap;

use offboard_events::{DistributionId, LabelId, OrgId, Policy, UserId, UserStatus};

use super::Remote;
use crate::cli::error::CliError;
use crate::cli::names::{Names, Person};
use crate::cli::reader::Reader;
use crate::read::{DistributionsQuery, LabelsQuery, OrgQuery, UserQuery};
use crate::server::{OrgView, UserView};

/// What one command learned about the org so far.
#[derive(Debug, Default)]
pub struct Directory {
    users: HashMap<UserId, UserView>,
    org: Option<OrgView>,
    labels: Option<HashMap<LabelId, String>>,
    distributions: Option<HashMap<DistributionId, String>>,
}

impl Remote {
    /// Keeps `users` for later lookups.
    pub fn remember(&self, users: &[UserView]) {
        let mut d = self.directory.borrow_mut();
        for u in users {
            d.users.insert(u.id, u.clone());
        }
    }

    /// One user by id, as the server describes them.
    pub fn user_view(&self, id: UserId) -> Result<UserView, CliError> {
        if let Some(u) = self.directory.borrow().users.get(&id) {
            return Ok(u.clone());
        }
        let u = Reader::remote(self).ask(&UserQuery {
            user: Some(id.into()),
        })?;
        self.remember(std::slice::from_ref(&u));
        Ok(u)
    }

    /// The token's org (`GET /v1/org`), fetched once.
    pub fn org_view(&self) -> Result<OrgView, CliError> {
        if let Some(org) = &self.directory.borrow().org {
            return Ok(org.clone());
        }
        let org = Reader::remote(self).ask(&OrgQuery {})?;
        self.directory.borrow_mut().org = Some(org.clone());
        Ok(org)
    }

    fn lookup(&self, arg: &str, deleted_too: bool) -> Result<UserId, CliError> {
        let arg = arg.trim();
        let not_found =
            || CliError::not_found(format!("no user {arg:?} in {:?}", self.whoami.org_name));
        let id = arg.parse::<UserId>().ok();
        if let Some(id) = id {
            if self.directory.borrow().users.contains_key(&id) {
                return Ok(id);
            }
        } else if !arg.contains('@') {
            return Err(not_found());
        } else {
            let d = self.directory.borrow();
            let listed = d.users.values().find(|u| {
                offboard_projections::text::same_text(&u.email, arg)
                    && !matches!(u.status, UserStatus::Deleted | UserStatus::Purged)
            });
            if let Some(u) = listed {
                return Ok(u.id);
            }
        }
        let query = UserQuery {
            user: Some(arg.into()),
        };
        let view = match Reader::remote(self).ask(&query) {
            Ok(v) => v,
            Err(e) if matches!(e.code.as_str(), "not_found" | "invalid_input") => {
                return Err(not_found())
            }
            Err(e) => return Err(e),
        };
        self.remember(std::slice::from_ref(&view));
        let unlisted = matches!(view.status, UserStatus::Deleted | UserStatus::Purged);
        if id.is_none() && unlisted && !deleted_too {
            return Err(not_found());
        }
        Ok(view.id)
    }
}

impl Names for Remote {
    fn org_id(&self) -> OrgId {
        self.whoami.org_id
    }

    fn org_name(&self) -> String {
        self.whoami.org_name.clone()
    }

    fn user(&self, arg: &str) -> Result<UserId, CliError> {
        self.lookup(arg, false)
    }

    fn any_user(&self, arg: &str) -> Result<UserId, CliError> {
        self.lookup(arg, true)
    }

    fn email(&self, id: UserId) -> String {
        self.user_view(id)
            .map_or_else(|_| id.to_string(), |u| u.email)
    }

    fn person(&self, id: UserId) -> Option<Person> {
        self.user_view(id).ok().map(|u| Person {
            email: u.email,
            status: u.status,
            manager: u.manager,
        })
    }

    fn owner(&self) -> Result<UserId, CliError> {
        Ok(self.org_view()?.owner)
    }

    fn policy(&self) -> Result<Policy, CliError> {
        Ok(self.org_view()?.policy)
    }

    fn label_name(&self, id: LabelId) -> Option<String> {
        if self.directory.borrow().labels.is_none() {
            let all = Reader::remote(self)
                .all(LabelsQuery::default(), |p| p.labels)
                .ok()?;
            self.directory.borrow_mut().labels =
                Some(all.into_iter().map(|l| (l.id, l.name)).collect());
        }
        self.directory.borrow().labels.as_ref()?.get(&id).cloned()
    }

    fn distribution_name(&self, id: DistributionId) -> Option<String> {
        if self.directory.borrow().distributions.is_none() {
            let all = Reader::remote(self)
                .all(DistributionsQuery::default(), |p| p.distributions)
                .ok()?;
            self.directory.borrow_mut().distributions =
                Some(all.into_iter().map(|d| (d.id, d.name)).collect());
        }
        self.directory
            .borrow()
            .distributions
            .as_ref()?
            .get(&id)
            .cloned()
    }
}
