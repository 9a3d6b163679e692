//! Scavengers, run every `worker.scavengerInterval` by the worker process the ring gives the
//! job to: task-queue rows nobody uses (released or with a dead lease holder, no backlog, no
//! metadata write for `worker.taskQueueIdleRetention`, a tenth of that for sticky queues),
//! backlog tasks whose run is gone, history of runs that are gone, and expired membership
//! rows. Each kind is bounded per run and logged with what it removed.

use crate::cluster::{Cluster, PassError};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use sundial_common::time::{now_nanos, timestamp_to_nanos};
use sundial_dynconfig::{DynamicConfig, Scope, keys};
use sundial_persistence::{ExecutionKey, TaskQueueKey, TaskQueueRow};
use tokio::task::JoinHandle;

/// Rows looked at per kind and run; the rest waits for the next run.
const MAX_ROWS: usize = 10_000;
const PAGE: usize = 500;
/// How long a membership row may go without a heartbeat and still count as a live holder.
const LIVE_WITHIN: Duration = sundial_membership::MEMBER_TIMEOUT;
/// The `kind` of a sticky task queue in `TaskQueueInfo`.
const STICKY_KIND: i32 = 2;

pub(crate) struct Scavenger {
    cluster: Arc<Cluster>,
    dc: DynamicConfig,
    shard_count: i32,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Swept {
    pub task_queues: u64,
    pub tasks: u64,
    pub history_rows: u64,
    pub members: u64,
}

impl Scavenger {
    pub(crate) fn spawn(cluster: Arc<Cluster>, dc: DynamicConfig, shard_count: i32) -> JoinHandle<()> {
        let scavenger = Scavenger {
            cluster,
            dc,
            shard_count,
        };
        tokio::spawn(async move {
            loop {
                let interval = scavenger.dc.get(&keys::WORKER_SCAVENGER_INTERVAL, &Scope::global());
                tokio::time::sleep(interval.max(Duration::from_secs(1))).await;
                if !scavenger.cluster.owns("scavenger") {
                    continue;
                }
                match scavenger.run().await {
                    Ok(swept) if swept != Swept::default() => tracing::info!(
                        task_queues = swept.task_queues,
                        tasks = swept.tasks,
                        history_rows = swept.history_rows,
                        members = swept.members,
                        "scavengers removed leftovers"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "a scavenger failed; it runs again next interval"),
                }
            }
        })
    }

    pub(crate) async fn run(&self) -> Result<Swept, PassError> {
        let store = &self.cluster.store;
        let now = now_nanos();
        let live: HashSet<String> = store
            .list_members(
                None,
                now.saturating_sub(i64::try_from(LIVE_WITHIN.as_nanos()).unwrap_or(i64::MAX)),
            )
            .await?
            .into_iter()
            .map(|m| m.host_id)
            .collect();
        let retention = self.dc.get(&keys::WORKER_TASK_QUEUE_IDLE_RETENTION, &Scope::global());
        let retention = i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX);
        let idle = |row: &TaskQueueRow| {
            let holder_gone = row.owner.is_empty() || !live.contains(&row.owner);
            let keep_for = if row.info.kind == STICKY_KIND {
                retention / 10
            } else {
                retention
            };
            let last = row.info.last_update_time.as_ref().map_or(0, timestamp_to_nanos);
            holder_gone && now.saturating_sub(last) >= keep_for
        };
        let mut swept = Swept::default();

        let mut after = None;
        let mut seen = 0;
        while seen < MAX_ROWS {
            let page = store.task_queue_page(after.take(), PAGE).await?;
            seen += page.len();
            for row in &page {
                if idle(row) && store.delete_idle_task_queue(row).await? {
                    swept.task_queues += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some((last.range_hash, last.task_queue_id.clone())),
                _ => break,
            }
        }

        let mut after = None;
        let mut seen = 0;
        while seen < MAX_ROWS {
            let page = store.task_page(after.take(), PAGE).await?;
            seen += page.len();
            for task in &page {
                let Some(execution) = task.info.execution.as_ref() else {
                    continue;
                };
                let Some(namespace_id) = TaskQueueKey::namespace_of(&task.task_queue_id) else {
                    continue;
                };
                let key = ExecutionKey {
                    shard_id: sundial_common::shard_for(&namespace_id, &execution.workflow_id, self.shard_count),
                    namespace_id: namespace_id.clone(),
                    workflow_id: execution.workflow_id.clone(),
                    run_id: execution.run_id.clone(),
                };
                if !namespace_id.is_empty() && store.get_execution(&key).await?.is_none() {
                    store
                        .delete_task(task.range_hash, &task.task_queue_id, task.task_id)
                        .await?;
                    swept.tasks += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => {
                    after = Some((last.range_hash, last.task_queue_id.clone(), last.task_id));
                }
                _ => break,
            }
        }

        swept.history_rows = store.delete_orphan_history(MAX_ROWS).await?;
        swept.members = store.prune_members(now).await?;
        Ok(swept)
    }
}
