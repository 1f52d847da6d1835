//! Every domain command as a `POST` endpoint, built from the route table
//! ([`super::command_routes`]): one handler takes the path's parameters and the JSON
//! body, adds the route's `type` tag, reads the result as the wire command
//! (`Command<UserRef>`, the domain's own type with users by id or email) and has the
//! engine find its users in the caller's org and decide it as the caller
//! ([`crate::Engine::execute_named`]): the domain's authority rules apply unchanged.

use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use aide::generate::GenContext;
use aide::openapi::Operation;
use aide::OperationInput;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::Json;
use bytes::Bytes;
use offboard_events::{Event, UserId};
use serde_json::{Map, Value};

use super::auth::Caller;
use super::command_docs;
use super::command_routes::{self, Route};
use super::created::Created;
use super::error::ApiError;
use super::extract::rejected;
use super::refs::CommandHeaders;
use super::views::{CommandResult, Invited};
use super::AppState;
use crate::domain::{Command, CommandKind, UserRef};
use crate::Appended;

/// The command endpoints, one per route of the table.
pub fn routes() -> ApiRouter<AppState> {
    command_routes::routes().fold(ApiRouter::new(), |router, route| {
        let endpoint = if route.creates {
            post_with(
                move |state, request| invite(route, state, request),
                command_docs::doc(route),
            )
        } else {
            post_with(
                move |state, request| done(route, state, request),
                command_docs::doc(route),
            )
        };
        router.api_route(route.path, endpoint)
    })
}

/// A command that changes what exists: `200` with where its events landed.
async fn done(
    route: Route,
    State(state): State<AppState>,
    request: CommandRequest,
) -> Result<Json<CommandResult>, ApiError> {
    let appended = request.execute(&route, &state).await?;
    let mut result = CommandResult::from(&appended);
    if erases(route.kind) && appended.positions.is_some() {
        result.key_destruction = Some(state.engine().key_remnants());
    }
    Ok(Json(result))
}

/// Whether a command of `kind` destroys personal-data keys when it appends anything.
fn erases(kind: CommandKind) -> bool {
    matches!(kind, CommandKind::PurgeUser | CommandKind::PurgeExpired)
}

/// Inviting a user: `201 Created`, `Location: /v1/users/{id}` and the new user's id.
async fn invite(
    route: Route,
    State(state): State<AppState>,
    request: CommandRequest,
) -> Result<Created<Invited>, ApiError> {
    let appended = request.execute(&route, &state).await?;
    let user_id = invited_user(&state, &appended).await?;
    Ok(Created {
        location: format!("/v1/users/{user_id}"),
        body: Invited {
            user_id,
            result: CommandResult::from(&appended),
        },
    })
}

/// The wire command a request names: the body's fields, the path's parameters as the
/// fields the route says, and the route's `type` tag. A body that also sends one of
/// those, or that the command's schema refuses, is `400 invalid_input`.
pub fn wire_command(
    route: &Route,
    params: Vec<String>,
    mut body: Map<String, Value>,
) -> Result<Command<UserRef>, ApiError> {
    let tag = route.kind.tag();
    for (field, value) in route.path_fields.iter().zip(params) {
        if body.contains_key(*field) {
            return Err(ApiError::bad_request(format!(
                "{field:?} comes from the path; leave it out of the body"
            )));
        }
        body.insert((*field).to_owned(), Value::String(value));
    }
    if body.contains_key("type") {
        return Err(ApiError::bad_request(
            "\"type\" comes from the path; leave it out of the body",
        ));
    }
    body.insert("type".to_owned(), Value::String(tag.to_owned()));
    serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::bad_request(format!("{tag}: {e}")))
}

/// Who sends a command and what: the caller (bearer token), the command headers, the
/// path's parameters and the JSON body, extracted in that order.
#[derive(Debug)]
pub struct CommandRequest {
    caller: Caller,
    headers: CommandHeaders,
    params: PathParams,
    body: CommandBody,
}

impl CommandRequest {
    /// Reads the wire command of `route`; the engine finds its users in the caller's
    /// org, decides it as the caller and appends its events. Durable when it returns
    /// `Ok` (see [`crate::Engine::execute_named`]).
    async fn execute(self, route: &Route, state: &AppState) -> Result<Appended, ApiError> {
        let Self {
            caller,
            headers,
            params,
            body,
        } = self;
        let command = wire_command(route, params.0, body.0)?;
        let meta = headers.meta(&caller, None);
        let on_behalf_of = headers.on_behalf_of;
        Ok(state
            .engine()
            .execute_named(meta, on_behalf_of, command)
            .await?)
    }
}

