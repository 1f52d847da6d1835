//! Storage calls with a deadline. sled can block for good inside a flush when the disk
//! is full (its `make_stable` waits on a condition no failed write signals), and a
//! PostgreSQL write can wait for good on a partitioned network, while the writer holds
//! the state's lock until each group's outcome is known. So every pipeline stage calls
//! the store through a [`Patient`], which may take [`Options::storage_patience`]
//! (`crate::Options`), plus time in proportion to the bytes it moves
//! ([`Options::slowest_disk`], `crate::Options`).
//!
//! The call runs on the stage's own thread: handing it to a helper thread and waiting
//! for it there cost two thread wake-ups per call, three stages a group, and on a busy
//! two-core machine each wake-up waits its turn for a core (0.2 ms of a 0.9 ms sync
//! under 64 HTTP clients; `docs/performance.md`). Instead one [`Watchdog`] thread per
//! pipeline looks at the calls under way a few times per patience. A call past its
//! deadline is a **stall**: the engine stops accepting writes, every later call of that
//! stage fails at once, and the pipeline's [`Stall`] signal fires. The stage's thread
//! may stay stuck in the call for good, holding the groups in its hands and behind it,
//! so those who wait for them listen for that signal instead of their answers: the
//! writer settles every group in flight as of unknown outcome (putting the state back
//! to what is durable, so readers get in) and does not wait for the stuck thread at
//! shutdown; each command still waiting hears `outcome_unknown` (`Engine::submit`). A
//! call that returns late, after its deadline, fails the same way.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::health::{Health, Refusal};

/// Why a pipeline stalled, once it has: a `tokio` watch the writer and every command
/// waiting for an answer listen to. `None` while every call keeps its deadline.
pub(crate) type Stall = watch::Receiver<Option<String>>;

/// Looks at one pipeline's calls under way; see the module's header.
pub(crate) struct Watchdog {
    calls: Mutex<Vec<Weak<Call>>>,
    stall: watch::Sender<Option<String>>,
    health: Arc<Health>,
}

/// One stage's call under way, if any, and whether it stalled.
#[derive(Default)]
struct Call {
    /// What the call does, when it started and how long it may take.
    running: Mutex<Option<(&'static str, Instant, Duration)>>,
    /// Set once a call overran: every later call fails at once with this.
    stalled: OnceLock<String>,
}

/// How often the watchdog looks, for a patience: ten times per patience, at least every
/// 100 ms and at most every 2 ms. A stall is seen at most that late.
fn tick(patience: Duration) -> Duration {
    (patience / 10).clamp(Duration::from_millis(2), Duration::from_millis(100))
}

impl Watchdog {
    /// A watchdog for one pipeline, with the pipeline's stall signal. It watches the
    /// [`Patient`]s made by [`Watchdog::patient`] once [`Watchdog::start`]ed.
    pub fn new(health: Arc<Health>) -> (Arc<Self>, Stall) {
        let (stall, stalled) = watch::channel(None);
        let dog = Arc::new(Self {
            calls: Mutex::new(Vec::new()),
            stall,
            health,
        });
        (dog, stalled)
    }

    /// Starts the thread that looks at the patients' calls, ten times per `patience`
    /// (see [`tick`]); it ends once every patient is dropped, so make them first.
    ///
    /// Errors: the thread cannot start.
    pub fn start(self: &Arc<Self>, patience: Duration) -> std::io::Result<()> {
        let watching = Arc::clone(self);
        std::thread::Builder::new()
            .name("offboard-log-watch".to_owned())
            .spawn(move || watching.watch(tick(patience)))?;
        Ok(())
    }

    /// A patient for one stage: each call may take `patience`, plus one second for every
    /// `slowest_disk` bytes it moves (0: no allowance for size).
    pub fn patient(self: &Arc<Self>, patience: Duration, slowest_disk: u64) -> Patient {
        let call = Arc::new(Call::default());
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&call));
        Patient {
            call,
            dog: Arc::clone(self),
            patience,
            slowest_disk,
        }
    }

    fn watch(&self, every: Duration) {
        loop {
            std::thread::sleep(every);
            let calls: Vec<Arc<Call>> = {
                let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
                calls.retain(|c| c.strong_count() > 0);
                calls.iter().filter_map(Weak::upgrade).collect()
            };
            if calls.is_empty() {
                return;
            }
            for call in calls {
                let running = *call.running.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((what, started, patience)) = running {
                    if started.elapsed() > patience {
                        self.stalled(&call, what, patience);
                    }
                }
            }
        }
    }

    /// Marks `call`'s stage stalled (once), stops writes, and fires the signal.
    fn stalled(&self, call: &Call, what: &str, patience: Duration) -> String {
        let why = call
            .stalled
            .get_or_init(|| {
                format!(
                    "{what} did not finish within {} s (a full or failing disk?)",
                    patience.as_secs_f64()
                )
            })
            .clone();
        // Writes stop before anyone hears of the stall, so nothing decided after it
        // is accepted.
        self.health.refuse(Refusal::storage(why.clone()));
        self.stall.send_if_modified(|held| {
            let first = held.is_none();
            if first {
                *held = Some(why.clone());
            }
            first
        });
        why
    }
}

