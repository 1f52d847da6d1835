//! The People list (the console's directory page): users in the order of their email,
//! filtered by status, role and a search over name and email, one page at a time from a
//! user on, with how many users match in all.
//!
//! It walks the directory's email-ordered index ([`offboard_projections::Directory::in_email_order`]),
//! whose entries carry each user's email and name already folded: a page costs one pass
//! of comparisons over the org's users (the count needs them all), with no sort, no
//! allocation per user and no case folding per request.

use offboard_events::{Role, UserId, UserStatus};
use offboard_projections::text::caseless_key;
use offboard_projections::OrgState;

/// What the list keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeopleFilter {
    /// Part of a name (`first last`) or email, compared as R2 compares text (case and
    /// Unicode form do not matter); blank: everyone.
    pub search: Option<String>,
    /// Only users in this state; `None`: the listed ones (not deleted, not purged).
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
}

/// One page of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeoplePage {
    /// The page's users, in email order.
    pub users: Vec<UserId>,
    /// The user the next page starts after; `None` on the last page.
    pub next: Option<UserId>,
    /// How many users match the filter in all pages.
    pub matching: usize,
}

/// The page of at most `limit` users of `org` that `filter` keeps, starting after
/// `after` (from the first when `None` or when `after` is not in the org).
pub fn people(
    org: &OrgState,
    filter: &PeopleFilter,
    after: Option<UserId>,
    limit: usize,
) -> PeoplePage {
    let needle = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(caseless_key);
    let directory = org.directory();
    let start_key = after.and_then(|id| directory.user(id)).map(|u| u.id);
    let mut page = PeoplePage {
        users: Vec::with_capacity(limit),
        next: None,
        matching: 0,
    };
    let mut started = start_key.is_none();
    let mut more = false;
    for (user, email, name) in directory.in_email_order() {
        let kept = match filter.status {
            Some(s) => user.status == s,
            None => user.is_listed(),
        } && filter.role.is_none_or(|r| user.role == r)
            && needle
                .as_deref()
                .is_none_or(|n| email.contains(n) || name.contains(n));
        if Some(user.id) == start_key {
            started = true;
        }
        if !kept {
            continue;
        }
        page.matching += 1;
        if !started || Some(user.id) == start_key {
            continue;
        }
        if page.users.len() < limit {
            page.users.push(user.id);
        } else {
            more = true;
        }
    }
    if more {
        page.next = page.users.last().copied();
    }
    page
}
