//! Who gets new work and who holds credits, as pages: duties (R17) by name,
//! distributions (R18) and labels (R19) by name then id, credit balances (R20) by
//! user id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use offboard_events::{UserId, UserStatus};
use offboard_projections::OrgState;

use super::page::{keyed_page, page_answer, paged, Cursor, Limit};
use super::{email, Query, ReadFailure, Scope};
use crate::server::{BalanceView, CreditsView, DistributionView, DutyView, LabelView, MemberView};

/// Declares a list query with only `limit` and `cursor`, its page type and its path.
macro_rules! plain_list {
    ($(#[$doc:meta])* $query:ident, $page:ident, $field:ident: $item:ty, $path:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $query {
            #[serde(default, skip_serializing_if = "Limit::is_default")]
            pub limit: Limit,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub cursor: Option<Cursor>,
        }

        #[doc = concat!("One page of `GET ", $path, "`.")]
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub struct $page {
            pub $field: Vec<$item>,
            /// The next page's relative URL; `null` on the last page.
            pub next: Option<String>,
        }

        paged!($query);
        page_answer!($page);
    };
}

plain_list!(
    /// `GET /v1/duties`: every singleton duty and its holder, by name.
    DutiesQuery, DutiesPage, duties: DutyView, "/v1/duties"
);
plain_list!(
    /// `GET /v1/distributions`: rotations, automations and integrations, by name.
    DistributionsQuery, DistributionsPage, distributions: DistributionView, "/v1/distributions"
);
plain_list!(
    /// `GET /v1/labels`: shared labels and their members, by name.
    LabelsQuery, LabelsPage, labels: LabelView, "/v1/labels"
);

/// `GET /v1/credits`: the pool and every user who holds or used credits, by user id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditsQuery {
    #[serde(default, skip_serializing_if = "Limit::is_default")]
    pub limit: Limit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

paged!(CreditsQuery);
page_answer!(CreditsView);

/// `user`'s place in a list, with their email today.
fn member(org: &OrgState, user: UserId, weight: Option<u32>) -> MemberView {
    MemberView {
        user,
        email: email(org, user),
        weight,
        status: status(org, user),
    }
}

/// `user`'s status today (`None` for an id the org does not know).
fn status(org: &OrgState, user: UserId) -> Option<UserStatus> {
    org.directory().user(user).map(|u| u.status)
}

/// A name's place in a listing: case folded, then the id (names are unique per org as
/// folded text, the id keeps the order total all the same).
fn by_name(name: &str, id: impl std::fmt::Display) -> String {
    format!("{}\u{0}{id}", name.to_lowercase())
}

impl Query for DutiesQuery {
    type Answer = DutiesPage;

    fn path(&self) -> String {
        "/v1/duties".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<DutiesPage, ReadFailure> {
        let all = |org: &OrgState| -> Vec<DutyView> {
            let duties = org.duties().all();
            duties
                .map(|(duty, holder)| DutyView {
                    duty: duty.to_owned(),
                    holder,
                    holder_email: email(org, holder),
                    holder_status: status(org, holder),
                })
                .collect()
        };
        let (duties, next) = keyed_page(self, scope, "duties", all, |d| d.duty.clone())?;
        Ok(DutiesPage { duties, next })
    }
}

impl Query for DistributionsQuery {
    type Answer = DistributionsPage;

    fn path(&self) -> String {
        "/v1/distributions".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<DistributionsPage, ReadFailure> {
        let all = |org: &OrgState| -> Vec<DistributionView> {
            let distributions = org.distributions().all();
            distributions
                .map(|d| DistributionView {
                    id: d.id,
                    name: d.name.clone(),
                    kind: d.kind,
                    members: d
                        .members
                        .iter()
                        .map(|m| member(org, m.user, Some(m.weight)))
                        .collect(),
                    backup: d.backup,
                    backup_email: d.backup.map(|b| email(org, b)),
                    backup_status: d.backup.and_then(|b| status(org, b)),
                })
                .collect()
        };
        let key = |d: &DistributionView| by_name(&d.name, d.id);
        let (distributions, next) = keyed_page(self, scope, "distributions", all, key)?;
        Ok(DistributionsPage {
            distributions,
            next,
        })
    }
}

impl Query for LabelsQuery {
    type Answer = LabelsPage;

    fn path(&self) -> String {
        "/v1/labels".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<LabelsPage, ReadFailure> {
        let all = |org: &OrgState| -> Vec<LabelView> {
            let labels = org.labels().all();
            labels
                .map(|l| LabelView {
                    id: l.id,
                    name: l.name.clone(),
                    members: l.members.iter().map(|m| member(org, *m, None)).collect(),
                })
                .collect()
        };
        let key = |l: &LabelView| by_name(&l.name, l.id);
        let (labels, next) = keyed_page(self, scope, "labels", all, key)?;
        Ok(LabelsPage { labels, next })
    }
}

impl Query for CreditsQuery {
    type Answer = CreditsView;

    fn path(&self) -> String {
        "/v1/credits".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<CreditsView, ReadFailure> {
        let mut pool = 0;
        let all = |org: &OrgState| -> Vec<BalanceView> {
            let credits = org.credits();
            pool = credits.pool();
            let users = org.directory().users();
            // Only holders get a view: a page of a large directory clones few emails.
            users
                .filter_map(|u| {
                    let (balance, used) = (credits.balance(u.id), credits.used_total(u.id));
                    (balance > 0 || used > 0).then(|| BalanceView {
                        user: u.id,
                        email: u.profile.email.clone(),
                        balance,
                        used,
                    })
                })
                .collect()
        };
        let key = |b: &BalanceView| b.user.to_string();
        let (users, next) = keyed_page(self, scope, "credits", all, key)?;
        Ok(CreditsView { pool, users, next })
    }
}
