//! A history shard: the `range_id` lease, task-id allocation, the cache of loaded runs with a
//! lock per run, and `update`/`create`, which turn a `Mutation` into one fenced transaction and
//! then hand the new outbox tasks to the shard's queue processors.

use crate::committer::Committer;
use crate::mutation::{Mutation, PendingTask};
use crate::updates::Effect;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use sundial_api::sundial::persistence::v1::{TimerTask, TransferTask, VisibilityTask, WorkflowMutableState};
use sundial_api::temporal::history::v1::{History, HistoryEvent};
use sundial_common::ServiceError;
use sundial_common::time::now_nanos;
use sundial_persistence::{
    CurrentCondition, CurrentExecution, ExecutionKey, ExecutionWrite, HistoryBatch, NewTask, PersistenceError,
    ShardRecord, Store, Transition,
};
use tokio::sync::{mpsc, watch};

/// Task ids of one lease are `[range_id << RANGE_BITS, (range_id + 1) << RANGE_BITS)`.
const RANGE_BITS: u32 = 20;
const CACHE_CAPACITY: usize = 20_000;
const CONFLICT_RETRIES: usize = 5;
/// A namespace's retention is re-read at most this often.
const RETENTION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
/// Used when a namespace's retention cannot be read (Temporal's default retention).
const FALLBACK_RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Which run: its namespace id, workflow id and run id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RunKey {
    pub namespace_id: String,
    pub workflow_id: String,
    pub run_id: String,
}

impl RunKey {
    pub fn new(namespace_id: impl Into<String>, workflow_id: impl Into<String>, run_id: impl Into<String>) -> Self {
        RunKey {
            namespace_id: namespace_id.into(),
            workflow_id: workflow_id.into(),
            run_id: run_id.into(),
        }
    }

    /// Another run of the same workflow.
    pub fn sibling(&self, run_id: impl Into<String>) -> Self {
        RunKey::new(self.namespace_id.clone(), self.workflow_id.clone(), run_id)
    }
}

/// What long polls on a run wait for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct RunProgress {
    pub next_event_id: i64,
    pub closed: bool,
    /// The run's state transition count: standalone activities write no events, so their
    /// long polls wait on this.
    pub transitions: i64,
}

pub(crate) struct Loaded {
    pub db_version: i64,
    pub ms: WorkflowMutableState,
    /// Fingerprint of the encoding of `ms` as the database holds it. A transition that writes
    /// no event or task still persists when the state's encoding moved away from it, so no
    /// handler has to remember to ask for a write.
    persisted: u64,
}

impl Loaded {
    fn new(db_version: i64, ms: WorkflowMutableState) -> Loaded {
        let persisted = fingerprint(&sundial_api::prost::Message::encode_to_vec(&ms));
        Loaded {
            db_version,
            ms,
            persisted,
        }
    }
}

/// A stable 64-bit hash of an encoded mutable state (SipHash with fixed keys).
fn fingerprint(encoded: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    encoded.hash(&mut h);
    h.finish()
}

/// The message of a caught panic, for the log.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

pub(crate) struct Entry {
    pub state: tokio::sync::Mutex<Option<Loaded>>,
    /// One permit, held by a commit of this run from submission until its outcome is known.
    /// A caller dropped while its commit is queued releases the run's lock and drops the
    /// cached state, but the write may still land: whoever loads the run next waits for the
    /// permit first, so it never caches (and acts on) the state from before that write.
    pub commits: Arc<tokio::sync::Semaphore>,
    pub progress: watch::Sender<RunProgress>,
    /// The run's workflow updates (in memory only).
    pub updates: crate::updates::Registry,
}

/// Where committed tasks go: the shard's queue processors.
pub(crate) struct QueueInbox {
    pub transfer: mpsc::UnboundedSender<(i64, TransferTask)>,
    pub timer: mpsc::UnboundedSender<(i64, i64, TimerTask)>,
    pub visibility: mpsc::UnboundedSender<(i64, VisibilityTask)>,
}

