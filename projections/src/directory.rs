//! The directory (R2, R7, R11): every user of one org with profile, role, manager,
//! groups and lifecycle status, plus the lookups deciding needs: by email, external id
//! and user name, reports of a manager, members of a group, and how many seats are
//! billed. Groups themselves (resources of kind `group`) are owned in the ownership
//! view; here they have their display name and times ([`Group`]).
//!
//! A deleted user stays on record (a restore brings role, manager and groups back, R12)
//! but is out of every index: the email is free again, they manage nobody and belong to
//! no group until restored. A purged user never comes back (R13): later events about
//! them are ignored, so nothing can make erased data readable or the user live again.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use chrono::{DateTime, Utc};
use offboard_events::{Envelope, Event, Profile, ResourceKey, Role, UserId, UserStatus};
use serde::{Deserialize, Serialize};

use crate::text::caseless_key;

/// What a purge leaves of every personal field (R13).
pub const ERASED: &str = "erased";

/// One user of the org's directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub profile: Profile,
    pub role: Role,
    pub manager: Option<UserId>,
    pub groups: BTreeSet<ResourceKey>,
    pub status: UserStatus,
    /// Position and time of the delete, while deleted (the restore window counts from it).
    pub deleted_at: Option<(u64, DateTime<Utc>)>,
    /// Position of the invitation.
    pub created_position: u64,
    /// When the user was invited (SCIM `meta.created`).
    #[serde(default)]
    pub created_at: DateTime<Utc>,
    /// When an event last changed the user (SCIM `meta.lastModified`).
    #[serde(default)]
    pub modified_at: DateTime<Utc>,
}

/// A group as the directory shows it: its display name (the group's key name unless
/// changed), the identity provider's id for it, and when it was created and last
/// changed (members joining or leaving, a new name or external id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

impl User {
    /// Whether the user is in the directory: not deleted and not purged (R11).
    pub fn is_listed(&self) -> bool {
        !matches!(self.status, UserStatus::Deleted | UserStatus::Purged)
    }
}

/// Every user of one org and the indexes over them.
///
/// `emails` is serialized (in a broken history two users could claim one email, and
/// which one the index names then depends on event order, which a rebuild cannot
/// know); the other indexes are pure functions of `users` and are rebuilt on load.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Directory {
    users: BTreeMap<UserId, User>,
    /// Email key ([`crate::text::caseless_key`]) → listed user.
    emails: BTreeMap<String, UserId>,
    /// SCIM `externalId` (exact, case kept) → listed user.
    #[serde(skip)]
    external_ids: BTreeMap<String, UserId>,
    /// Stored user name key ([`caseless_key`]) → listed user (users whose user name is
    /// their email are found through `emails`).
    #[serde(skip)]
    user_names: BTreeMap<String, UserId>,
    /// Every group that exists now (registered and not retired), by key.
    #[serde(default)]
    groups: BTreeMap<ResourceKey, Group>,
    #[serde(skip)]
    reports: BTreeMap<UserId, BTreeSet<UserId>>,
    #[serde(skip)]
    group_members: BTreeMap<ResourceKey, BTreeSet<UserId>>,
    #[serde(skip)]
    billed: u64,
    /// Every user (deleted and purged ones too) by email key then id, with the key of
    /// their name (`first last`): lists walk it in order instead of sorting, and a
    /// search compares keys made once, not per request.
    #[serde(skip)]
    by_email: BTreeMap<(String, UserId), String>,
}

