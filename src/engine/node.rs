//! One `offboard serve` node of several on one PostgreSQL database.
//!
//! Exactly one node writes: the one holding the writer lock (a session-level advisory
//! lock, `store::postgres::lock`). Every other node follows: it tails the log — woken by
//! `LISTEN offboard_log` at each commit, and polling every [`POLL`] in case a
//! notification is lost — applies the new events to its projections and asks for the
//! lock again. When the leader's session ends (the process died, or PostgreSQL could no
//! longer reach it and ended it), the lock is free and the first follower to ask takes
//! it: it reads the log to its end (nobody else writes now), reloads every key, starts
//! the writer from the stored head and publishes its URL for the others to forward
//! commands to.
//!
//! A leader steps down when its lock's session stops answering (within
//! [`SESSION_PATIENCE`]) or its writer refuses writes (a write failed or overran: the
//! database may be gone, or another node wrote that position first — the events'
//! primary key fences a former leader). It reports itself a follower at once (commands
//! are answered `not_leader`), stops its writer without saving a checkpoint (another
//! node may already have saved a later one), lets go of the lock, and follows again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use offboard_events::{Envelope, Event, UserId};
use offboard_projections::State;
use tokio::sync::watch;

use super::checkpoint;
use super::contact::StoreContact;
use super::health::Refusal;
use super::pipeline::Parts;
use super::replay::{for_each_envelope, replay_range, ReadError};
use super::role::{Role, CATCHING_UP_LAG};
use crate::store::postgres::{
    leader_address, publish_leader, schema, wait_for_earlier_writers, Candidate, HeadWatch,
    WriterLock,
};
use crate::store::{PgPool, StoreError};

/// Longest a follower waits for a commit notification before it looks anyway.
const POLL: Duration = Duration::from_millis(250);

/// How often a follower asks for the lock: a leader that died is replaced within this
/// (plus the time to read the log's end and start the writer).
const ASK_EVERY: Duration = Duration::from_millis(200);

/// How long a node that could not take over waits before asking for the lock again.
const RETRY_TAKEOVER: Duration = Duration::from_secs(2);

/// How often the leader checks that it still holds the lock.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Longest the lock's session may take to answer before the leader steps down.
const SESSION_PATIENCE: Duration = Duration::from_secs(2);

/// Longest [`Node::stop`] waits for the node's thread: a healthy loop sees the stop
/// within one round ([`POLL`], [`CHECK_EVERY`], or a session call of at most
/// [`SESSION_PATIENCE`]); a node cut off from PostgreSQL may be inside a call that no
/// answer will ever end (a black-holed connection has no timeout of its own).
const STOP_PATIENCE: Duration = Duration::from_secs(3);

/// Events decoded and applied at a time while following: the state's write lock is held
/// only for applying one chunk, so reads interleave with a long catch-up.
const CHUNK: u64 = 4096;

/// Events replayed per hold of the state's write lock while catching up on a backlog.
const BIG_CHUNK: u64 = 65_536;

/// Applies one event, noting a purge.
fn apply_one(state: &mut State, envelope: &Envelope, purged: &mut Vec<UserId>) {
    state.apply(envelope);
    if let Event::UserPurged(p) = &envelope.event {
        purged.push(p.user_id);
    }
}

/// The thread following or leading, and how to stop it.
#[derive(Debug)]
pub(crate) struct Node {
    stop: Arc<AtomicBool>,
    /// What the thread hands back when it ends: the writer lock if it led.
    ended: Receiver<Option<WriterLock>>,
}

impl Node {
    /// Starts the node's thread; `lock` when this node took the writer lock at open
    /// (and was promoted by [`Follower::promote`] already).
    pub fn start(follower: Follower, lock: Option<WriterLock>) -> Result<Self, StoreError> {
        let stop = Arc::clone(&follower.stop);
        let (end, ended) = std::sync::mpsc::sync_channel(1);
        // Detached: `stop` waits for it only so long (see [`STOP_PATIENCE`]).
        std::thread::Builder::new()
            .name("offboard-node".to_owned())
            .spawn(move || {
                let lock = follower.run(lock);
                // Nobody waits any more after a late stop: the lock is released here.
                let _ = end.send(lock);
            })
            .map_err(|e| StoreError::Io(format!("cannot start the node thread: {e}")))?;
        Ok(Self { stop, ended })
    }

