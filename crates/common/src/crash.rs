//! Crash points for fault tests: `SUNDIAL_CRASH_AT=NAME[:N]` makes the process abort (as a
//! `kill -9` would, no unwinding, no clean-up) the N-th time (default 1st) execution passes
//! `crash::point(NAME)`. `SUNDIAL_PANIC_AT=NAME[:N]` makes `crash::panic_point(NAME)` panic
//! instead, to test that a panicking task is contained. Unset, a point costs one load.
//!
//! Points (each sits where a crash is most likely to lose acknowledged work):
//! - `history.before_commit`: a transition is built, its transaction not yet committed.
//! - `history.after_commit`: the transaction committed, the caller not yet answered.
//! - `matching.after_record_started`: history recorded the task started, the poller not yet
//!   answered.
//! - `history.before_nexus_callback`: a Nexus handler's workflow closed (committed), its
//!   completion not yet delivered to the caller's operation.
//!
//! Panic points: `history.timer_loop` (the loop of a shard's timer queue).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

struct Armed {
    name: String,
    /// Hits left before the abort.
    remaining: AtomicU64,
}

/// Read once from the environment; the variables are test hooks, never set in production.
fn armed(var: &str) -> Option<Armed> {
    let spec = std::env::var(var).ok()?;
    let (name, n) = match spec.split_once(':') {
        Some((name, n)) => (name, n.trim().parse::<u64>().ok()?.max(1)),
        None => (spec.as_str(), 1),
    };
    Some(Armed {
        name: name.trim().to_owned(),
        remaining: AtomicU64::new(n),
    })
}

/// Whether this pass through point `name` is the one `armed` waits for.
fn reached(armed: Option<&Armed>, name: &str) -> bool {
    armed.is_some_and(|a| a.name == name && a.remaining.fetch_sub(1, Ordering::AcqRel) == 1)
}

/// Aborts the process here if `SUNDIAL_CRASH_AT` names this point and its count is reached.
pub fn point(name: &str) {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    if reached(ARMED.get_or_init(|| armed("SUNDIAL_CRASH_AT")).as_ref(), name) {
        eprintln!("sundial: crash point {name} reached; aborting");
        std::process::abort();
    }
}

/// Panics here if `SUNDIAL_PANIC_AT` names this point and its count is reached.
pub fn panic_point(name: &str) {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    if reached(ARMED.get_or_init(|| armed("SUNDIAL_PANIC_AT")).as_ref(), name) {
        panic!("panic point {name} reached");
    }
}
