//! The shard's queue processors. Committed outbox tasks arrive in memory right after their
//! transaction (no polling). Tasks that earlier owners of the shard left are read from the
//! database a page at a time; timers only when they come within the horizon, so memory holds
//! a bounded number of them however many are pending. A task is deleted only after it has
//! been carried out (in batches, by the shard's reaper), so a crash re-runs it (at least
//! once; the receivers are idempotent).

use crate::HistoryEngine;
use crate::reaper::{self, Done, Reaper, TimerKey};
use crate::shard::{RunKey, Shard};
use futures::FutureExt;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;
use sundial_api::sundial::matchingservice::v1::{AddActivityTaskRequest, AddWorkflowTaskRequest};
use sundial_api::sundial::persistence::v1::{TimerTask, TransferTask, TransferTaskType, VisibilityTask};
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::enums::v1::TaskQueueKind;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::ServiceError;
use sundial_common::time::{now_nanos, timestamp_to_nanos};
use sundial_dynconfig::TaskType;
use sundial_persistence::{PersistenceError, VisibilityRecord};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

const MAX_CONCURRENT_TASKS: usize = 256;
/// Tasks read from the database in one query.
const PAGE_SIZE: usize = 1000;
/// Timers further out than this stay in the database until they come close.
const TIMER_HORIZON: Duration = Duration::from_secs(3600);
/// How often the horizon moves on (must be well under `TIMER_HORIZON`).
const TIMER_REFILL_INTERVAL: Duration = Duration::from_secs(300);
/// Timers read ahead into memory at most; the rest is read as these fire.
const MAX_LOADED_TIMERS: usize = 20_000;
/// Longest wait between attempts of a failing task or read.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Starts the processors of a freshly acquired shard. Call before the shard serves requests:
/// tasks that arrive in memory are then exactly those of this owner's lease, and the
/// processors read the earlier owners' tasks (below `first_own_task_id`) from the database.
pub(crate) fn spawn(
    engine: &Arc<HistoryEngine>,
    shard: Arc<Shard>,
    transfer_rx: UnboundedReceiver<(i64, TransferTask)>,
    timer_rx: UnboundedReceiver<(i64, i64, TimerTask)>,
    vis_rx: UnboundedReceiver<(i64, VisibilityTask)>,
) -> Vec<JoinHandle<()>> {
    let weak = Arc::downgrade(engine);
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_TASKS));
    let (reaper, reaping) = reaper::spawn(shard.clone());
    let before = shard.first_own_task_id();
    let transfer_left = Leftovers::new(shard.clone(), before, |shard, range| {
        Box::pin(async move { shard.store.load_transfer_tasks(shard.id, range, PAGE_SIZE).await })
    });
    let vis_left = Leftovers::new(shard.clone(), before, |shard, range| {
        Box::pin(async move { shard.store.load_visibility_tasks(shard.id, range, PAGE_SIZE).await })
    });
    vec![
        tokio::spawn(transfer_loop(
            weak,
            shard.clone(),
            transfer_left,
            transfer_rx,
            limit.clone(),
            reaper.clone(),
        )),
        tokio::spawn(timer_loop(shard.clone(), timer_rx, limit.clone(), reaper.clone())),
        tokio::spawn(visibility_loop(shard, vis_left, vis_rx, limit, reaper)),
        reaping,
    ]
}

/// Runs `f` until it succeeds or fails for good, backing off while it fails with a retryable
/// error; true then, and the task is done with. The concurrency permit is held only while an
/// attempt runs, so tasks that keep failing (the database is down, say) never starve the
/// shard's other tasks. Once the shard is lost, false: the task is the next owner's, and
/// retrying it here (under a lease that is gone, for ever) would only load the database.
async fn with_retries<F, Fut>(what: &str, shard: &Shard, limit: &tokio::sync::Semaphore, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), ServiceError>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        if shard.lost() {
            return false;
        }
        let outcome = {
            let Ok(_permit) = limit.acquire().await else {
                return false;
            };
            // A panic in one task must not end the processor nor lose the task: it is logged
            // and the task retried like any internal error.
            match std::panic::AssertUnwindSafe(f()).catch_unwind().await {
                Ok(outcome) => outcome,
                Err(panic) => Err(ServiceError::Internal(format!(
                    "panicked: {}",
                    crate::shard::panic_message(panic.as_ref())
                ))),
            }
        };
        match outcome {
            Ok(()) => return true,
            Err(ServiceError::Unavailable(msg)) | Err(ServiceError::Internal(msg)) => {
                tracing::warn!(task = what, error = %msg, "queue task failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                tracing::debug!(task = what, error = %e, "queue task dropped");
                return true;
            }
        }
    }
}

