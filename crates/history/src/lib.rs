//! The history role: owns workflow executions. Every change to a run is one transition —
//! lock, load, apply, persist events + state + outbox tasks in one transaction, unlock — and
//! queue processors drain the outbox: workflow and activity tasks to matching, durable timers,
//! visibility rows.

// Deprecated proto fields (binary checksums, worker version stamps) are still part of the wire
// format that SDKs send and read back from history, so they are carried through.
#![allow(deprecated)]

mod activity;
mod activity_ops;
mod chain;
mod children;
mod command_checks;
mod commands;
mod committer;
mod events;
mod handler;
mod limits;
mod mutation;
mod nexus;
mod queues;
mod read;
mod reaper;
mod remote;
mod reset;
mod retry;
mod shard;
mod signals;
mod standalone;
mod start;
/// Unit tests of the state machine: runs driven in memory, no database.
#[cfg(test)]
mod testkit;
mod timers;
mod token;
mod update;
mod updates;
mod workflow_task;

pub use handler::HistoryHandler;

use shard::{QueueInbox, RunKey, Shard};
use std::sync::{Arc, Mutex, RwLock, Weak};
use sundial_api::sundial::persistence::v1::{TimerTask, TransferTask, VisibilityTask};
use sundial_common::ServiceError;
use sundial_membership::Rings;
use sundial_persistence::Store;
use sundial_rpc::{HistoryRouter, MatchingClient, MatchingRouter};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Debug)]
pub struct HistoryConfig {
    pub shard_count: i32,
    /// Per-namespace defaults and limits, read live (timeouts, retry policy, sizes, long polls).
    pub dynamic_config: sundial_dynconfig::DynamicConfig,
    /// The membership rings: this host serves the shards the history ring gives `address`,
    /// following the ring as hosts come and go (a lone history host owns them all).
    pub rings: watch::Receiver<Rings>,
    /// This host's history address as recorded in the membership table.
    pub address: String,
    /// Where shard and workflow-outcome metrics go (a disabled handle when metrics are off).
    pub metrics: sundial_metrics::Metrics,
}

