//! The org and its directory (R2): the org, one user, and pages of users in the order of their email (case
//! folded), then id.

use offboard_events::{UserId, UserStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ownership::known_user;

use super::page::{next_link, page_answer, paged, Cursor, Limit};
use super::{named, Query, ReadFailure, Scope};
use crate::server::client::encode_segment;
use crate::server::{OrgView, UserRef, UserView};

const LIST: &str = "users";

/// `GET /v1/users`: the directory, or the users in one state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// Only users in this state (deleted and purged ones included when named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UserStatus>,
    /// Also deleted and purged users (R11 takes them out of the directory).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_deleted: bool,
    #[serde(default, skip_serializing_if = "Limit::is_default")]
    pub limit: Limit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// One page of the directory, ordered by email (case folded), then id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UsersPage {
    pub users: Vec<UserView>,
    /// The next page's relative URL; `null` on the last page.
    pub next: Option<String>,
}

paged!(UsersQuery);
page_answer!(UsersPage);

/// The email key and id a users cursor continues after (`email\0id`).
fn parse_key(key: &str) -> Result<(String, UserId), ReadFailure> {
    let damaged = || ReadFailure::Invalid("the cursor is damaged".to_owned());
    let (email, id) = key.split_once('\u{0}').ok_or_else(damaged)?;
    Ok((email.to_owned(), id.parse().map_err(|_| damaged())?))
}

impl Query for UsersQuery {
    type Answer = UsersPage;

    fn path(&self) -> String {
        "/v1/users".to_owned()
    }

    /// Walks the directory's email index from the cursor on, so a page costs its own
    /// users: building every user's view for each page made reading 100,000 users page
    /// by page quadratic (a `user import` of an unchanged file took 11.7 s).
    fn answer(&self, scope: &Scope<'_>) -> Result<UsersPage, ReadFailure> {
        let listed = self.include_deleted || self.status.is_some();
        let after = match &self.cursor {
            Some(cursor) => Some(parse_key(cursor.key_for(LIST)?)?),
            None => None,
        };
        let limit = self.limit.get();
        let (users, last) = scope.now(|org| {
            let after = after.as_ref().map(|(email, id)| (email.as_str(), *id));
            let wanted = org
                .directory()
                .in_email_order_after(after)
                .filter(|(u, _, _)| listed || u.is_listed())
                .filter(|(u, _, _)| self.status.is_none_or(|s| u.status == s));
            let (mut users, mut shown, mut more) = (Vec::new(), None, false);
            for (user, email, _) in wanted {
                if users.len() == limit {
                    more = true;
                    break;
                }
                users.push(UserView::of(org, user));
                shown = Some((email, user.id));
            }
            let last = shown.filter(|_| more);
            Ok((users, last.map(|(email, id)| format!("{email}\u{0}{id}"))))
        })?;
        let next = next_link(self, last.map(|k| Cursor::new(LIST, k)));
        Ok(UsersPage { users, next })
    }
}

/// `GET /v1/users/{user}`: one user, by id or email (deleted ones too).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// The user's id or email, from the path.
    #[serde(skip)]
    pub user: Option<UserRef>,
}

impl Query for UserQuery {
    type Answer = UserView;

    fn path(&self) -> String {
        let user = self.user.as_ref().map_or("", |u| u.0.as_str());
        format!("/v1/users/{}", encode_segment(user))
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<UserView, ReadFailure> {
        let user = named(self.user.as_ref(), "a user")?;
        scope.now(|org| {
            let id = known_user(org, user)?;
            let u = org.directory().user(id).expect("known_user found it");
            Ok(UserView::of(org, u))
        })
    }
}

/// `GET /v1/org`: the caller's organization (policy, principals, billed seats).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {}

impl Query for OrgQuery {
    type Answer = OrgView;

    fn path(&self) -> String {
        "/v1/org".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<OrgView, ReadFailure> {
        scope.now(|org| Ok(OrgView::from(org)))
    }
}
