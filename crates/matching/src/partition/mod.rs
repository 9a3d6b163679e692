//! One loaded task-queue partition: the pollers waiting on it, the in-memory window of its
//! backlog, pending query tasks, the `range_id` lease and task-id block, and a background task
//! that pages the backlog in and deletes acknowledged tasks.
//!
//! Every hand-off to a poller goes through a oneshot channel. A poller that goes away gives back
//! whatever was already sent to it (`WaiterGuard::drop`), so a task is never lost in transit.
//!
//! A non-root partition of a normal queue has a parent (`forward`): backlog tasks no local poller
//! takes are offered to pollers waiting at the parent (here, or on the host that owns it), so a
//! partition nobody polls still drains.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use sundial_api::sundial::matchingservice::v1::{TaskInfo, TaskQueueInfo};
use sundial_common::time::{now_nanos, timestamp_to_nanos};
use sundial_persistence::{LeaseOwner, PersistenceError, TaskQueueKey, TaskQueueStore};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

mod backlog;
mod forward;

pub(crate) use forward::{Forward, PartitionStatus};

/// Task ids per lease: a lease with `range_id` r owns ids `((r-1)*RANGE_SIZE, r*RANGE_SIZE]`.
pub(crate) const RANGE_SIZE: i64 = 100_000;
/// Backlog tasks kept in memory; the reader refills below `LOW_WATERMARK`.
const BUFFER_CAP: usize = 1000;
const LOW_WATERMARK: usize = 100;
/// Acknowledged tasks are deleted in batches at most this often, so a busy backlog costs a
/// couple of writes per second rather than one per task.
const GC_INTERVAL: Duration = Duration::from_secs(1);
const GC_BATCH: usize = 1000;
/// After a storage error the background task waits this long before trying again.
const RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// Pollers are reported by DescribeTaskQueue for this long after their last poll.
pub(crate) const POLLER_HISTORY: Duration = Duration::from_secs(300);

/// A task handed to a poller as is, never persisted and never recorded with history: a query
/// (to a workflow-task poller) or a Nexus task (to a Nexus poller).
#[derive(Debug)]
pub(crate) struct QueryTask {
    pub id: String,
    pub response: Box<crate::engine::Polled>,
}

/// What a poller receives.
#[derive(Debug)]
pub(crate) enum Offer {
    /// A task nobody persisted. Its adder waits on `recorded` until history has recorded the
    /// task started (or found it stale), and only then acknowledges the add; told that history
    /// failed, it writes the task to the backlog itself; if `recorded` is dropped (the poller
    /// left before recording began), it offers the task to the next poller.
    Sync {
        info: TaskInfo,
        recorded: oneshot::Sender<SyncOutcome>,
    },
    /// A task from the persisted backlog of `owner` (which may be a child of the partition that
    /// handed it out); acked there once history accepted or rejected it.
    Backlog {
        task_id: i64,
        info: TaskInfo,
        owner: Arc<Partition>,
    },
    Query(QueryTask),
}

/// What the poller of a sync-matched task tells its adder: `Ok` once history recorded the task
/// started or said it is stale (the add is done), the error if recording failed otherwise (the
/// task is the adder's again).
pub(crate) type SyncOutcome = Result<(), tonic::Status>;

struct Waiter {
    id: u64,
    tx: oneshot::Sender<Offer>,
}

struct State {
    lost: bool,
    waiters: VecDeque<Waiter>,
    next_waiter_id: u64,
    /// Loaded backlog tasks not handed out, in task-id order.
    buffer: BTreeMap<i64, TaskInfo>,
    queries: VecDeque<QueryTask>,
    /// Every backlog task with id <= `read_level` has been loaded into memory.
    read_level: i64,
    /// The highest committed backlog task id (an upper bound for reads).
    max_written: i64,
    /// Loaded task ids and whether they are acknowledged; the acked prefix becomes `ack_level`.
    unacked: BTreeMap<i64, bool>,
    ack_level: i64,
    /// Tasks up to here are deleted and the level saved in `info`.
    gc_level: i64,
    info: TaskQueueInfo,
    /// Identity → last poll (Unix nanos), for DescribeTaskQueue.
    pollers: HashMap<String, i64>,
    last_poll: Option<Instant>,
    last_activity: Instant,
    /// Buffered tasks wait for no local poller: the background task offers them to the parent.
    forward_pending: bool,
}

struct Writer {
    range_id: i64,
    next_id: i64,
    block_end: i64,
}