impl QueueInbox {
    /// Hands committed tasks to the processors. A closed receiver means the shard is stopping;
    /// the tasks are durable and the next owner reads them.
    pub fn deliver(&self, tasks: Vec<NewTask>) {
        for task in tasks {
            let _ = match task {
                NewTask::Transfer { task_id, task } => self.transfer.send((task_id, task)).map_err(|_| ()),
                NewTask::Timer { fire_at, task_id, task } => self.timer.send((fire_at, task_id, task)).map_err(|_| ()),
                NewTask::Visibility { task_id, task } => self.visibility.send((task_id, task)).map_err(|_| ()),
            };
        }
    }
}

/// A run's lock held for a transition. Unless the transition is marked finished, dropping it
/// drops the cached state too: a transition cut short (its caller's future dropped while it
/// waited for the database, or an early return) may have left memory ahead of the database.
struct Held<'a> {
    guard: tokio::sync::MutexGuard<'a, Option<Loaded>>,
    finished: bool,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.finished {
            *self.guard = None;
        }
    }
}

struct IdBlock {
    next: i64,
    end: i64,
}

/// This owner's `range_id` lease on the shard, and a count of its renewals that lets a reader
/// tell the lease in memory from a renewal under way: a renewal moves the database first and
/// memory after, so for a moment the two differ without anyone else owning the shard.
pub(crate) struct Lease {
    range_id: std::sync::atomic::AtomicI64,
    /// Odd while a renewal is under way; bumped at its start and at its end.
    renewals: std::sync::atomic::AtomicU64,
}

/// This owner's lease as read at one moment when no renewal was under way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeaseReading {
    range_id: i64,
    renewals: u64,
}

impl LeaseReading {
    pub fn range_id(&self) -> i64 {
        self.range_id
    }
}