    /// Stops following or leading; hands back the writer lock if this node holds it, to
    /// be dropped (released) once the writer has stopped. Waits at most
    /// [`STOP_PATIENCE`]: a thread stuck in a call to an unreachable database is left to
    /// end on its own (it stops any writer it started before it lets the lock go), and
    /// `None` is returned.
    pub fn stop(self) -> Option<WriterLock> {
        self.stop.store(true, Ordering::Release);
        match self.ended.recv_timeout(STOP_PATIENCE) {
            Ok(lock) => lock,
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    "offboard: the node did not stop within {} s (a call to PostgreSQL that does not answer?); it is left to end on its own",
                    STOP_PATIENCE.as_secs()
                );
                None
            }
            // The thread panicked: its lock (if any) was dropped, so released, with it.
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }
}

/// A node's view of the log and what it needs to lead.
#[derive(Debug)]
pub(crate) struct Follower {
    pub parts: Parts,
    pub role: Arc<watch::Sender<Role>>,
    pub pool: PgPool,
    /// The URL this node publishes when it leads.
    pub advertise: String,
    /// The last position applied to the projections.
    pub applied: u64,
    pub stop: Arc<AtomicBool>,
    /// Set when leadership ended: the keys in memory are loaded again from the store
    /// before following (a key this node created for a group that was never committed
    /// must not open, or seal, anything), and the projections are rebuilt from the store
    /// (the writer may have left them holding a group whose commit failed, or put back
    /// only part of the way when the store could not be read: a partition).
    pub reload_keys: bool,
    /// When the database last answered: each read of the log's head while following,
    /// each answer of the lock's session while leading (`/readyz` reads it).
    pub contact: Arc<StoreContact>,
}

/// Why a leader stopped leading.
enum Ended {
    Stopping,
    Lost(String),
}

impl Follower {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Follows or leads until stopped; returns the lock if leading then.
    fn run(mut self, mut lock: Option<WriterLock>) -> Option<WriterLock> {
        loop {
            let held = match lock.take() {
                Some(held) => held,
                None => match self.follow() {
                    Some(held) => match self.promote(&held) {
                        Ok(()) => held,
                        Err(e) => {
                            // Back to following; the lock goes with `held`.
                            tracing::warn!("offboard: could not take over as leader: {e}");
                            self.back_to_following(&format!("the takeover failed: {e}"));
                            // A cause such as a rotated KEK lasts: ask again, not at once.
                            std::thread::sleep(RETRY_TAKEOVER);
                            continue;
                        }
                    },
                    None => return None,
                },
            };
            match self.lead(&held) {
                Ended::Stopping => {
                    // Whoever stops the node may have stopped waiting for it (a stop
                    // that came during a takeover): no writer may outlive the lock.
                    self.parts.stop_writer();
                    return Some(held);
                }
                Ended::Lost(why) => {
                    self.step_down(&why);
                    drop(held);
                }
            }
        }
    }

    /// Tails the log until this node takes the lock (`Some`) or is stopped (`None`).
    fn follow(&mut self) -> Option<WriterLock> {
        let mut candidate: Option<Candidate> = None;
        let mut watch: Option<HeadWatch> = None;
        let mut asked = Instant::now() - ASK_EVERY;
        let mut warned = Instant::now() - Duration::from_secs(60);
        loop {
            if self.stopping() {
                return None;
            }
            let round = self.follow_once(&mut candidate, &mut watch, &mut asked);
            match round {
                Ok(Some(lock)) => return Some(lock),
                Ok(None) => {}
                Err(e) => {
                    // PostgreSQL is down or unreachable: keep serving reads, say so once
                    // a minute, try again.
                    if warned.elapsed() >= Duration::from_secs(60) {
                        tracing::warn!("offboard: following the log failed, retrying: {e}");
                        warned = Instant::now();
                    }
                    candidate = None;
                    watch = None;
                    std::thread::sleep(POLL);
                }
            }
        }
    }

