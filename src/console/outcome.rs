//! What happened on a page just now: a notice after an action, the failure to show in
//! place, or a preview (a transfer's split, a restore's returns). Shared by the pages
//! that act (person, support), each with its own kind of preview `P`.

use axum::http::StatusCode;
use serde::Serialize;

use super::failure::Failure;

/// At most one of the three is set; the template shows whichever is.
#[derive(Debug, Serialize)]
pub struct Outcome<P> {
    pub notice: Option<String>,
    pub failure: Option<Failure>,
    pub preview: Option<P>,
}

impl<P> Default for Outcome<P> {
    fn default() -> Self {
        Self {
            notice: None,
            failure: None,
            preview: None,
        }
    }
}

impl<P> Outcome<P> {
    /// An action's result and the status to answer it with: `200` with the notice, or
    /// the failure's own status.
    pub fn of_action(done: Result<String, Failure>) -> (Self, StatusCode) {
        match done {
            Ok(notice) => (
                Self {
                    notice: Some(notice),
                    ..Self::default()
                },
                StatusCode::OK,
            ),
            Err(failure) => {
                let status = failure.status;
                (Self::failed(failure), status)
            }
        }
    }

    /// A preview, or the failure that prevented it (answered `200`: nothing was tried).
    pub fn of_preview(preview: Result<P, Failure>) -> Self {
        match preview {
            Ok(preview) => Self {
                preview: Some(preview),
                ..Self::default()
            },
            Err(failure) => Self::failed(failure),
        }
    }

    fn failed(failure: Failure) -> Self {
        Self {
            failure: Some(failure),
            ..Self::default()
        }
    }
}
