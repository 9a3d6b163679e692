//! Partitioned task queues. A normal queue has `matching.numTaskqueueWritePartitions` partitions
//! that adds spread over at random, and `matching.numTaskqueueReadPartitions` that polls go to
//! (the one with the fewest waiting pollers). Partition `n > 0` forwards to its parent (the root
//! for up to 20 partitions): a poll waits at its partition and every ancestor at once, an add
//! no local poller takes is offered to pollers waiting at the ancestors before it is written,
//! and backlog nobody polls for locally is handed to pollers waiting at the parent. Sticky
//! queues are never partitioned.

use crate::engine::{MatchingEngine, Poll, Polled, Recorded};
use crate::error::MatchingError;
use crate::partition::{Offer, Partition, PartitionStatus, PollStart, WaitOutcome, WaiterGuard};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use sundial_api::sundial::matchingservice::v1::TaskInfo;
use sundial_common::partition::parent;
use sundial_dynconfig::{Scope, TaskType, keys};
use sundial_persistence::{PersistenceError, TASK_TYPE_ACTIVITY, TaskQueueKey};

/// Partition counts above this are treated as this (a typo of 10000 must not lease 10000 rows).
const MAX_PARTITIONS: i64 = 1000;
const RELOAD_ATTEMPTS: usize = 3;

/// How a wait across a partition chain ended.
enum Waited {
    Offer(Offer),
    TimedOut,
    /// A partition was unloaded under the poller: resolve the chain again.
    Retry,
}

/// What DescribeTaskQueue reports for a queue or one partition.
pub(crate) struct Described {
    /// Identity and last poll (Unix nanos), most recent first.
    pub pollers: Vec<(String, i64)>,
    pub backlog: i64,
    /// The described partition itself (the root for a whole queue), if loaded.
    pub status: Option<PartitionStatus>,
}

fn with_partition(key: &TaskQueueKey, number: u32) -> TaskQueueKey {
    TaskQueueKey {
        partition: number as i32,
        ..key.clone()
    }
}

/// Partition numbers from `number` up to the root.
fn lineage(number: u32) -> Vec<u32> {
    let mut out = vec![number];
    let mut at = number;
    while let Some(p) = parent(at) {
        out.push(p);
        at = p;
    }
    out
}

impl MatchingEngine {
    /// (read, write) partition counts configured for a queue.
    pub(crate) fn partition_counts(
        &self,
        namespace: &str,
        namespace_id: &str,
        name: &str,
        task_type: i32,
    ) -> (u32, u32) {
        let task_type = if task_type == TASK_TYPE_ACTIVITY {
            TaskType::Activity
        } else {
            TaskType::Workflow
        };
        let scope = Scope::task_queue(namespace, name, task_type).with_namespace_id(namespace_id);
        let get = |key: &sundial_dynconfig::keys::Setting<i64>| match &self.config.dynamic_config {
            Some(dc) => dc.get(key, &scope),
            None => key.default,
        };
        let clamp = |n: i64| n.clamp(1, MAX_PARTITIONS) as u32;
        (
            clamp(get(&keys::MATCHING_NUM_TASKQUEUE_READ_PARTITIONS)),
            clamp(get(&keys::MATCHING_NUM_TASKQUEUE_WRITE_PARTITIONS)),
        )
    }

    /// A cheap pseudo-random number below `n` (splitmix64 over a shared counter).
    fn pick(&self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        let mut x = self.pick_seed.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((x ^ (x >> 31)) % u64::from(n)) as u32
    }

    /// Loads the root and makes sure every partition the configuration asks for is loaded too,
    /// so backlog in any of them is found even if no poll ever lands there.
    async fn root(&self, key: &TaskQueueKey, read: u32, write: u32) -> Result<Arc<Partition>, MatchingError> {
        let root = self.partition(&with_partition(key, 0), false).await?;
        let before = root.partition_count();
        if root.note_partition_count(read.max(write)).await {
            self.spawn_load(&root.key, before, read.max(write));
        }
        Ok(root)
    }

    /// A partition just loaded: the root brings in the rest of its queue; a child makes sure
    /// the root counts it.
    pub(crate) async fn after_load(&self, partition: &Arc<Partition>) {
        let number = partition.key.partition;
        if number == 0 {
            self.spawn_load(&partition.key, 1, partition.partition_count());
        } else if let Some(root) = self.loaded(&with_partition(&partition.key, 0)) {
            root.note_partition_count(number as u32 + 1).await;
        }
    }