    /// One round of following: ask for the lock (every [`ASK_EVERY`]), apply what the
    /// log gained, wait for the next commit.
    fn follow_once(
        &mut self,
        candidate: &mut Option<Candidate>,
        watch: &mut Option<HeadWatch>,
        asked: &mut Instant,
    ) -> Result<Option<WriterLock>, ReadError> {
        if self.reload_keys {
            self.parts.vault.reload()?;
            self.rebuild()?;
            self.reload_keys = false;
        }
        if asked.elapsed() >= ASK_EVERY {
            *asked = Instant::now();
            let asking = match candidate.take() {
                Some(c) => c,
                None => Candidate::open(&self.pool)?,
            };
            match WriterLock::try_take(asking)? {
                Ok(lock) => return Ok(Some(lock)),
                Err(back) => *candidate = Some(back),
            }
        }
        self.catch_up()?;
        if watch.is_none() {
            *watch = Some(HeadWatch::start(&self.pool)?);
        }
        if let Some(w) = watch {
            w.wait(POLL.min(ASK_EVERY))?;
        }
        Ok(None)
    }

    /// Applies every event the log holds past [`Follower::applied`], a chunk at a time,
    /// and reports the role with the lag and the leader's URL.
    pub fn catch_up(&mut self) -> Result<(), ReadError> {
        let head = self.parts.store.head()?.last_position;
        let leader = leader_address(&self.pool)?;
        // The lag as read, before applying: a commit of 30,000 events is one chunk, and
        // `/readyz` must show it behind (or catching up) meanwhile, not lag 0.
        self.report(leader.clone(), head);
        while self.applied < head {
            if head - self.applied > CHUNK {
                self.replay_chunk(head.min(self.applied + BIG_CHUNK))?;
            } else {
                self.apply_chunk(head)?;
            }
            self.contact.seen();
            self.report(leader.clone(), head);
            if self.stopping() {
                return Ok(());
            }
        }
        // In touch only once what was read is applied: a follower that reads the log but
        // cannot apply it (a KEK that is not the store's) leaves `/readyz` too.
        self.contact.seen();
        self.report(leader, head);
        Ok(())
    }

    /// The projections rebuilt from what the store holds (its checkpoint and the log up
    /// to its head), swapped in whole.
    fn rebuild(&mut self) -> Result<(), ReadError> {
        let store = self.parts.store.as_ref();
        let head = store.head()?.last_position;
        let loaded = checkpoint::load(store, &self.parts.vault)?;
        let (fresh, _) = checkpoint::recover(store, &self.parts.vault, loaded, head)?;
        let position = fresh.position();
        *self.parts.state.write() = fresh;
        self.applied = position;
        self.parts.committed.send_replace(position);
        Ok(())
    }

    /// A few events (a commit or two): decoded first, so the state's write lock is held
    /// only to apply them, never across a round trip to the database.
    fn apply_chunk(&mut self, to: u64) -> Result<(), ReadError> {
        let mut events = Vec::with_capacity((to - self.applied) as usize);
        let store = self.parts.store.as_ref();
        for_each_envelope(store, &self.parts.vault, self.applied + 1, to, &mut |e| {
            events.push(e)
        })?;
        let mut purged = Vec::new();
        {
            let mut state = self.parts.state.write();
            for envelope in &events {
                apply_one(&mut state, envelope, &mut purged);
            }
        }
        self.applied(to, &purged);
        Ok(())
    }

