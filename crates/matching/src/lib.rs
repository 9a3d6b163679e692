//! The matching role: task-queue partitions that pair tasks added by history with workers'
//! long polls. A task goes straight to a waiting poller when there is one (sync match, nothing
//! written) and to the persisted backlog otherwise; partitions are leased with a `range_id` so
//! two matching owners can never both write a backlog.

mod cancel;
mod engine;
mod error;
mod handler;
mod nexus;
mod partition;
mod query;
mod remote;
mod route;
mod workers;

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
    /// Live settings; `matching.longPollExpirationInterval`, where the file sets it for a
    /// queue, overrides `long_poll_timeout`. Without it every setting has its default.
    pub dynamic_config: Option<sundial_dynconfig::DynamicConfig>,
    /// This matching service's address, as the membership ring knows it.
    pub host_address: String,
    /// Recorded on every partition lease this process takes (its membership host id), so
    /// other matching hosts never take a partition from it while it lives.
    pub lease_owner: sundial_persistence::LeaseOwner,
    /// The membership rings: a partition is served only by the matching host the ring gives
    /// its queue to, and unloaded (its lease released) when the ring moves it elsewhere.
    /// `None` serves everything (one matching process, tests).
    pub rings: Option<tokio::sync::watch::Receiver<sundial_membership::Rings>>,
    /// The other matching hosts, for partitions whose parent lives on one of them. Needed
    /// only with `rings`.
    pub peers: Option<sundial_rpc::MatchingRouter>,
}

impl MatchingConfig {
    /// How long a poll on `queue` may wait for a task.
    pub fn long_poll(&self, namespace: &str, queue: &str, task_type: sundial_dynconfig::TaskType) -> Duration {
        let key = &sundial_dynconfig::keys::MATCHING_LONG_POLL_EXPIRATION_INTERVAL;
        let scope = sundial_dynconfig::Scope::task_queue(namespace, queue, task_type);
        match self.dynamic_config.as_ref().map(|dc| dc.snapshot()) {
            Some(snapshot) if snapshot.lookup(&key.def, &scope).is_some() => snapshot.get(key, &scope),
            _ => self.long_poll_timeout,
        }
    }
}

impl Default for MatchingConfig {
    fn default() -> Self {
        Self {
            long_poll_timeout: Duration::from_secs(60),
            sticky_poller_window: Duration::from_secs(10),
            dynamic_config: None,
            host_address: String::new(),
            lease_owner: sundial_persistence::LeaseOwner::default(),
            rings: None,
            peers: None,
        }
    }
}
