//! The system worker role. It runs the jobs Temporal's worker service runs with system
//! workflows as native loops instead: the scheduler, which fires schedules' actions, and the
//! batcher, which runs batch operations, the reclaimer, which deletes what a deleted
//! namespace held, and the scavengers.
//! It is a client of the public API (it starts, describes, cancels and terminates workflows
//! through a frontend, so every start gets the frontend's validation and defaults) and of the
//! `schedules` and `batch_operations` tables. Each schedule and each batch job is worked on by
//! the one worker process the worker ring gives it to.

mod batcher;
mod cluster;
mod reclaimer;
mod scavenger;
mod scheduler;

pub use cluster::WorkerConfig;
use std::sync::Arc;
use sundial_persistence::Store;
use tokio::task::JoinHandle;

/// Starts every system job of this worker process; they end when the handles are aborted.
pub fn spawn(store: Arc<dyn Store>, config: WorkerConfig) -> Vec<JoinHandle<()>> {
    let (dc, shards) = (config.dynamic_config.clone(), config.shard_count);
    let cluster = cluster::Cluster::new(store, config);
    vec![
        scheduler::Scheduler::spawn(cluster.clone()),
        batcher::Batcher::spawn(cluster.clone()),
        reclaimer::Reclaimer::spawn(cluster.clone()),
        scavenger::Scavenger::spawn(cluster, dc, shards),
    ]
}
