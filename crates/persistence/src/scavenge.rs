//! What the system worker's scavengers read and delete: task-queue rows nobody uses any more,
//! backlog tasks of workflows that are gone, history of runs that are gone, and expired
//! membership rows. Every delete re-checks its condition in the same statement, so a row that
//! came back into use meanwhile stays.

use crate::Result;
use async_trait::async_trait;
use sundial_api::sundial::matchingservice::v1::{TaskInfo, TaskQueueInfo};

/// A `task_queues` row as the scavenger sees it.
#[derive(Clone, Debug)]
pub struct TaskQueueRow {
    pub range_hash: i64,
    pub task_queue_id: Vec<u8>,
    pub range_id: i64,
    /// The lease holder's host id; empty when released.
    pub owner: String,
    pub info: TaskQueueInfo,
}

/// A backlog task as the scavenger sees it.
#[derive(Clone, Debug)]
pub struct TaskRow {
    pub range_hash: i64,
    pub task_queue_id: Vec<u8>,
    pub task_id: i64,
    pub info: TaskInfo,
}

#[async_trait]
pub trait ScavengeStore: Send + Sync {
    /// `task_queues` rows in key order after `after`, at most `limit`.
    async fn task_queue_page(&self, after: Option<(i64, Vec<u8>)>, limit: usize) -> Result<Vec<TaskQueueRow>>;

    /// Deletes the row if it is still at `range_id` with `owner` and has no backlog tasks;
    /// true if it went.
    async fn delete_idle_task_queue(&self, row: &TaskQueueRow) -> Result<bool>;

    /// Backlog tasks in key order after `after`, at most `limit`.
    async fn task_page(&self, after: Option<(i64, Vec<u8>, i64)>, limit: usize) -> Result<Vec<TaskRow>>;

    async fn delete_task(&self, range_hash: i64, task_queue_id: &[u8], task_id: i64) -> Result<()>;

    /// Deletes history of up to `limit` runs that have no execution row; returns how many
    /// history rows went.
    async fn delete_orphan_history(&self, limit: usize) -> Result<u64>;

    /// Deletes membership rows whose expiry passed; returns how many.
    async fn prune_members(&self, now: i64) -> Result<u64>;
}
