//! Storage calls with a deadline. sled can block for good inside a flush when the disk
//! is full (its `make_stable` waits on a condition no failed write signals), and the
//! writer holds the state's lock until each group's outcome is known, so one such call
//! used to hang every reader and SIGTERM with it. Each pipeline stage therefore calls
//! the store on a thread of its own and waits at most [`Options::storage_patience`]
//! (`crate::Options`): past it, the call's outcome is unknown, the engine stops
//! accepting writes, and the stuck thread is left behind (it holds nothing but the
//! store). A call that moves many bytes (an import of 100,000 users) gets more time, in
//! proportion: [`Options::slowest_disk`] (`crate::Options`) says how fast a healthy disk
//! writes at the least.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

type Task = Box<dyn FnOnce() + Send>;

/// One helper thread running a stage's storage calls, one at a time.
pub(crate) struct Patient {
    tasks: Sender<Task>,
    patience: Duration,
    /// Bytes a second a healthy disk writes at the least (0: no allowance for size).
    slowest_disk: u64,
    /// Set once a call overran: every later call fails at once with this.
    stalled: Option<String>,
}

impl Patient {
    /// Starts the helper thread `name`: each call may take `patience`, plus one second
    /// for every `slowest_disk` bytes it moves.
    pub fn start(name: &str, patience: Duration, slowest_disk: u64) -> std::io::Result<Self> {
        let (tasks, queue) = mpsc::channel::<Task>();
        // Detached on purpose: a stuck call must not be joined.
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || queue.into_iter().for_each(|task| task()))?;
        Ok(Self {
            tasks,
            patience,
            slowest_disk,
            stalled: None,
        })
    }

    /// How long a call moving `bytes` may take.
    fn patience_for(&self, bytes: u64) -> Duration {
        match self.slowest_disk {
            0 => self.patience,
            rate => self.patience + Duration::from_secs_f64(bytes as f64 / rate as f64),
        }
    }

    /// Runs `call`, which moves about `bytes` to the disk, on the helper thread; `Err`
    /// (saying `what` overran or could not run) when it did not return within the
    /// patience for that size, or an earlier call did not.
    pub fn run<T: Send + 'static>(
        &mut self,
        what: &str,
        bytes: u64,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        if let Some(why) = &self.stalled {
            return Err(why.clone());
        }
        let (done, result) = mpsc::sync_channel(1);
        let task: Task = Box::new(move || {
            let _ = done.send(call());
        });
        if self.tasks.send(task).is_err() {
            return Err(format!("{what}: the storage thread is gone"));
        }
        let patience = self.patience_for(bytes);
        match result.recv_timeout(patience) {
            Ok(value) => Ok(value),
            Err(RecvTimeoutError::Timeout) => {
                let why = format!(
                    "{what} did not finish within {} s (a full or failing disk?)",
                    patience.as_secs_f64()
                );
                self.stalled = Some(why.clone());
                Err(why)
            }
            Err(RecvTimeoutError::Disconnected) => Err(format!("{what} panicked")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_overruns_fails_and_so_does_every_later_one() {
        let mut patient = Patient::start("test-patient", Duration::from_millis(50), 0).unwrap();
        assert_eq!(patient.run("quick", 0, || 7), Ok(7));
        let (release, stuck) = mpsc::channel::<()>();
        let overrun = patient.run("a stuck flush", 0, move || stuck.recv().is_ok());
        assert!(overrun
            .unwrap_err()
            .contains("a stuck flush did not finish"));
        assert!(
            patient.run("quick", 0, || 7).is_err(),
            "a later call was run"
        );
        drop(release);
    }

    #[test]
    fn a_call_moving_more_bytes_may_take_longer_in_proportion() {
        // Given 50 ms of patience and a disk of at least 1,000 bytes a second
        let mut patient = Patient::start("test-patient", Duration::from_millis(50), 1_000).unwrap();
        let slow = || std::thread::sleep(Duration::from_millis(200));
        // When a call moving 500 bytes takes 200 ms, then it is within its 550 ms
        assert_eq!(patient.run("a big write", 500, slow), Ok(()));
        // and the same call moving nothing overruns its 50 ms.
        let overrun = patient.run("a small write", 0, slow).unwrap_err();
        assert!(overrun.contains("within 0.05 s"), "{overrun}");
    }
}
