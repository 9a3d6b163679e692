//! The shard's queue processors. Committed outbox tasks arrive in memory right after their
//! transaction (no polling); tasks left from before a restart are loaded once at start-up.
//! A task is deleted only after it has been carried out (in batches, by the shard's reaper),
//! so a crash re-runs it (at least once; the receivers are idempotent).

use crate::HistoryEngine;
use crate::reaper::{self, Done, Reaper, TimerKey};
use crate::shard::{RunKey, Shard};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;
use sundial_api::sundial::matchingservice::v1::{AddActivityTaskRequest, AddWorkflowTaskRequest};
use sundial_api::sundial::persistence::v1::{TimerTask, TransferTask, TransferTaskType, VisibilityTask};
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::enums::v1::TaskQueueKind;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::ServiceError;
use sundial_common::time::{now_nanos, timestamp_to_nanos};
use sundial_persistence::VisibilityRecord;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

const MAX_CONCURRENT_TASKS: usize = 256;
const STARTUP_LOAD_LIMIT: usize = 100_000;
/// Timers further out than this are left in the database and loaded when they come close.
const TIMER_HORIZON: Duration = Duration::from_secs(3600);
const TIMER_RELOAD_INTERVAL: Duration = Duration::from_secs(300);

/// Loads the tasks a previous owner left, then starts the processors. Call before the
/// shard serves requests, so that loaded and newly committed tasks never overlap.
pub(crate) async fn spawn(
    engine: &Arc<HistoryEngine>,
    shard: Arc<Shard>,
    transfer_rx: UnboundedReceiver<(i64, TransferTask)>,
    timer_rx: UnboundedReceiver<(i64, i64, TimerTask)>,
    vis_rx: UnboundedReceiver<(i64, VisibilityTask)>,
) -> Result<Vec<JoinHandle<()>>, ServiceError> {
    let transfer_backlog = shard.store.load_transfer_tasks(shard.id, STARTUP_LOAD_LIMIT).await?;
    let vis_backlog = shard.store.load_visibility_tasks(shard.id, STARTUP_LOAD_LIMIT).await?;
    if !transfer_backlog.is_empty() || !vis_backlog.is_empty() {
        tracing::info!(
            shard = shard.id,
            transfer = transfer_backlog.len(),
            visibility = vis_backlog.len(),
            "resuming queued tasks"
        );
    }
    let weak = Arc::downgrade(engine);
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_TASKS));
    let (timers_deleted_tx, timers_deleted) = tokio::sync::mpsc::unbounded_channel();
    let (reaper, reaping) = reaper::spawn(shard.clone(), timers_deleted_tx);
    Ok(vec![
        tokio::spawn(transfer_loop(
            weak,
            shard.clone(),
            transfer_backlog,
            transfer_rx,
            limit.clone(),
            reaper.clone(),
        )),
        tokio::spawn(timer_loop(
            shard.clone(),
            timer_rx,
            timers_deleted,
            limit.clone(),
            reaper.clone(),
        )),
        tokio::spawn(visibility_loop(shard, vis_backlog, vis_rx, limit, reaper)),
        reaping,
    ])
}

/// Retries `f` with backoff while it fails with a retryable error.
async fn with_retries<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ServiceError>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        match f().await {
            Ok(()) => return,
            Err(ServiceError::Unavailable(msg)) | Err(ServiceError::Internal(msg)) => {
                tracing::warn!(task = what, error = %msg, "queue task failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::debug!(task = what, error = %e, "queue task dropped");
                return;
            }
        }
    }
}

async fn transfer_loop(
    engine: Weak<HistoryEngine>,
    shard: Arc<Shard>,
    mut backlog: Vec<(i64, TransferTask)>,
    mut rx: UnboundedReceiver<(i64, TransferTask)>,
    limit: Arc<tokio::sync::Semaphore>,
    reaper: Reaper,
) {
    backlog.reverse();
    loop {
        let next = match backlog.pop() {
            Some(t) => Some(t),
            None => rx.recv().await,
        };
        let Some((id, task)) = next else { return };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (engine, shard, reaper) = (engine.clone(), shard.clone(), reaper.clone());
        tokio::spawn(async move {
            let _permit = permit;
            with_retries("transfer", || {
                let (engine, shard, task) = (engine.clone(), shard.clone(), task.clone());
                async move {
                    let Some(engine) = engine.upgrade() else { return Ok(()) };
                    execute_transfer(&engine, &shard, &task).await
                }
            })
            .await;
            reaper.done(Done::Transfer(id));
        });
    }
}

fn run_of(ns: &str, wf: &str, run: &str) -> RunKey {
    (ns.to_owned(), wf.to_owned(), run.to_owned())
}

