//! What offboarding a user involves (R21), read-only: holdings, suggested rebalances,
//! what blocks deactivating or deleting them now, and their scheduled offboardings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Query, ReadFailure, Scope};
use crate::domain;
use crate::server::client::encode_segment;
use crate::server::{PlanView, UserRef};

/// `GET /v1/users/{user}/plan`: the plan of a listed user, by id or email.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// The user's id or email, from the path.
    #[serde(skip)]
    pub user: Option<UserRef>,
}

impl Query for PlanQuery {
    type Answer = PlanView;

    fn path(&self) -> String {
        let user = self.user.as_ref().map_or("", |u| u.0.as_str());
        format!("/v1/users/{}/plan", encode_segment(user))
    }

    fn answer(&self, scope: &Scope<'_>) -> Result<PlanView, ReadFailure> {
        let user = super::named(self.user.as_ref(), "a user")?;
        scope.now(|org| {
            let id = user.resolve(org, false).map_err(ReadFailure::from_api)?;
            let mut view = PlanView::from(&domain::plan(org, id)?);
            view.schedules = org
                .schedules()
                .of_user(id)
                .map(|s| super::ScheduleView::of(org, s))
                .collect();
            Ok(view)
        })
    }
}