pub(crate) struct Partition {
    pub key: TaskQueueKey,
    pub sticky: bool,
    me: Weak<Partition>,
    /// Where unmatched backlog goes (non-root partitions of normal queues).
    forward: Option<Forward>,
    store: Arc<dyn TaskQueueStore>,
    owner: LeaseOwner,
    /// Serialises writes of `State::info`, so a stale copy never overwrites a newer one.
    meta_writer: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    /// Serialises backlog appends so they commit in task-id order and the reader never skips one.
    writer: tokio::sync::Mutex<Writer>,
    range_id: AtomicI64,
    wake_background: Arc<Notify>,
    background: Mutex<Option<JoinHandle<()>>>,
    /// A task offers this partition's backlog to its parent on another host.
    pub(crate) remote_forwarding: AtomicBool,
    /// Woken whenever a poller starts waiting here (a forwarded task may be waiting for one).
    pub(crate) poller_arrived: Notify,
}

/// How a poll's wait ended.
pub(crate) enum WaitOutcome {
    Offer(Offer),
    TimedOut,
    /// The partition was unloaded under the poller; reload and poll again.
    Unloaded,
}

/// A poller's place in the queue. Dropping it gives back anything already sent to it.
pub(crate) struct WaiterGuard {
    partition: Arc<Partition>,
    id: u64,
    rx: oneshot::Receiver<Offer>,
    finished: bool,
}

/// What a poller gets immediately: a task, or its place in the queue.
pub(crate) enum PollStart {
    Ready(Offer),
    Wait(WaiterGuard),
}

fn is_expired(info: &TaskInfo, now: i64) -> bool {
    info.expiry_time.as_ref().is_some_and(|t| timestamp_to_nanos(t) <= now)
}