impl Lease {
    pub fn new(range_id: i64) -> Lease {
        Lease {
            range_id: std::sync::atomic::AtomicI64::new(range_id),
            renewals: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The range id this owner writes under.
    pub fn current(&self) -> i64 {
        self.range_id.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Read before the shard row is; `None` while a renewal is under way.
    pub fn read(&self) -> Option<LeaseReading> {
        let renewals = self.renewals.load(std::sync::atomic::Ordering::SeqCst);
        renewals.is_multiple_of(2).then(|| LeaseReading {
            range_id: self.current(),
            renewals,
        })
    }

    /// Whether `stored`, the shard row's range id read after `reading` was taken, is another
    /// owner's. No verdict (false) if a renewal of this owner began since `reading`: the row
    /// may then hold this owner's own next range id.
    pub fn taken(&self, reading: LeaseReading, stored: Option<i64>) -> bool {
        self.renewals.load(std::sync::atomic::Ordering::SeqCst) == reading.renewals && stored != Some(reading.range_id)
    }

    /// Marks a renewal under way until the returned guard is finished or dropped.
    fn renewal(&self) -> Renewal<'_> {
        self.renewals.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Renewal { lease: self }
    }
}

/// A renewal under way (see `Lease::renewal`). Dropped unfinished (the write failed or
/// panicked), the lease in memory stays as it was; the next reading judges the row.
struct Renewal<'a> {
    lease: &'a Lease,
}

impl Renewal<'_> {
    /// The renewal wrote `range_id` to the row: this owner writes under it from now on.
    fn finish(self, range_id: i64) {
        self.lease
            .range_id
            .store(range_id, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for Renewal<'_> {
    fn drop(&mut self) {
        self.lease.renewals.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub(crate) struct Shard {
    pub id: i32,
    pub store: Arc<dyn Store>,
    lease: Arc<Lease>,
    /// This owner object must not serve the shard any more: another host took its lease, or
    /// this host let the shard go or opened it anew. Work still holding the object (a request,
    /// a queue task) sees this and stops; what it would have written is fenced off anyway.
    lost: std::sync::atomic::AtomicBool,
    /// Another host's lease was seen (a write of this owner refused, or the row read): logged
    /// once per owner object, even if the host had let the shard go already.
    fenced: std::sync::atomic::AtomicBool,
    /// The first task id of this owner's lease: every outbox task below it was written by an
    /// earlier owner, every one from it on by this one.
    first_own_task_id: i64,
    /// Writes this shard's transitions, many per transaction when they queue up.
    committer: Committer,
    ids: tokio::sync::Mutex<IdBlock>,
    cache: Mutex<HashMap<RunKey, Arc<Entry>>>,
    pub dc: sundial_dynconfig::DynamicConfig,
    /// Namespace id -> (retention, when it was read).
    retentions: Mutex<HashMap<String, (std::time::Duration, std::time::Instant)>>,
    metrics: sundial_metrics::Metrics,
}

impl Shard {
    /// Takes ownership of shard `id` by bumping its `range_id`.
    pub async fn acquire(
        id: i32,
        store: Arc<dyn Store>,
        owner: &str,
        inbox: QueueInbox,
        dc: sundial_dynconfig::DynamicConfig,
        metrics: sundial_metrics::Metrics,
    ) -> Result<Arc<Shard>, ServiceError> {
        let current = store.get_or_create_shard(id).await?;
        let mut next = current.clone();
        next.range_id += 1;
        next.info.owner = owner.to_owned();
        next.info.update_time = Some(sundial_common::time::now_timestamp());
        store.update_shard(&next, current.range_id).await?;
        tracing::info!(shard = id, range_id = next.range_id, "acquired history shard");
        let lease = Arc::new(Lease::new(next.range_id));
        Ok(Arc::new(Shard {
            id,
            committer: Committer::start(store.clone(), lease.clone(), inbox),
            store,
            lease,
            first_own_task_id: next.range_id << RANGE_BITS,
            lost: std::sync::atomic::AtomicBool::new(false),
            fenced: std::sync::atomic::AtomicBool::new(false),
            ids: tokio::sync::Mutex::new(IdBlock {
                next: next.range_id << RANGE_BITS,
                end: (next.range_id + 1) << RANGE_BITS,
            }),
            cache: Mutex::new(HashMap::new()),
            dc,
            retentions: Mutex::new(HashMap::new()),
            metrics,
        }))
    }

    /// Whether this owner object is done with (see the field).
    pub fn lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Another host holds the shard's lease (`how` this owner learnt it): requests and queue
    /// tasks stop using this owner object, and the controller opens the shard under a new
    /// lease if this host should still serve it.
    pub fn ownership_lost(&self, how: &str) {
        self.lost.store(true, std::sync::atomic::Ordering::Release);
        if !self.fenced.swap(true, std::sync::atomic::Ordering::AcqRel) {
            tracing::warn!(
                shard = self.id,
                range_id = self.lease.current(),
                how,
                "shard ownership lost; this host stops serving it"
            );
        }
    }

    /// Done with this owner object: the host let the shard go, or opened it anew.
    pub fn retire(&self) {
        self.lost.store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// See `first_own_task_id`.
    pub fn first_own_task_id(&self) -> i64 {
        self.first_own_task_id
    }

    /// Allocates `n` consecutive task ids, renewing the lease when the block runs out.
    async fn allocate_ids(&self, n: usize) -> Result<i64, ServiceError> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let mut ids = self.ids.lock().await;
        if ids.next.saturating_add(n) > ids.end {
            // On a task of its own: a renewal cut short after its write would leave the lease in
            // memory behind the database's, and every later commit of the shard refused.
            let renewal = renew_lease(self.store.clone(), self.id, self.lease.clone());
            let renewed = tokio::spawn(renewal)
                .await
                .map_err(|e| ServiceError::Internal(format!("renewing the shard lease failed: {e}")))?
                .inspect_err(|e| {
                    if matches!(e, ServiceError::Unavailable(m) if m.contains("ownership lost")) {
                        self.ownership_lost("renewing the lease found another");
                    }
                })?;
            ids.next = renewed << RANGE_BITS;
            ids.end = (renewed + 1) << RANGE_BITS;
        }
        let first = ids.next;
        ids.next += n;
        Ok(first)
    }

    pub fn key(&self, run: &RunKey) -> ExecutionKey {
        ExecutionKey {
            shard_id: self.id,
            namespace_id: run.namespace_id.clone(),
            workflow_id: run.workflow_id.clone(),
            run_id: run.run_id.clone(),
        }
    }

    pub fn entry(&self, run: &RunKey) -> Arc<Entry> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = cache.get(run) {
            return e.clone();
        }
        if cache.len() >= CACHE_CAPACITY {
            // Drop runs nobody is using; a dropped run is simply reloaded on next use.
            cache.retain(|_, e| Arc::strong_count(e) > 1 || e.progress.receiver_count() > 0);
        }
        let entry = Arc::new(Entry {
            state: tokio::sync::Mutex::new(None),
            commits: Arc::new(tokio::sync::Semaphore::new(1)),
            progress: watch::channel(RunProgress::default()).0,
            updates: Default::default(),
        });
        cache.insert(run.clone(), entry.clone());
        entry
    }

    /// Forgets a run's cached state (after it was deleted).
    pub fn evict(&self, run: &RunKey) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).remove(run);
    }

    async fn load(&self, run: &RunKey, entry: &Entry, slot: &mut Option<Loaded>) -> Result<(), ServiceError> {
        if slot.is_some() {
            return Ok(());
        }
        // A commit still in flight (its caller gone) lands or fails before the read.
        drop(entry.commits.acquire().await);
        let stored = self.store.get_execution(&self.key(run)).await?;
        let Some(stored) = stored else {
            return Err(ServiceError::NotFound(format!(
                "workflow execution not found for workflow ID \"{}\" and run ID \"{}\"",
                run.workflow_id, run.run_id
            )));
        };
        let progress =
            RunProgress {
                next_event_id: stored.state.info.as_ref().map_or(0, |i| i.next_event_id),
                closed: stored.state.info.as_ref().is_some_and(|i| {
                    i.status != sundial_api::temporal::enums::v1::WorkflowExecutionStatus::Running as i32
                }),
                transitions: stored.state.info.as_ref().map_or(0, |i| i.state_transition_count),
            };
        *slot = Some(Loaded::new(stored.db_record_version, stored.state));
        if let Some(entry) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(run) {
            entry.progress.send_replace(progress);
        }
        Ok(())
    }

    /// A copy of the run's current mutable state.
    pub async fn snapshot(&self, run: &RunKey) -> Result<WorkflowMutableState, ServiceError> {
        let entry = self.entry(run);
        let mut guard = entry.state.lock().await;
        self.load(run, &entry, &mut guard).await?;
        Ok(guard.as_ref().map(|l| l.ms.clone()).unwrap_or_default())
    }

    /// Runs one transition of an existing run: lock, load, `f`, persist, notify. Whatever `f`
    /// changed (events, tasks, or only the mutable state) is committed before this returns; a
    /// transition that changed nothing writes nothing. On a write conflict the cached state is
    /// dropped and `f` runs again on a fresh load. If `f` fails or panics, or the commit fails,
    /// the cached state it may have half-changed is dropped, so memory is never ahead of the
    /// database.
    pub async fn update<R>(
        &self,
        run: &RunKey,
        mut f: impl FnMut(&mut Mutation<'_>) -> Result<R, ServiceError>,
    ) -> Result<R, ServiceError> {
        let entry = self.entry(run);
        for _ in 0..CONFLICT_RETRIES {
            let mut held = Held {
                guard: entry.state.lock().await,
                finished: false,
            };
            self.load(run, &entry, &mut held.guard).await?;
            let Some(loaded) = held.guard.as_mut() else {
                return Err(ServiceError::Internal("execution vanished from cache".into()));
            };
            let mut m = Mutation::new(&mut loaded.ms, now_nanos(), self.dc.clone());
            let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f(&mut m).map(|r| (r, crate::limits::exceeded(&m)))
            }));
            let (result, over_limit) = match applied {
                Ok(Ok(applied)) => applied,
                Ok(Err(e)) => return Err(e),
                Err(panic) => {
                    let message = panic_message(panic.as_ref());
                    tracing::error!(workflow_id = %run.workflow_id, run_id = %run.run_id, panic = %message,
                        "a transition panicked; the run's cached state is dropped");
                    return Err(ServiceError::Internal(format!(
                        "internal error in the workflow's transition: {message}"
                    )));
                }
            };
            if let Some(limit) = over_limit {
                // Like Temporal: a run that would outgrow a limit is terminated instead.
                drop(m);
                drop(held);
                self.terminate_over_limit(run, &limit).await?;
                return Err(ServiceError::FailedPrecondition(format!(
                    "workflow terminated: {limit}"
                )));
            }
            let (events, tasks, closed) = (std::mem::take(&mut m.events), std::mem::take(&mut m.tasks), m.closed);
            let mut successor = m.new_run.take();
            let mut effects = std::mem::take(&mut m.update_effects);
            if closed.is_some() && !effects.iter().any(|e| matches!(e, Effect::RunClosed { .. })) {
                // Updates still waiting on this run end with it.
                effects.push(Effect::RunClosed {
                    continuing: successor.is_some(),
                });
            }
            if events.is_empty()
                && tasks.is_empty()
                && closed.is_none()
                && successor.is_none()
                && fingerprint(&sundial_api::prost::Message::encode_to_vec(&loaded.ms)) == loaded.persisted
            {
                crate::updates::apply(&entry.updates, effects);
                held.finished = true;
                return Ok(result);
            }
            let version = loaded.db_version + 1;
            match self
                .persist(
                    run,
                    &mut loaded.ms,
                    version,
                    events,
                    tasks,
                    closed,
                    None,
                    successor.as_mut(),
                    &entry.commits,
                )
                .await
            {
                Ok((progress, persisted)) => {
                    loaded.db_version = version;
                    loaded.persisted = persisted;
                    // Effects first: whoever sees the new progress sees them applied.
                    crate::updates::apply(&entry.updates, effects);
                    entry.progress.send_replace(progress);
                    held.finished = true;
                    drop(held);
                    if let Some(next) = successor {
                        self.adopt(&run.sibling(next.run_id), next.ms);
                    }
                    return Ok(result);
                }
                Err(PersistenceError::ConditionFailed(reason)) => {
                    tracing::debug!(%reason, "execution write conflict; reloading");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "too many concurrent updates to the workflow; retry".into(),
        ))
    }