    /// A backlog (a node far behind): replayed at replay speed (decoding on one thread,
    /// applying on this one), holding the state's write lock for the chunk — a catching-up
    /// node is not ready for reads anyway. What applied before a failure stays applied.
    fn replay_chunk(&mut self, to: u64) -> Result<(), ReadError> {
        let mut purged = Vec::new();
        let mut last = self.applied;
        let replayed = {
            let mut state = self.parts.state.write();
            let store = self.parts.store.as_ref();
            replay_range(store, &self.parts.vault, self.applied + 1, to, &mut |e| {
                apply_one(&mut state, e, &mut purged);
                last = e.position;
            })
        };
        self.applied(last, &purged);
        replayed
    }

    /// Records that everything up to `to` is applied and wakes whoever waits for those
    /// positions (streams, `min_position` reads). R13: a purged user's key is gone from
    /// memory here too (the leader destroyed the stored one before answering the purge).
    fn applied(&mut self, to: u64, purged: &[UserId]) {
        for user in purged {
            self.parts.vault.forget_user_key(*user);
        }
        self.applied = to;
        self.parts.committed.send_replace(to);
    }

    fn report(&self, leader: Option<String>, head: u64) {
        let lag = head.saturating_sub(self.applied);
        let role = if lag > CATCHING_UP_LAG {
            Role::CatchingUp {
                position: self.applied,
                target: head,
                leader,
            }
        } else {
            Role::Follower { leader, lag }
        };
        self.role.send_if_modified(|now| {
            let changed = *now != role;
            *now = role;
            changed
        });
    }

    /// Takes over as the leader, holding `lock`: migrates the schema, reads the log to
    /// its end, loads every key, starts the writer, publishes this node's URL.
    pub fn promote(&mut self, _held: &WriterLock) -> Result<(), ReadError> {
        schema::migrate(&self.pool)?;
        wait_for_earlier_writers(&self.pool)?;
        self.catch_up()?;
        self.parts.vault.reload()?;
        self.parts.vault.follow(false);
        super::finish_interrupted_purges(&self.parts.vault, &self.parts.state.read())?;
        self.parts.health.reset();
        self.parts.start_writer()?;
        publish_leader(&self.pool, &self.advertise)?;
        self.contact.seen();
        self.role.send_replace(Role::Leader);
        tracing::info!(
            position = self.applied,
            "offboard: this node leads (it holds the writer lock)"
        );
        Ok(())
    }

    /// Leads until stopped or until leadership is lost.
    fn lead(&self, lock: &WriterLock) -> Ended {
        let mut checked = Instant::now();
        loop {
            if self.stopping() {
                return Ended::Stopping;
            }
            std::thread::sleep(Duration::from_millis(50));
            if lock.lost() {
                return Ended::Lost("the writer lock's session ended".to_owned());
            }
            if let Some(refusal) = self.parts.health.refusal() {
                return Ended::Lost(format!("{}: {}", refusal.code, refusal.reason));
            }
            if checked.elapsed() < CHECK_EVERY {
                continue;
            }
            checked = Instant::now();
            if !lock.alive(SESSION_PATIENCE) {
                return Ended::Lost("the writer lock's session stopped answering".to_owned());
            }
            self.contact.seen();
        }
    }

    /// Stops leading: commands are answered `not_leader` at once, the writer stops
    /// without saving a checkpoint, and following resumes from the last durable position.
    fn step_down(&mut self, why: &str) {
        tracing::warn!("offboard: stepping down as leader ({why}); following the log");
        self.back_to_following(why);
    }

    /// What stepping down and a failed takeover share: commands answered `not_leader`,
    /// the writer (if started) stopped without saving a checkpoint, keys and projections
    /// due to be reloaded from the store before the next round of following.
    fn back_to_following(&mut self, why: &str) {
        self.role.send_replace(Role::Follower {
            leader: None,
            lag: 0,
        });
        // A refusal keeps the writer from saving a checkpoint as it stops.
        self.parts
            .health
            .refuse(Refusal::storage(format!("stepped down as leader: {why}")));
        self.parts.stop_writer();
        self.parts.health.reset();
        self.parts.vault.follow(true);
        self.reload_keys = true;
        self.applied = *self.parts.committed.borrow();
    }
}