impl Partition {
    /// Leases the partition and starts its background task.
    pub async fn load(
        store: Arc<dyn TaskQueueStore>,
        key: TaskQueueKey,
        sticky: bool,
        forward: Option<Forward>,
        owner: LeaseOwner,
    ) -> Result<Arc<Partition>, PersistenceError> {
        let lease = store.lease_task_queue(&key, &owner).await?;
        let block_start = (lease.range_id - 1) * RANGE_SIZE + 1;
        let ack_level = lease.info.ack_level.min(block_start - 1);
        let mut info = lease.info;
        info.kind = if sticky { 2 } else { 1 };
        let partition = Arc::new_cyclic(|me| Partition {
            key,
            sticky,
            me: me.clone(),
            forward,
            store,
            owner,
            meta_writer: tokio::sync::Mutex::new(()),
            state: Mutex::new(State {
                lost: false,
                waiters: VecDeque::new(),
                next_waiter_id: 0,
                buffer: BTreeMap::new(),
                queries: VecDeque::new(),
                read_level: ack_level,
                // Earlier owners wrote below our block; the reader pages those in first.
                max_written: block_start - 1,
                unacked: BTreeMap::new(),
                ack_level,
                gc_level: ack_level,
                info,
                pollers: HashMap::new(),
                last_poll: None,
                last_activity: Instant::now(),
                forward_pending: false,
            }),
            writer: tokio::sync::Mutex::new(Writer {
                range_id: lease.range_id,
                next_id: block_start,
                block_end: lease.range_id * RANGE_SIZE,
            }),
            range_id: AtomicI64::new(lease.range_id),
            wake_background: Arc::new(Notify::new()),
            background: Mutex::new(None),
            remote_forwarding: AtomicBool::new(false),
            poller_arrived: Notify::new(),
        });
        let handle = tokio::spawn(backlog::run_background(
            Arc::downgrade(&partition),
            partition.wake_background.clone(),
        ));
        *lock(&partition.background) = Some(handle);
        partition.wake_background.notify_one();
        Ok(partition)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn is_lost(&self) -> bool {
        self.state().lost
    }

    /// Stops the background task and releases every waiting poller (they reload and retry).
    pub fn stop(&self) {
        if let Some(handle) = lock(&self.background).take() {
            handle.abort();
        }
        let mut st = self.state();
        st.lost = true;
        st.waiters.clear();
        st.buffer.clear();
    }

    /// After `stop`: saves the ack level and gives the lease up, so the next owner (the ring
    /// moved the queue, or it went idle) takes it without waiting for this process to die.
    pub async fn release(&self) {
        self.flush_acks().await;
        let range_id = self.range_id.load(Ordering::SeqCst);
        if let Err(e) = self.store.release_task_queue(&self.key, range_id, &self.owner).await {
            tracing::debug!(task_queue = %self.key, error = %e, "releasing the lease failed; it lapses when this host's membership does");
        }
    }

    /// A writer found the lease taken by another owner: everything here is stale.
    fn mark_lost(&self) {
        tracing::warn!(task_queue = %self.key, "task queue lease lost; unloading");
        self.stop();
    }

    /// Nothing waiting, buffered or unread, and no activity for `idle`: safe to unload.
    pub fn is_idle(&self, idle: Duration) -> bool {
        let st = self.state();
        st.lost
            || (st.waiters.is_empty()
                && st.buffer.is_empty()
                && st.queries.is_empty()
                && st.unacked.is_empty()
                && st.gc_level >= st.ack_level
                && st.read_level >= st.max_written
                && st.last_activity.elapsed() >= idle)
    }

    /// A poller is waiting now, or one polled within `window`.
    pub fn has_recent_poller(&self, window: Duration) -> bool {
        let st = self.state();
        !st.waiters.is_empty() || st.last_poll.is_some_and(|t| t.elapsed() < window)
    }

    /// Notes a poll by `identity` (poll start and end both count).
    pub fn touch_poller(&self, identity: &str) {
        let mut st = self.state();
        let now = Instant::now();
        st.last_poll = Some(now);
        st.last_activity = now;
        if !identity.is_empty() {
            st.pollers.insert(identity.to_owned(), now_nanos());
        }
    }

    /// Pollers seen within `POLLER_HISTORY`, most recent first.
    pub fn recent_pollers(&self) -> Vec<(String, i64)> {
        let mut st = self.state();
        let cutoff = now_nanos() - POLLER_HISTORY.as_nanos() as i64;
        st.pollers.retain(|_, seen| *seen >= cutoff);
        let mut out: Vec<_> = st.pollers.iter().map(|(k, v)| (k.clone(), *v)).collect();
        out.sort_by_key(|p| std::cmp::Reverse(p.1));
        out
    }

    /// Takes a pending query or the oldest live backlog task, or queues the poller.
    /// `None` when the partition has been unloaded. A poll forwarded from a child partition
    /// (`forwarded`) is not recorded as a poller of this one.
    pub fn poll_start(self: &Arc<Self>, identity: &str, forwarded: bool) -> Option<PollStart> {
        if !forwarded {
            self.touch_poller(identity);
        }
        let mut st = self.state();
        if st.lost {
            return None;
        }
        if let Some(q) = st.queries.pop_front() {
            return Some(PollStart::Ready(Offer::Query(q)));
        }
        if let Some(offer) = self.pop_backlog(&mut st) {
            return Some(PollStart::Ready(offer));
        }
        let id = st.next_waiter_id;
        st.next_waiter_id += 1;
        let (tx, rx) = oneshot::channel();
        st.waiters.push_back(Waiter { id, tx });
        self.poller_arrived.notify_waiters();
        Some(PollStart::Wait(WaiterGuard {
            partition: self.clone(),
            id,
            rx,
            finished: false,
        }))
    }

    /// The oldest buffered task that has not expired; expired ones are acked on the way.
    fn pop_backlog(&self, st: &mut State) -> Option<Offer> {
        let now = now_nanos();
        let mut found = None;
        while let Some((task_id, info)) = st.buffer.pop_first() {
            if is_expired(&info, now) {
                tracing::debug!(task_queue = %self.key, task_id, "dropping expired backlog task");
                self.ack_locked(st, task_id);
                continue;
            }
            let owner = self.me.upgrade()?;
            found = Some(Offer::Backlog { task_id, info, owner });
            break;
        }
        if st.buffer.len() < LOW_WATERMARK && st.read_level < st.max_written {
            self.wake_background.notify_one();
        }
        found
    }

    /// Hands buffered work to waiting pollers, queries first, until one side runs out; backlog
    /// left over with no local poller is flagged for forwarding to the parent.
    fn dispatch(&self, st: &mut State) {
        self.dispatch_local(st);
        if self.forward.is_some() && !st.forward_pending && !st.buffer.is_empty() && st.waiters.is_empty() {
            st.forward_pending = true;
            self.wake_background.notify_one();
        }
    }

    fn dispatch_local(&self, st: &mut State) {
        while !st.waiters.is_empty() {
            let mut offer = if let Some(q) = st.queries.pop_front() {
                Offer::Query(q)
            } else if let Some(o) = self.pop_backlog(st) {
                o
            } else {
                return;
            };
            loop {
                let Some(waiter) = st.waiters.pop_front() else {
                    give_back_locked(st, offer);
                    return;
                };
                // A closed receiver means that poller left; the offer comes back to try the next.
                match waiter.tx.send(offer) {
                    Ok(()) => break,
                    Err(back) => offer = back,
                }
            }
        }
    }

    /// Returns an offer a poller could not process (it left, or history failed retryably).
    /// A backlog task goes back to the partition that owns it.
    pub fn give_back(&self, offer: Offer) {
        if let Offer::Backlog { owner, .. } = &offer
            && !std::ptr::eq(Arc::as_ptr(owner), self)
        {
            let owner = owner.clone();
            return owner.give_back(offer);
        }
        let mut st = self.state();
        if st.lost {
            return;
        }
        give_back_locked(&mut st, offer);
        self.dispatch(&mut st);
    }

    /// Offers a new task to a waiting poller. `None` when nobody waits, or when older backlog
    /// tasks exist (they go first); otherwise a receiver that resolves with the outcome of
    /// recording the task started, or errs if that poller went away before it began recording.
    pub fn try_sync_match(&self, info: &TaskInfo) -> Result<Option<oneshot::Receiver<SyncOutcome>>, ()> {
        let mut st = self.state();
        if st.lost {
            return Err(());
        }
        st.last_activity = Instant::now();
        if !st.buffer.is_empty() || st.read_level < st.max_written {
            return Ok(None);
        }
        while let Some(waiter) = st.waiters.pop_front() {
            let (recorded, recorded_rx) = oneshot::channel();
            let offer = Offer::Sync {
                info: info.clone(),
                recorded,
            };
            if waiter.tx.send(offer).is_ok() {
                return Ok(Some(recorded_rx));
            }
        }
        Ok(None)
    }

    /// Hands a query task to a waiting poller or keeps it for the next one.
    pub fn offer_query(&self, task: QueryTask) -> bool {
        let mut st = self.state();
        if st.lost {
            return false;
        }
        st.last_activity = Instant::now();
        st.queries.push_back(task);
        self.dispatch(&mut st);
        true
    }

    /// Takes a pending query task, for a poller of a child partition.
    pub fn take_query(&self) -> Option<QueryTask> {
        self.state().queries.pop_front()
    }

    /// Withdraws a query task nobody took yet; false if a poller has it (or it is gone).
    pub fn withdraw_query(&self, id: &str) -> bool {
        let mut st = self.state();
        let before = st.queries.len();
        st.queries.retain(|q| q.id != id);
        st.queries.len() != before
    }
}

/// Takes a direct task (query or Nexus task) back from the partition if its caller gives up
/// before a poller took it.
pub(crate) struct Withdraw<'a>(pub &'a Partition, pub &'a str);

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.0.withdraw_query(self.1);
    }
}