impl Directory {
    pub(crate) fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::UserInvited(e) => {
                // A second invitation of one id is ignored: the first created the user.
                if self.users.contains_key(&e.user_id) {
                    return;
                }
                let user = User {
                    id: e.user_id,
                    profile: e.profile.clone(),
                    role: e.role,
                    manager: e.manager,
                    groups: BTreeSet::new(),
                    status: UserStatus::Invited,
                    deleted_at: None,
                    created_position: env.position,
                    created_at: env.occurred_at,
                    modified_at: env.occurred_at,
                };
                self.index(&user);
                self.users.insert(user.id, user);
            }
            Event::UserActivated(e) => self.change(e.user_id, |u| u.status = UserStatus::Active),
            Event::UserRoleChanged(e) => self.change(e.user_id, |u| u.role = e.to),
            Event::UserManagerChanged(e) => self.set_manager(e.user_id, e.to),
            Event::UserJoinedGroup(e) => self.change(e.user_id, |u| {
                u.groups.insert(e.group.clone());
            }),
            Event::UserLeftGroup(e) => self.change(e.user_id, |u| {
                u.groups.remove(&e.group);
            }),
            Event::UserProfileChanged(e) => {
                self.change(e.user_id, |u| u.profile = e.profile.clone())
            }
            Event::UserDeactivated(e) => {
                self.change(e.user_id, |u| u.status = UserStatus::Deactivated)
            }
            Event::UserReactivated(e) => self.change(e.user_id, |u| u.status = UserStatus::Active),
            Event::UserDeleted(e) => self.change(e.user_id, |u| {
                u.status = UserStatus::Deleted;
                u.deleted_at = Some((env.position, env.occurred_at));
            }),
            Event::UserRestored(e) => self.change(e.user_id, |u| {
                u.status = e.status;
                u.deleted_at = None;
            }),
            Event::UserPurged(e) => self.change(e.user_id, |u| {
                u.status = UserStatus::Purged;
                u.profile = Profile {
                    email: ERASED.to_owned(),
                    first_name: ERASED.to_owned(),
                    last_name: ERASED.to_owned(),
                    job_title: None,
                    external_id: None,
                    department: None,
                    employee_number: None,
                    user_name: None,
                };
            }),
            // R3: the org has one owner; the previous one stays on as an admin.
            Event::OrgOwnershipTransferred(e) => {
                self.change(e.from, |u| u.role = Role::Admin);
                self.change(e.to, |u| u.role = Role::Owner);
            }
            _ => {}
        }
        self.apply_to_groups(env);
        self.touch(env);
    }

    /// Keeps [`Group`]s in step: created with their key's name, renamed, changed when a
    /// member joins or leaves, gone when retired.
    fn apply_to_groups(&mut self, env: &Envelope) {
        let at = env.occurred_at;
        let is_group = |k: &ResourceKey| k.kind() == "group";
        match &env.event {
            Event::ResourcesRegistered(e) => {
                for key in e.resources.iter().filter(|k| is_group(k)) {
                    let group = Group {
                        name: key.id().to_owned(),
                        external_id: None,
                        created_at: at,
                        modified_at: at,
                    };
                    self.groups.insert(key.clone(), group);
                }
            }
            Event::ResourcesRetired(e) => {
                for key in e.resources.iter().filter(|k| is_group(k)) {
                    self.groups.remove(key);
                }
            }
            Event::GroupChanged(e) => {
                if let Some(g) = self.groups.get_mut(&e.group) {
                    g.name = e.name.clone();
                    g.external_id = e.external_id.clone();
                    g.modified_at = at;
                }
            }
            Event::UserJoinedGroup(e) => self.touch_group(&e.group, at),
            Event::UserLeftGroup(e) => self.touch_group(&e.group, at),
            _ => {}
        }
    }

    fn touch_group(&mut self, key: &ResourceKey, at: DateTime<Utc>) {
        if let Some(g) = self.groups.get_mut(key) {
            g.modified_at = at;
        }
    }

    /// Records when the users an event changes were last changed.
    fn touch(&mut self, env: &Envelope) {
        let user = match &env.event {
            Event::UserActivated(e) => e.user_id,
            Event::UserRoleChanged(e) => e.user_id,
            Event::UserManagerChanged(e) => e.user_id,
            Event::UserJoinedGroup(e) => e.user_id,
            Event::UserLeftGroup(e) => e.user_id,
            Event::UserProfileChanged(e) => e.user_id,
            Event::UserDeactivated(e) => e.user_id,
            Event::UserReactivated(e) => e.user_id,
            Event::UserDeleted(e) => e.user_id,
            Event::UserRestored(e) => e.user_id,
            _ => return,
        };
        if let Some(u) = self.users.get_mut(&user) {
            if u.status != UserStatus::Purged {
                u.modified_at = env.occurred_at;
            }
        }
    }

    /// Rebuilds the indexes that are not serialized.
    pub(crate) fn rebuild(&mut self) {
        self.reports.clear();
        self.external_ids.clear();
        self.user_names.clear();
        self.group_members.clear();
        self.by_email.clear();
        self.billed = 0;
        let users = std::mem::take(&mut self.users);
        for user in users.values() {
            self.index_members(user);
            self.index_order(user);
        }
        self.users = users;
    }

    /// Changes a known, not purged user, keeping every index in step.
    fn change(&mut self, id: UserId, edit: impl FnOnce(&mut User)) {
        let Some(mut user) = self.users.remove(&id) else {
            return;
        };
        if user.status != UserStatus::Purged {
            self.unindex(&user);
            edit(&mut user);
            self.index(&user);
        }
        self.users.insert(id, user);
    }

    /// [`Directory::change`] for the one index a new manager touches: manager changes
    /// are frequent, and re-indexing the email costs more than everything else here.
    fn set_manager(&mut self, id: UserId, to: Option<UserId>) {
        let Some(user) = self.users.get_mut(&id) else {
            return;
        };
        if user.status == UserStatus::Purged {
            return;
        }
        let from = std::mem::replace(&mut user.manager, to);
        if !user.is_listed() || from == to {
            return;
        }
        if let Some(manager) = from {
            remove_from(&mut self.reports, &manager, &id);
        }
        if let Some(manager) = to {
            self.reports.entry(manager).or_default().insert(id);
        }
    }

    fn index(&mut self, user: &User) {
        if user.is_listed() {
            self.emails
                .insert(caseless_key(&user.profile.email), user.id);
        }
        self.index_members(user);
        self.index_order(user);
    }

    fn index_order(&mut self, user: &User) {
        let p = &user.profile;
        let name = caseless_key(&format!("{} {}", p.first_name, p.last_name));
        self.by_email
            .insert((caseless_key(&p.email), user.id), name);
    }

    fn index_members(&mut self, user: &User) {
        if user.status.is_billed() {
            self.billed += 1;
        }
        if !user.is_listed() {
            return;
        }
        if let Some(external) = &user.profile.external_id {
            self.external_ids.insert(external.clone(), user.id);
        }
        if let Some(name) = &user.profile.user_name {
            self.user_names.insert(caseless_key(name), user.id);
        }
        if let Some(manager) = user.manager {
            self.reports.entry(manager).or_default().insert(user.id);
        }
        for group in &user.groups {
            self.group_members
                .entry(group.clone())
                .or_default()
                .insert(user.id);
        }
    }

    fn unindex(&mut self, user: &User) {
        self.by_email
            .remove(&(caseless_key(&user.profile.email), user.id));
        if user.status.is_billed() {
            self.billed = self.billed.saturating_sub(1);
        }
        if !user.is_listed() {
            return;
        }
        let email = caseless_key(&user.profile.email);
        if self.emails.get(&email) == Some(&user.id) {
            self.emails.remove(&email);
        }
        if let Some(external) = &user.profile.external_id {
            if self.external_ids.get(external) == Some(&user.id) {
                self.external_ids.remove(external);
            }
        }
        if let Some(name) = &user.profile.user_name {
            let key = caseless_key(name);
            if self.user_names.get(&key) == Some(&user.id) {
                self.user_names.remove(&key);
            }
        }
        if let Some(manager) = user.manager {
            remove_from(&mut self.reports, &manager, &user.id);
        }
        for group in &user.groups {
            remove_from(&mut self.group_members, group, &user.id);
        }
    }

    /// Any user ever invited, deleted and purged ones included.
    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.get(&id)
    }

    /// The listed user with this email, compared by [`caseless_key`] (R2: NFC, case
    /// folded), after trimming.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.emails
            .get(&caseless_key(email.trim()))
            .and_then(|id| self.users.get(id))
    }

    /// The listed user with this external id (SCIM `externalId`, compared exactly: it is
    /// the identity provider's key, `caseExact` in RFC 7643).
    pub fn user_by_external_id(&self, external_id: &str) -> Option<&User> {
        self.external_ids
            .get(external_id)
            .and_then(|id| self.users.get(id))
    }

    /// The listed user whose user name (SCIM `userName`: the stored one, else the email)
    /// is `name`, compared by [`caseless_key`] after trimming.
    pub fn user_by_user_name(&self, name: &str) -> Option<&User> {
        let key = caseless_key(name.trim());
        let named = self.user_names.get(&key).and_then(|id| self.users.get(id));
        named.or_else(|| {
            let by_email = self.emails.get(&key).and_then(|id| self.users.get(id));
            by_email.filter(|u| u.profile.user_name.is_none())
        })
    }

    /// The group `key` names, while it exists (registered and not retired).
    pub fn group(&self, key: &ResourceKey) -> Option<&Group> {
        self.groups.get(key)
    }

    /// Every group that exists, by key.
    pub fn groups(&self) -> impl Iterator<Item = (&ResourceKey, &Group)> {
        self.groups.iter()
    }

    /// Every user ever invited, by id.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Every user ever invited (deleted and purged ones too) in the order of their
    /// email's key ([`caseless_key`]), then id, each with their email's key and their
    /// name's key (`first last`, folded the same way).
    pub fn in_email_order(&self) -> impl Iterator<Item = (&User, &str, &str)> + '_ {
        self.by_email.iter().filter_map(|((email, id), name)| {
            let user = self.users.get(id)?;
            Some((user, email.as_str(), name.as_str()))
        })
    }

    /// [`Directory::in_email_order`] from just after the email key `email` and `id` (from
    /// the start when `None`): a page of a long list costs the page, not the list.
    pub fn in_email_order_after(
        &self,
        after: Option<(&str, UserId)>,
    ) -> impl Iterator<Item = (&User, &str, &str)> + '_ {
        let from = match after {
            Some((email, id)) => Bound::Excluded((email.to_owned(), id)),
            None => Bound::Unbounded,
        };
        self.by_email
            .range((from, Bound::Unbounded))
            .filter_map(|((email, id), name)| {
                let user = self.users.get(id)?;
                Some((user, email.as_str(), name.as_str()))
            })
    }

    /// The users in the directory (not deleted, not purged), by id.
    pub fn listed(&self) -> impl Iterator<Item = &User> {
        self.users.values().filter(|u| u.is_listed())
    }

    /// The listed users whose manager is `manager`, by id.
    pub fn reports_of(&self, manager: UserId) -> impl Iterator<Item = UserId> + '_ {
        self.reports.get(&manager).into_iter().flatten().copied()
    }

    /// How many listed users `manager` manages (R10: "manages users").
    pub fn report_count(&self, manager: UserId) -> usize {
        self.reports.get(&manager).map_or(0, BTreeSet::len)
    }

    /// The listed members of `group`, by id.
    pub fn group_members(&self, group: &ResourceKey) -> impl Iterator<Item = UserId> + '_ {
        self.group_members.get(group).into_iter().flatten().copied()
    }

    /// How many users take a billed seat now (R23).
    pub fn billed_count(&self) -> u64 {
        self.billed
    }
}

fn remove_from<K: Ord, V: Ord>(index: &mut BTreeMap<K, BTreeSet<V>>, key: &K, value: &V) {
    if let Some(set) = index.get_mut(key) {
        set.remove(value);
        if set.is_empty() {
            index.remove(key);
        }
    }
}
