//! The timeline as CSV: `POST /audit/export.csv` with the timeline's filters answers
//! every matching event (all pages, read one page at a time) as a download with the
//! columns position, occurred_at, event_type, actor, correlation_id, description.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::csrf::Posted;
use super::failure::Failure;
use super::timeline::{self, Filter};

use crate::server::AppState;

/// `POST /audit/export.csv`.
pub async fn csv(State(state): State<AppState>, form: Posted) -> Response {
    match write(&state, &form).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"timeline.csv\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(f) => f.into_response(),
    }
}

async fn write(state: &AppState, form: &Posted) -> Result<Vec<u8>, Failure> {
    let mut filter = Filter::of(form);
    filter.cursor = None;
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Failure::invalid(format!("the CSV could not be written: {e}"));
    out.write_record([
        "position",
        "occurred_at",
        "event_type",
        "actor",
        "correlation_id",
        "description",
    ])
    .map_err(fail)?;
    loop {
        let page = timeline::read(state, &form.signed, &filter).await?;
        for r in &page.rows {
            out.write_record([
                r.position.to_string().as_str(),
                &r.occurred_at,
                &r.event_type,
                &r.actor,
                &r.correlation_id,
                &r.sentence,
            ])
            .map_err(fail)?;
        }
        match page.next {
            Some(next) => filter.cursor = Some(next),
            None => break,
        }
    }
    out.into_inner()
        .map_err(|e| Failure::invalid(format!("the CSV could not be written: {e}")))
}
