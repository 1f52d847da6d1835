//! `/readyz` on a node cut off from PostgreSQL (issue 21 §3): a follower that cannot
//! read the log, and a leader whose lock session went quiet, leave the load balancer's
//! rotation (503 `store_unreachable`) within their bounds — well before the leader's own
//! 2 s session patience makes it step down — and come back once the road heals. Each
//! node reaches the database through its own proxy (`tests/common/pg_proxy.rs`).
//! Skipped, saying so, where PostgreSQL is not installed.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use offboard::engine::{Role, FOLLOWER_CONTACT, LEADER_CONTACT};
use offboard::store::Location;
use offboard::Engine;
use serde_json::Value;

use super::pg_proxy::Proxy;
use super::stores::Place;
use super::support::*;

/// The proxies' own runtime. The engines call PostgreSQL synchronously, some from the
/// test runtime's workers (the server's start reads the token book): proxies running
/// on those workers could starve, every worker waiting on a proxy no worker runs.
fn roads() -> &'static tokio::runtime::Runtime {
    static ROADS: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    ROADS.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// `place`'s database through a new proxy: the location a node opens, and the proxy.
async fn proxied(place: &Place) -> (Location, Proxy) {
    let Location::Postgres { url, local } = &place.location else {
        unreachable!("a PostgreSQL place")
    };
    let rest = url.strip_prefix("postgresql://postgres@").unwrap();
    let (host, db) = rest.split_once('/').unwrap();
    let upstream: SocketAddr = host.parse().unwrap();
    let proxy = roads()
        .spawn(Proxy::start(upstream))
        .await
        .unwrap()
        .unwrap();
    let url = format!("postgresql://postgres@{}/{db}", proxy.addr);
    let location = Location::Postgres {
        url,
        local: local.clone(),
    };
    (location, proxy)
}

/// A node on `location`, serving on a free loopback port it advertises.
async fn serving(location: Location) -> (Arc<Engine>, Running) {
    let (engine, listener) = super::pg_nodes::open_at(location).await;
    let running = start_shared_on(listener, Arc::clone(&engine), Default::default()).await;
    (engine, running)
}

/// `/readyz` of `node`: its status and body.
async fn readyz(node: &Running) -> (u16, Value) {
    let answer = reqwest::get(format!("{}/readyz", node.url()))
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap())
}

/// Polls `/readyz` of `node` until `what` holds of its answer; how long that took.
async fn readyz_becomes(
    node: &Running,
    patience: Duration,
    what: impl Fn(u16, &Value) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = readyz(node).await;
        if what(status, &body) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < patience,
            "after {patience:?}, /readyz still {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Heals the roads when dropped — before the engines, which wait for their calls in
/// flight as they stop, and a black-holed call ends only when its road heals (also when
/// an assertion fails).
struct HealFirst<'a, const N: usize>([&'a Proxy; N]);

impl<const N: usize> Drop for HealFirst<'_, N> {
    fn drop(&mut self) {
        self.0.iter().for_each(|road| road.heal());
    }
}

fn unreachable(status: u16, body: &Value) -> bool {
    status == 503 && body["error"]["code"] == "store_unreachable"
}

fn ready_as(role: &'static str) -> impl Fn(u16, &Value) -> bool {
    move |status, body| status == 200 && body["role"] == role
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_cut_off_from_postgresql_leaves_readyz_within_its_bound_and_comes_back() {
    let Some(place) = Place::postgres() else {
        return;
    };
    // Given: a leader A and a follower B, each through its own proxy.
    let (a_at, a_road) = proxied(&place).await;
    let (a, a_run) = serving(a_at).await;
    assert_eq!(a.role(), Role::Leader);
    let (b_at, b_road) = proxied(&place).await;
    let (b, b_run) = serving(b_at).await;
    assert!(matches!(b.role(), Role::Follower { .. }), "{:?}", b.role());
    let _heal = HealFirst([&a_road, &b_road]);
    readyz_becomes(&b_run, Duration::from_secs(5), ready_as("follower")).await;

    // When the follower is cut off, Then: its /readyz says so within its bound (plus a
    // round of following), while the leader stays ready.
    b_road.partition();
    let took = readyz_becomes(&b_run, Duration::from_secs(10), unreachable).await;
    let bound = FOLLOWER_CONTACT + Duration::from_millis(750);
    assert!(took <= bound, "the follower answered 200 for {took:?}");
    assert_eq!(readyz(&a_run).await.0, 200);
    // When the road heals, Then: it follows again, ready.
    b_road.heal();
    readyz_becomes(&b_run, Duration::from_secs(15), ready_as("follower")).await;

    // When the leader is cut off, Then: its /readyz stops saying leader within 1 s of
    // its session's last answer (the last check was at most 550 ms before the cut), and
    // B takes over.
    a_road.partition();
    let took = readyz_becomes(&a_run, Duration::from_secs(10), |status, body| {
        !(status == 200 && body["role"] == "leader")
    })
    .await;
    let bound = LEADER_CONTACT + Duration::from_millis(250);
    assert!(took <= bound, "the old leader said leader for {took:?}");
    let (status, body) = readyz(&a_run).await;
    assert!(unreachable(status, &body), "{status} {body}");
    readyz_becomes(&b_run, Duration::from_secs(15), ready_as("leader")).await;

    // When the old leader, still cut off, is told to stop, Then: it stops although its
    // calls to PostgreSQL never return (it used to wait for them for good): its node
    // loop gets 3 s, a background read holding the engine 10 s.
    let stopped = tokio::time::timeout(Duration::from_secs(20), a_run.stop()).await;
    assert!(stopped.is_ok(), "the cut-off node did not stop within 20 s");
    b_run.stop().await;
}
