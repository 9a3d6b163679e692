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
#[derive(Clone)]
pub struct MatchingConfig {
    /// How long a poll waits for a task before it returns an empty response
    /// (`matching.longPollExpirationInterval`); a shorter gRPC deadline wins.
    pub long_poll_timeout: Duration,
    /// A sticky queue accepts adds only if a worker polled it this recently; otherwise history
    /// falls back to the normal queue.
    pub sticky_poller_window: Duration,
    /// Live settings; `matching.longPollExpirationInterval` per task queue overrides
    /// `long_poll_timeout` when set.
    pub dynamic_config: Option<sundial_dynconfig::DynamicConfig>,
}

impl MatchingConfig {
    /// How long a poll on `queue` may wait for a task.
    pub fn long_poll(&self, namespace: &str, queue: &str, task_type: sundial_dynconfig::TaskType) -> Duration {
        match &self.dynamic_config {
            Some(dc) => dc.get(
                &sundial_dynconfig::keys::MATCHING_LONG_POLL_EXPIRATION_INTERVAL,
                &sundial_dynconfig::Scope::task_queue(namespace, queue, task_type),
            ),
            None => self.long_poll_timeout,
        }
    }
}

impl Default for MatchingConfig {
    fn default() -> Self {
        Self {
            long_poll_timeout: Duration::from_secs(60),
            sticky_poller_window: Duration::from_secs(10),
            dynamic_config: None,
        }
    }
}
