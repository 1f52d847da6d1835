//! The web console's server time per page, in an org of 10,000 users holding 1,000,000
//! resources with a log of 100,000 transfers besides: each page is requested through
//! the real router in-process (`tower::ServiceExt::oneshot` with a signed-in session's
//! cookie, no socket), one request at a time, and its p50 and p99 are reported against
//! the 50 ms.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use offboard_events::{Actor, CorrelationId, FollowUp, ResourceKey, Role, UserId};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::bulk::Dice;
use super::fixture::{keys, new_user, Fixture};
use super::place::Place;
use super::{fail, figure, quantile, BenchConfig, BenchError, Figure};
use crate::domain::{Command, OffboardPlan};
use crate::engine::Options;
use crate::server::{self, tokens, AppState};
use crate::CommandMeta;

/// The bound on every page's p99, in milliseconds.
const TARGET_MS: f64 = 50.0;

/// Transfers in flight while the log is filled.
const CLIENTS: usize = 64;

/// The org as the pages see it.
struct Scene {
    fx: Arc<Fixture>,
    /// Holds the most resources (a tenth of them).
    big: UserId,
    admin_email: String,
    /// One operation that moved resources, and one resource it moved.
    operation: CorrelationId,
    moved: ResourceKey,
    held_by_big: u64,
}

pub async fn run(config: &BenchConfig, place: &Place) -> Result<Vec<Figure>, BenchError> {
    let scene = build(config, place).await?;
    let fx = &scene.fx;
    // Made before the server's state, which loads the tokens when it is made.
    let token = tokens::create(&fx.engine, Some(&fx.org.to_string()), &fx.owner.to_string())
        .map_err(fail)?
        .token;
    let app = server::app(AppState::new(Arc::clone(&fx.engine)).map_err(fail)?);
    let session = Session::open(&app, &token).await?;
    let samples = config.scaled(200, 10) as usize;
    let mut figures = Vec::new();
    for (name, shows, mut request) in pages(&scene) {
        let mut times = session.time(samples, &shows, &mut request).await?;
        let p50 = quantile(&mut times, 0.5);
        let p99 = quantile(&mut times, 0.99);
        let scenario = format!("console: {name}");
        // Said in every row: the time is the router's, in-process, without a socket.
        let p50_name = "p50 (router, in-process)";
        figures.push(figure(&scenario, p50_name, p50, "ms", "", None));
        let target = format!("p99 <= {TARGET_MS} ms");
        let met = Some(p99 <= TARGET_MS);
        let p99_name = "p99 (router, in-process)";
        figures.push(figure(&scenario, p99_name, p99, "ms", &target, met));
    }
    Ok(figures)
}

/// Makes one request of a page, given the session's CSRF token.
type Requester = Box<dyn FnMut(&str) -> Request<Body> + Send>;

/// Every page timed: its name, a text it must show (so a fast error page is never
/// taken for a fast page), and how to ask for it.
fn pages(scene: &Scene) -> Vec<(String, String, Requester)> {
    let (big, operation) = (scene.big, scene.operation);
    let moved = scene.moved.clone();
    let users = scene.fx.users.len() as u64;
    let mut dice = Dice::new(19);
    let admin = scene.admin_email.clone();
    let by_admin = admin.clone();
    let page =
        |name: &str, shows: &str, request: Requester| (name.to_owned(), shows.to_owned(), request);
    vec![
        page(
            "People, first page",
            "owner@bench.example",
            Box::new(|_| get("/")),
        ),
        page(
            "People, search by name",
            "@bench.example",
            Box::new(move |csrf| {
                let q = format!("u{}", dice.below(users));
                post("/people/search", &[("csrf", csrf), ("q", &q)])
            }),
        ),
        page(
            "People, status deactivated",
            ">deactivated<",
            Box::new(|_| get("/?status=deactivated")),
        ),
        page(
            "People, role admin",
            &admin,
            Box::new(|_| get("/?role=admin")),
        ),
        page(
            &format!("a person holding {}", scene.held_by_big),
            "u0@bench.example",
            Box::new(move |_| get(&format!("/people/{big}"))),
        ),
        // Support lists the latest deletions; any row shows its days left.
        page(
            "Support",
            "data-label=\"Days left\"",
            Box::new(|_| get("/support")),
        ),
        page(
            "Audit timeline, latest",
            "UserDeleted",
            Box::new(|_| get("/audit")),
        ),
        page(
            "Audit, one admin's events",
            "UserDeactivated",
            Box::new(move |csrf| post("/audit", &[("csrf", csrf), ("actor", &by_admin)])),
        ),
        page(
            "Audit, UserDeleted events",
            ">UserDeleted<",
            Box::new(|csrf| post("/audit", &[("csrf", csrf), ("event_type", "UserDeleted")])),
        ),
        page(
            "a resource's owners",
            "u2@bench.example",
            Box::new(move |_| get(&format!("/audit/resources/{moved}"))),
        ),
        page(
            "an operation",
            "ResourcesTransferred",
            Box::new(move |_| get(&format!("/audit/operations/{operation}"))),
        ),
        page("the chain", "head-hash", Box::new(|_| get("/audit/chain"))),
    ]
}

