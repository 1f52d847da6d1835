//! Who gets new work and who holds credits, as pages: duties (R17) by name,
//! distributions (R18) and labels (R19) by name then id, credit balances (R20) by
//! user id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::page::{cut, next_link, page_answer, paged, Cursor, Limit};
use super::{Query, ReadFailure, Scope};
use crate::server::{BalanceView, CreditsView, DistributionView, DutyView, LabelView};

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

/// The cursor's key for `list`, if the query has one.
fn after(cursor: Option<&Cursor>, list: &str) -> Result<Option<String>, ReadFailure> {
    Ok(cursor
        .map(|c| c.key_for(list))
        .transpose()?
        .map(str::to_owned))
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
        let after = after(self.cursor.as_ref(), "duties")?;
        let (duties, last) = scope.now(|org| {
            let all = org.duties().all().map(|(duty, holder)| DutyView {
                duty: duty.to_owned(),
                holder,
            });
            Ok(cut(all, |d| d.duty.clone(), after.as_ref(), self.limit))
        })?;
        Ok(DutiesPage {
            duties,
            next: next_link(self, last.map(|k| Cursor::new("duties", k))),
        })
    }
}

impl Query for DistributionsQuery {
    type Answer = DistributionsPage;

    fn path(&self) -> String {
        "/v1/distributions".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<DistributionsPage, ReadFailure> {
        let after = after(self.cursor.as_ref(), "distributions")?;
        let (distributions, last) = scope.now(|org| {
            let all = org.distributions().all().map(|d| DistributionView {
                id: d.id,
                name: d.name.clone(),
                kind: d.kind,
                members: d.members.clone(),
                backup: d.backup,
            });
            Ok(cut(
                all,
                |d| by_name(&d.name, d.id),
                after.as_ref(),
                self.limit,
            ))
        })?;
        Ok(DistributionsPage {
            distributions,
            next: next_link(self, last.map(|k| Cursor::new("distributions", k))),
        })
    }
}

impl Query for LabelsQuery {
    type Answer = LabelsPage;

    fn path(&self) -> String {
        "/v1/labels".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<LabelsPage, ReadFailure> {
        let after = after(self.cursor.as_ref(), "labels")?;
        let (labels, last) = scope.now(|org| {
            let all = org.labels().all().map(|l| LabelView {
                id: l.id,
                name: l.name.clone(),
                members: l.members.iter().copied().collect(),
            });
            Ok(cut(
                all,
                |l| by_name(&l.name, l.id),
                after.as_ref(),
                self.limit,
            ))
        })?;
        Ok(LabelsPage {
            labels,
            next: next_link(self, last.map(|k| Cursor::new("labels", k))),
        })
    }
}

impl Query for CreditsQuery {
    type Answer = CreditsView;

    fn path(&self) -> String {
        "/v1/credits".to_owned()
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<CreditsView, ReadFailure> {
        let after = after(self.cursor.as_ref(), "credits")?;
        let (pool, users, last) = scope.now(|org| {
            let credits = org.credits();
            let all = org
                .directory()
                .users()
                .map(|u| BalanceView {
                    user: u.id,
                    balance: credits.balance(u.id),
                    used: credits.used_total(u.id),
                })
                .filter(|b| b.balance > 0 || b.used > 0);
            let (users, last) = cut(all, |b| b.user.to_string(), after.as_ref(), self.limit);
            Ok((credits.pool(), users, last))
        })?;
        Ok(CreditsView {
            pool,
            users,
            next: next_link(self, last.map(|k| Cursor::new("credits", k))),
        })
    }
}