/// How often the controller re-checks ownership and that every shard's processors run.
const CONTROL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// How often a host checks that no other host took the leases of the shards it serves. Its
/// next write would be refused anyway, but a shard it does not write to would otherwise stay
/// with it for good: say it was cut off from the database while another host took the shard
/// and wrote there. Its caches are stale then (reads served from them would be too), and its
/// queues hold none of the tasks the other host left, so those tasks would never run. One
/// small read per host per interval.
const LEASE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
const LEASE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One shard of this host: the owner object requests go to (none while another host owns
/// the shard), and its queue processors.
#[derive(Default)]
struct ShardSlot {
    current: RwLock<Option<Arc<Shard>>>,
    loops: Mutex<Vec<JoinHandle<()>>>,
}

impl ShardSlot {
    fn get(&self) -> Option<Arc<Shard>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A freshly acquired shard and the receiving ends of its queues.
struct Opened {
    shard: Arc<Shard>,
    transfer: UnboundedReceiver<(i64, TransferTask)>,
    timer: UnboundedReceiver<(i64, i64, TimerTask)>,
    visibility: UnboundedReceiver<(i64, VisibilityTask)>,
}

pub struct HistoryEngine {
    shards: Vec<ShardSlot>,
    store: Arc<dyn Store>,
    owner: String,
    matching: MatchingRouter,
    /// Other history hosts, for operations on workflows of shards this host does not own.
    history: HistoryRouter,
    config: HistoryConfig,
    /// The controller and the lease watcher.
    background: Mutex<Vec<JoinHandle<()>>>,
}

impl HistoryEngine {
    /// Acquires the shards this host owns, starts their queue processors, and the controller
    /// that follows ownership (acquiring and releasing shards) and reopens a shard whose
    /// processor stopped or whose lease another host took.
    pub async fn start(
        store: Arc<dyn Store>,
        matching: MatchingRouter,
        history: HistoryRouter,
        config: HistoryConfig,
    ) -> Result<Arc<HistoryEngine>, ServiceError> {
        let owner = format!("history-{}", uuid::Uuid::new_v4());
        let count = usize::try_from(config.shard_count.max(1)).unwrap_or(1);
        let engine = Arc::new(HistoryEngine {
            shards: (0..count).map(|_| ShardSlot::default()).collect(),
            store,
            owner,
            matching,
            history,
            config,
            background: Mutex::new(Vec::new()),
        });
        for id in 0..count {
            if engine.should_own(id) {
                engine.acquire(id).await?;
            }
        }
        engine.config.metrics.set_num_shards(engine.owned_shards().len());
        *lock(&engine.background) = vec![
            tokio::spawn(control(Arc::downgrade(&engine))),
            tokio::spawn(watch_leases(Arc::downgrade(&engine))),
        ];
        Ok(engine)
    }

    /// Stops the queue processors. Pending tasks stay in the database for the next owner.
    pub fn shutdown(&self) {
        for h in lock(&self.background).drain(..) {
            h.abort();
        }
        for slot in &self.shards {
            for h in lock(&slot.loops).drain(..) {
                h.abort();
            }
        }
    }

    /// Which shards this host serves now (an admin view).
    pub fn owned_shards(&self) -> Vec<i32> {
        (0..self.shards.len())
            .filter(|id| self.shards[*id].get().is_some_and(|s| !s.lost()))
            .filter_map(|id| i32::try_from(id).ok())
            .collect()
    }

    /// The shard of the workflow, if this host serves it.
    pub(crate) fn shard(&self, namespace_id: &str, workflow_id: &str) -> Result<Arc<Shard>, ServiceError> {
        let id = sundial_common::shard_for(namespace_id, workflow_id, self.shards.len() as i32);
        match self.shards.get(id as usize).and_then(ShardSlot::get) {
            Some(shard) if !shard.lost() => Ok(shard),
            _ => Err(ServiceError::Unavailable(format!(
                "shard {id} {}; retry",
                sundial_rpc::NOT_SERVED_HERE
            ))),
        }
    }

    /// Whether this host should serve shard `id` now.
    fn should_own(&self, id: usize) -> bool {
        self.config
            .rings
            .borrow()
            .ring(sundial_persistence::Role::History)
            .owner(&sundial_rpc::shard_key(i32::try_from(id).unwrap_or(i32::MAX)))
            .is_some_and(|h| h.address == self.config.address)
    }

    /// Takes shard `id` (over again) from the database: a new lease (any earlier owner object
    /// is fenced off), an empty cache, and new processors that read every pending task.
    async fn acquire(self: &Arc<Self>, id: usize) -> Result<(), ServiceError> {
        let shard_id = i32::try_from(id).unwrap_or(i32::MAX);
        let o = open(shard_id, &self.store, &self.owner, &self.config).await?;
        let slot = &self.shards[id];
        let loops = queues::spawn(self, o.shard.clone(), o.transfer, o.timer, o.visibility);
        let previous = slot.current.write().unwrap_or_else(|p| p.into_inner()).replace(o.shard);
        if let Some(previous) = previous {
            previous.retire();
        }
        for h in std::mem::replace(&mut *lock(&slot.loops), loops) {
            h.abort();
        }
        Ok(())
    }

    /// Stops serving shard `id` (another host owns it now).
    fn release(&self, id: usize) {
        let slot = &self.shards[id];
        if let Some(shard) = slot.current.write().unwrap_or_else(|p| p.into_inner()).take() {
            shard.retire();
        }
        for h in lock(&slot.loops).drain(..) {
            h.abort();
        }
    }

    pub(crate) fn history_router(&self) -> &HistoryRouter {
        &self.history
    }

    /// The matching host that owns the task queue.
    pub(crate) fn matching(&self, namespace_id: &str, task_queue: &str) -> Result<MatchingClient, ServiceError> {
        self.matching
            .for_task_queue(namespace_id, task_queue)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
    }

    /// A partition for a new task of `task_queue`, picked at random among its write partitions
    /// (a sticky queue has one), and the matching host that owns it.
    pub(crate) fn matching_for_add(
        &self,
        namespace: &str,
        namespace_id: &str,
        task_queue: &str,
        sticky: bool,
        task_type: sundial_dynconfig::TaskType,
    ) -> Result<(MatchingClient, i32), ServiceError> {
        let number = if sticky {
            0
        } else {
            let (_, write) = sundial_dynconfig::partition_counts(
                Some(&self.config.dynamic_config),
                namespace,
                namespace_id,
                task_queue,
                task_type,
            );
            sundial_common::partition::pick(write)
        };
        let client = self
            .matching
            .for_partition(namespace_id, task_queue, number)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        Ok((client, number as i32))
    }

    pub(crate) fn config(&self) -> &HistoryConfig {
        &self.config
    }

    /// The run key for (namespace, workflow id, run id); an empty run id means the current run.
    pub(crate) async fn resolve_run(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<RunKey, ServiceError> {
        if !run_id.is_empty() {
            return Ok(RunKey::new(namespace_id, workflow_id, run_id));
        }
        let shard = self.shard(namespace_id, workflow_id)?;
        match shard
            .store
            .get_current_execution(shard.id, namespace_id, workflow_id)
            .await?
        {
            Some(current) => Ok(RunKey::new(namespace_id, workflow_id, current.run_id)),
            None => Err(match sundial_common::standalone::activity_id_of(workflow_id) {
                Some(activity_id) => standalone::not_found(activity_id),
                None => ServiceError::NotFound(format!("workflow not found for ID: {workflow_id}")),
            }),
        }
    }
}

impl Drop for HistoryEngine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Acquires shard `id` with new queues.
async fn open(id: i32, store: &Arc<dyn Store>, owner: &str, config: &HistoryConfig) -> Result<Opened, ServiceError> {
    let (transfer_tx, transfer) = unbounded_channel();
    let (timer_tx, timer) = unbounded_channel();
    let (vis_tx, visibility) = unbounded_channel();
    let inbox = QueueInbox {
        transfer: transfer_tx,
        timer: timer_tx,
        visibility: vis_tx,
    };
    let shard = Shard::acquire(
        id,
        store.clone(),
        owner,
        inbox,
        config.dynamic_config.clone(),
        config.metrics.clone(),
    )
    .await?;
    Ok(Opened {
        shard,
        transfer,
        timer,
        visibility,
    })
}

/// Marks lost every shard this host serves whose lease another host took (see
/// `LEASE_CHECK_INTERVAL`); the controller then reopens or releases it.
async fn watch_leases(engine: Weak<HistoryEngine>) {
    let mut tick = tokio::time::interval(LEASE_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (store, held) = {
            let Some(engine) = engine.upgrade() else { return };
            // Each lease is read before the rows are, so that a renewal in between is seen.
            let held: Vec<_> = engine
                .shards
                .iter()
                .filter_map(ShardSlot::get)
                .filter(|s| !s.lost())
                .filter_map(|s| s.lease().read().map(|reading| (s, reading)))
                .collect();
            (engine.store.clone(), held)
        };
        if held.is_empty() {
            continue;
        }
        // Bounded like the reading it is: one stuck on a dead connection must not keep the
        // next one (on a fresh connection) from being made.
        let read = tokio::time::timeout(LEASE_CHECK_TIMEOUT, store.list_shard_range_ids()).await;
        let stored: std::collections::HashMap<i32, i64> = match read {
            Ok(Ok(rows)) => rows.into_iter().collect(),
            // The database cannot be reached from here (writes fail too); whatever was taken
            // meanwhile is found by the first reading that gets through.
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cannot read the shard leases");
                continue;
            }
            Err(_) => {
                tracing::debug!("cannot read the shard leases: no answer within {LEASE_CHECK_TIMEOUT:?}");
                continue;
            }
        };
        for (shard, reading) in held {
            let row = stored.get(&shard.id).copied();
            if shard.lease().taken(reading, row) {
                tracing::debug!(shard = shard.id, ours = reading.range_id(), stored = ?row, "the shard row holds another lease");
                shard.ownership_lost("the shard row holds another lease");
            }
        }
    }
}

/// Follows ownership: acquires the shards the ring gives this host and releases the others,
/// and reopens a shard whose processor stopped (they stop only by panicking) or whose lease
/// another host took, if this host should still own it.
async fn control(engine: Weak<HistoryEngine>) {
    let mut tick = tokio::time::interval(CONTROL_INTERVAL);
    let mut ring_changes = engine.upgrade().map(|e| e.config.rings.clone());
    loop {
        match ring_changes.as_mut() {
            Some(rx) => {
                tokio::select! {
                    _ = tick.tick() => {}
                    changed = rx.changed() => if changed.is_err() { ring_changes = None },
                }
            }
            None => {
                tick.tick().await;
            }
        }
        let Some(engine) = engine.upgrade() else { return };
        for id in 0..engine.shards.len() {
            let slot = &engine.shards[id];
            let want = engine.should_own(id);
            let held = slot.get();
            let healthy =
                held.as_ref().is_some_and(|s| !s.lost()) && !lock(&slot.loops).iter().any(JoinHandle::is_finished);
            match (want, held.is_some(), healthy) {
                (true, _, true) | (false, false, _) => continue,
                (false, true, _) => {
                    tracing::info!(shard = id, "shard moved to another history host; releasing it");
                    engine.release(id);
                }
                (true, held, _) => {
                    if held {
                        tracing::error!(
                            shard = id,
                            "the shard stopped (lease lost or processor ended); reopening the shard"
                        );
                    } else {
                        tracing::info!(shard = id, "acquiring shard");
                    }
                    if let Err(e) = engine.acquire(id).await {
                        tracing::warn!(shard = id, error = %e, "cannot acquire the shard; retrying");
                    }
                }
            }
        }
        // Every tick, so a lease lost between ticks shows up too.
        engine.config.metrics.set_num_shards(engine.owned_shards().len());
    }
}