/// Builds the org: users (a few admins), resources (one user holding a tenth), a log of
/// single-resource transfers, then the admins' deactivations and deletions last (so a
/// filter on them reads past everything else).
async fn build(config: &BenchConfig, place: &Place) -> Result<Scene, BenchError> {
    let users = config.scaled(10_000, 40) as usize;
    let total = config.scaled(1_000_000, 2_000);
    let big_share = total / 10;
    let transfers = config.scaled(100_000, 100);
    let engine = place.open("console", Options::default())?;
    let fx = Arc::new(Fixture::new(engine, 0).await?);
    let invites = (0..users).map(|i| {
        let (fx, user) = (Arc::clone(&fx), new_user(&format!("u{i}")));
        async move {
            fx.run(Command::InviteUser {
                user,
                role: Role::Member,
                manager: None,
                active: true,
            })
            .await
        }
    });
    in_waves(invites).await?;
    let fx = Arc::new(Fixture {
        users: invited(&fx, users)?,
        engine: Arc::clone(&fx.engine),
        org: fx.org,
        owner: fx.owner,
    });
    // The last tenth hold nothing: they are the ones deactivated and deleted.
    let idle = (users / 10).max(4);
    let holders = &fx.users[1..users - idle];
    let big = fx.users[0];
    fx.register(big, keys("buyer", "big", 0..big_share)).await?;
    let per_holder = (total - big_share) / holders.len() as u64;
    let loads = holders.iter().enumerate().map(|(i, user)| {
        let (fx, owner) = (Arc::clone(&fx), *user);
        let kind = ["buyer", "lead", "deal"][i % 3];
        let resources = keys(kind, &format!("u{i}"), 0..per_holder);
        async move {
            fx.run(Command::RegisterResources { owner, resources })
                .await
        }
    });
    in_waves(loads).await?;
    let first = fx
        .run(Command::TransferResources {
            from: holders[0],
            resources: keys("buyer", "u0", 0..per_holder.min(10)),
            to: holders[1],
        })
        .await?;
    fill_log(&fx, holders, per_holder, transfers).await?;
    let admin_email = admins_act(&fx, &fx.users[users - idle..]).await?;
    Ok(Scene {
        big,
        admin_email,
        operation: first.correlation_id,
        moved: keys("buyer", "u0", 0..1).remove(0),
        held_by_big: big_share,
        fx,
    })
}

/// Runs `commands` with at most [`CLIENTS`] in flight: thousands at once would make
/// groups too large for a loaded machine's writer.
async fn in_waves<T>(
    commands: impl Iterator<Item = impl std::future::Future<Output = Result<T, BenchError>>>,
) -> Result<(), BenchError> {
    use futures_util::StreamExt;
    let mut done = futures_util::stream::iter(commands).buffer_unordered(CLIENTS);
    while let Some(result) = done.next().await {
        result?;
    }
    Ok(())
}

/// The ids of the users `u0`…`u{count-1}` invited in `fx`'s org, in that order.
fn invited(fx: &Fixture, count: usize) -> Result<Vec<UserId>, BenchError> {
    let state = fx.engine.state();
    let org = state.org(fx.org).ok_or_else(|| fail("org missing"))?;
    (0..count)
        .map(|i| {
            org.directory()
                .user_by_email(&format!("u{i}@bench.example"))
                .map(|u| u.id)
                .ok_or_else(|| fail("invited user missing"))
        })
        .collect()
}