    fn spawn_load(&self, key: &TaskQueueKey, from: u32, to: u32) {
        let Some(engine) = self.engine() else { return };
        if from >= to {
            return;
        }
        let key = key.clone();
        tokio::spawn(async move {
            for n in from..to {
                if let Err(e) = engine.partition(&with_partition(&key, n), false).await {
                    tracing::debug!(task_queue = %key, partition = n, error = %e, "loading a partition failed");
                }
            }
        });
    }

    /// `number` and its ancestors up to `root`, loaded, `number` first.
    async fn chain(&self, root: Arc<Partition>, number: u32) -> Result<Vec<Arc<Partition>>, MatchingError> {
        let mut chain = Vec::with_capacity(2);
        for n in lineage(number) {
            if n == 0 {
                break;
            }
            chain.push(self.partition(&with_partition(&root.key, n), false).await?);
        }
        chain.push(root);
        Ok(chain)
    }

    /// The read partition with the fewest waiting pollers (ties broken at random).
    fn pick_read(&self, key: &TaskQueueKey, read: u32) -> u32 {
        if read <= 1 {
            return 0;
        }
        let start = self.pick(read);
        let mut best = (usize::MAX, 0);
        for i in 0..read {
            let n = (start + i) % read;
            let waiting = self.loaded(&with_partition(key, n)).map_or(0, |p| p.waiting_pollers());
            if waiting < best.0 {
                best = (waiting, n);
            }
            if waiting == 0 {
                break;
            }
        }
        best.1
    }

    /// Adds a task: to a waiting poller, else to the backlog. Returns once history recorded the
    /// task started through a poller (or found it stale), or once it is committed to the
    /// backlog; until then the caller's own copy (history's transfer task) is the only one that
    /// survives a crash. Sticky queues without a recent poller refuse the task.
    pub(crate) async fn add_task(
        self: &Arc<Self>,
        key: TaskQueueKey,
        sticky: bool,
        namespace: &str,
        info: TaskInfo,
    ) -> Result<(), MatchingError> {
        if sticky {
            let recent = self
                .loaded(&key)
                .is_some_and(|p| p.has_recent_poller(self.config.sticky_poller_window));
            if !recent {
                return Err(MatchingError::StickyWorkerUnavailable { task_queue: key.name });
            }
            return self.place_task(&[key], true, info).await;
        }
        let (read, write) = self.partition_counts(namespace, &key.namespace_id, &key.name, key.task_type);
        self.root(&key, read, write).await?;
        let keys: Vec<TaskQueueKey> = lineage(self.pick(write))
            .into_iter()
            .map(|n| with_partition(&key, n))
            .collect();
        self.place_task(&keys, false, info).await
    }

    /// Offers the task to a poller waiting at each of `keys` in turn, then writes it to the
    /// backlog of the first; a lease lost meanwhile is retried on a reloaded partition.
    /// A matched poller records the task started with history before this returns; if that
    /// fails (other than stale), the task is written to the backlog here.
    pub(crate) async fn place_task(
        &self,
        keys: &[TaskQueueKey],
        sticky: bool,
        info: TaskInfo,
    ) -> Result<(), MatchingError> {
        let mut last_err = None;
        let mut offer = true;
        for _ in 0..RELOAD_ATTEMPTS {
            let mut target = None;
            for key in keys {
                let partition = self.partition(key, sticky).await?;
                target.get_or_insert(partition.clone());
                if !offer {
                    break;
                }
                while let Ok(Some(recorded)) = partition.try_sync_match(&info) {
                    match recorded.await {
                        // History holds the task started (or it was stale): done.
                        Ok(Ok(())) => return Ok(()),
                        // History could not record it: the backlog keeps it for a later poll.
                        Ok(Err(status)) => {
                            tracing::debug!(task_queue = %partition.key, error = %status,
                                "recording a matched task failed; writing it to the backlog");
                            offer = false;
                            break;
                        }
                        // The poller left before it began recording: try the next one.
                        Err(_) => {}
                    }
                }
                if !offer {
                    break;
                }
            }
            let Some(target) = target else { break };
            match target.append(info.clone()).await {
                Ok(()) => return Ok(()),
                Err(e @ PersistenceError::TaskQueueOwnershipLost { .. }) => last_err = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_err.map(MatchingError::from).unwrap_or(MatchingError::ShuttingDown))
    }

    /// Long-polls `key` until a task is started with history, `timeout` passes (`Ok(None)`),
    /// or history fails retryably (the task is put back and the error returned).
    pub(crate) async fn poll(
        self: &Arc<Self>,
        key: TaskQueueKey,
        sticky: bool,
        poll: Poll,
        timeout: std::time::Duration,
    ) -> Result<Option<Polled>, MatchingError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let poll = Arc::new(poll);
        loop {
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            let chain = if sticky {
                vec![self.partition(&key, true).await?]
            } else {
                let (read, write) = self.partition_counts(&poll.namespace, &key.namespace_id, &key.name, key.task_type);
                let root = self.root(&key, read, write).await?;
                self.chain(root, self.pick_read(&key, read)).await?
            };
            let offer = match self.wait_for_offer(&chain, &poll, deadline).await {
                Waited::Offer(offer) => offer,
                Waited::TimedOut => {
                    chain[0].touch_poller(&poll.identity);
                    return Ok(None);
                }
                // A sticky queue is unloaded when its worker shuts down: end the poll rather
                // than bring the queue back with a "recent poller" that is gone.
                Waited::Retry if sticky => return Ok(None),
                Waited::Retry => continue,
            };
            match self.start_task(&chain[0], &poll, offer).await {
                Recorded::Started(polled) => {
                    chain[0].touch_poller(&poll.identity);
                    return Ok(Some(*polled));
                }
                Recorded::Stale => continue,
                Recorded::Failed(status) => return Err(MatchingError::History(status)),
            }
        }
    }

