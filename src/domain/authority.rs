//! Who may do what (R1, R4, R5, R6). Every decision starts here: resolve the actor in the
//! org, resolve the target (another org's user is simply not found), and check rank.

use std::sync::LazyLock;

use offboard_events::{Actor, PrincipalKind, Profile, Reprovision, Role, UserId, UserStatus};
use offboard_projections::{OrgState, User};

use super::command::CommandKind;
use super::context::Context;
use super::error::{Decided, DomainError};

/// A decision's view of one org and the command's context.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub org: &'a OrgState,
    pub ctx: &'a Context,
}

impl<'a> Scope<'a> {
    /// The acting user: an active member of this org's directory (deactivated users cannot
    /// sign in, R8). Outside principals act only where a rule names them (R5).
    pub fn actor(&self) -> Decided<&'a User> {
        match &self.ctx.actor {
            Actor::User { id } => match self.org.directory().user(*id) {
                Some(user) if user.status == UserStatus::Active => Ok(user),
                Some(_) => Err(DomainError::Forbidden(
                    "only active users may act".to_owned(),
                )),
                None => Err(DomainError::Forbidden(
                    "the actor is not a user of this organization".to_owned(),
                )),
            },
            Actor::Support { .. } => Err(DomainError::Forbidden(
                "support may read history and restore deleted users, nothing else".to_owned(),
            )),
            Actor::Auditor { .. } => {
                Err(DomainError::Forbidden("auditors are read-only".to_owned()))
            }
            Actor::Provisioner { name } if self.org.serves(PrincipalKind::Provisioner, name) => {
                Ok(provisioner_stand_in())
            }
            Actor::Provisioner { .. } => Err(DomainError::Forbidden(
                "this provisioner does not serve this organization".to_owned(),
            )),
            Actor::System => Err(DomainError::Forbidden(
                "the system actor only creates organizations and sweeps retention".to_owned(),
            )),
        }
    }

    /// A provisioner may only run the commands an identity provider sends (issue 17):
    /// every other command is `forbidden` before it is decided.
    pub fn check_provisioner(&self, kind: CommandKind) -> Decided<()> {
        use CommandKind as K;
        if !matches!(self.ctx.actor, Actor::Provisioner { .. }) {
            return Ok(());
        }
        match kind {
            K::InviteUser
            | K::UpdateProfile
            | K::ActivateUser
            | K::ChangeRole
            | K::SetManager
            | K::CreateGroup
            | K::JoinGroup
            | K::LeaveGroup
            | K::UpdateGroup
            | K::DeleteGroup
            | K::DeactivateUser
            | K::ReactivateUser
            | K::Deprovision
            | K::ApplyUserChanges => Ok(()),
            // Re-provisioning a deleted user's email, where the policy asks for it.
            K::RestoreUser if self.org.policy().reprovision == Reprovision::Restore => Ok(()),
            other => Err(DomainError::Forbidden(format!(
                "a provisioner may invite, update, activate, deactivate, reactivate and deprovision users, not {}",
                other.tag()
            ))),
        }
    }

    /// A listed (not deleted, not purged) user of this org.
    pub fn user(&self, id: UserId) -> Decided<&'a User> {
        self.org
            .directory()
            .user(id)
            .filter(|u| u.is_listed())
            .ok_or_else(|| DomainError::NotFound(format!("user {id}")))
    }

    /// Any user of this org, deleted ones included (for restore and purge).
    pub fn any_user(&self, id: UserId) -> Decided<&'a User> {
        self.org
            .directory()
            .user(id)
            .ok_or_else(|| DomainError::NotFound(format!("user {id}")))
    }

    /// A user who can receive work (R15): listed and active.
    pub fn recipient(&self, id: UserId) -> Decided<&'a User> {
        let user = self.user(id)?;
        if user.status != UserStatus::Active {
            return Err(DomainError::InvalidInput(format!(
                "{} is {} and cannot receive work; choose an active user",
                user.profile.email,
                user.status.as_str()
            )));
        }
        Ok(user)
    }

    /// The actor, checked to have authority over `target` (R4): the actor outranks the
    /// target and is the owner, an admin, the target's manager, or the owner of a group
    /// the target belongs to. Members change nobody; nobody changes themselves this way.
    pub fn may_change(&self, target: &User) -> Decided<&'a User> {
        let actor = self.actor()?;
        if actor.id == target.id {
            return Err(DomainError::Forbidden(
                "you cannot do this to your own account".to_owned(),
            ));
        }
        if actor.role.rank() <= target.role.rank() {
            return Err(DomainError::Forbidden(format!(
                "a {} cannot change a {}",
                actor.role.as_str(),
                target.role.as_str()
            )));
        }
        let manages = target.manager == Some(actor.id);
        let owns_group = target
            .groups
            .iter()
            .any(|g| self.org.ownership().owner_of(g) == Some(actor.id));
        if actor.role >= Role::Admin || manages || owns_group {
            Ok(actor)
        } else {
            Err(DomainError::Forbidden(
                "only the owner, an admin, the user's manager or the owner of one of the user's groups may do this"
                    .to_owned(),
            ))
        }
    }

    /// The actor, checked to hold at least `role`.
    pub fn require_role(&self, role: Role) -> Decided<&'a User> {
        let actor = self.actor()?;
        if actor.role < role {
            return Err(DomainError::Forbidden(format!(
                "this needs the {} role or higher",
                role.as_str()
            )));
        }
        Ok(actor)
    }

    /// R6: acting on behalf of a deactivated user needs authority over that user.
    pub fn check_impersonation(&self) -> Decided<()> {
        let Some(id) = self.ctx.on_behalf_of else {
            return Ok(());
        };
        let user = self.user(id)?;
        if user.status != UserStatus::Deactivated {
            return Err(DomainError::InvalidInput(
                "only deactivated users can be impersonated; active users act for themselves"
                    .to_owned(),
            ));
        }
        self.may_change(user).map(|_| ())
    }
}

/// Who a provisioner acts as when rules ask for the acting user: an active admin that is
/// no one (the nil id: it manages nobody, owns nothing, and no user has that id). An
/// admin's rank is exactly what the issue gives a provisioner: it outranks members and
/// managers, so it may change them and grant those roles, and it does not outrank an
/// admin or the owner, so it may neither touch them nor grant their roles (R4). The
/// events it causes record the provisioner itself as actor (the envelope's actor comes
/// from the context, not from here).
fn provisioner_stand_in() -> &'static User {
    static STAND_IN: LazyLock<User> = LazyLock::new(|| User {
        id: UserId(uuid::Uuid::nil()),
        profile: Profile {
            email: "provisioner".to_owned(),
            first_name: "Provisioner".to_owned(),
            last_name: String::new(),
            job_title: None,
            external_id: None,
            department: None,
            employee_number: None,
            user_name: None,
        },
        role: Role::Admin,
        manager: None,
        groups: Default::default(),
        status: UserStatus::Active,
        deleted_at: None,
        created_position: 0,
        created_at: Default::default(),
        modified_at: Default::default(),
    });
    &STAND_IN
}