    async fn terminate_over_limit(&self, run: &RunKey, reason: &str) -> Result<(), ServiceError> {
        tracing::warn!(workflow_id = %run.workflow_id, run_id = %run.run_id, %reason, "terminating workflow over a limit");
        let entry = self.entry(run);
        let mut held = Held {
            guard: entry.state.lock().await,
            finished: false,
        };
        self.load(run, &entry, &mut held.guard).await?;
        let Some(loaded) = held.guard.as_mut() else {
            return Err(ServiceError::Internal("execution vanished from cache".into()));
        };
        let mut m = Mutation::new(&mut loaded.ms, now_nanos(), self.dc.clone());
        if !m.is_running() {
            held.finished = true;
            return Ok(());
        }
        crate::signals::terminate_in(&mut m, reason, None, "sundial-history");
        let (events, tasks, closed) = (std::mem::take(&mut m.events), std::mem::take(&mut m.tasks), m.closed);
        let version = loaded.db_version + 1;
        match self
            .persist(
                run,
                &mut loaded.ms,
                version,
                events,
                tasks,
                closed,
                None,
                None,
                &entry.commits,
            )
            .await
        {
            Ok((progress, persisted)) => {
                loaded.db_version = version;
                loaded.persisted = persisted;
                crate::updates::apply(&entry.updates, vec![Effect::RunClosed { continuing: false }]);
                entry.progress.send_replace(progress);
                held.finished = true;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a run from a prepared mutable state and its first transition.
    pub async fn create(
        &self,
        run: &RunKey,
        ms: WorkflowMutableState,
        m_events: Vec<sundial_api::temporal::history::v1::HistoryEvent>,
        m_tasks: Vec<PendingTask>,
        condition: CurrentCondition,
        current: CurrentExecution,
    ) -> Result<(), PersistenceError> {
        self.create_then(run, ms, m_events, m_tasks, condition, current, |_| {})
            .await
    }

    /// `create`, running `committed` on the run's cache entry once the run is committed and
    /// before its lock is released: nothing (a poller recording the first workflow task) can
    /// act on the new run before `committed` has (update-with-start admits its update there).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_then(
        &self,
        run: &RunKey,
        mut ms: WorkflowMutableState,
        m_events: Vec<sundial_api::temporal::history::v1::HistoryEvent>,
        m_tasks: Vec<PendingTask>,
        condition: CurrentCondition,
        current: CurrentExecution,
        committed: impl FnOnce(&Entry),
    ) -> Result<(), PersistenceError> {
        let entry = self.entry(run);
        let mut guard = entry.state.lock().await;
        let (progress, persisted) = self
            .persist(
                run,
                &mut ms,
                1,
                m_events,
                m_tasks,
                None,
                Some((condition, current)),
                None,
                &entry.commits,
            )
            .await?;
        *guard = Some(Loaded {
            db_version: 1,
            ms,
            persisted,
        });
        committed(&entry);
        entry.progress.send_replace(progress);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn persist(
        &self,
        run: &RunKey,
        ms: &mut WorkflowMutableState,
        db_version: i64,
        events: Vec<HistoryEvent>,
        tasks: Vec<PendingTask>,
        closed: Option<i32>,
        create: Option<(CurrentCondition, CurrentExecution)>,
        successor: Option<&mut crate::chain::NewRun>,
        commits: &Arc<tokio::sync::Semaphore>,
    ) -> Result<(RunProgress, u64), PersistenceError> {
        let mut tasks = tasks;
        if closed.is_some() {
            tasks.push(self.retention_timer(run).await);
        }
        let extra = successor.as_ref().map_or(0, |s| s.tasks.len() + 1);
        let first_id = self
            .allocate_ids(tasks.len() + 1 + extra)
            .await
            .map_err(|e| PersistenceError::ConditionFailed(e.to_string()))?;
        let (history, new_tasks, next_event_id) = prepare(run, ms, db_version, events, tasks, first_id);
        let key = self.key(run);
        let write = ExecutionWrite {
            key: &key,
            state: ms,
            next_event_id,
            db_record_version: db_version,
            history,
            tasks: new_tasks.clone(),
        };
        let mut all_tasks = new_tasks;
        let write = write.encode();
        let persisted = fingerprint(&write.state);
        let transition = match (create, successor) {
            (Some((condition, current)), _) => Transition::Create {
                write,
                condition,
                current,
            },
            (None, Some(next)) => {
                let next_run = RunKey::new(run.namespace_id.clone(), run.workflow_id.clone(), next.run_id.clone());
                let next_first = first_id + 1 + write.tasks.len() as i64;
                let (next_history, next_tasks, next_next_event) = prepare(
                    &next_run,
                    &mut next.ms,
                    1,
                    std::mem::take(&mut next.events),
                    std::mem::take(&mut next.tasks),
                    next_first,
                );
                let next_key = self.key(&next_run);
                let current = CurrentExecution {
                    run_id: next.run_id.clone(),
                    create_request_id: next
                        .ms
                        .info
                        .as_ref()
                        .map(|i| i.create_request_id.clone())
                        .unwrap_or_default(),
                    status: sundial_api::temporal::enums::v1::WorkflowExecutionStatus::Running as i32,
                    start_time: sundial_common::time::now_nanos(),
                };
                let next_write = ExecutionWrite {
                    key: &next_key,
                    state: &next.ms,
                    next_event_id: next_next_event,
                    db_record_version: 1,
                    history: next_history,
                    tasks: next_tasks.clone(),
                };
                all_tasks.extend(next_tasks);
                Transition::Continue {
                    old: write,
                    new: next_write.encode(),
                    current,
                }
            }
            (None, None) => Transition::Update {
                write,
                current_status: closed,
            },
        };
        sundial_common::crash::point("history.before_commit");
        let in_flight = commits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PersistenceError::Unavailable("the run's commit gate closed".into()))?;
        let committed = self.committer.commit(transition, all_tasks, in_flight).await;
        if let Err(PersistenceError::ShardOwnershipLost { .. }) = &committed {
            self.ownership_lost("a commit under this lease was refused");
        }
        committed?;
        sundial_common::crash::point("history.after_commit");
        if closed.is_some() {
            // After the commit, so a retried or conflicting close is counted once.
            record_close(&self.metrics, ms);
        }
        Ok((
            RunProgress {
                next_event_id,
                closed: is_closed(ms),
                transitions: ms.info.as_ref().map_or(0, |i| i.state_transition_count),
            },
            persisted,
        ))
    }

    /// The timer that deletes a run closing now once its namespace's retention is over, spread
    /// over `history.retentionTimerJitterDuration` by a hash of the run id.
    async fn retention_timer(&self, run: &RunKey) -> PendingTask {
        let retention = self.retention(&run.namespace_id).await;
        let jitter = self.dc.get(
            &sundial_dynconfig::keys::HISTORY_RETENTION_TIMER_JITTER,
            &sundial_dynconfig::Scope::global(),
        );
        let jitter_nanos = u64::try_from(jitter.as_nanos()).unwrap_or(u64::MAX);
        let spread = if jitter_nanos == 0 {
            0
        } else {
            let hash = run.run_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            i64::try_from(hash % jitter_nanos).unwrap_or(0)
        };
        let retention_nanos = i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX);
        PendingTask::Timer {
            fire_at: now_nanos().saturating_add(retention_nanos).saturating_add(spread),
            task: TimerTask {
                r#type: sundial_api::sundial::persistence::v1::TimerTaskType::DeleteHistory as i32,
                namespace_id: run.namespace_id.clone(),
                workflow_id: run.workflow_id.clone(),
                run_id: run.run_id.clone(),
                ..Default::default()
            },
        }
    }

    /// A namespace's retention, cached briefly.
    async fn retention(&self, namespace_id: &str) -> std::time::Duration {
        let cached = {
            let cache = self.retentions.lock().unwrap_or_else(|p| p.into_inner());
            cache.get(namespace_id).copied()
        };
        if let Some((retention, read_at)) = cached
            && read_at.elapsed() < RETENTION_CACHE_TTL
        {
            return retention;
        }
        let read = match self.store.get_namespace_by_id(namespace_id).await {
            Ok(record) => record
                .and_then(|r| r.detail.config)
                .and_then(|c| c.workflow_execution_retention_ttl)
                .as_ref()
                .and_then(sundial_common::time::duration_from_pb),
            Err(e) => {
                tracing::warn!(namespace_id, error = %e, "cannot read the namespace's retention");
                None
            }
        };
        let retention = read.or(cached.map(|c| c.0)).unwrap_or(FALLBACK_RETENTION);
        if read.is_some() {
            let mut cache = self.retentions.lock().unwrap_or_else(|p| p.into_inner());
            cache.insert(namespace_id.to_owned(), (retention, std::time::Instant::now()));
        }
        retention
    }

    /// Puts a run created by this process into the cache, so its first tasks find it.
    fn adopt(&self, run: &RunKey, ms: WorkflowMutableState) {
        let progress = RunProgress {
            next_event_id: ms.info.as_ref().map_or(0, |i| i.next_event_id),
            closed: is_closed(&ms),
            transitions: ms.info.as_ref().map_or(0, |i| i.state_transition_count),
        };
        let entry = self.entry(run);
        if let Ok(mut slot) = entry.state.try_lock() {
            *slot = Some(Loaded::new(1, ms));
        }
        entry.progress.send_replace(progress);
    }
}

/// Bumps shard `id`'s lease if this process still holds it; returns the new range id.
async fn renew_lease(store: Arc<dyn Store>, id: i32, lease: Arc<Lease>) -> Result<i64, ServiceError> {
    let current = lease.current();
    let record = store.get_or_create_shard(id).await?;
    if record.range_id != current {
        return Err(ServiceError::Unavailable(format!("shard {id} ownership lost")));
    }
    let next = ShardRecord {
        range_id: current + 1,
        ..record
    };
    let renewal = lease.renewal();
    store.update_shard(&next, current).await?;
    renewal.finish(current + 1);
    Ok(current + 1)
}

/// Temporal's CompletionStats counters for a run whose close was just committed.
fn record_close(metrics: &sundial_metrics::Metrics, ms: &WorkflowMutableState) {
    use sundial_api::temporal::enums::v1::WorkflowExecutionStatus as S;
    use sundial_metrics::WorkflowOutcome as O;
    let Some(info) = ms.info.as_ref() else { return };
    if info.standalone_activity.is_some() {
        // Workflow outcome metrics count workflows only.
        return;
    }
    let outcome = match S::try_from(info.status) {
        Ok(S::Completed) => O::Success,
        Ok(S::Failed) => O::Failed,
        Ok(S::TimedOut) => O::Timeout,
        Ok(S::Terminated) => O::Terminate,
        Ok(S::Canceled) => O::Cancel,
        Ok(S::ContinuedAsNew) => O::ContinuedAsNew,
        _ => return,
    };
    metrics.workflow_closed(outcome, &info.namespace, &info.workflow_type, &info.task_queue);
}

fn is_closed(ms: &WorkflowMutableState) -> bool {
    ms.info
        .as_ref()
        .is_some_and(|i| i.status != sundial_api::temporal::enums::v1::WorkflowExecutionStatus::Running as i32)
}

/// Numbers the transition's events and tasks (ids from `first_id`) and updates the run's
/// bookkeeping; returns the event batch, the tasks and the next event id.
fn prepare(
    run: &RunKey,
    ms: &mut WorkflowMutableState,
    db_version: i64,
    mut events: Vec<HistoryEvent>,
    tasks: Vec<PendingTask>,
    first_id: i64,
) -> (Option<HistoryBatch>, Vec<NewTask>, i64) {
    let info = ms.info.get_or_insert_with(Default::default);
    info.state_transition_count += 1;
    let history = if events.is_empty() {
        None
    } else {
        for e in &mut events {
            e.task_id = first_id;
        }
        let history = History { events };
        info.history_size_bytes += sundial_api::prost::Message::encoded_len(&history) as i64;
        info.history_batch_count += 1;
        Some(HistoryBatch {
            first_event_id: history.events.first().map_or(0, |e| e.event_id),
            txn_id: db_version,
            history,
        })
    };
    let visibility_task = VisibilityTask {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
    };
    let new_tasks = tasks
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let task_id = first_id + 1 + i as i64;
            match t {
                PendingTask::Transfer(task) => NewTask::Transfer { task_id, task },
                PendingTask::Timer { fire_at, task } => NewTask::Timer { fire_at, task_id, task },
                PendingTask::Visibility => NewTask::Visibility {
                    task_id,
                    task: visibility_task.clone(),
                },
            }
        })
        .collect();
    (history, new_tasks, info.next_event_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_taken_when_the_row_holds_another_range_id() {
        let lease = Lease::new(7);
        let reading = lease.read().expect("no renewal under way");
        assert_eq!(reading.range_id(), 7);
        assert!(!lease.taken(reading, Some(7)), "the row still holds our lease");
        assert!(lease.taken(reading, Some(8)), "another owner bumped it");
        assert!(lease.taken(reading, None), "the row is gone");
    }

    #[test]
    fn our_own_renewal_is_never_taken_for_another_owner() {
        let lease = Lease::new(7);
        // A renewal under way: the row may already hold 8 while memory says 7.
        let renewal = lease.renewal();
        assert!(lease.read().is_none(), "no reading while a renewal is under way");
        renewal.finish(8);
        let reading = lease.read().expect("renewal over");
        assert_eq!(reading.range_id(), 8);
        assert!(!lease.taken(reading, Some(8)));

        // A renewal that starts after the reading and writes before the row is read.
        let before = lease.read().expect("no renewal under way");
        lease.renewal().finish(9);
        assert!(!lease.taken(before, Some(9)), "no verdict across a renewal of ours");
        // Nor one still under way when the row is read.
        let before = lease.read().expect("no renewal under way");
        let renewal = lease.renewal();
        assert!(!lease.taken(before, Some(10)));
        drop(renewal);
    }

    #[test]
    fn a_failed_renewal_keeps_the_lease_and_ends() {
        let lease = Lease::new(7);
        drop(lease.renewal()); // the write failed
        let reading = lease.read().expect("the failed renewal is over");
        assert_eq!(reading.range_id(), 7);
        assert!(lease.taken(reading, Some(8)), "whoever wrote 8, it was not us");
    }
}
