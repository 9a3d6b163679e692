//! Partitioned task queues. A normal queue has `matching.numTaskqueueWritePartitions` partitions
//! that adds spread over and `matching.numTaskqueueReadPartitions` that polls go to; the caller
//! (history for adds, the frontend for polls) picks one at random and sends the request to the
//! host that owns it. Partition `n > 0` forwards to its parent (the root for up to 20
//! partitions): a poll waits at its partition and every ancestor at once, an add no local
//! poller takes is offered to pollers waiting at the ancestors before it is written, and
//! backlog nobody polls for locally is handed to pollers waiting at the parent. Ancestors on
//! this host are reached directly; the first one on another host through it (`remote.rs`).
//! Sticky queues are never partitioned.

use crate::cancel::WorkerPoll;
use crate::engine::{MatchingEngine, Poll, Polled, Recorded};
use crate::error::MatchingError;
use crate::partition::{Offer, Partition, PartitionStatus, PollStart, WaitOutcome, WaiterGuard};
use crate::remote::{HeldOffer, RemotePoll};
use std::sync::Arc;
use sundial_api::sundial::matchingservice::v1::TaskInfo;
use sundial_common::partition::parent;
use sundial_dynconfig::TaskType;
use sundial_persistence::{PersistenceError, TaskQueueKey};
use tokio::sync::watch;

const RELOAD_ATTEMPTS: usize = 3;

/// How a wait across a partition chain ended.
enum Waited {
    Offer(Offer),
    /// The forwarded poll came back with a task the parent's host started for it.
    Remote(Box<Polled>),
    TimedOut,
    /// A partition was unloaded under the poller: resolve the chain again.
    Retry,
}