type LoadPage<T> =
    fn(Arc<Shard>, (i64, i64)) -> Pin<Box<dyn Future<Output = Result<Vec<(i64, T)>, PersistenceError>> + Send>>;

/// The tasks of one immediate queue that earlier owners of the shard left, read a page at a
/// time in id order.
struct Leftovers<T> {
    shard: Arc<Shard>,
    /// The last id read.
    after: i64,
    /// This owner's first id (its own tasks arrive in memory).
    before: i64,
    page: VecDeque<(i64, T)>,
    exhausted: bool,
    load: LoadPage<T>,
}

impl<T> Leftovers<T> {
    fn new(shard: Arc<Shard>, before: i64, load: LoadPage<T>) -> Self {
        Leftovers {
            shard,
            after: i64::MIN,
            before,
            page: VecDeque::new(),
            exhausted: false,
            load,
        }
    }

    /// The next leftover task, or `None` once all are read. A failing read is retried.
    async fn next(&mut self) -> Option<(i64, T)> {
        let mut delay = Duration::from_millis(50);
        while self.page.is_empty() && !self.exhausted {
            match (self.load)(self.shard.clone(), (self.after, self.before)).await {
                Ok(page) => {
                    self.exhausted = page.len() < PAGE_SIZE;
                    if let Some((last, _)) = page.last() {
                        self.after = *last;
                    }
                    if !page.is_empty() {
                        tracing::info!(shard = self.shard.id, tasks = page.len(), "resuming queued tasks");
                    }
                    self.page = page.into();
                }
                Err(e) => {
                    tracing::warn!(shard = self.shard.id, error = %e, "cannot read queued tasks; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.page.pop_front()
    }
}

async fn transfer_loop(
    engine: Weak<HistoryEngine>,
    shard: Arc<Shard>,
    mut leftovers: Leftovers<TransferTask>,
    mut rx: UnboundedReceiver<(i64, TransferTask)>,
    limit: Arc<tokio::sync::Semaphore>,
    reaper: Reaper,
) {
    loop {
        let next = match leftovers.next().await {
            Some(t) => Some(t),
            None => rx.recv().await,
        };
        let Some((id, task)) = next else { return };
        let (engine, shard, reaper, limit) = (engine.clone(), shard.clone(), reaper.clone(), limit.clone());
        tokio::spawn(async move {
            let done = with_retries("transfer", &shard, &limit, || {
                let (engine, shard, task) = (engine.clone(), shard.clone(), task.clone());
                async move {
                    let Some(engine) = engine.upgrade() else { return Ok(()) };
                    execute_transfer(&engine, &shard, &task).await
                }
            })
            .await;
            if done {
                reaper.done(Done::Transfer(id));
            }
        });
    }
}

fn run_of(ns: &str, wf: &str, run: &str) -> RunKey {
    RunKey::new(ns, wf, run)
}

async fn execute_transfer(engine: &HistoryEngine, shard: &Shard, task: &TransferTask) -> Result<(), ServiceError> {
    // Tasks about other runs; they check their own preconditions.
    let outcome = match TransferTaskType::try_from(task.r#type).unwrap_or(TransferTaskType::Unspecified) {
        TransferTaskType::StartChild => Some(engine.start_child_task(shard, task).await),
        TransferTaskType::RecordChildCompletion => Some(engine.record_child_completion_task(shard, task).await),
        TransferTaskType::ParentClosePolicy => Some(engine.parent_close_policy_task(task).await),
        TransferTaskType::SignalExternal => Some(engine.signal_external_task(shard, task).await),
        TransferTaskType::CancelExternal => Some(engine.cancel_external_task(shard, task).await),
        TransferTaskType::NexusStart => Some(engine.nexus_start_task(shard, task).await),
        TransferTaskType::NexusCancel => Some(engine.nexus_cancel_task(shard, task).await),
        TransferTaskType::NexusCallback => Some(engine.nexus_callback_task(shard, task).await),
        _ => None,
    };
    if let Some(outcome) = outcome {
        return match outcome {
            Err(ServiceError::NotFound(_)) => Ok(()),
            other => other,
        };
    }
    let run = run_of(&task.namespace_id, &task.workflow_id, &task.run_id);
    let ms = match shard.snapshot(&run).await {
        Ok(ms) => ms,
        Err(ServiceError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let running = ms
        .info
        .as_ref()
        .is_some_and(|i| i.status == sundial_api::temporal::enums::v1::WorkflowExecutionStatus::Running as i32);
    if !running {
        return Ok(());
    }
    let execution = Some(WorkflowExecution {
        workflow_id: task.workflow_id.clone(),
        run_id: task.run_id.clone(),
    });
    let namespace = ms.info.as_ref().map(|i| i.namespace.clone()).unwrap_or_default();
    match TransferTaskType::try_from(task.r#type).unwrap_or(TransferTaskType::Unspecified) {
        TransferTaskType::WorkflowTask => {
            let current = ms.workflow_task.as_ref().is_some_and(|w| {
                w.scheduled_event_id == task.scheduled_event_id && w.stamp == task.stamp && w.started_event_id == 0
            });
            if !current {
                return Ok(());
            }
            let mut req = AddWorkflowTaskRequest {
                namespace_id: task.namespace_id.clone(),
                execution,
                task_queue: Some(TaskQueue {
                    name: task.task_queue.clone(),
                    kind: task.task_queue_kind,
                    normal_name: String::new(),
                }),
                scheduled_event_id: task.scheduled_event_id,
                schedule_to_start_timeout: task.schedule_to_start_timeout,
                namespace: namespace.clone(),
                partition: 0,
                sync_only: false,
                forward_wait: None,
            };
            let sticky = task.task_queue_kind == TaskQueueKind::Sticky as i32;
            let (mut matching, partition) = engine.matching_for_add(
                &namespace,
                &task.namespace_id,
                &task.task_queue,
                sticky,
                TaskType::Workflow,
            )?;
            req.partition = partition;
            let sent = matching.add_workflow_task(req.clone()).await;
            match sent {
                Ok(_) => Ok(()),
                Err(s)
                    if s.code() == tonic::Code::FailedPrecondition
                        && task.task_queue_kind == TaskQueueKind::Sticky as i32 =>
                {
                    // The sticky worker is gone: the normal queue takes the task right away.
                    let normal = ms.info.as_ref().map(|i| i.task_queue.clone()).unwrap_or_default();
                    let (mut matching, partition) =
                        engine.matching_for_add(&namespace, &task.namespace_id, &normal, false, TaskType::Workflow)?;
                    req.partition = partition;
                    req.task_queue = Some(TaskQueue {
                        name: normal,
                        kind: TaskQueueKind::Normal as i32,
                        normal_name: String::new(),
                    });
                    req.schedule_to_start_timeout = None;
                    matching
                        .add_workflow_task(req)
                        .await
                        .map(|_| ())
                        .map_err(status_to_error)
                }
                Err(s) => Err(status_to_error(s)),
            }
        }
        TransferTaskType::ActivityTask => {
            let current = ms
                .activities
                .get(&task.scheduled_event_id)
                .is_some_and(|a| a.stamp == task.stamp && a.started_time.is_none());
            if !current {
                return Ok(());
            }
            let timeout = ms
                .activities
                .get(&task.scheduled_event_id)
                .and_then(|a| a.schedule_to_start_timeout);
            let (mut matching, partition) = engine.matching_for_add(
                &namespace,
                &task.namespace_id,
                &task.task_queue,
                false,
                TaskType::Activity,
            )?;
            matching
                .add_activity_task(AddActivityTaskRequest {
                    namespace_id: task.namespace_id.clone(),
                    execution,
                    task_queue: Some(TaskQueue {
                        name: task.task_queue.clone(),
                        kind: TaskQueueKind::Normal as i32,
                        normal_name: String::new(),
                    }),
                    scheduled_event_id: task.scheduled_event_id,
                    schedule_to_start_timeout: timeout,
                    namespace,
                    partition,
                    sync_only: false,
                    forward_wait: None,
                })
                .await
                .map(|_| ())
                .map_err(status_to_error)
        }
        _ => Ok(()),
    }
}

fn status_to_error(s: tonic::Status) -> ServiceError {
    if sundial_rpc::is_retryable(&s) || s.code() == tonic::Code::Internal || s.code() == tonic::Code::Unknown {
        ServiceError::Unavailable(format!("matching: {}", s.message()))
    } else {
        ServiceError::FailedPrecondition(format!("matching: {}", s.message()))
    }
}

/// Fires due timers. Memory holds the timers up to `read_to` (a (fire time, id) cursor):
/// those read from the database and those committed since. A committed timer beyond the
/// cursor is left to the database, where a later read finds it, so each timer is read once.
async fn timer_loop(
    shard: Arc<Shard>,
    mut rx: UnboundedReceiver<(i64, i64, TimerTask)>,
    limit: Arc<tokio::sync::Semaphore>,
    reaper: Reaper,
) {
    let mut timers = LoadedTimers::default();
    let mut refill = tokio::time::interval(TIMER_REFILL_INTERVAL);
    loop {
        let next_due = timers.next_due();
        let sleep = async {
            match next_due {
                // Never one long sleep for a far-away deadline (a timer may be set for the end
                // of time): wake at least every reload interval and look again.
                Some(ts) => tokio::time::sleep(timer_wait(ts, now_nanos())).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            msg = rx.recv() => {
                let Some((fire_at, id, task)) = msg else { return };
                timers.committed((fire_at, id), task);
            }
            _ = refill.tick() => timers.refill(&shard).await,
            _ = sleep => {
                sundial_common::crash::panic_point("history.timer_loop");
                for (key, task) in timers.take_due(now_nanos()) {
                    let (shard, reaper, limit) = (shard.clone(), reaper.clone(), limit.clone());
                    tokio::spawn(async move {
                        let done = with_retries("timer", &shard, &limit, || {
                            let (shard, task) = (shard.clone(), task.clone());
                            async move { crate::timers::fire(&shard, &task).await }
                        })
                        .await;
                        if done {
                            reaper.done(Done::Timer(key));
                        }
                    });
                }
                if timers.wants_more() {
                    timers.refill(&shard).await;
                }
            }
        }
    }
}

/// The timers of a shard held in memory, and how far the database has been read.
struct LoadedTimers {
    heap: BinaryHeap<Reverse<TimerKey>>,
    tasks: HashMap<TimerKey, TimerTask>,
    /// Every timer at or before this key is in memory or has fired.
    read_to: TimerKey,
    /// Whether everything up to the horizon of the last refill has been read.
    caught_up: bool,
}

impl Default for LoadedTimers {
    fn default() -> Self {
        LoadedTimers {
            heap: BinaryHeap::new(),
            tasks: HashMap::new(),
            read_to: (i64::MIN, i64::MIN),
            caught_up: false,
        }
    }
}

impl LoadedTimers {
    fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    fn insert(&mut self, key: TimerKey, task: TimerTask) {
        if self.tasks.insert(key, task).is_none() {
            self.heap.push(Reverse(key));
        }
    }

    /// A timer just committed by this shard.
    fn committed(&mut self, key: TimerKey, task: TimerTask) {
        if key <= self.read_to {
            self.insert(key, task);
        }
    }

    fn take_due(&mut self, now: i64) -> Vec<(TimerKey, TimerTask)> {
        let mut due = Vec::new();
        while let Some(Reverse(key)) = self.heap.peek().copied() {
            if key.0 > now {
                break;
            }
            self.heap.pop();
            if let Some(task) = self.tasks.remove(&key) {
                due.push((key, task));
            }
        }
        due
    }

    /// Not everything within the horizon is read, and there is room for more.
    fn wants_more(&self) -> bool {
        !self.caught_up && self.tasks.len() < MAX_LOADED_TIMERS / 2
    }

    /// Reads the timers due within the horizon that are not in memory yet, a page at a time,
    /// until the horizon or the memory bound is reached.
    async fn refill(&mut self, shard: &Shard) {
        let horizon = now_nanos().saturating_add(i64::try_from(TIMER_HORIZON.as_nanos()).unwrap_or(i64::MAX));
        self.caught_up = false;
        while self.tasks.len() < MAX_LOADED_TIMERS {
            match shard
                .store
                .load_timer_tasks(shard.id, self.read_to, horizon, PAGE_SIZE)
                .await
            {
                Ok(page) => {
                    let full = page.len() == PAGE_SIZE;
                    for (fire_at, id, task) in page {
                        self.insert((fire_at, id), task);
                        self.read_to = (fire_at, id);
                    }
                    if !full {
                        self.read_to = (horizon, i64::MAX);
                        self.caught_up = true;
                        return;
                    }
                }
                Err(e) => {
                    // Committed timers beyond `read_to` wait for the next refill.
                    tracing::warn!(shard = shard.id, error = %e, "cannot read timer tasks; retrying at the next refill");
                    return;
                }
            }
        }
    }
}

/// How long the timer loop may sleep before the earliest timer, `next_due`, is due.
fn timer_wait(next_due: i64, now: i64) -> Duration {
    sundial_common::time::until(next_due, now).min(TIMER_REFILL_INTERVAL)
}

async fn visibility_loop(
    shard: Arc<Shard>,
    mut leftovers: Leftovers<VisibilityTask>,
    mut rx: UnboundedReceiver<(i64, VisibilityTask)>,
    limit: Arc<tokio::sync::Semaphore>,
    reaper: Reaper,
) {
    loop {
        let next = match leftovers.next().await {
            Some(t) => Some(t),
            None => rx.recv().await,
        };
        let Some((id, task)) = next else { return };
        let (shard, reaper, limit) = (shard.clone(), reaper.clone(), limit.clone());
        tokio::spawn(async move {
            let done = with_retries("visibility", &shard, &limit, || {
                let (shard, task) = (shard.clone(), task.clone());
                async move { record_visibility(&shard, &task).await }
            })
            .await;
            if done {
                reaper.done(Done::Visibility(id));
            }
        });
    }
}

async fn record_visibility(shard: &Shard, task: &VisibilityTask) -> Result<(), ServiceError> {
    let run = run_of(&task.namespace_id, &task.workflow_id, &task.run_id);
    let ms = match shard.snapshot(&run).await {
        Ok(ms) => ms,
        Err(ServiceError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(info) = ms.info else { return Ok(()) };
    if info.deleted {
        // Last in line for this run: whichever of its visibility tasks runs sees the mark,
        // so no upsert can bring the row back after the delete.
        shard.store.delete_execution(&shard.key(&run)).await?;
        shard.evict(&run);
        return Ok(());
    }
    let running = info.status == sundial_api::temporal::enums::v1::WorkflowExecutionStatus::Running as i32;
    // Custom attributes are aliases of the namespace's pre-allocated columns: read its
    // mapping only when the run has attributes that are not system ones.
    let attrs = info.search_attributes.clone().unwrap_or_default();
    let needs_namespace = attrs
        .indexed_fields
        .keys()
        .any(|k| sundial_persistence::visibility::system_attribute(k).is_none());
    let namespace = if needs_namespace {
        shard.store.get_namespace_by_id(&info.namespace_id).await?
    } else {
        None
    };
    let row = sundial_persistence::visibility::row_attributes(namespace.as_ref().map(|n| &n.detail), &attrs);
    let root = crate::mutation::root_execution(&info);
    // A standalone activity is listed under its own id, in its own division; like Temporal,
    // its transition count shows only once it closed.
    let standalone = info.standalone_activity.as_ref();
    let nexus = info.standalone_nexus.as_ref();
    let record = VisibilityRecord {
        namespace_id: info.namespace_id.clone(),
        run_id: info.run_id.clone(),
        workflow_id: match (standalone, nexus) {
            (Some(s), _) => s.activity_id.clone(),
            (None, Some(n)) => n.operation_id.clone(),
            (None, None) => info.workflow_id.clone(),
        },
        workflow_type: info.workflow_type.clone(),
        status: info.status,
        start_time: info.start_time.as_ref().map_or(0, timestamp_to_nanos),
        execution_time: info.execution_time.as_ref().map_or(0, timestamp_to_nanos),
        close_time: if running {
            None
        } else {
            info.close_time.as_ref().map(timestamp_to_nanos)
        },
        history_length: info.next_event_id - 1,
        history_size_bytes: info.history_size_bytes,
        state_transition_count: if (standalone.is_some() || nexus.is_some()) && running {
            0
        } else {
            info.state_transition_count
        },
        task_queue: info.task_queue.clone(),
        parent_workflow_id: (!info.parent_workflow_id.is_empty()).then(|| info.parent_workflow_id.clone()),
        parent_run_id: (!info.parent_run_id.is_empty()).then(|| info.parent_run_id.clone()),
        root_workflow_id: root.workflow_id,
        root_run_id: root.run_id,
        memo: info
            .memo
            .as_ref()
            .filter(|m| !m.fields.is_empty())
            .map(sundial_api::prost::Message::encode_to_vec),
        search_attributes: (!row.returned.indexed_fields.is_empty())
            .then(|| sundial_api::prost::Message::encode_to_vec(&row.returned)),
        temporal_change_version: row.temporal_change_version,
        custom: row.columns,
        version: info.state_transition_count,
        division: if standalone.is_some() {
            sundial_persistence::visibility::ACTIVITY_DIVISION.to_owned()
        } else if nexus.is_some() {
            sundial_persistence::visibility::NEXUS_DIVISION.to_owned()
        } else {
            String::new()
        },
    };
    shard.store.upsert_visibility(&record).await.map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(event_id: i64) -> TimerTask {
        TimerTask {
            event_id,
            ..Default::default()
        }
    }

    fn fired(timers: &mut LoadedTimers, now: i64) -> Vec<TimerKey> {
        timers.take_due(now).into_iter().map(|(key, _)| key).collect()
    }

    #[test]
    fn committed_timers_beyond_the_read_cursor_are_left_to_the_database() {
        let mut timers = LoadedTimers {
            read_to: (1_000, i64::MAX),
            caught_up: true,
            ..Default::default()
        };
        timers.committed((500, 2), task(1));
        timers.committed((1_000, 9), task(2));
        timers.committed((1_001, 3), task(3));
        timers.committed((i64::MAX, 4), task(4));
        assert_eq!(timers.tasks.len(), 2, "only timers within the cursor are held");
        assert_eq!(timers.next_due(), Some(500));
    }

    #[test]
    fn due_timers_fire_in_order_and_once() {
        let mut timers = LoadedTimers {
            read_to: (i64::MAX, i64::MAX),
            ..Default::default()
        };
        for key in [(30, 1), (10, 2), (20, 3), (10, 1)] {
            timers.committed(key, task(key.1));
        }
        timers.committed((10, 2), task(2)); // the same timer twice (read and committed)
        assert_eq!(fired(&mut timers, 5), Vec::<TimerKey>::new());
        assert_eq!(fired(&mut timers, 20), [(10, 1), (10, 2), (20, 3)]);
        assert_eq!(fired(&mut timers, 20), Vec::<TimerKey>::new(), "fired timers are gone");
        assert_eq!(timers.next_due(), Some(30));
        assert_eq!(fired(&mut timers, i64::MAX), [(30, 1)]);
        assert_eq!(timers.next_due(), None);
    }

    #[test]
    fn more_is_read_only_when_behind_and_below_the_memory_bound() {
        let mut timers = LoadedTimers::default();
        assert!(timers.wants_more(), "nothing read yet");
        timers.caught_up = true;
        assert!(!timers.wants_more());
        timers.caught_up = false;
        for i in 0..MAX_LOADED_TIMERS as i64 {
            timers.insert((i, i), task(i));
        }
        assert!(!timers.wants_more(), "memory is full");
        fired(&mut timers, MAX_LOADED_TIMERS as i64 / 2 + 1);
        assert!(timers.wants_more());
    }

    #[test]
    fn timer_wait_is_bounded_for_any_deadline() {
        let now = 1_764_000_000_000_000_000i64;
        assert_eq!(timer_wait(i64::MAX, now), TIMER_REFILL_INTERVAL);
        assert_eq!(timer_wait(i64::MIN, now), Duration::ZERO);
        assert_eq!(timer_wait(now - 5, now), Duration::ZERO);
        assert_eq!(timer_wait(i64::MAX, i64::MIN), TIMER_REFILL_INTERVAL);
        assert_eq!(timer_wait(now + 1_000, now), Duration::from_nanos(1_000));
    }
}