    /// Waits at the poller's partition and each ancestor at once; the first offer wins and
    /// the other places give back anything that reached them meanwhile.
    async fn wait_for_offer(&self, chain: &[Arc<Partition>], poll: &Poll, deadline: tokio::time::Instant) -> Waited {
        // Queries go to the root; a poller of a child with backlog of its own answers them first.
        for ancestor in &chain[1..] {
            if let Some(query) = ancestor.take_query() {
                return Waited::Offer(Offer::Query(query));
            }
        }
        let mut guards: Vec<WaiterGuard> = Vec::with_capacity(chain.len());
        for (i, partition) in chain.iter().enumerate() {
            match partition.poll_start(&poll.identity, i > 0) {
                None => return Waited::Retry,
                Some(PollStart::Ready(offer)) => return Waited::Offer(offer),
                Some(PollStart::Wait(guard)) => guards.push(guard),
            }
        }
        for partition in chain {
            self.pull_children(partition);
        }
        let outcome = if let [guard] = guards.as_mut_slice() {
            guard.wait(deadline).await
        } else {
            let waits = guards.iter_mut().map(|g| Box::pin(g.wait(deadline)));
            futures::future::select_all(waits).await.0
        };
        match outcome {
            WaitOutcome::Offer(offer) => Waited::Offer(offer),
            WaitOutcome::TimedOut => Waited::TimedOut,
            WaitOutcome::Unloaded => Waited::Retry,
        }
    }

    /// Hands backlog of `partition`'s loaded children to pollers now waiting at it.
    fn pull_children(&self, partition: &Partition) {
        if partition.sticky {
            return;
        }
        let number = partition.key.partition as u32;
        let count = if number == 0 {
            partition.partition_count()
        } else {
            match self.loaded(&with_partition(&partition.key, 0)) {
                Some(root) => root.partition_count(),
                None => return,
            }
        };
        for child in (number + 1)..count {
            if parent(child) == Some(number)
                && let Some(child) = self.loaded(&with_partition(&partition.key, child))
            {
                child.forward_backlog(partition);
            }
        }
    }

    /// Pollers and backlog of `key`: the whole queue when `whole_queue` (a plain name), else
    /// that partition alone. Loads nothing.
    pub(crate) fn describe(&self, key: &TaskQueueKey, whole_queue: bool) -> Described {
        let this = self.loaded(key);
        let mut parts = Vec::new();
        if whole_queue {
            let count = this.as_ref().map_or(1, |root| root.partition_count());
            parts.extend(this.iter().cloned());
            parts.extend((1..count).filter_map(|n| self.loaded(&with_partition(key, n))));
        } else {
            parts.extend(this.iter().cloned());
        }
        let mut pollers: HashMap<String, i64> = HashMap::new();
        let mut backlog = 0;
        for p in &parts {
            for (identity, seen) in p.recent_pollers() {
                let entry = pollers.entry(identity).or_insert(seen);
                *entry = (*entry).max(seen);
            }
            backlog += p.status().backlog_hint;
        }
        let mut pollers: Vec<(String, i64)> = pollers.into_iter().collect();
        pollers.sort_by_key(|p| std::cmp::Reverse(p.1));
        Described {
            pollers,
            backlog,
            status: this.map(|p| p.status()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_walks_up_to_the_root() {
        assert_eq!(lineage(0), vec![0]);
        assert_eq!(lineage(3), vec![3, 0]);
        assert_eq!(lineage(25), vec![25, 1, 0]);
    }
}