/// What DescribeTaskQueue reports for one partition.
pub(crate) struct Described {
    /// Identity and last poll (Unix nanos), most recent first.
    pub pollers: Vec<(String, i64)>,
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
        let task_type = TaskType::from_proto(task_type).unwrap_or(TaskType::Workflow);
        sundial_dynconfig::partition_counts(
            self.config.dynamic_config.as_ref(),
            namespace,
            namespace_id,
            name,
            task_type,
        )
    }

    /// On the root: records the configured partition count and loads the partitions, so
    /// backlog in any of them is found even if no poll ever lands there.
    async fn note_configured(&self, root: &Arc<Partition>, namespace: &str) {
        let (read, write) =
            self.partition_counts(namespace, &root.key.namespace_id, &root.key.name, root.key.task_type);
        let before = root.partition_count();
        if root.note_partition_count(read.max(write)).await {
            self.spawn_load(&root.key, before, read.max(write));
        }
    }

    /// A partition just loaded: the root brings in the rest of its queue; a child makes sure
    /// the root counts it before any task is written to it (so a restart after the count
    /// shrank still finds its backlog).
    pub(crate) async fn after_load(&self, partition: &Arc<Partition>) -> Result<(), MatchingError> {
        let number = u32::try_from(partition.key.partition).unwrap_or(0);
        if number == 0 {
            self.spawn_load(&partition.key, 1, partition.partition_count());
            return Ok(());
        }
        let root = with_partition(&partition.key, 0);
        if self.owns(&root) {
            let root = Box::pin(self.partition(&root, false)).await?;
            root.note_partition_count(number + 1).await;
            Ok(())
        } else {
            self.load_remote(&root, number + 1).await
        }
    }

    /// LoadPartition: loads `key` here; a root also raises its partition count.
    pub(crate) async fn load_partition(
        &self,
        key: &TaskQueueKey,
        min_partition_count: u32,
    ) -> Result<(), MatchingError> {
        let partition = self.partition(key, false).await?;
        let before = partition.partition_count();
        if key.partition == 0 && partition.note_partition_count(min_partition_count).await {
            self.spawn_load(key, before, min_partition_count);
        }
        Ok(())
    }

    /// Loads partitions `from..to` of the queue, each on the host that owns it.
    fn spawn_load(&self, key: &TaskQueueKey, from: u32, to: u32) {
        let Some(engine) = self.engine() else { return };
        if from >= to {
            return;
        }
        let key = key.clone();
        tokio::spawn(async move {
            for n in from..to {
                let part = with_partition(&key, n);
                let loaded = if engine.owns(&part) {
                    engine.partition(&part, false).await.map(|_| ())
                } else {
                    engine.load_remote(&part, 0).await
                };
                if let Err(e) = loaded {
                    tracing::debug!(task_queue = %key, partition = n, error = %e, "loading a partition failed");
                }
            }
        });
    }

    /// `key` and its ancestors on this host, `key` first, and the first ancestor on another
    /// host (reached through it), if any.
    fn lineage_split(&self, key: &TaskQueueKey) -> (Vec<TaskQueueKey>, Option<TaskQueueKey>) {
        let mut here = vec![key.clone()];
        for n in lineage(u32::try_from(key.partition).unwrap_or(0)).into_iter().skip(1) {
            let ancestor = with_partition(key, n);
            if !self.owns(&ancestor) {
                return (here, Some(ancestor));
            }
            here.push(ancestor);
        }
        (here, None)
    }

    /// Adds a task to partition `key` (the caller picked it): to a waiting poller here or at
    /// an ancestor, else to this partition's backlog. Returns once history recorded the task
    /// started through a poller (or found it stale), or once it is committed to the backlog;
    /// until then the caller's own copy (history's transfer task) is the only one that
    /// survives a crash. Sticky queues without a recent poller refuse the task. A `sync_only`
    /// add (forwarded by a child partition) is never written: it waits up to `wait` for a
    /// poller, and the answer says whether one took it.
    pub(crate) async fn add_task(
        self: &Arc<Self>,
        key: TaskQueueKey,
        sticky: bool,
        namespace: &str,
        info: TaskInfo,
        sync_only: Option<std::time::Duration>,
    ) -> Result<bool, MatchingError> {
        if sticky {
            let recent = self
                .loaded(&key)
                .is_some_and(|p| p.has_recent_poller(self.config.sticky_poller_window));
            if !recent {
                return Err(MatchingError::StickyWorkerUnavailable { task_queue: key.name });
            }
            return self.place_task(&[key], None, true, namespace, info).await;
        }
        let (keys, remote) = self.lineage_split(&key);
        if let Some(wait) = sync_only {
            return self.offer_only(&keys, remote.as_ref(), namespace, &info, wait).await;
        }
        if key.partition == 0 {
            let root = self.partition(&key, false).await?;
            self.note_configured(&root, namespace).await;
        }
        self.place_task(&keys, remote.as_ref(), false, namespace, info).await
    }

    /// Offers the task to a poller waiting at each of `partitions` in turn. `Some(true)` once
    /// one had it recorded with history (or history called it stale), `Some(false)` if
    /// recording failed otherwise (the task is the caller's again), `None` if nobody took it.
    async fn offer(&self, partitions: &[Arc<Partition>], info: &TaskInfo) -> Option<bool> {
        for partition in partitions {
            while let Ok(Some(recorded)) = partition.try_sync_match(info) {
                match recorded.await {
                    // History holds the task started (or it was stale): done.
                    Ok(Ok(())) => return Some(true),
                    Ok(Err(status)) => {
                        tracing::debug!(task_queue = %partition.key, error = %status,
                            "recording a matched task failed");
                        return Some(false);
                    }
                    // The poller left before it began recording: try the next one.
                    Err(_) => {}
                }
            }
        }
        None
    }

    /// A task forwarded by a child partition: offered to pollers here (and through `remote`,
    /// further up), waiting up to `wait` for one to arrive; never written.
    async fn offer_only(
        &self,
        keys: &[TaskQueueKey],
        remote: Option<&TaskQueueKey>,
        namespace: &str,
        info: &TaskInfo,
        wait: std::time::Duration,
    ) -> Result<bool, MatchingError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut partitions = Vec::with_capacity(keys.len());
            for key in keys {
                partitions.push(self.partition(key, false).await?);
            }
            // Listen for pollers before looking, so one arriving in between is not missed.
            let mut arrivals: Vec<_> = partitions
                .iter()
                .map(|p| Box::pin(p.poller_arrived.notified()))
                .collect();
            for a in &mut arrivals {
                a.as_mut().enable();
            }
            if let Some(matched) = self.offer(&partitions, info).await {
                return Ok(matched);
            }
            if let Some(parent) = remote
                && self
                    .forward_add(parent, namespace, info, std::time::Duration::ZERO)
                    .await
            {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::select! {
                _ = futures::future::select_all(arrivals) => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(false),
            }
        }
    }

    /// Offers the task to a poller waiting at each of `keys` in turn, then through `remote`
    /// (an ancestor on another host), then writes it to the backlog of the first key; a lease
    /// lost meanwhile is retried on a reloaded partition. A matched poller records the task
    /// started with history before this returns; if that fails (other than stale), the task
    /// is written to the backlog here.
    pub(crate) async fn place_task(
        &self,
        keys: &[TaskQueueKey],
        remote: Option<&TaskQueueKey>,
        sticky: bool,
        namespace: &str,
        info: TaskInfo,
    ) -> Result<bool, MatchingError> {
        let mut last_err = None;
        let mut offer = true;
        for _ in 0..RELOAD_ATTEMPTS {
            let mut partitions = Vec::with_capacity(keys.len());
            for key in keys {
                partitions.push(self.partition(key, sticky).await?);
            }
            if offer {
                match self.offer(&partitions, &info).await {
                    Some(true) => return Ok(true),
                    // History could not record it: the backlog keeps it for a later poll.
                    Some(false) => offer = false,
                    None => {
                        if let Some(parent) = remote
                            && self
                                .forward_add(parent, namespace, &info, std::time::Duration::ZERO)
                                .await
                        {
                            return Ok(true);
                        }
                    }
                }
            }
            let Some(target) = partitions.first() else { break };
            match target.append(info.clone()).await {
                Ok(()) => return Ok(true),
                Err(e @ PersistenceError::TaskQueueOwnershipLost { .. }) => last_err = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_err.map(MatchingError::from).unwrap_or(MatchingError::ShuttingDown))
    }

    /// Long-polls partition `key` (the caller picked it) until a task is started with
    /// history, `timeout` passes (`Ok(None)`), or history fails retryably (the task is put
    /// back and the error returned).
    pub(crate) async fn poll(
        self: &Arc<Self>,
        key: TaskQueueKey,
        sticky: bool,
        poll: Poll,
        timeout: std::time::Duration,
    ) -> Result<Option<Polled>, MatchingError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let poll = Arc::new(poll);
        let worker = (!poll.worker_instance_key().is_empty()).then(|| WorkerPoll {
            namespace_id: key.namespace_id.clone(),
            task_queue: key.name.clone(),
            task_type: key.task_type,
            instance_key: poll.worker_instance_key().to_owned(),
        });
        let mut registration =
            (poll.forwarded || worker.is_some()).then(|| self.polls.register(&poll.poller_id, worker));
        loop {
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            let (chain, remote) = if sticky {
                (vec![self.partition(&key, true).await?], None)
            } else {
                if key.partition == 0 && !poll.forwarded {
                    let root = self.partition(&key, false).await?;
                    self.note_configured(&root, &poll.namespace).await;
                }
                let (keys, remote) = self.lineage_split(&key);
                let mut chain = Vec::with_capacity(keys.len());
                for k in &keys {
                    chain.push(self.partition(k, false).await?);
                }
                (chain, remote)
            };
            let mut forwarded = remote.as_ref().and_then(|p| self.forward_poll(p, &poll, deadline));
            let cancelled = registration.as_mut().map(|r| &mut r.cancelled);
            let waited = self
                .wait_for_offer(&chain, &poll, deadline, &mut forwarded, cancelled)
                .await;
            // The forwarded poll is still out: end it, and take the task it brings back if
            // the parent's host had already started one (what was found here goes back; a
            // query to where queries wait, the top of the chain).
            let (held, waited) = match waited {
                Waited::Offer(offer) => (Some(HeldOffer::new(chain[chain.len() - 1].clone(), offer)), None),
                other => (None, Some(other)),
            };
            if let (Some(pending), Some(parent)) = (forwarded.take(), remote.as_ref())
                && let Some(polled) = self.settle_forwarded(parent, &poll.poller_id, pending).await
            {
                drop(held);
                self.note_poller(&chain[0], &poll);
                return Ok(Some(polled));
            }
            let offer = match (held, waited) {
                (Some(held), _) => held.take(),
                (None, Some(Waited::Remote(polled))) => {
                    self.note_poller(&chain[0], &poll);
                    return Ok(Some(*polled));
                }
                (None, Some(Waited::TimedOut)) => {
                    self.note_poller(&chain[0], &poll);
                    return Ok(None);
                }
                // A sticky queue is unloaded when its worker shuts down: end the poll rather
                // than bring the queue back with a "recent poller" that is gone.
                _ if sticky => return Ok(None),
                _ => continue,
            };
            match self.start_task(&chain[0], &poll, offer).await {
                Recorded::Started(polled) => {
                    self.note_poller(&chain[0], &poll);
                    return Ok(Some(*polled));
                }
                Recorded::Stale => continue,
                Recorded::Failed(status) => return Err(MatchingError::History(status)),
            }
        }
    }

    /// A poll of `partition` ended; forwarded polls are counted where they started.
    fn note_poller(&self, partition: &Partition, poll: &Poll) {
        if !poll.forwarded {
            partition.touch_poller(&poll.identity);
        }
    }

    /// Waits at the poller's partition and each ancestor here, and for the forwarded poll
    /// (`remote`, cleared once it answers) at once; the first offer wins and the other places
    /// give back anything that reached them meanwhile. A cancellable poll (forwarded, or of a
    /// worker that may shut down) ends when cancelled.
    async fn wait_for_offer(
        &self,
        chain: &[Arc<Partition>],
        poll: &Poll,
        deadline: tokio::time::Instant,
        remote: &mut Option<RemotePoll>,
        mut cancelled: Option<&mut watch::Receiver<bool>>,
    ) -> Waited {
        // Queries go to the root; a poller of a child with backlog of its own answers them first.
        for ancestor in &chain[1..] {
            if let Some(query) = ancestor.take_query() {
                return Waited::Offer(Offer::Query(query));
            }
        }
        let mut guards: Vec<WaiterGuard> = Vec::with_capacity(chain.len());
        for (i, partition) in chain.iter().enumerate() {
            match partition.poll_start(&poll.identity, poll.forwarded || i > 0) {
                None => return Waited::Retry,
                Some(PollStart::Ready(offer)) => return Waited::Offer(offer),
                Some(PollStart::Wait(guard)) => guards.push(guard),
            }
        }
        for partition in chain {
            self.pull_children(partition);
        }
        loop {
            let local = async {
                if let [guard] = guards.as_mut_slice() {
                    guard.wait(deadline).await
                } else {
                    let waits = guards.iter_mut().map(|g| Box::pin(g.wait(deadline)));
                    futures::future::select_all(waits).await.0
                }
            };
            let outcome = tokio::select! {
                outcome = local => outcome,
                answer = async { remote.as_mut().expect("guarded").await }, if remote.is_some() => {
                    *remote = None;
                    match answer {
                        Some(polled) => return Waited::Remote(Box::new(polled)),
                        // Nothing there (or the parent's host failed): keep waiting here.
                        None => continue,
                    }
                }
                _ = async { cancelled.as_mut().expect("guarded").wait_for(|c| *c).await }, if cancelled.is_some() => {
                    return Waited::TimedOut;
                }
            };
            return match outcome {
                WaitOutcome::Offer(offer) => Waited::Offer(offer),
                WaitOutcome::TimedOut => Waited::TimedOut,
                WaitOutcome::Unloaded => Waited::Retry,
            };
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

    /// Pollers and backlog of partition `key` alone. Loads nothing.
    pub(crate) fn describe(&self, key: &TaskQueueKey) -> Described {
        let this = self.loaded(key);
        Described {
            pollers: this.as_ref().map(|p| p.recent_pollers()).unwrap_or_default(),
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