impl FromRequest<AppState> for CommandRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await?;
        let headers = CommandHeaders::from_request_parts(&mut parts, state).await?;
        let params = PathParams::from_request_parts(&mut parts, state).await?;
        let body = CommandBody::from_request(Request::from_parts(parts, body), state).await?;
        Ok(Self {
            caller,
            headers,
            params,
            body,
        })
    }
}

impl OperationInput for CommandRequest {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Caller::operation_input(ctx, operation);
        CommandHeaders::operation_input(ctx, operation);
    }
}

/// The id of the user an invitation's events invited.
async fn invited_user(state: &AppState, appended: &Appended) -> Result<UserId, ApiError> {
    let corrupt = |why: &str| ApiError::from(crate::store::StoreError::Corrupt(why.to_owned()));
    let (first, last) = appended
        .positions
        .ok_or_else(|| corrupt("an invitation appended nothing"))?;
    let engine = state.engine_arc();
    let events = state
        .blocking(move || engine.read_range(first, last))
        .await??;
    events
        .iter()
        .find_map(|e| match &e.event {
            Event::UserInvited(invited) => Some(invited.user_id),
            _ => None,
        })
        .ok_or_else(|| corrupt("an invitation without a UserInvited event"))
}

/// The path's parameters, in the template's order (percent-decoded). Documented by
/// [`command_docs`], which knows what each one names.
#[derive(Debug)]
pub struct PathParams(Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(pairs) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        Ok(Self(pairs.into_iter().map(|(_, value)| value).collect()))
    }
}

impl OperationInput for PathParams {}

/// A command's JSON body as an object: an empty body is `{}` (commands whose fields all
/// come from the path need none); anything else must be JSON (`415` otherwise), an
/// object (`400`) within the body limit (`413`).
#[derive(Debug)]
pub struct CommandBody(Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for CommandBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| rejected(e.status(), e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        if !json {
            return Err(rejected(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                String::new(),
            ));
        }
        match super::strict_json::from_slice(&bytes) {
            Ok(Value::Object(body)) => Ok(Self(body)),
            Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request(format!(
                "the body is not valid JSON: {e}"
            ))),
        }
    }
}

impl OperationInput for CommandBody {}

/// `Content-Type: application/json` or `application/…+json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::CommandKind;

    fn route(kind: CommandKind) -> Route {
        command_routes::route(kind).unwrap()
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// What a client sends ([`crate::cli::remote::requests::request`]) is read back by
    /// this handler's parsing as the very command the client meant, for every command.
    #[test]
    fn what_a_client_sends_reads_back_as_the_same_command() {
        use crate::cli::remote::requests::{request, tests::every_command_with};
        let (a, b) = (UserId::new(), UserId::new());
        for command in every_command_with(a, b) {
            let route = route(CommandKind::from(&command));
            let sent = request(&command).unwrap();
            let params: Vec<String> = route
                .path
                .split('/')
                .zip(sent.path.split('/'))
                .filter(|(t, _)| t.starts_with('{'))
                .map(|(_, p)| p.replace("%20", " "))
                .collect();
            let wire = wire_command(&route, params, body(sent.body)).unwrap();
            let read: Command = wire
                .resolve(|u, _| u.0.parse::<UserId>().map_err(|e| e.to_string()))
                .unwrap();
            assert_eq!(read, command);
        }
    }

    #[test]
    fn path_parameters_fill_the_fields_the_route_names() {
        let command = wire_command(
            &route(CommandKind::TransferAll),
            vec!["pat@acme.example".into()],
            body(json!({"kind": "buyer", "to": ["ann@acme.example"]})),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&command).unwrap(),
            json!({"type": "transfer_all", "from": "pat@acme.example", "kind": "buyer",
                   "to": ["ann@acme.example"], "strategy": "round_robin"})
        );
    }

    #[test]
    fn a_body_naming_a_path_field_the_tag_or_an_unknown_field_is_invalid_input() {
        let deactivate = route(CommandKind::DeactivateUser);
        for sent in [
            json!({"user": "ann@acme.example"}),
            json!({"type": "delete_user"}),
            json!({"extra": true}),
        ] {
            let e =
                wire_command(&deactivate, vec!["bob@acme.example".into()], body(sent)).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code()), (400, "invalid_input"));
        }
        let e = wire_command(
            &route(CommandKind::InviteUser),
            Vec::new(),
            body(json!({"email": "a@b", "first_name": "A", "last_name": "B", "extra": 1})),
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{e}");
    }
}