/// Runs one stage's storage calls with a deadline; see the module's header.
pub(crate) struct Patient {
    call: Arc<Call>,
    dog: Arc<Watchdog>,
    patience: Duration,
    /// Bytes a second a healthy disk writes at the least (0: no allowance for size).
    slowest_disk: u64,
}

impl Patient {
    /// How long a call moving `bytes` may take.
    fn patience_for(&self, bytes: u64) -> Duration {
        match self.slowest_disk {
            0 => self.patience,
            rate => self.patience + Duration::from_secs_f64(bytes as f64 / rate as f64),
        }
    }

    /// Runs `call`, which moves about `bytes` to the disk, on this thread; `Err` (saying
    /// `what` overran) when it did not return within the patience for that size, or an
    /// earlier call of this stage did not (then `call` does not run).
    pub fn run<T>(
        &mut self,
        what: &'static str,
        bytes: u64,
        call: impl FnOnce() -> T,
    ) -> Result<T, String> {
        if let Some(why) = self.call.stalled.get() {
            return Err(why.clone());
        }
        let patience = self.patience_for(bytes);
        let started = Instant::now();
        self.set_running(Some((what, started, patience)));
        let value = call();
        self.set_running(None);
        if let Some(why) = self.call.stalled.get() {
            return Err(why.clone());
        }
        if started.elapsed() > patience {
            // Back before the watchdog looked: late all the same.
            return Err(self.dog.stalled(&self.call, what, patience));
        }
        Ok(value)
    }

    fn set_running(&self, running: Option<(&'static str, Instant, Duration)>) {
        *self.call.running.lock().unwrap_or_else(|p| p.into_inner()) = running;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A started watchdog of `patience_ms` with one patient.
    fn watchdog(patience_ms: u64, slowest_disk: u64) -> (Patient, Stall, Arc<Health>) {
        let health = Arc::new(Health::default());
        let (dog, stall) = Watchdog::new(Arc::clone(&health));
        let patience = Duration::from_millis(patience_ms);
        let patient = dog.patient(patience, slowest_disk);
        dog.start(patience).unwrap();
        (patient, stall, health)
    }

    #[test]
    fn a_call_that_overruns_fails_and_so_does_every_later_one() {
        let (mut patient, _, _) = watchdog(50, 0);
        assert_eq!(patient.run("quick", 0, || 7), Ok(7));
        let overrun = patient.run("a stuck flush", 0, || {
            std::thread::sleep(Duration::from_millis(120))
        });
        assert!(overrun
            .unwrap_err()
            .contains("a stuck flush did not finish within 0.05 s"));
        let mut ran = false;
        assert!(
            patient.run("quick", 0, || ran = true).is_err(),
            "a later call was let through"
        );
        assert!(!ran, "a later call ran after a stall");
    }

    #[test]
    fn a_call_that_never_returns_stops_writes_and_fires_the_stall_signal_on_time() {
        // Given a pipeline with 100 ms of patience
        let (mut patient, mut stall, health) = watchdog(100, 0);
        let (release, stuck) = mpsc::channel::<()>();
        // When a stage's call never returns
        let started = Instant::now();
        std::thread::spawn(move || {
            let _ = patient.run("syncing the log", 0, move || stuck.recv());
        });
        // Then the signal fires soon after the deadline, saying why, and writes stop.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let why = runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(2), stall.wait_for(Option::is_some))
                    .await
                    .expect("no stall signal")
                    .map(|why| why.clone())
            })
            .unwrap()
            .unwrap();
        assert!(
            why.contains("syncing the log did not finish within 0.1 s"),
            "{why}"
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(health.refusal().unwrap().code, "unavailable");
        drop(release);
    }

    #[test]
    fn a_call_moving_more_bytes_may_take_longer_in_proportion() {
        // Given 50 ms of patience and a disk of at least 1,000 bytes a second
        let (mut patient, _, health) = watchdog(50, 1_000);
        let slow = || std::thread::sleep(Duration::from_millis(200));
        // When a call moving 500 bytes takes 200 ms, then it is within its 550 ms
        assert_eq!(patient.run("a big write", 500, slow), Ok(()));
        assert!(health.accepting());
        // and the same call moving nothing overruns its 50 ms.
        let overrun = patient.run("a small write", 0, slow).unwrap_err();
        assert!(overrun.contains("within 0.05 s"), "{overrun}");
    }

    #[test]
    fn the_watchdog_thread_ends_once_its_patients_are_gone() {
        let (patient, stall, _) = watchdog(20, 0);
        drop(patient);
        // The thread held the watchdog, and with it the signal's sender: once it has
        // ended, the signal is closed.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut stall = stall;
        let closed = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), stall.changed()).await
        });
        assert!(closed.expect("the watchdog thread kept running").is_err());
    }
}