impl std::fmt::Debug for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partition")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        if let Some(handle) = lock(&self.background).take() {
            handle.abort();
        }
    }
}

fn give_back_locked(st: &mut State, offer: Offer) {
    match offer {
        // Dropping the offer drops `recorded`: the adder sees it and places the task itself.
        Offer::Sync { .. } => {}
        Offer::Backlog { task_id, info, .. } => {
            st.buffer.insert(task_id, info);
        }
        Offer::Query(q) => st.queries.push_front(q),
    }
}

impl WaiterGuard {
    /// Waits for an offer until `deadline`.
    pub async fn wait(&mut self, deadline: tokio::time::Instant) -> WaitOutcome {
        let received = tokio::select! {
            received = &mut self.rx => Some(received),
            _ = tokio::time::sleep_until(deadline) => None,
        };
        let outcome = match received {
            Some(Ok(offer)) => WaitOutcome::Offer(offer),
            Some(Err(_)) => WaitOutcome::Unloaded,
            // The deadline passed, but an offer may have raced it: take it rather than bounce it.
            None => match self.withdraw() {
                Some(offer) => WaitOutcome::Offer(offer),
                None => WaitOutcome::TimedOut,
            },
        };
        self.finished = true;
        outcome
    }

    /// Leaves the queue; returns whatever was sent before we left.
    fn withdraw(&mut self) -> Option<Offer> {
        self.partition.state().waiters.retain(|w| w.id != self.id);
        self.rx.close();
        self.rx.try_recv().ok()
    }
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        if !self.finished
            && let Some(offer) = self.withdraw()
        {
            self.partition.give_back(offer);
        }
    }
}

/// Locks a std mutex, recovering from poisoning: the guarded data stays consistent because no
/// code here panics while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
