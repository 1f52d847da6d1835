//! What the CLI needs to know about the selected organization to turn what people type
//! into ids (users by email or id) and ids back into words (emails, label and
//! distribution names, the policy). Embedded, the org's views answer ([`OrgState`]);
//! in client mode, the server does (`remote::Remote`). Commands, descriptions of events,
//! plan templates and the guided walk are written once against this trait.

use offboard_events::{DistributionId, LabelId, OrgId, Policy, UserId, UserStatus};
use offboard_projections::OrgState;

use super::error::CliError;
use super::resolve;

/// What the guided walk and plan templates need to know about one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub status: UserStatus,
    pub manager: Option<UserId>,
}

/// Names and ids in one organization.
pub trait Names {
    fn org_id(&self) -> OrgId;
    fn org_name(&self) -> String;
    /// A listed user by email (any case), or any user ever invited by id.
    fn user(&self, arg: &str) -> Result<UserId, CliError>;
    /// Like [`Names::user`], but an email also finds a deleted user (the most recently
    /// deleted one with that email), for commands about deleted users.
    fn any_user(&self, arg: &str) -> Result<UserId, CliError>;
    /// A user's email for people (the id when the user is unknown).
    fn email(&self, id: UserId) -> String;
    fn person(&self, id: UserId) -> Option<Person>;
    fn owner(&self) -> Result<UserId, CliError>;
    fn policy(&self) -> Result<Policy, CliError>;
    fn label_name(&self, id: LabelId) -> Option<String>;
    fn distribution_name(&self, id: DistributionId) -> Option<String>;
}

impl Names for OrgState {
    fn org_id(&self) -> OrgId {
        self.id()
    }

    fn org_name(&self) -> String {
        self.name().to_owned()
    }

    fn user(&self, arg: &str) -> Result<UserId, CliError> {
        resolve::user(self, arg)
    }

    fn any_user(&self, arg: &str) -> Result<UserId, CliError> {
        resolve::any_user(self, arg)
    }

    fn email(&self, id: UserId) -> String {
        resolve::email(self, id)
    }

    fn person(&self, id: UserId) -> Option<Person> {
        self.directory().user(id).map(|u| Person {
            email: u.profile.email.clone(),
            status: u.status,
            manager: u.manager,
        })
    }

    fn owner(&self) -> Result<UserId, CliError> {
        Ok(OrgState::owner(self))
    }

    fn policy(&self) -> Result<Policy, CliError> {
        Ok(OrgState::policy(self).clone())
    }

    fn label_name(&self, id: LabelId) -> Option<String> {
        self.labels().get(id).map(|l| l.name.clone())
    }

    fn distribution_name(&self, id: DistributionId) -> Option<String> {
        self.distributions().get(id).map(|d| d.name.clone())
    }
}