async fn execute_transfer(engine: &HistoryEngine, shard: &Shard, task: &TransferTask) -> Result<(), ServiceError> {
    // Tasks about other runs; they check their own preconditions.
    let outcome = match TransferTaskType::try_from(task.r#type).unwrap_or(TransferTaskType::Unspecified) {
        TransferTaskType::StartChild => Some(engine.start_child_task(shard, task).await),
        TransferTaskType::RecordChildCompletion => Some(engine.record_child_completion_task(shard, task).await),
        TransferTaskType::ParentClosePolicy => Some(engine.parent_close_policy_task(task).await),
        TransferTaskType::SignalExternal => Some(engine.signal_external_task(shard, task).await),
        TransferTaskType::CancelExternal => Some(engine.cancel_external_task(shard, task).await),
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
    let mut matching = engine.matching();
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
            };
            match matching.add_workflow_task(req.clone()).await {
                Ok(_) => Ok(()),
                Err(s)
                    if s.code() == tonic::Code::FailedPrecondition
                        && task.task_queue_kind == TaskQueueKind::Sticky as i32 =>
                {
                    // The sticky worker is gone: the normal queue takes the task right away.
                    let normal = ms.info.as_ref().map(|i| i.task_queue.clone()).unwrap_or_default();
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

/// Fires due timers. A fired timer stays `in_flight` until the reaper has deleted its row, so
/// the periodic reload cannot pick it up again.
async fn timer_loop(
    shard: Arc<Shard>,
    mut rx: UnboundedReceiver<(i64, i64, TimerTask)>,
    mut deleted: UnboundedReceiver<TimerKey>,
    limit: Arc<tokio::sync::Semaphore>,
    reaper: Reaper,
) {
    let mut heap: BinaryHeap<Reverse<TimerKey>> = BinaryHeap::new();
    let mut tasks: HashMap<TimerKey, TimerTask> = HashMap::new();
    let mut in_flight: std::collections::HashSet<TimerKey> = std::collections::HashSet::new();
    let mut reload = tokio::time::interval(TIMER_RELOAD_INTERVAL);
    loop {
        let next_due = heap.peek().map(|Reverse((ts, _))| *ts);
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
                if tasks.insert((fire_at, id), task).is_none() {
                    heap.push(Reverse((fire_at, id)));
                }
            }
            _ = reload.tick() => {
                let until = sundial_common::time::deadline_after_std(now_nanos(), TIMER_HORIZON);
                match shard.store.load_timer_tasks(shard.id, until, STARTUP_LOAD_LIMIT).await {
                    Ok(loaded) => {
                        for (fire_at, id, task) in loaded {
                            let key = (fire_at, id);
                            if !in_flight.contains(&key) && tasks.insert(key, task).is_none() {
                                heap.push(Reverse(key));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(shard = shard.id, error = %e, "cannot load timer tasks"),
                }
            }
            Some(key) = deleted.recv() => { in_flight.remove(&key); }
            _ = sleep => {
                let now = now_nanos();
                while let Some(Reverse(key)) = heap.peek().copied() {
                    if key.0 > now { break; }
                    heap.pop();
                    let Some(task) = tasks.remove(&key) else { continue };
                    in_flight.insert(key);
                    let Ok(permit) = limit.clone().acquire_owned().await else { return };
                    let (shard, reaper) = (shard.clone(), reaper.clone());
                    tokio::spawn(async move {
                        let _permit = permit;
                        with_retries("timer", || {
                            let (shard, task) = (shard.clone(), task.clone());
                            async move { crate::timers::fire(&shard, &task).await }
                        })
                        .await;
                        reaper.done(Done::Timer(key));
                    });
                }
            }
        }
    }
}

/// How long the timer loop may sleep before the earliest timer, `next_due`, is due.
fn timer_wait(next_due: i64, now: i64) -> Duration {
    sundial_common::time::until(next_due, now).min(TIMER_RELOAD_INTERVAL)
}

async fn visibility_loop(
    shard: Arc<Shard>,
    mut backlog: Vec<(i64, VisibilityTask)>,
    mut rx: UnboundedReceiver<(i64, VisibilityTask)>,
    limit: Arc<tokio::sync::Semaphore>,
    reaper: Reaper,
) {
    backlog.reverse();
    loop {
        let next = match backlog.pop() {
            Some(t) => Some(t),
            None => rx.recv().await,
        };
        let Some((id, task)) = next else { return };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (shard, reaper) = (shard.clone(), reaper.clone());
        tokio::spawn(async move {
            let _permit = permit;
            with_retries("visibility", || {
                let (shard, task) = (shard.clone(), task.clone());
                async move { record_visibility(&shard, &task).await }
            })
            .await;
            reaper.done(Done::Visibility(id));
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
    let record = VisibilityRecord {
        namespace_id: info.namespace_id.clone(),
        run_id: info.run_id.clone(),
        workflow_id: info.workflow_id.clone(),
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
        state_transition_count: info.state_transition_count,
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
    };
    shard.store.upsert_visibility(&record).await.map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_wait_is_bounded_for_any_deadline() {
        let now = 1_764_000_000_000_000_000i64;
        assert_eq!(timer_wait(i64::MAX, now), TIMER_RELOAD_INTERVAL);
        assert_eq!(timer_wait(i64::MIN, now), Duration::ZERO);
        assert_eq!(timer_wait(now - 5, now), Duration::ZERO);
        assert_eq!(timer_wait(i64::MAX, i64::MIN), TIMER_RELOAD_INTERVAL);
        assert_eq!(timer_wait(now + 1_000, now), Duration::from_nanos(1_000));
    }
}
