//! The load across the nodes: concurrent clients, each sending one command at a time to
//! a random live node, as a real client would through a load balancer. A command without
//! an answer (a dropped connection, a timeout), with `outcome_unknown` or any 503 is sent
//! again with the same `Idempotency-Key`, to a random node, after `Retry-After` (capped,
//! so the load goes on), until it is answered 2xx or 4xx; only a command still
//! unanswered [`GIVE_UP`] after the load was told to stop stays unknown. What the
//! clients must never see is counted: a 5xx other than 503, a 503 without `Retry-After`,
//! an answer slower than the request timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fastrand::Rng;
use offboard_events::UserId;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::clients::{self, Client, Outcome, Sent};
use super::http::{Answer, Http};
use super::ops::Op;

/// After the stop, how long a command may still be retried before it counts as unknown.
const GIVE_UP: Duration = Duration::from_secs(30);
/// The longest wait a `Retry-After` earns here (the servers say 5 s; waiting that long
/// would leave the cluster idle through most of a failover).
const RETRY_CAP: Duration = Duration::from_millis(500);
/// The wait before resending after no answer at all.
const NO_ANSWER_WAIT: Duration = Duration::from_millis(50);
/// An answer later than this is a hang (the clients' request timeout is 30 s).
const HANG: Duration = Duration::from_secs(29);

/// What the clients saw besides their commands' outcomes.
#[derive(Debug, Default)]
pub struct Seen {
    /// Resends (same key) after no answer, a 503 or an unknown outcome.
    pub retries: AtomicUsize,
    /// 503 answers (each with `Retry-After`, or it is also a violation).
    pub unavailable: AtomicUsize,
    /// Requests that got no answer (dropped connection, refused connection, timeout).
    pub no_answer: AtomicUsize,
    /// What a client must never see, described.
    pub violations: Mutex<Vec<String>>,
}

/// The clients, running.
#[derive(Debug)]
pub struct Load {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Vec<Sent>>>,
    target: Target,
    /// Commands sent with [`Load::send`], beside the clients'.
    extra: Vec<Sent>,
    /// What they saw so far.
    pub seen: Arc<Seen>,
}

/// Shared by every client: the live nodes' URLs, the token, the users.
#[derive(Debug, Clone)]
struct Target {
    urls: Arc<RwLock<Vec<Option<String>>>>,
    token: String,
    users: Arc<Vec<UserId>>,
    seen: Arc<Seen>,
}

impl Load {
    /// Starts `clients` (each with its share of resources) against the nodes in `urls`.
    pub fn start(
        urls: Arc<RwLock<Vec<Option<String>>>>,
        token: &str,
        users: Arc<Vec<UserId>>,
        clients: Vec<Client>,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let seen = Arc::new(Seen::default());
        let target = Target {
            urls,
            token: token.to_owned(),
            users,
            seen: Arc::clone(&seen),
        };
        let tasks = clients
            .into_iter()
            .map(|c| tokio::spawn(one(target.clone(), c, stopped.clone())))
            .collect();
        Self {
            stop,
            tasks,
            target,
            extra: Vec::new(),
            seen,
        }
    }

    /// Sends one more command as the clients do (random nodes, resent until answered);
    /// its outcome. It is checked with theirs.
    pub async fn send(&mut self, op: Op, rng: &mut Rng) -> Outcome {
        let key = clients::new_key(rng);
        let stopped = self.stop.subscribe();
        let mut http = Vec::new();
        let outcome = until_answered(&self.target, &mut http, rng, (&op, key), &stopped).await;
        self.extra.push(Sent {
            key,
            op,
            outcome: outcome.clone(),
        });
        outcome
    }

    /// Tells the clients to stop and waits for them: every command sent.
    pub async fn stop(self) -> Vec<Sent> {
        self.stop.send_replace(true);
        let mut sent = self.extra;
        for task in self.tasks {
            sent.extend(task.await.expect("a client task does not panic"));
        }
        sent
    }
}

