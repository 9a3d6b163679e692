//! `MatchingEngine`: owns the loaded partitions, adds tasks (sync match or backlog), runs long
//! polls, and records a matched task as started with history before the poller sees it.

use crate::MatchingConfig;
use crate::cancel::CancellablePolls;
use crate::error::MatchingError;
use crate::partition::{Forward, Offer, POLLER_HISTORY, Partition, lock};
use crate::query::Waiters;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use sundial_api::sundial::historyservice::v1::{RecordActivityTaskStartedRequest, RecordWorkflowTaskStartedRequest};
use sundial_api::sundial::matchingservice::v1::TaskInfo;
use sundial_api::workflowservice::v1::{
    PollActivityTaskQueueRequest, PollActivityTaskQueueResponse, PollNexusTaskQueueRequest, PollNexusTaskQueueResponse,
    PollWorkflowTaskQueueRequest, PollWorkflowTaskQueueResponse,
};
use sundial_persistence::{PersistenceError, Role, TaskQueueKey, TaskQueueStore};
use sundial_rpc::HistoryRouter;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tonic::{Code, Status};

/// Partitions with nothing to do for this long are unloaded (`matching.maxTaskQueueIdleTime`).
const IDLE_UNLOAD: Duration = Duration::from_secs(300);
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// Losing a lease mid-request is retried on a freshly loaded partition this many times.
const RELOAD_ATTEMPTS: usize = 3;

type Slot = Arc<OnceCell<Arc<Partition>>>;

pub struct MatchingEngine {
    me: Weak<MatchingEngine>,
    store: Arc<dyn TaskQueueStore>,
    history: HistoryRouter,
    pub(crate) config: MatchingConfig,
    partitions: Mutex<HashMap<TaskQueueKey, Slot>>,
    pub(crate) queries: Waiters<sundial_api::workflowservice::v1::RespondQueryTaskCompletedRequest>,
    /// Nexus tasks handed out and waiting for the worker's answer.
    pub(crate) nexus: crate::nexus::NexusWaiters,
    shutting_down: AtomicBool,
    sweeper: Mutex<Option<JoinHandle<()>>>,
    /// Polls that may be ended early: forwarded ones (their child's host cancels them) and
    /// those of workers that say which instance they are (ShutdownWorker cancels them).
    pub(crate) polls: CancellablePolls,
    /// The workers that heartbeat to this host (RecordWorkerHeartbeat).
    pub(crate) workers: crate::workers::WorkerRegistry,
}

/// The poll a task is matched to; its request is forwarded to history.
#[derive(Clone, Debug)]
pub(crate) enum PollRequest {
    Workflow(PollWorkflowTaskQueueRequest),
    Activity(PollActivityTaskQueueRequest),
    Nexus(PollNexusTaskQueueRequest),
}

#[derive(Debug)]
pub(crate) enum Polled {
    Workflow(PollWorkflowTaskQueueResponse),
    Activity(PollActivityTaskQueueResponse),
    Nexus(PollNexusTaskQueueResponse),
}

/// A poll as matching sees it.
#[derive(Clone, Debug)]
pub(crate) struct Poll {
    pub namespace_id: String,
    /// The namespace's name, for per-queue settings.
    pub namespace: String,
    pub poller_id: String,
    pub identity: String,
    pub request: PollRequest,
    /// Sent on by a child partition's host: not a poller of this partition, and cancellable.
    pub forwarded: bool,
}

impl Poll {
    /// The worker instance the poll says it comes from (empty for older SDKs).
    pub(crate) fn worker_instance_key(&self) -> &str {
        match &self.request {
            PollRequest::Workflow(r) => &r.worker_instance_key,
            PollRequest::Activity(r) => &r.worker_instance_key,
            PollRequest::Nexus(r) => &r.worker_instance_key,
        }
    }
}

/// History's answer for a matched task, after acks or re-queueing were handled.
pub(crate) enum Recorded {
    Started(Box<Polled>),
    Stale,
    Failed(Status),
}

