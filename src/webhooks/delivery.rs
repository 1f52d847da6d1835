//! The delivery tasks `serve` starts: one per subscription, each a loop over the durable
//! log from its cursor, like the event stream (`server::stream`): it reads up to the
//! engine's last durable position (never an event a crash could take back), in batches
//! of [`BATCH`], keeps the org's events of the subscribed types, and sends them one at a
//! time over a kept-alive connection, the next only after the 2xx is recorded (the
//! cursor written to the kernel: see [`super::cursor`]). A failure is retried after
//! [`policy::retry_delay`]; after `max_attempts` the event is parked. A keeper task
//! syncs the written cursors every [`SYNC_EVERY`] and saves the attempt history every
//! [`SAVE_EVERY`]; both once more when delivery stops.
//!
//! The writer never waits for a task: tasks only read the log and wait on the commit
//! signal, on a runtime of their own whose threads run at a lower priority
//! ([`super::priority`]). Memory is bounded by one batch per subscription and the shared
//! window of recent events ([`super::recent::CAPACITY`] positions); at most
//! `max_in_flight` requests are out at once (a semaphore), each bounded by the request
//! timeout, and while commands keep the writer busy every request first waits its turn
//! under the shared pace ([`super::pace`]). Times come from the engine's clock, so tests
//! move through backoff with a `ManualClock`. The tasks share what they read and the bodies they serialize
//! ([`super::recent`]), and each checks its URL once, not at every attempt.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::Url;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::book::{Attempt, BodyFormat, Hub, Outcome, SubscriptionStatus, Work};
use super::pace::{self, Pace};
use super::payload::connector_body;
use super::recent::{Cached, Recent};
use super::{policy, priority, signing, ssrf, WebhookOptions};
use crate::server::client::innermost;
use crate::Engine;

/// Positions read from the log at a time, per subscription.
pub const BATCH: u64 = 256;

/// Longest wait before a task looks at the clock again (a `ManualClock` moves without
/// waking anyone).
const CLOCK_TICK: Duration = Duration::from_millis(200);

/// Characters of a receiver's answer kept with a failed attempt.
const EXCERPT: usize = 256;

/// How often the cursors written since the last sync are synced: a power loss takes
/// back at most this long of acknowledgements (sent again, same `webhook-id`).
pub const SYNC_EVERY: Duration = Duration::from_millis(100);

/// How often the attempt history of deliveries is saved: a killed process loses at
/// most this long of history lines (never a cursor).
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Worker threads of the delivery runtime.
const THREADS: usize = 2;

/// The running delivery tasks; [`Deliveries::stop`] ends them.
#[derive(Debug)]
pub struct Deliveries {
    stop: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
    /// The tasks' own runtime (see [`priority`]); `None` once stopped.
    runtime: Option<tokio::runtime::Runtime>,
}

/// What every task shares.
#[derive(Clone, Debug)]
struct Shared {
    engine: Arc<Engine>,
    hub: Arc<Hub>,
    options: WebhookOptions,
    client: reqwest::Client,
    in_flight: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
    /// What the tasks read lately, shared.
    recent: Arc<Recent>,
    /// Every request waits its turn here while commands keep the writer busy.
    pace: Arc<Pace>,
}

impl Deliveries {
    /// Starts a task for every subscription in `hub`, and for each one added later, on
    /// a runtime of their own (see [`priority`]).
    ///
    /// # Errors
    /// The runtime's threads cannot start, or the HTTP client cannot be built (no TLS
    /// roots).
    pub fn start(
        engine: Arc<Engine>,
        hub: Arc<Hub>,
        options: WebhookOptions,
    ) -> Result<Self, String> {
        let runtime = priority::runtime("offboard-webhooks", THREADS, priority::DELIVERY_NICE)
            .map_err(|e| format!("the webhook delivery threads cannot start: {e}"))?;
        let _inside = runtime.enter();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .dns_resolver(Arc::new(ssrf::GuardedResolver { options }))
            .user_agent(concat!("offboard-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the webhook client cannot start: {e}"))?;
        let (stop, stopped) = watch::channel(false);
        let pace = Arc::new(Pace::new(options.pace, hub.metrics().paced()));
        let shared = Shared {
            engine,
            hub,
            options,
            client,
            in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
            stop: stopped,
            recent: Arc::default(),
            pace,
        };
        let supervisor = runtime.spawn(supervise(shared));
        drop(_inside);
        Ok(Self {
            stop,
            supervisor,
            runtime: Some(runtime),
        })
    }

