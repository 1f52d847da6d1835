//! `GET /scim/v2/ServiceProviderConfig` (RFC 7643 §5): what this service provider
//! implements. Only what is built is declared: PATCH, filtering (up to
//! [`MAX_RESULTS`] per page) and ETags; no bulk, no password change, no sorting.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{caller, respond, ScimError, BASE};
use crate::server::{AppState, Caller, Read};

/// The most resources one list answers (`count` is clamped to it).
pub const MAX_RESULTS: usize = 200;

pub async fn service_provider_config(
    State(state): State<AppState>,
    who: Result<Caller, crate::server::ApiError>,
) -> Result<Response, ScimError> {
    let who = caller(who)?;
    who.may_read(&state.engine().state(), Read::Directory)?;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://example.invalid/offboard#scim-provisioning",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A provisioner token from `offboard token create --as provisioner:NAME`.",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{BASE}/ServiceProviderConfig")
        }
    });
    Ok(respond(StatusCode::OK, &body, None))
}