/// `count` single-resource transfers among the holders, [`CLIENTS`] at a time: the
/// log an org has after months of daily work.
async fn fill_log(
    fx: &Arc<Fixture>,
    holders: &[UserId],
    per_holder: u64,
    count: u64,
) -> Result<(), BenchError> {
    let mut tasks = JoinSet::new();
    for client in 0..CLIENTS as u64 {
        let (fx, holders) = (Arc::clone(fx), holders.to_vec());
        tasks.spawn(async move {
            let n = holders.len() as u64;
            for k in (client..count).step_by(CLIENTS) {
                // Holder h's resource j moves to h + 1 (j from 10 on: the first ten of
                // holder 0 are the sample operation's).
                let (h, j) = ((k % n) as usize, 10 + k / n);
                if j >= per_holder {
                    break;
                }
                let kind = ["buyer", "lead", "deal"][h % 3];
                let key = keys(kind, &format!("u{h}"), j..j + 1);
                fx.run(Command::TransferResources {
                    from: holders[h],
                    resources: key,
                    to: holders[(h + 1) % holders.len()],
                })
                .await?;
            }
            Ok::<_, BenchError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(fail)??;
    }
    Ok(())
}

/// Makes the first two of `idle` admins; they deactivate half of the rest and delete
/// the other half. Returns the first admin's email.
async fn admins_act(fx: &Fixture, idle: &[UserId]) -> Result<String, BenchError> {
    let (admins, rest) = idle.split_at(2);
    for admin in admins {
        fx.run(Command::ChangeRole {
            user: *admin,
            role: Role::Admin,
        })
        .await?;
    }
    let (deactivate, delete) = rest.split_at(rest.len() / 2);
    // A fresh meta per command: each carries its own command id.
    let as_admin = || CommandMeta::new(fx.org, Actor::User { id: admins[0] });
    for user in deactivate {
        let command = Command::DeactivateUser { user: *user };
        fx.engine.execute(as_admin(), command).await.map_err(fail)?;
    }
    for user in delete {
        let command = Command::Offboard {
            user: *user,
            plan: OffboardPlan::default(),
            then: FollowUp::Delete,
            confirm: Some("CONFIRM".into()),
        };
        fx.engine.execute(as_admin(), command).await.map_err(fail)?;
    }
    let state = fx.engine.state();
    let org = state.org(fx.org).ok_or_else(|| fail("org missing"))?;
    Ok(crate::read::email(org, admins[0]))
}

/// A browser signed in as the org's owner: its cookie and CSRF token.
struct Session<'a> {
    app: &'a Router,
    cookie: String,
    csrf: String,
}

impl<'a> Session<'a> {
    async fn open(app: &'a Router, token: &str) -> Result<Self, BenchError> {
        let (status, headers, body) = send(app, post("/sign-in", &[("token", token)])).await?;
        if status != StatusCode::SEE_OTHER {
            return Err(fail(format!("sign-in answered {status}: {body}")));
        }
        let cookie = headers
            .get(header::SET_COOKIE)
            .and_then(|c| c.to_str().ok())
            .and_then(|c| c.split(';').next())
            .ok_or_else(|| fail("sign-in set no cookie"))?
            .to_owned();
        let mut session = Self {
            app,
            cookie,
            csrf: String::new(),
        };
        let (_, _, page) = session.send(get("/")).await?;
        let at = page
            .find("name=\"csrf\" value=\"")
            .ok_or_else(|| fail("the People page has no CSRF field"))?;
        session.csrf = page[at + 19..].split('"').next().unwrap_or("").to_owned();
        Ok(session)
    }

    async fn send(
        &self,
        mut request: Request<Body>,
    ) -> Result<(StatusCode, axum::http::HeaderMap, String), BenchError> {
        let cookie = self.cookie.parse().map_err(fail)?;
        request.headers_mut().insert(header::COOKIE, cookie);
        send(self.app, request).await
    }

    /// Server time of `samples` requests made by `request` (given the CSRF token), in
    /// milliseconds; an answer but 200, or a page without `shows`, fails the benchmark.
    async fn time(
        &self,
        samples: usize,
        shows: &str,
        request: &mut Requester,
    ) -> Result<Vec<f64>, BenchError> {
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let request = request(&self.csrf);
            let what = request.uri().to_string();
            let started = Instant::now();
            let (status, _, body) = self.send(request).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if status != StatusCode::OK || !body.contains(shows) {
                let start: String = body.chars().take(400).collect();
                let problem = format!("{what} answered {status} without {shows:?}: {start}…");
                return Err(fail(problem));
            }
        }
        Ok(times)
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "127.0.0.1")
        .body(Body::empty())
        .expect("a valid request")
}

fn post(path: &str, form: &[(&str, &str)]) -> Request<Body> {
    let body = serde_urlencoded::to_string(form).expect("a form encodes");
    Request::post(path)
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("a valid request")
}

/// One request through the router: status, headers and the whole body read.
async fn send(
    app: &Router,
    request: Request<Body>,
) -> Result<(StatusCode, axum::http::HeaderMap, String), BenchError> {
    let Ok(answer) = app.clone().oneshot(request).await;
    let (parts, body) = answer.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(fail)?;
    Ok((
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}
