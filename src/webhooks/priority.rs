//! The delivery tasks' own threads, at a lower scheduling priority than the writer's.
//!
//! Why: delivery is CPU work the writer should never wait behind — a subscription
//! catching up sends thousands of requests a second, and on a machine of two cores that
//! is a core the writer's group commits would otherwise share. A runtime of its own, its
//! threads [`DELIVERY_NICE`] nice steps below the process (Linux gives each thread its
//! own nice value), lets
//! the kernel's fair scheduler give the writer and the API the CPU first whenever both
//! want it, while delivery still gets all the CPU nobody else wants. Priority alone
//! turned out not to be enough on two cores (two busy loops at nice 19 still cost
//! the writer 11–22 %), so while commands keep the writer busy deliveries are also paced
//! ([`super::pace`]); a fixed cap at all times would slow delivery on an idle machine.
//! Elsewhere than Linux the threads keep the process's priority.

use std::io;

/// How many nice steps the delivery threads sit below the process: 10 takes a thread's
/// weight under Linux's fair scheduler from 1024 to 110, about a tenth of a contended
/// core.
pub const DELIVERY_NICE: i32 = 10;

/// A multi-threaded runtime of `threads` workers named `name`, each of its threads (its
/// blocking pool's too) `nice` steps below the priority of the thread that starts it.
///
/// # Errors
/// The runtime's threads cannot start.
pub fn runtime(name: &str, threads: usize, nice: i32) -> io::Result<tokio::runtime::Runtime> {
    let nice = (current_nice() + nice).min(19);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(name)
        .on_thread_start(move || lower_this_thread(nice))
        .enable_all()
        .build()
}

/// The calling thread's nice value (0 where it cannot be read).
pub fn current_nice() -> i32 {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// Sets the calling thread's nice value to `nice` (raising it needs no privilege). A
/// refusal is logged, not fatal: delivery works at any priority.
pub fn lower_this_thread(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(thread), nice) {
            tracing::warn!(error = %e, nice, "a delivery thread keeps its priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_runtimes_threads_run_at_the_nice_value_given() {
        let here = current_nice();
        let rt = runtime("nice-test", 1, 2).unwrap();
        let nice = rt
            .block_on(async {
                tokio::spawn(async {
                    rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                })
                .await
            })
            .unwrap()
            .unwrap();
        assert_eq!(nice, (here + 2).min(19));
        assert_eq!(
            current_nice(),
            here,
            "the caller's thread keeps its own priority"
        );
    }
}
