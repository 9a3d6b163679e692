//! Task-queue partitions: the `range_id` lease that fences a matching owner, and the persisted
//! backlog of tasks no poller was waiting for.

use crate::Result;
use async_trait::async_trait;
use sundial_api::sundial::matchingservice::v1::{TaskInfo, TaskQueueInfo};

/// Workflow-task queues, numbered as Temporal's `TaskQueueType`.
pub const TASK_TYPE_WORKFLOW: i32 = 1;
/// Activity-task queues, numbered as Temporal's `TaskQueueType`.
pub const TASK_TYPE_ACTIVITY: i32 = 2;
/// Nexus-task queues (never backlogged: Nexus tasks are only sync-matched).
pub const TASK_TYPE_NEXUS: i32 = 3;

/// One task-queue partition: (namespace, name, type) plus the partition number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskQueueKey {
    pub namespace_id: String,
    pub name: String,
    /// `TASK_TYPE_WORKFLOW`, `TASK_TYPE_ACTIVITY` or `TASK_TYPE_NEXUS`.
    pub task_type: i32,
    /// 0 is the root partition (the only one for now).
    pub partition: i32,
}

impl TaskQueueKey {
    pub fn new(namespace_id: impl Into<String>, name: impl Into<String>, task_type: i32) -> Self {
        Self {
            namespace_id: namespace_id.into(),
            name: name.into(),
            task_type,
            partition: 0,
        }
    }

    /// The `task_queue_id` key column: length-prefixed fields, so no name can collide with
    /// another whatever characters it contains.
    pub fn task_queue_id(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.namespace_id.len() + self.name.len() + 16);
        for field in [&self.namespace_id, &self.name] {
            out.extend_from_slice(&(field.len() as u32).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(&self.task_type.to_be_bytes());
        out.extend_from_slice(&self.partition.to_be_bytes());
        out
    }

    /// The namespace id a `task_queue_id` column value names (its first field).
    pub fn namespace_of(task_queue_id: &[u8]) -> Option<String> {
        let len = usize::try_from(u32::from_be_bytes(task_queue_id.get(..4)?.try_into().ok()?)).ok()?;
        let bytes = task_queue_id.get(4..4usize.checked_add(len)?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }

    /// The `range_hash` key column: 32-bit FNV-1a of the id. Stable across versions and
    /// platforms, which matters because it is stored.
    pub fn range_hash(&self) -> i64 {
        let mut hash: u32 = 0x811c_9dc5;
        for b in self.task_queue_id() {
            hash ^= u32::from(b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        i64::from(hash)
    }
}

impl std::fmt::Display for TaskQueueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/type {}/partition {}",
            self.namespace_id, self.name, self.task_type, self.partition
        )
    }
}

/// What a new owner gets from `lease_task_queue`: its fencing token and the stored metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskQueueLease {
    pub range_id: i64,
    pub info: TaskQueueInfo,
}

/// Who asks for a partition lease: a matching process, by its `cluster_membership` host id.
/// A lease recorded for another owner that heartbeated within `member_timeout` is refused,
/// so a live owner is never robbed (it releases a partition it no longer owns by the ring).
/// An empty host id is anonymous (tests, tools): it records no owner; with the default zero
/// timeout it also counts every recorded owner as gone.
#[derive(Clone, Debug, Default)]
pub struct LeaseOwner {
    pub host_id: String,
    pub member_timeout: std::time::Duration,
}

/// One persisted backlog task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    pub task_id: i64,
    pub info: TaskInfo,
}

#[async_trait]
pub trait TaskQueueStore: Send + Sync {
    /// Takes (or re-takes) ownership of a partition: creates its row with `range_id` 1, or bumps
    /// the stored `range_id` by one and records `owner`. Every earlier lease holder is fenced
    /// from then on. `TaskQueueOwned` while another owner that is still live holds it;
    /// `ConditionFailed` if other owners keep winning the race.
    async fn lease_task_queue(&self, key: &TaskQueueKey, owner: &LeaseOwner) -> Result<TaskQueueLease>;

    /// Gives up `owner`'s lease (`range_id`) so the next owner need not wait for this one to
    /// die. A no-op when the lease moved on meanwhile.
    async fn release_task_queue(&self, key: &TaskQueueKey, range_id: i64, owner: &LeaseOwner) -> Result<()>;

    /// Replaces the partition metadata if `range_id` is still the stored one; otherwise
    /// `TaskQueueOwnershipLost`.
    async fn update_task_queue(&self, key: &TaskQueueKey, range_id: i64, info: &TaskQueueInfo) -> Result<()>;

    /// Appends backlog tasks in one transaction, fenced by `range_id` (`TaskQueueOwnershipLost`
    /// when another owner has leased the partition since).
    async fn create_tasks(&self, key: &TaskQueueKey, range_id: i64, tasks: &[(i64, TaskInfo)]) -> Result<()>;

    /// Tasks with `after_task_id < task_id <= up_to_task_id`, in task-id order, at most `limit`.
    async fn get_tasks(
        &self,
        key: &TaskQueueKey,
        after_task_id: i64,
        up_to_task_id: i64,
        limit: usize,
    ) -> Result<Vec<TaskRecord>>;

    /// Deletes up to `limit` tasks with `task_id <= up_to_task_id`, lowest first; returns how
    /// many went. Call again while it returns `limit` to clear a long prefix.
    async fn complete_tasks_up_to(&self, key: &TaskQueueKey, up_to_task_id: i64, limit: usize) -> Result<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unambiguous_and_hashes_stable() {
        let a = TaskQueueKey::new("ns", "ab", TASK_TYPE_WORKFLOW);
        let b = TaskQueueKey::new("nsa", "b", TASK_TYPE_WORKFLOW);
        assert_ne!(a.task_queue_id(), b.task_queue_id());
        let activity = TaskQueueKey::new("ns", "ab", TASK_TYPE_ACTIVITY);
        assert_ne!(a.task_queue_id(), activity.task_queue_id());
        assert_eq!(a.range_hash(), a.clone().range_hash());
        assert!((0..=i64::from(u32::MAX)).contains(&a.range_hash()));
        assert_eq!(TaskQueueKey::namespace_of(&a.task_queue_id()).as_deref(), Some("ns"));
        assert_eq!(TaskQueueKey::namespace_of(&[0, 0, 0, 9, b'x']), None);
        // Pinned: the hash is stored, so changing the function would orphan existing rows.
        assert_eq!(TaskQueueKey::new("", "", 0).range_hash(), 0x6969_1905);
    }
}
