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
mod workflow_task;

pub use handler::HistoryHandler;

use shard::{QueueInbox, RunKey, Shard};
use std::sync::{Arc, Mutex};
use sundial_common::ServiceError;
use sundial_persistence::Store;
use sundial_rpc::MatchingClient;
use tokio::task::JoinHandle;

#[derive(Clone, Debug, Default)]
pub struct HistoryConfig {
    pub shard_count: i32,
    /// Per-namespace defaults and limits, read live (timeouts, retry policy, sizes, long polls).
    pub dynamic_config: sundial_dynconfig::DynamicConfig,
}

pub struct HistoryEngine {
    shards: Vec<Arc<Shard>>,
    matching: MatchingClient,
    config: HistoryConfig,
    background: Mutex<Vec<JoinHandle<()>>>,
}

impl HistoryEngine {
    /// Acquires every shard and starts their queue processors.
    pub async fn start(
        store: Arc<dyn Store>,
        matching: MatchingClient,
        config: HistoryConfig,
    ) -> Result<Arc<HistoryEngine>, ServiceError> {
        let owner = format!("history-{}", uuid::Uuid::new_v4());
        let mut shards = Vec::new();
        let mut receivers = Vec::new();
        for id in 0..config.shard_count.max(1) {
            let (transfer_tx, transfer_rx) = tokio::sync::mpsc::unbounded_channel();
            let (timer_tx, timer_rx) = tokio::sync::mpsc::unbounded_channel();
            let (vis_tx, vis_rx) = tokio::sync::mpsc::unbounded_channel();
            let inbox = QueueInbox {
                transfer: transfer_tx,
                timer: timer_tx,
                visibility: vis_tx,
            };
            shards.push(Shard::acquire(id, store.clone(), &owner, inbox, config.dynamic_config.clone()).await?);
            receivers.push((transfer_rx, timer_rx, vis_rx));
        }
        let engine = Arc::new(HistoryEngine {
            shards,
            matching,
            config,
            background: Mutex::new(Vec::new()),
        });
        let mut handles = Vec::new();
        for (shard, (transfer_rx, timer_rx, vis_rx)) in engine.shards.iter().zip(receivers) {
            handles.extend(queues::spawn(&engine, shard.clone(), transfer_rx, timer_rx, vis_rx).await?);
        }
        engine
            .background
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(handles);
        Ok(engine)
    }

    /// Stops the queue processors. Pending tasks stay in the database for the next owner.
    pub fn shutdown(&self) {
        for h in self.background.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            h.abort();
        }
    }

    pub(crate) fn shard(&self, namespace_id: &str, workflow_id: &str) -> &Arc<Shard> {
        let idx = sundial_common::shard_for(namespace_id, workflow_id, self.shards.len() as i32);
        &self.shards[idx as usize]
    }

    pub(crate) fn matching(&self) -> MatchingClient {
        self.matching.clone()
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
            return Ok((namespace_id.to_owned(), workflow_id.to_owned(), run_id.to_owned()));
        }
        let shard = self.shard(namespace_id, workflow_id);
        match shard
            .store
            .get_current_execution(shard.id, namespace_id, workflow_id)
            .await?
        {
            Some(current) => Ok((namespace_id.to_owned(), workflow_id.to_owned(), current.run_id)),
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
