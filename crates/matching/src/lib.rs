//! The matching role: task-queue partitions that pair tasks added by history with workers'
//! long polls. A task goes straight to a waiting poller when there is one (sync match, nothing
//! written) and to the persisted backlog otherwise; partitions are leased with a `range_id` so
//! two matching owners can never both write a backlog.

mod engine;
mod error;
mod handler;
mod partition;
mod query;

pub use engine::MatchingEngine;
pub use error::MatchingError;
pub use handler::MatchingHandler;

use std::time::Duration;

/// Tunables of the matching role. Defaults are Temporal's.
#[derive(Clone, Debug)]
pub struct MatchingConfig {
    /// How long a poll waits for a task before it returns an empty response
    /// (`matching.longPollExpirationInterval`); a shorter gRPC deadline wins.
    pub long_poll_timeout: Duration,
    /// A sticky queue accepts adds only if a worker polled it this recently; otherwise history
    /// falls back to the normal queue.
    pub sticky_poller_window: Duration,
}

impl Default for MatchingConfig {
    fn default() -> Self {
        Self {
            long_poll_timeout: Duration::from_secs(60),
            sticky_poller_window: Duration::from_secs(10),
        }
    }
}
