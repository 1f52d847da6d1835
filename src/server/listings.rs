//! Who gets new work and who holds credits, as reads: the duties (R17), distributions
//! (R18), labels (R19) and credit balances (R20) of the caller's org. Open to everyone
//! who may read the directory.

use aide::axum::routing::get_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::Json;

use super::auth::{Caller, Read};
use super::error::ApiError;
use super::views::{BalanceView, CreditsView, DistributionView, DutyView, LabelView};
use super::AppState;

async fn duties(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DutyView>>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    Ok(Json(
        org.duties()
            .all()
            .map(|(duty, holder)| DutyView {
                duty: duty.to_owned(),
                holder,
            })
            .collect(),
    ))
}

async fn distributions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DistributionView>>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    Ok(Json(
        org.distributions()
            .all()
            .map(|d| DistributionView {
                id: d.id,
                name: d.name.clone(),
                kind: d.kind,
                members: d.members.clone(),
                backup: d.backup,
            })
            .collect(),
    ))
}

async fn labels(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<LabelView>>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    Ok(Json(
        org.labels()
            .all()
            .map(|l| LabelView {
                id: l.id,
                name: l.name.clone(),
                members: l.members.iter().copied().collect(),
            })
            .collect(),
    ))
}

async fn credits(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<CreditsView>, ApiError> {
    let projections = state.engine().state();
    let org = caller.may_read(&projections, Read::Directory)?;
    let credits = org.credits();
    Ok(Json(CreditsView {
        pool: credits.pool(),
        users: org
            .directory()
            .users()
            .map(|u| BalanceView {
                user: u.id,
                balance: credits.balance(u.id),
                used: credits.used_total(u.id),
            })
            .filter(|b| b.balance > 0 || b.used > 0)
            .collect(),
    }))
}

fn doc(
    summary: &'static str,
) -> impl for<'a> FnOnce(TransformOperation<'a>) -> TransformOperation<'a> {
    move |op: TransformOperation<'_>| op.summary(summary).tag("queries")
}

/// The listing endpoints.
pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route(
            "/v1/duties",
            get_with(duties, doc("Every singleton duty and its holder (R17)")),
        )
        .api_route(
            "/v1/distributions",
            get_with(
                distributions,
                doc("Every lead rotation, automation and integration (R18)"),
            ),
        )
        .api_route(
            "/v1/labels",
            get_with(labels, doc("Every shared label and its members (R19)")),
        )
        .api_route(
            "/v1/credits",
            get_with(
                credits,
                doc("The pool and every user who holds or used credits (R20)"),
            ),
        )
}
