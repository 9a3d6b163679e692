//! Crash points for fault tests: `SUNDIAL_CRASH_AT=NAME[:N]` makes the process abort (as a
//! `kill -9` would, no unwinding, no clean-up) the N-th time (default 1st) execution passes
//! `crash::point(NAME)`. Unset, a point costs one relaxed atomic load.
//!
//! Points (each sits where a crash is most likely to lose acknowledged work):
//! - `history.before_commit`: a transition is built, its transaction not yet committed.
//! - `history.after_commit`: the transaction committed, the caller not yet answered.
//! - `matching.after_record_started`: history recorded the task started, the poller not yet
//!   answered.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

struct Armed {
    name: String,
    /// Hits left before the abort.
    remaining: AtomicU64,
}

/// Read once from the environment; the variable is a test hook, never set in production.
fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var("SUNDIAL_CRASH_AT").ok()?;
            let (name, n) = match spec.split_once(':') {
                Some((name, n)) => (name, n.trim().parse::<u64>().ok()?.max(1)),
                None => (spec.as_str(), 1),
            };
            Some(Armed {
                name: name.trim().to_owned(),
                remaining: AtomicU64::new(n),
            })
        })
        .as_ref()
}

/// Aborts the process here if `SUNDIAL_CRASH_AT` names this point and its count is reached.
pub fn point(name: &str) {
    let Some(armed) = armed() else { return };
    if armed.name != name {
        return;
    }
    if armed.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
        eprintln!("sundial: crash point {name} reached; aborting");
        std::process::abort();
    }
}
