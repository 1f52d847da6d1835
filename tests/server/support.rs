//! Helpers: an engine with two orgs and tokens for every kind of principal, requests
//! through the router without a socket, and a real server on 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use offboard::domain::{Command, NewUser};
use offboard::server::{self, tokens, AppState, ServerOptions};
use offboard::{CommandMeta, Engine};
use offboard_events::{Actor, Event, OrgId, PrincipalKind, UserId};
use serde_json::Value;
use tower::ServiceExt;

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    /// The `Location` header, if any.
    pub location: Option<String>,
}

impl Answer {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.body
    }

    /// Asserts `201 Created` with a `Location` header; returns the body.
    #[track_caller]
    pub fn created(self) -> Value {
        assert_eq!(self.status, StatusCode::CREATED, "{}", self.text);
        assert!(self.location.is_some(), "no Location: {}", self.text);
        self.body
    }

    /// Asserts an error status and code.
    #[track_caller]
    pub fn error(self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.body["error"]["code"], code, "{}", self.text);
        self.body
    }
}

/// Creates an org (as the system, like `offboard init`) and returns it with its owner.
pub async fn create_org(engine: &Engine, name: &str) -> (OrgId, UserId) {
    let org = OrgId::new();
    let appended = engine
        .execute(
            CommandMeta::new(org, Actor::System),
            Command::CreateOrganization {
                name: name.to_owned(),
                owner: NewUser {
                    email: format!("owner@{}.example", name.to_lowercase().replace(' ', "")),
                    first_name: "Olive".into(),
                    last_name: "Owner".into(),
                    job_title: None,
                    external_id: None,
                    department: None,
                    employee_number: None,
                    user_name: None,
                },
            },
        )
        .await
        .expect("the org is created");
    let (first, _) = appended.positions.unwrap();
    let Event::OrganizationCreated(created) = &engine.read_one(first).unwrap().event else {
        unreachable!("the first event of a new org")
    };
    (org, created.owner)
}

/// Runs `command` as `actor` directly on the engine (setting the scene).
pub async fn as_user(engine: &Engine, org: OrgId, actor: UserId, command: Command) {
    engine
        .execute(CommandMeta::new(org, Actor::User { id: actor }), command)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Two orgs: "Truck Pros" (owner, an auditor and a support principal registered) and
/// "Other Co"; a token for each principal.
pub struct World {
    pub engine: Arc<Engine>,
    pub app: Router,
    pub org: OrgId,
    pub owner: UserId,
    pub owner_token: String,
    pub auditor_token: String,
    pub support_token: String,
    pub other_org: OrgId,
    pub other_owner: UserId,
    pub other_token: String,
}

pub async fn world() -> World {
    world_with(ServerOptions::default()).await
}

pub async fn world_with(options: ServerOptions) -> World {
    let engine = Engine::in_memory();
    let (org, owner) = create_org(&engine, "Truck Pros").await;
    let (other_org, other_owner) = create_org(&engine, "Other Co").await;
    for (kind, name) in [
        (PrincipalKind::Auditor, "audit-firm"),
        (PrincipalKind::Support, "helpdesk"),
    ] {
        as_user(
            &engine,
            org,
            owner,
            Command::RegisterPrincipal {
                kind,
                name: name.into(),
            },
        )
        .await;
    }
    let token = |org: &str, principal: &str| {
        tokens::create(&engine, Some(org), principal)
            .expect("token created")
            .token
    };
    let owner_token = token("Truck Pros", &owner.to_string());
    let auditor_token = token("Truck Pros", "auditor:audit-firm");
    let support_token = token("Truck Pros", "support:helpdesk");
    let other_token = token("Other Co", "owner@otherco.example");
    let engine = Arc::new(engine);
    let state = AppState::with_options(Arc::clone(&engine), options).unwrap();
    World {
        app: server::app(state),
        engine,
        org,
        owner,
        owner_token,
        auditor_token,
        support_token,
        other_org,
        other_owner,
        other_token,
    }
}

impl World {
    /// A request through the router, no socket.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        send(
            &self.app,
            method,
            path,
            token,
            body.map(|b| b.to_string()),
            headers,
        )
        .await
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        self.send("GET", path, Some(token), None, &[]).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(token), Some(body), &[]).await
    }

    /// Invites and activates a user as the owner; returns the id.
    pub async fn hire(&self, email: &str, role: &str) -> UserId {
        let body = self
            .post(
                &self.owner_token,
                "/v1/users",
                serde_json::json!({
                    "email": email,
                    "first_name": "First",
                    "last_name": "Last",
                    "role": role,
                    "active": true,
                }),
            )
            .await
            .created();
        body["user_id"].as_str().unwrap().parse().unwrap()
    }

    /// A token for a principal of "Truck Pros", created by the owner through the API.
    pub async fn token_for(&self, principal: &str) -> String {
        let created = self
            .post(
                &self.owner_token,
                "/v1/tokens",
                serde_json::json!({ "principal": principal }),
            )
            .await
            .ok();
        created["token"].as_str().unwrap().to_owned()
    }
}

/// The events of an SSE body: `(id, event name, data)`.
pub fn sse_events(text: &str) -> Vec<(Option<u64>, Option<String>, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str(v.trim()).unwrap());
                }
            }
            data.map(|d| (id, event, d))
        })
        .collect()
}

pub async fn send(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.map_or_else(Body::empty, Body::from))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text,
        location,
    }
}

/// A server on a real socket (127.0.0.1, a free port), stopped by [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), server::ServeError>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops gracefully and waits until the engine is shut down.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle.await.unwrap().unwrap();
    }
}

/// [`start`] on an engine the test keeps a handle to (to change its role while it
/// serves); drop that handle before [`Running::stop`], which waits for it otherwise.
pub async fn start_shared(engine: Arc<Engine>, options: ServerOptions) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_shared_on(listener, engine, options).await
}

/// [`start_shared`] on a listener already bound (a node must know its URL before it
/// opens the log, to advertise it).
pub async fn start_shared_on(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    options: ServerOptions,
) -> Running {
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server::serve_shared(
        engine,
        listener,
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        stop: Some(stop),
        handle,
    }
}

pub async fn start(engine: Engine) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server::serve_listener(
        engine,
        listener,
        ServerOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        stop: Some(stop),
        handle,
    }
}