async fn one(target: Target, mut c: Client, stopped: watch::Receiver<bool>) -> Vec<Sent> {
    let mut sent = Vec::new();
    let mut http: Vec<(String, Http)> = Vec::new();
    for n in 0.. {
        if *stopped.borrow() {
            break;
        }
        let op = clients::choose(&mut c, &target.users, n);
        let key = clients::new_key(&mut c.rng);
        let outcome = until_answered(&target, &mut http, &mut c.rng, (&op, key), &stopped).await;
        clients::note(&mut c, &op, &outcome);
        sent.push(Sent { key, op, outcome });
    }
    sent
}

/// Sends `op` under `key` to random live nodes until it is answered 2xx or 4xx.
async fn until_answered(
    target: &Target,
    http: &mut Vec<(String, Http)>,
    rng: &mut Rng,
    (op, key): (&Op, Uuid),
    stopped: &watch::Receiver<bool>,
) -> Outcome {
    let mut stop_seen: Option<Instant> = None;
    loop {
        let Some(node) = pick(target, http, rng) else {
            if *stopped.borrow() && stop_seen.get_or_insert_with(Instant::now).elapsed() > GIVE_UP {
                return Outcome::Unknown("no node running".to_owned());
            }
            tokio::time::sleep(NO_ANSWER_WAIT).await;
            continue;
        };
        let asked = Instant::now();
        let answer = node.command(op, key).await;
        if asked.elapsed() > HANG {
            violation(
                target,
                format!(
                    "{} {key}: {} answered after {:?}",
                    op.kind(),
                    node.url(),
                    asked.elapsed()
                ),
            );
        }
        let (why, wait) = match answer {
            Answer::Done(body) => return clients::acked(&body),
            Answer::Refused(status, code) => return Outcome::Refused(status, code),
            Answer::Unknown(why) => {
                target.seen.no_answer.fetch_add(1, Ordering::Relaxed);
                (why, NO_ANSWER_WAIT)
            }
            Answer::ServerError {
                status,
                retry_after,
                body,
            } => (
                format!("{status} {body}"),
                server_error(target, status, retry_after, &body),
            ),
        };
        if *stopped.borrow() && stop_seen.get_or_insert_with(Instant::now).elapsed() > GIVE_UP {
            return Outcome::Unknown(why);
        }
        target.seen.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(wait).await;
    }
}

/// Counts a 5xx; how long to wait before the resend.
fn server_error(target: &Target, status: u16, retry_after: Option<String>, body: &str) -> Duration {
    if status != 503 {
        violation(target, format!("{status} {body}"));
        return NO_ANSWER_WAIT;
    }
    target.seen.unavailable.fetch_add(1, Ordering::Relaxed);
    match retry_after.as_deref().map(str::parse::<u64>) {
        Some(Ok(seconds)) => Duration::from_secs(seconds).min(RETRY_CAP),
        _ => {
            violation(
                target,
                format!("503 with Retry-After {retry_after:?}: {body}"),
            );
            RETRY_CAP
        }
    }
}

fn violation(target: &Target, what: String) {
    target
        .seen
        .violations
        .lock()
        .expect("not poisoned")
        .push(what);
}

/// A random live node's client (kept per URL: a restarted node has a new URL).
fn pick<'a>(target: &Target, http: &'a mut Vec<(String, Http)>, rng: &mut Rng) -> Option<&'a Http> {
    let live: Vec<String> = target
        .urls
        .read()
        .expect("not poisoned")
        .iter()
        .flatten()
        .cloned()
        .collect();
    if live.is_empty() {
        return None;
    }
    let url = &live[rng.usize(..live.len())];
    let at = match http.iter().position(|(u, _)| u == url) {
        Some(at) => at,
        None => {
            http.push((url.clone(), Http::new(url, &target.token)));
            http.len() - 1
        }
    };
    Some(&http[at].1)
}