    /// Ends every task (a request in flight is dropped; its event is sent again after a
    /// restart, with the same `webhook-id`), waits for them, then syncs every cursor and
    /// saves every progress, releasing the engine. **Durability: when it returns, every
    /// recorded outcome is on stable storage** (a failure to save is logged).
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        let _ = (&mut self.supervisor).await;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Deliveries {
    /// Without [`Deliveries::stop`]: the tasks end where they are (what they recorded is
    /// as durable as [`Hub::record`] says).
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Keeps one task per subscription until stopped.
async fn supervise(shared: Shared) {
    let mut changes = shared.hub.subscribe();
    let mut stop = shared.stop.clone();
    let mut tasks: HashMap<Uuid, JoinHandle<()>> = HashMap::new();
    let keeper = tokio::spawn(keep(Arc::clone(&shared.hub), shared.stop.clone()));
    let pacer = tokio::spawn(pace::watch(
        Arc::clone(&shared.pace),
        Arc::clone(&shared.engine),
        shared.stop.clone(),
    ));
    loop {
        tasks.retain(|_, t| !t.is_finished());
        for id in shared.hub.ids() {
            tasks
                .entry(id)
                .or_insert_with(|| tokio::spawn(run(shared.clone(), id)));
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    for (_, task) in tasks {
        let _ = task.await;
    }
    let _ = keeper.await;
    let _ = pacer.await;
    // Every task has ended: nothing is recorded after this last sync and save.
    let hub = Arc::clone(&shared.hub);
    match tokio::task::spawn_blocking(move || hub.sync().and_then(|()| hub.save())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "webhook progress not saved at stop"),
        Err(e) => tracing::error!(error = %e, "webhook progress not saved at stop"),
    }
}

/// Syncs the written cursors every [`SYNC_EVERY`] and saves the attempt history every
/// [`SAVE_EVERY`], until stopped.
async fn keep(hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut saved = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let save = saved.elapsed() >= SAVE_EVERY;
        if save {
            saved = std::time::Instant::now();
        }
        let hub = Arc::clone(&hub);
        let kept = tokio::task::spawn_blocking(move || {
            hub.sync()?;
            if save {
                hub.save()?;
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .await;
        match kept {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "webhook cursors not synced; trying again"),
            Err(e) => tracing::error!(error = %e, "webhook cursors not synced; trying again"),
        }
    }
}

/// One subscription's loop; returns when it is removed or delivery stops.
async fn run(shared: Shared, id: Uuid) {
    let mut task = Task {
        committed: shared.engine.subscribe(),
        changes: shared.hub.subscribe(),
        stop: shared.stop.clone(),
        queue: VecDeque::new(),
        next_read: 0,
        generation: None,
        checked: None,
        shared,
    };
    while task.step(id).await {}
}

struct Task {
    shared: Shared,
    committed: watch::Receiver<u64>,
    changes: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
    /// Events read and not yet delivered, in order.
    queue: VecDeque<Arc<Cached>>,
    /// The next position to read from the log.
    next_read: u64,
    /// The generation the queue was read for.
    generation: Option<u64>,
    /// The subscription's URL and what [`ssrf::check_url`] said of it under this
    /// server's options (both fixed while it runs).
    checked: Option<(String, Result<Url, String>)>,
}

impl Task {
    /// One turn: wait, read, or deliver one event. `false` once the task should end.
    async fn step(&mut self, id: Uuid) -> bool {
        if *self.stop.borrow() {
            return false;
        }
        let now = self.shared.engine.clock().now();
        // Changes by a person from here on are noticed before a request goes out.
        self.changes.borrow_and_update();
        let Some(work) = self.shared.hub.work(id, now) else {
            return false;
        };
        if self.generation != Some(work.generation) {
            self.queue.clear();
            self.next_read = work.progress.cursor + 1;
            self.generation = Some(work.generation);
        }
        while self
            .queue
            .front()
            .is_some_and(|e| e.envelope.position <= work.progress.cursor)
        {
            self.queue.pop_front();
        }
        if work.subscription.status == SubscriptionStatus::Paused {
            return self.wait(None).await;
        }
        if let Some(due) = work.progress.next_attempt_at.filter(|due| *due > now) {
            let left = (due - now).to_std().unwrap_or_default();
            return self.wait(Some(left.min(CLOCK_TICK))).await;
        }
        // Taken out, not cloned, and put back after: the next turn drops it once the
        // cursor has passed it.
        let Some(event) = self.queue.pop_front() else {
            return self.read(&work).await;
        };
        if event.envelope.position > work.progress.cursor + 1 {
            self.shared.hub.skip_to(&work, event.envelope.position - 1);
        }
        let outcome = self.deliver(&work, &event, now).await;
        self.queue.push_front(event);
        match outcome {
            Turn::Stopped => false,
            // Looked at again next turn: paused, removed, rotated or replayed.
            Turn::Changed => true,
            Turn::Sent(outcome) => self.record(work, outcome).await,
        }
    }

    /// Records `outcome`: in place when quick (one write into the page cache costs less
    /// than a hop to the blocking pool), else on the blocking pool (it syncs).
    async fn record(&mut self, work: Work, outcome: Outcome) -> bool {
        let id = work.subscription.id;
        let max = self.shared.options.max_attempts.max(1);
        let recorded = if Hub::is_quick(&work, &outcome) {
            Ok(self.shared.hub.record(&work, outcome, max))
        } else {
            let hub = Arc::clone(&self.shared.hub);
            tokio::task::spawn_blocking(move || hub.record(&work, outcome, max)).await
        };
        match recorded {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::error!(subscription = %id, error = %e, "webhook progress not recorded; retrying");
                self.wait(Some(Duration::from_secs(1))).await
            }
            Err(e) => {
                tracing::error!(subscription = %id, error = %e, "webhook progress not recorded");
                false
            }
        }
    }

    /// Waits for a change, a commit, the stop, or `at_most`. `false` on stop.
    async fn wait(&mut self, at_most: Option<Duration>) -> bool {
        let sleep = tokio::time::sleep(at_most.unwrap_or(Duration::from_secs(3600)));
        tokio::select! {
            _ = self.changes.changed() => true,
            _ = self.committed.changed() => true,
            _ = sleep => true,
            _ = self.stop.wait_for(|s| *s) => false,
        }
    }

    /// Reads the next batch of durable events into the queue (or waits for one).
    async fn read(&mut self, work: &Work) -> bool {
        let durable = *self.committed.borrow_and_update();
        if self.next_read > durable {
            return self.wait(None).await;
        }
        let (from, end) = (
            self.next_read,
            durable.min(self.next_read.saturating_add(BATCH - 1)),
        );
        let events = match self.fetch(from, end).await {
            Ok(events) => events,
            Err(why) => {
                tracing::error!(subscription = %work.subscription.id, error = %why, "webhook delivery cannot read the log");
                return self.wait(Some(Duration::from_secs(5))).await;
            }
        };
        self.next_read = end + 1;
        let sub = &work.subscription;
        self.queue.extend(events.into_iter().filter(|e| {
            e.envelope.org_id == sub.org_id
                && (sub.events.is_empty()
                    || sub
                        .events
                        .iter()
                        .any(|t| t == e.envelope.event.event_type()))
        }));
        if self.queue.is_empty() {
            self.shared.hub.skip_to(work, end);
        }
        true
    }

    /// The events at positions `from..=end`: those another task read lately, then the
    /// rest from the log (kept for the others).
    async fn fetch(&self, from: u64, end: u64) -> Result<Vec<Arc<Cached>>, String> {
        let mut events = self.shared.recent.take(from, end);
        let missing = events.last().map_or(from, |e| e.envelope.position + 1);
        if missing <= end {
            let engine = Arc::clone(&self.shared.engine);
            let read = tokio::task::spawn_blocking(move || engine.read_range(missing, end))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            events.extend(self.shared.recent.put(read));
        }
        Ok(events)
    }

    /// The subscription's URL as [`ssrf::check_url`] judges it under this server's
    /// options: checked when the task first sends to it (the server may run with other
    /// options than when the subscription was added), then kept, since neither the
    /// options nor the URL change while the task runs — parsing it cost more than the
    /// attempt's own request building.
    fn checked_url(&mut self, url: &str) -> Result<Url, String> {
        match &self.checked {
            Some((seen, checked)) if seen == url => checked.clone(),
            _ => {
                let checked = ssrf::check_url(url, &self.shared.options);
                self.checked = Some((url.to_owned(), checked.clone()));
                checked
            }
        }
    }

    /// Sends `event` once, unless delivery stops or a person changes a subscription
    /// (any: the hub's notice does not say which) while the request waits its turn (the
    /// pace, the cap on requests in flight): a request not yet on its way when a pause,
    /// removal or rotation is answered does not go out under the old settings.
    async fn deliver(&mut self, work: &Work, cached: &Cached, now: DateTime<Utc>) -> Turn {
        let sub = &work.subscription;
        let event = &cached.envelope;
        let body = match sub.format {
            BodyFormat::Envelope => cached.envelope_body(),
            BodyFormat::Cloudevents => cached.cloudevent_body(),
            // The directory as the event is delivered: not shared.
            BodyFormat::Connector => {
                let state = self.shared.engine.state();
                let body = connector_body(event, state.org(sub.org_id));
                Bytes::from(serde_json::to_vec(&body).expect("an event always serializes"))
            }
        };
        let url = self.checked_url(&sub.url);
        let webhook_id = signing::message_id(sub.id, event);
        let permit = tokio::select! {
            permit = async {
                self.shared.pace.turn().await;
                self.shared.in_flight.acquire().await
            } => match permit {
                Ok(permit) => permit,
                Err(_) => return Turn::Stopped,
            },
            _ = self.stop.wait_for(|s| *s) => return Turn::Stopped,
        };
        if self.changes.has_changed().unwrap_or(true) {
            return Turn::Changed;
        }
        let started = std::time::Instant::now();
        let sent = tokio::select! {
            sent = send(&self.shared, work, url, &webhook_id, now, body) => sent,
            _ = self.stop.wait_for(|s| *s) => return Turn::Stopped,
        };
        drop(permit);
        let mut attempt = Attempt {
            position: event.position,
            webhook_id,
            at: now,
            outcome: "delivered".to_owned(),
            status: sent.status,
            detail: sent.detail,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        // Ids and numbers only: the URL, headers and bodies may hold personal data. A
        // success is a debug line (one per event would drown the request log).
        if sent.ok {
            tracing::debug!(subscription = %sub.id, position = event.position, status = ?attempt.status, "webhook delivered");
        } else {
            tracing::warn!(subscription = %sub.id, position = event.position, status = ?attempt.status, attempt = work.progress.attempts + 1, "webhook attempt failed");
        }
        if sent.ok {
            return Turn::Sent(Outcome {
                attempt,
                retry_at: None,
            });
        }
        attempt.outcome = "failed".to_owned();
        let delay = policy::retry_delay(
            &self.shared.options,
            work.progress.attempts + 1,
            sent.retry_after,
        );
        Turn::Sent(Outcome {
            attempt,
            retry_at: Some(now + chrono::Duration::from_std(delay).unwrap_or_default()),
        })
    }
}

/// How one turn of [`Task::deliver`] ended.
enum Turn {
    /// Delivery stops: the task ends.
    Stopped,
    /// A person changed a subscription (perhaps this one) before the request went out:
    /// nothing was sent.
    Changed,
    /// The request went out; what came back.
    Sent(Outcome),
}

/// What one request came back with.
struct Sent {
    ok: bool,
    status: Option<u16>,
    detail: Option<String>,
    retry_after: Option<Duration>,
}

impl Sent {
    fn refused(detail: String) -> Self {
        Self {
            ok: false,
            status: None,
            detail: Some(detail),
            retry_after: None,
        }
    }
}

/// One attempt: `POST url` with `body` and the signed headers; a URL the server's
/// options refuse is a failed attempt (`Sent::refused`), as an unreachable one is.
async fn send(
    shared: &Shared,
    work: &Work,
    url: Result<Url, String>,
    id: &str,
    now: DateTime<Utc>,
    body: Bytes,
) -> Sent {
    let url = match url {
        Ok(url) => url,
        Err(why) => return Sent::refused(why),
    };
    let headers = match signing::headers(&work.secrets, id, now.timestamp(), &body) {
        Ok(headers) => headers,
        Err(why) => return Sent::refused(why),
    };
    let mut request = shared
        .client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Sent::refused(describe(&e, shared.options.timeout)),
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| policy::parse_retry_after(v, now));
    let mut excerpt = Vec::new();
    if !status.is_success() {
        // Only the first chunks: a receiver answering gigabytes costs nothing.
        while excerpt.len() < EXCERPT * 4 {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                _ => break,
            }
        }
    }
    let detail = (!excerpt.is_empty()).then(|| {
        String::from_utf8_lossy(&excerpt)
            .chars()
            .take(EXCERPT)
            .collect()
    });
    Sent {
        ok: status.is_success(),
        status: Some(status.as_u16()),
        detail,
        retry_after,
    }
}

/// Why no answer came, without the URL.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f64())
    } else if e.is_connect() {
        match std::error::Error::source(e) {
            Some(source) => format!("connection failed: {}", innermost(source)),
            None => "connection failed".to_owned(),
        }
    } else {
        format!(
            "request failed: {}",
            std::error::Error::source(e).map_or_else(|| "unknown".to_owned(), |s| s.to_string())
        )
    }
}
