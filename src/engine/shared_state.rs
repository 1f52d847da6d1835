//! The projected state, shared by the single writer and every reader.
//!
//! Readers must never see an event that is not yet durable. The writer therefore holds
//! the write lock from deciding a group until every group it has decided is durable;
//! while groups keep coming it keeps deciding the next one during the previous one's
//! flush (the pipeline), so without readers it may hold the lock for a long time. A
//! reader that finds the lock taken says so (`waiting`); the writer then stops deciding,
//! lets the groups in flight become durable, and releases the lock before its next
//! group. A reader thus waits for at most the groups already in flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{
    LockResult, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError, TryLockResult,
};
use std::time::{Duration, Instant};

use offboard_projections::State;

/// How long the writer lets waiting readers go first before it takes the lock again.
const READERS_FIRST: Duration = Duration::from_millis(2);

#[derive(Debug, Default)]
pub(crate) struct SharedState {
    lock: RwLock<State>,
    /// Readers (and outside writers such as `rebuild`) blocked on the lock.
    waiting: AtomicUsize,
}

impl SharedState {
    pub fn new(state: State) -> Self {
        Self {
            lock: RwLock::new(state),
            waiting: AtomicUsize::new(0),
        }
    }

    /// The state as of the last durable group commit.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.acquire(|| self.lock.try_read(), || self.lock.read())
    }

    /// Exclusive access for anyone but the writer (a rebuild swapping the state in).
    pub fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.acquire(|| self.lock.try_write(), || self.lock.write())
    }

    /// Takes the lock at once if it is free; otherwise registers as waiting (so the
    /// writer lets us in at its next point of rest) and blocks.
    fn acquire<G>(
        &self,
        try_lock: impl FnOnce() -> TryLockResult<G>,
        lock: impl FnOnce() -> LockResult<G>,
    ) -> G {
        match try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                let _waiting = Waiting::register(&self.waiting);
                lock().unwrap_or_else(|p| p.into_inner())
            }
        }
    }

    /// The writer's lock: those already waiting go first (for a bounded time, so a
    /// stream of readers cannot starve the writer).
    pub fn writer_lock(&self) -> RwLockWriteGuard<'_, State> {
        let deadline = Instant::now() + READERS_FIRST;
        while self.is_wanted() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        self.lock.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether someone is waiting for the lock the writer holds.
    pub fn is_wanted(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }
}

/// Counts a blocked caller for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn register(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_blocked_reader_is_seen_by_the_writer_and_goes_first() {
        let shared = Arc::new(SharedState::default());
        let held = shared.writer_lock();
        assert!(!shared.is_wanted());
        let reader = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.read().position())
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !shared.is_wanted() {
            assert!(Instant::now() < deadline, "the reader never registered");
            std::thread::yield_now();
        }
        drop(held);
        assert_eq!(reader.join().unwrap(), 0);
        assert!(!shared.is_wanted(), "a reader that got in no longer waits");
    }
}