/// NOT_FOUND (workflow or task gone), ALREADY_EXISTS (started already), FAILED_PRECONDITION
/// (task no longer current): the task is stale and must not be retried.
fn is_stale(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::NotFound | Code::AlreadyExists | Code::FailedPrecondition
    )
}

impl MatchingEngine {
    pub fn new(store: Arc<dyn TaskQueueStore>, history: HistoryRouter, config: MatchingConfig) -> Arc<Self> {
        let engine = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            store,
            history,
            config,
            partitions: Mutex::new(HashMap::new()),
            queries: Waiters::default(),
            nexus: crate::nexus::NexusWaiters::default(),
            shutting_down: AtomicBool::new(false),
            sweeper: Mutex::new(None),
            polls: CancellablePolls::default(),
            workers: crate::workers::WorkerRegistry::default(),
        });
        let sweeper = tokio::spawn(sweep(Arc::downgrade(&engine)));
        *lock(&engine.sweeper) = Some(sweeper);
        engine
    }

    /// Stops background work, releases waiting pollers and saves ack levels. Idempotent.
    pub async fn shutdown(&self) {
        if self.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(handle) = lock(&self.sweeper).take() {
            handle.abort();
        }
        let slots: Vec<Slot> = lock(&self.partitions).drain().map(|(_, s)| s).collect();
        for slot in slots {
            if let Some(p) = slot.get() {
                p.stop();
                p.release().await;
            }
        }
        self.queries.clear();
        self.nexus.clear();
    }

    pub(crate) fn engine(&self) -> Option<Arc<MatchingEngine>> {
        self.me.upgrade()
    }

    fn check_running(&self) -> Result<(), MatchingError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(MatchingError::ShuttingDown);
        }
        Ok(())
    }

    /// Whether the membership ring gives partition `key` to this host (always, without rings).
    pub(crate) fn check_owner(&self, key: &TaskQueueKey) -> Result<(), MatchingError> {
        let Some(rings) = &self.config.rings else { return Ok(()) };
        let ring = rings.borrow().ring(Role::Matching);
        let number = u32::try_from(key.partition).unwrap_or(0);
        match ring.owner(&sundial_rpc::partition_key(&key.namespace_id, &key.name, number)) {
            Some(host) if host.address == self.config.host_address => Ok(()),
            owner => Err(MatchingError::NotOwner {
                task_queue: key.to_string(),
                owner: owner.map_or_else(|| "(none live)".to_owned(), |h| h.address.clone()),
            }),
        }
    }

    /// The address of the matching host that owns partition `key`, as the ring says.
    pub(crate) fn owner_address(&self, key: &TaskQueueKey) -> String {
        match self.check_owner(key) {
            Ok(()) => self.config.host_address.clone(),
            Err(MatchingError::NotOwner { owner, .. }) => owner,
            Err(_) => String::new(),
        }
    }

    /// The loaded partition for `key`, leasing it on first use. Refused when the ring gives
    /// the partition to another host, so a host never serves (or leases) what it does not own.
    pub(crate) async fn partition(&self, key: &TaskQueueKey, sticky: bool) -> Result<Arc<Partition>, MatchingError> {
        for _ in 0..RELOAD_ATTEMPTS {
            self.check_running()?;
            self.check_owner(key)?;
            let slot = lock(&self.partitions).entry(key.clone()).or_default().clone();
            let mut fresh = false;
            let loaded = slot
                .get_or_try_init(|| {
                    fresh = true;
                    let forward = self.forward_link(key, sticky);
                    let owner = self.config.lease_owner.clone();
                    Partition::load(self.store.clone(), key.clone(), sticky, forward, owner)
                })
                .await;
            match loaded {
                Ok(p) if !p.is_lost() => {
                    if self.shutting_down.load(Ordering::SeqCst) {
                        p.stop();
                        return Err(MatchingError::ShuttingDown);
                    }
                    if fresh
                        && !sticky
                        && let Err(e) = self.after_load(p).await
                    {
                        self.unload(key, &slot);
                        return Err(e);
                    }
                    return Ok(p.clone());
                }
                Ok(_) => self.unload(key, &slot),
                Err(e) => {
                    self.unload(key, &slot);
                    return Err(e.into());
                }
            }
        }
        Err(MatchingError::Persistence(PersistenceError::ConditionFailed(format!(
            "task queue {key} keeps losing its lease"
        ))))
    }

    /// The partition if it is loaded (sticky adds never load one: no load, no recent poller).
    pub(crate) fn loaded(&self, key: &TaskQueueKey) -> Option<Arc<Partition>> {
        let map = lock(&self.partitions);
        map.get(key)
            .and_then(|slot| slot.get().cloned())
            .filter(|p| !p.is_lost())
    }

    /// Drops a partition now (a sticky queue whose worker shut down): its waiting pollers are
    /// released and adds to it fail until a poller loads it again.
    pub(crate) fn unload_queue(&self, key: &TaskQueueKey) {
        let removed = lock(&self.partitions).remove(key);
        if let Some(p) = removed.and_then(|s| s.get().cloned()) {
            release(p);
        }
    }

    /// Removes `slot` if it is still the one registered for `key`.
    fn unload(&self, key: &TaskQueueKey, slot: &Slot) {
        let removed = {
            let mut map = lock(&self.partitions);
            match map.get(key) {
                Some(current) if Arc::ptr_eq(current, slot) => map.remove(key),
                _ => None,
            }
        };
        if let Some(p) = removed.and_then(|s| s.get().cloned()) {
            release(p);
        }
    }

    /// Turns an offer into a started task. History is called from a spawned task, so the
    /// outcome (ack, telling the adder, or putting the task back) is handled even if this poll
    /// is dropped. No copy of the task is released before history has recorded it started or
    /// called it stale: a backlog task is acked only then, and a sync-matched task's adder
    /// (history's transfer queue, which keeps its own copy until the add succeeds) is answered
    /// only then.
    pub(crate) async fn start_task(
        self: &Arc<Self>,
        partition: &Arc<Partition>,
        poll: &Arc<Poll>,
        offer: Offer,
    ) -> Recorded {
        let (info, backlog, recorded) = match offer {
            Offer::Query(q) => return Recorded::Started(q.response),
            Offer::Sync { info, recorded } => (info, None, Some(recorded)),
            Offer::Backlog { task_id, info, owner } => (info, Some((task_id, owner)), None),
        };
        let engine = self.clone();
        let partition = partition.clone();
        let poll = poll.clone();
        let recording = tokio::spawn(async move {
            let request_id = match &backlog {
                Some((id, _)) => format!("{}:{id}", poll.poller_id),
                None => format!("{}:{}", poll.poller_id, uuid::Uuid::new_v4()),
            };
            let result = engine.record_started(&poll, &info, request_id).await;
            if result.is_ok() {
                sundial_common::crash::point("matching.after_record_started");
            }
            match (&result, backlog, recorded) {
                (Ok(_), Some((id, owner)), _) => owner.ack(id),
                (Err(s), Some((id, owner)), _) if is_stale(s) => owner.ack(id),
                (Err(s), Some((task_id, owner)), _) => {
                    tracing::debug!(task_queue = %owner.key, error = %s, "re-queueing backlog task");
                    owner.clone().give_back(Offer::Backlog { task_id, info, owner });
                }
                (Ok(_), None, Some(recorded)) => {
                    let _ = recorded.send(Ok(()));
                }
                (Err(s), None, Some(recorded)) if is_stale(s) => {
                    let _ = recorded.send(Ok(()));
                }
                (Err(s), None, Some(recorded)) => {
                    // The adder persists the task. If it is gone (its call was cancelled, so
                    // history still holds the transfer task and retries it), put it back anyway.
                    if recorded.send(Err(s.clone())).is_err() {
                        tracing::debug!(task_queue = %partition.key, error = %s, "re-adding matched task");
                        let keys = [partition.key.clone()];
                        if let Err(e) = engine.place_task(&keys, None, partition.sticky, "", info).await {
                            tracing::debug!(task_queue = %partition.key, error = %e,
                                "could not put back a matched task; history's transfer queue retries it");
                        }
                    }
                }
                (_, None, None) => {}
            }
            result
        });
        match recording.await {
            Ok(Ok(polled)) => Recorded::Started(Box::new(polled)),
            Ok(Err(status)) if is_stale(&status) => {
                tracing::debug!(error = %status, "dropping stale task");
                Recorded::Stale
            }
            Ok(Err(status)) => Recorded::Failed(status),
            Err(join) => Recorded::Failed(Status::internal(format!("recording task start failed: {join}"))),
        }
    }

    async fn record_started(&self, poll: &Poll, info: &TaskInfo, request_id: String) -> Result<Polled, Status> {
        let workflow_id = info.execution.as_ref().map_or("", |e| e.workflow_id.as_str());
        let mut history = self.history.for_workflow(&poll.namespace_id, workflow_id)?;
        match &poll.request {
            PollRequest::Workflow(request) => history
                .record_workflow_task_started(RecordWorkflowTaskStartedRequest {
                    namespace_id: poll.namespace_id.clone(),
                    execution: info.execution.clone(),
                    scheduled_event_id: info.scheduled_event_id,
                    request_id,
                    poll_request: Some(request.clone()),
                })
                .await
                .map(|r| Polled::Workflow(r.into_inner())),
            PollRequest::Activity(request) => history
                .record_activity_task_started(RecordActivityTaskStartedRequest {
                    namespace_id: poll.namespace_id.clone(),
                    execution: info.execution.clone(),
                    scheduled_event_id: info.scheduled_event_id,
                    request_id,
                    poll_request: Some(request.clone()),
                })
                .await
                .map(|r| Polled::Activity(r.into_inner())),
            // Nexus tasks are direct offers; none is ever recorded with history.
            PollRequest::Nexus(_) => Err(Status::internal("a Nexus poll was offered a history task")),
        }
    }

    /// The parent link of a non-root partition of a normal queue.
    fn forward_link(&self, key: &TaskQueueKey, sticky: bool) -> Option<Forward> {
        if sticky {
            return None;
        }
        let number = u32::try_from(key.partition).ok()?;
        let parent = sundial_common::partition::parent(number)?;
        Some(Forward {
            parent: TaskQueueKey {
                partition: parent as i32,
                ..key.clone()
            },
            engine: self.me.clone(),
        })
    }

    /// Unloads partitions that went idle and, with `moved`, those the ring now gives to
    /// another host (their pollers come back through the new owner).
    fn sweep_once(&self, moved: bool) {
        let leaving: Vec<(TaskQueueKey, Slot, bool)> = lock(&self.partitions)
            .iter()
            .filter_map(|(k, slot)| {
                let idle = slot.get().is_some_and(|p| p.is_idle(IDLE_UNLOAD));
                let gone = moved && self.check_owner(k).is_err();
                (idle || gone).then(|| (k.clone(), slot.clone(), gone))
            })
            .collect();
        for (key, slot, gone) in leaving {
            if gone {
                tracing::info!(task_queue = %key, "task queue moved to another matching host; unloading it");
            } else {
                tracing::debug!(task_queue = %key, "unloading idle task queue");
            }
            self.unload(&key, &slot);
        }
    }
}

/// Stops a partition at once and gives its lease up in the background.
fn release(partition: Arc<Partition>) {
    partition.stop();
    tokio::spawn(async move { partition.release().await });
}

/// Unloads idle partitions now and then, and moved ones whenever the rings change; ends with
/// the engine.
async fn sweep(engine: Weak<MatchingEngine>) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL.min(POLLER_HISTORY));
    tick.tick().await;
    let mut rings = engine.upgrade().and_then(|e| e.config.rings.clone());
    loop {
        let moved = match rings.as_mut() {
            Some(rx) => tokio::select! {
                _ = tick.tick() => true,
                changed = rx.changed() => {
                    if changed.is_err() {
                        rings = None;
                    }
                    true
                }
            },
            None => {
                tick.tick().await;
                false
            }
        };
        match engine.upgrade() {
            Some(engine) => engine.sweep_once(moved),
            None => return,
        }
    }
}
