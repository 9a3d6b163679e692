//! The history role: owns workflow executions. Every change to a run is one transition —
//! lock, load, apply, persist events + state + outbox tasks in one transaction, unlock — and
//! queue processors drain the outbox: workflow and activity tasks to matching, durable timers,
//! visibility rows.

// Deprecated proto fields (binary checksums, worker version stamps) are still part of the wire
// format that SDKs send and read back from history, so they are carried through.
#![allow(deprecated)]

mod activity;
mod chain;
mod children;
mod command_checks;
mod commands;
mod committer;
mod events;
mod handler;
mod limits;
mod mutation;
mod queues;
mod read;
mod reaper;
mod reset;
mod retry;
mod shard;
mod signals;
mod start;
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
use sundial_persistence::Store;
use sundial_rpc::{MatchingClient, MatchingRouter};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::task::JoinHandle;

#[derive(Clone, Debug, Default)]
pub struct HistoryConfig {
    pub shard_count: i32,
    /// Per-namespace defaults and limits, read live (timeouts, retry policy, sizes, long polls).
    pub dynamic_config: sundial_dynconfig::DynamicConfig,
}

/// How often the supervisor checks that every shard's processors still run.
const SUPERVISE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// One shard of this process: the owner object requests go to, and its queue processors.
struct ShardSlot {
    current: RwLock<Arc<Shard>>,
    loops: Mutex<Vec<JoinHandle<()>>>,
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
    config: HistoryConfig,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl HistoryEngine {
    /// Acquires every shard, starts their queue processors and the supervisor that reopens a
    /// shard whose processor stopped.
    pub async fn start(
        store: Arc<dyn Store>,
        matching: MatchingRouter,
        config: HistoryConfig,
    ) -> Result<Arc<HistoryEngine>, ServiceError> {
        let owner = format!("history-{}", uuid::Uuid::new_v4());
        let mut opened = Vec::new();
        for id in 0..config.shard_count.max(1) {
            opened.push(open(id, &store, &owner, &config).await?);
        }
        let engine = Arc::new(HistoryEngine {
            shards: opened
                .iter()
                .map(|o| ShardSlot {
                    current: RwLock::new(o.shard.clone()),
                    loops: Mutex::new(Vec::new()),
                })
                .collect(),
            store,
            owner,
            matching,
            config,
            supervisor: Mutex::new(None),
        });
        for (slot, o) in engine.shards.iter().zip(opened) {
            *lock(&slot.loops) = queues::spawn(&engine, o.shard, o.transfer, o.timer, o.visibility);
        }
        *lock(&engine.supervisor) = Some(tokio::spawn(supervise(Arc::downgrade(&engine))));
        Ok(engine)
    }

    /// Stops the queue processors. Pending tasks stay in the database for the next owner.
    pub fn shutdown(&self) {
        if let Some(h) = lock(&self.supervisor).take() {
            h.abort();
        }
        for slot in &self.shards {
            for h in lock(&slot.loops).drain(..) {
                h.abort();
            }
        }
    }

    pub(crate) fn shard(&self, namespace_id: &str, workflow_id: &str) -> Arc<Shard> {
        let idx = sundial_common::shard_for(namespace_id, workflow_id, self.shards.len() as i32);
        self.shards[idx as usize]
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Takes shard `id` over again from the database: a new lease (the old owner object is
    /// fenced off), an empty cache and new processors that read every pending task.
    async fn reopen(self: &Arc<Self>, id: usize) -> Result<(), ServiceError> {
        let shard_id = i32::try_from(id).unwrap_or(i32::MAX);
        let o = open(shard_id, &self.store, &self.owner, &self.config).await?;
        let slot = &self.shards[id];
        let loops = queues::spawn(self, o.shard.clone(), o.transfer, o.timer, o.visibility);
        *slot.current.write().unwrap_or_else(|p| p.into_inner()) = o.shard;
        for h in std::mem::replace(&mut *lock(&slot.loops), loops) {
            h.abort();
        }
        Ok(())
    }

    /// The matching host that owns the task queue.
    pub(crate) fn matching(&self, namespace_id: &str, task_queue: &str) -> Result<MatchingClient, ServiceError> {
        self.matching
            .for_task_queue(namespace_id, task_queue)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
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
        let shard = self.shard(namespace_id, workflow_id);
        match shard
            .store
            .get_current_execution(shard.id, namespace_id, workflow_id)
            .await?
        {
            Some(current) => Ok(RunKey::new(namespace_id, workflow_id, current.run_id)),
            None => Err(ServiceError::NotFound(format!(
                "workflow not found for ID: {workflow_id}"
            ))),
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
    let shard = Shard::acquire(id, store.clone(), owner, inbox, config.dynamic_config.clone()).await?;
    Ok(Opened {
        shard,
        transfer,
        timer,
        visibility,
    })
}

/// Reopens any shard one of whose queue processors stopped (they stop only by panicking),
/// so a shard never silently stops firing timers or dispatching tasks.
async fn supervise(engine: Weak<HistoryEngine>) {
    let mut tick = tokio::time::interval(SUPERVISE_INTERVAL);
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else { return };
        for id in 0..engine.shards.len() {
            let stopped = lock(&engine.shards[id].loops).iter().any(JoinHandle::is_finished);
            if !stopped {
                continue;
            }
            tracing::error!(
                shard = id,
                "a queue processor of the shard stopped; reopening the shard"
            );
            if let Err(e) = engine.reopen(id).await {
                tracing::error!(shard = id, error = %e, "cannot reopen the shard; retrying");
            }
        }
    }
}
