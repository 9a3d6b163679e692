//! Reads: history pages (with long polls for new events or the close event), describe, and
//! queries dispatched to a worker through matching.

use crate::HistoryEngine;
use crate::shard::RunKey;
use sundial_api::sundial::matchingservice::v1::QueryWorkflowRequest as MatchingQuery;
use sundial_api::sundial::persistence::v1::WorkflowMutableState;
use sundial_api::temporal::common::v1::{ActivityType, WorkflowExecution, WorkflowType};
use sundial_api::temporal::enums::v1::{
    HistoryEventFilterType, PendingActivityState, PendingWorkflowTaskState, QueryRejectCondition, QueryResultType,
    TaskQueueKind, WorkflowExecutionStatus,
};
use sundial_api::temporal::history::v1::{History, HistoryEvent};
use sundial_api::temporal::query::v1::QueryRejected;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::temporal::workflow::v1::{
    PendingActivityInfo, PendingWorkflowTaskInfo, WorkflowExecutionConfig, WorkflowExecutionInfo,
};
use sundial_api::workflowservice::v1::{
    DescribeWorkflowExecutionResponse, GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryResponse,
    PollWorkflowTaskQueueResponse, QueryWorkflowRequest, QueryWorkflowResponse,
};
use sundial_common::ServiceError;
use sundial_common::time::timestamp_to_nanos;
use sundial_persistence::HistoryBatch;

const DEFAULT_PAGE_BATCHES: usize = 1000;

/// Page tokens: `run_id|next_event_id`.
fn encode_token(run_id: &str, next_event_id: i64) -> Vec<u8> {
    format!("{run_id}|{next_event_id}").into_bytes()
}

fn decode_token(token: &[u8]) -> Result<(String, i64), ServiceError> {
    let bad = || ServiceError::invalid("Invalid NextPageToken.");
    let text = std::str::from_utf8(token).map_err(|_| bad())?;
    let (run, next) = text.split_once('|').ok_or_else(bad)?;
    Ok((run.to_owned(), next.parse().map_err(|_| bad())?))
}

/// A forward page of the batches read from `from` (at most `page` of them count; one more
/// tells whether more follow): its events, the event id the next page starts at, and whether
/// more follow. `from` comes from the client's token and may be anything.
fn forward_page(batches: Vec<HistoryBatch>, from: i64, page: usize) -> (Vec<HistoryEvent>, i64, bool) {
    let more = batches.len() > page;
    let mut events = Vec::new();
    for b in batches.into_iter().take(page) {
        events.extend(b.history.events.into_iter().filter(|e| e.event_id >= from));
    }
    let next = events.last().map_or(from, |e| e.event_id.saturating_add(1));
    (events, next, more)
}

/// A page of `len` events read newest first: the client's token is the index of the page's
/// first event (empty for the first page). Returns the page's range and the next token (empty
/// after the last page). A token past the end gives an empty last page.
pub(crate) fn reverse_page(
    len: usize,
    token: &[u8],
    maximum_page_size: i32,
) -> Result<(std::ops::Range<usize>, Vec<u8>), ServiceError> {
    let start = if token.is_empty() {
        0
    } else {
        std::str::from_utf8(token)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| ServiceError::invalid("Invalid NextPageToken."))?
    };
    let size = usize::try_from(maximum_page_size)
        .ok()
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_PAGE_BATCHES);
    let start = start.min(len);
    let end = start.saturating_add(size).min(len);
    let next = if end < len {
        end.to_string().into_bytes()
    } else {
        Vec::new()
    };
    Ok((start..end, next))
}

fn is_closed(ms: &WorkflowMutableState) -> bool {
    ms.info
        .as_ref()
        .is_some_and(|i| i.status != WorkflowExecutionStatus::Running as i32)
}

/// How long a query waits for a pending workflow task to finish before it is sent anyway.
const QUERY_SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl HistoryEngine {
    pub(crate) async fn get_history(
        &self,
        namespace_id: &str,
        req: GetWorkflowExecutionHistoryRequest,
    ) -> Result<GetWorkflowExecutionHistoryResponse, ServiceError> {
        let exec = req.execution.clone().unwrap_or_default();
        let (run_id, from) = if req.next_page_token.is_empty() {
            (String::new(), 1)
        } else {
            decode_token(&req.next_page_token)?
        };
        let run_id = if run_id.is_empty() { exec.run_id.clone() } else { run_id };
        let run = self.resolve_run(namespace_id, &exec.workflow_id, &run_id).await?;
        let shard = self.shard(namespace_id, &exec.workflow_id)?;
        let close_only = req.history_event_filter_type == HistoryEventFilterType::CloseEvent as i32;
        if req.wait_new_event {
            let closed = self
                .wait_for(&run, |p| p.closed || (!close_only && p.next_event_id > from))
                .await?;
            if !closed.0 {
                // Nothing new within the long poll: the client asks again with the same token.
                return Ok(GetWorkflowExecutionHistoryResponse {
                    history: Some(History::default()),
                    next_page_token: encode_token(&run.run_id, from),
                    ..Default::default()
                });
            }
        }
        let ms = shard.snapshot(&run).await?;
        let info = ms.info.clone().unwrap_or_default();
        if close_only {
            if !is_closed(&ms) {
                return Ok(GetWorkflowExecutionHistoryResponse {
                    history: Some(History::default()),
                    ..Default::default()
                });
            }
            let events = self
                .read_events(&shard, &run, info.completion_event_id, info.completion_event_id)
                .await?;
            return Ok(GetWorkflowExecutionHistoryResponse {
                history: Some(History { events }),
                ..Default::default()
            });
        }
        let page = usize::try_from(req.maximum_page_size)
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or(DEFAULT_PAGE_BATCHES);
        let batches = shard.store.read_history(shard.id, &run.run_id, from, page + 1).await?;
        let (events, next, more) = forward_page(batches, from, page);
        // While the run is open a long-polling client keeps a token to wait for more.
        let next_page_token = if more || (req.wait_new_event && !is_closed(&ms)) {
            encode_token(&run.run_id, next)
        } else {
            Vec::new()
        };
        Ok(GetWorkflowExecutionHistoryResponse {
            history: Some(History { events }),
            next_page_token,
            ..Default::default()
        })
    }

    /// Waits (up to the long-poll timeout) until `cond` holds for the run; returns whether it
    /// did and the progress seen.
    pub(crate) async fn wait_for(
        &self,
        run: &RunKey,
        cond: impl Fn(&crate::shard::RunProgress) -> bool,
    ) -> Result<(bool, crate::shard::RunProgress), ServiceError> {
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        let scope = sundial_dynconfig::Scope::namespace("").with_namespace_id(&run.namespace_id);
        let wait = self
            .config()
            .dynamic_config
            .get(&sundial_dynconfig::keys::HISTORY_LONG_POLL_EXPIRATION_INTERVAL, &scope);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            shard.snapshot(run).await?;
            let entry = shard.entry(run);
            let mut rx = entry.progress.subscribe();
            let current = *rx.borrow_and_update();
            if cond(&current) {
                return Ok((true, current));
            }
            match tokio::time::timeout_at(deadline, rx.wait_for(|p| cond(p))).await {
                Ok(Ok(p)) => return Ok((true, *p)),
                // The run was evicted from the cache: look again.
                Ok(Err(_)) => continue,
                Err(_) => return Ok((false, current)),
            }
        }
    }

    pub(crate) async fn describe(
        &self,
        namespace_id: &str,
        exec: WorkflowExecution,
    ) -> Result<DescribeWorkflowExecutionResponse, ServiceError> {
        let run = self.resolve_run(namespace_id, &exec.workflow_id, &exec.run_id).await?;
        let shard = self.shard(namespace_id, &exec.workflow_id)?;
        let ms = shard.snapshot(&run).await?;
        let info = ms.info.clone().unwrap_or_default();
        let closed = is_closed(&ms);
        let duration = if closed {
            match (&info.close_time, &info.execution_time) {
                (Some(c), Some(e)) => Some(sundial_common::time::duration_to_pb(std::time::Duration::from_nanos(
                    u64::try_from(timestamp_to_nanos(c).saturating_sub(timestamp_to_nanos(e))).unwrap_or(0),
                ))),
                _ => None,
            }
        } else {
            None
        };
        let mut activities: Vec<_> = ms.activities.values().collect();
        activities.sort_by_key(|a| a.scheduled_event_id);
        let pending_activities = activities
            .into_iter()
            .map(|a| {
                // While paused no attempt is scheduled, as Temporal reports it.
                let waiting_retry = a.started_time.is_none() && a.attempt > 1 && !a.paused;
                PendingActivityInfo {
                    activity_id: a.activity_id.clone(),
                    activity_type: Some(ActivityType {
                        name: a.activity_type.clone(),
                    }),
                    state: match (a.cancel_requested, a.started_time.is_some(), a.paused) {
                        (true, _, _) => PendingActivityState::CancelRequested,
                        (false, true, true) => PendingActivityState::PauseRequested,
                        (false, true, false) => PendingActivityState::Started,
                        (false, false, true) => PendingActivityState::Paused,
                        (false, false, false) => PendingActivityState::Scheduled,
                    } as i32,
                    paused: a.paused,
                    pause_info: a.pause_info.clone().filter(|_| a.paused),
                    activity_options: Some(crate::activity_ops::options_of(a)),
                    priority: a.priority.clone(),
                    heartbeat_details: a.heartbeat_details.clone(),
                    last_heartbeat_time: a.last_heartbeat_time,
                    last_started_time: a.started_time,
                    // A reset asked for while an attempt runs shows at once.
                    attempt: if a.reset_requested { 1 } else { a.attempt },
                    maximum_attempts: a.retry_policy.as_ref().map_or(0, |p| p.maximum_attempts),
                    // While waiting out a retry backoff, Temporal reports the next attempt's time.
                    scheduled_time: if waiting_retry {
                        a.current_attempt_scheduled_time
                    } else {
                        a.scheduled_time
                    },
                    expiration_time: a.expiration_time,
                    last_failure: a.last_failure.clone(),
                    last_worker_identity: a.last_worker_identity.clone(),
                    last_attempt_complete_time: a.last_attempt_complete_time,
                    next_attempt_schedule_time: waiting_retry.then_some(a.current_attempt_scheduled_time).flatten(),
                    current_retry_interval: if waiting_retry {
                        match (&a.current_attempt_scheduled_time, &a.last_attempt_complete_time) {
                            (Some(next), Some(done)) => {
                                Some(sundial_common::time::duration_to_pb(std::time::Duration::from_nanos(
                                    u64::try_from(timestamp_to_nanos(next).saturating_sub(timestamp_to_nanos(done)))
                                        .unwrap_or(0),
                                )))
                            }
                            _ => None,
                        }
                    } else {
                        None
                    },
                    ..Default::default()
                }
            })
            .collect();
        let pending_workflow_task = ms.workflow_task.as_ref().map(|w| PendingWorkflowTaskInfo {
            state: if w.started_event_id != 0 {
                PendingWorkflowTaskState::Started
            } else {
                PendingWorkflowTaskState::Scheduled
            } as i32,
            scheduled_time: w.scheduled_time,
            original_scheduled_time: w.original_scheduled_time,
            started_time: w.started_time,
            attempt: w.attempt,
        });
        Ok(DescribeWorkflowExecutionResponse {
            execution_config: Some(WorkflowExecutionConfig {
                task_queue: Some(TaskQueue {
                    name: info.task_queue.clone(),
                    kind: TaskQueueKind::Normal as i32,
                    normal_name: String::new(),
                }),
                workflow_execution_timeout: info.execution_timeout,
                workflow_run_timeout: info.run_timeout,
                default_workflow_task_timeout: info.task_timeout,
                user_metadata: info.user_metadata.clone(),
            }),
            workflow_execution_info: Some(WorkflowExecutionInfo {
                execution: Some(WorkflowExecution {
                    workflow_id: run.workflow_id.clone(),
                    run_id: run.run_id.clone(),
                }),
                r#type: Some(WorkflowType {
                    name: info.workflow_type.clone(),
                }),
                start_time: info.start_time,
                close_time: if closed { info.close_time } else { None },
                status: info.status,
                history_length: info.next_event_id - 1,
                execution_time: info.execution_time,
                memo: info.memo.clone(),
                search_attributes: info.search_attributes.clone(),
                task_queue: info.task_queue.clone(),
                state_transition_count: info.state_transition_count,
                history_size_bytes: info.history_size_bytes,
                execution_duration: duration,
                parent_namespace_id: info.parent_namespace_id.clone(),
                parent_execution: (!info.parent_workflow_id.is_empty()).then(|| WorkflowExecution {
                    workflow_id: info.parent_workflow_id.clone(),
                    run_id: info.parent_run_id.clone(),
                }),
                root_execution: Some(crate::mutation::root_execution(&info)),
                first_run_id: info.first_execution_run_id.clone(),
                ..Default::default()
            }),
            pending_activities,
            pending_workflow_task,
            pending_nexus_operations: crate::nexus::describe::pending_operations(&ms),
            callbacks: crate::nexus::describe::callbacks(&info),
            ..Default::default()
        })
    }

    /// The run's state once no workflow task is pending, as Temporal's consistent queries
    /// see it: events that came before the query reach the worker before the query does. Gives
    /// up waiting after `QUERY_SETTLE_WAIT` (no worker may be polling) and answers from the
    /// state as it is.
    async fn settled_state(
        &self,
        shard: &crate::shard::Shard,
        run: &RunKey,
    ) -> Result<WorkflowMutableState, ServiceError> {
        let deadline = tokio::time::Instant::now() + QUERY_SETTLE_WAIT;
        loop {
            let entry = shard.entry(run);
            let mut rx = entry.progress.subscribe();
            rx.borrow_and_update();
            let ms = shard.snapshot(run).await?;
            if is_closed(&ms) || ms.workflow_task.is_none() {
                return Ok(ms);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(_) => continue,
                Err(_) => return Ok(ms),
            }
        }
    }

    pub(crate) async fn query(
        &self,
        namespace_id: &str,
        req: QueryWorkflowRequest,
    ) -> Result<QueryWorkflowResponse, ServiceError> {
        let exec = req.execution.clone().unwrap_or_default();
        let run = self.resolve_run(namespace_id, &exec.workflow_id, &exec.run_id).await?;
        let shard = self.shard(namespace_id, &exec.workflow_id)?;
        let ms = self.settled_state(&shard, &run).await?;
        let info = ms.info.clone().unwrap_or_default();
        let status = WorkflowExecutionStatus::try_from(info.status).unwrap_or_default();
        let reject = match QueryRejectCondition::try_from(req.query_reject_condition).unwrap_or_default() {
            QueryRejectCondition::NotOpen => status != WorkflowExecutionStatus::Running,
            QueryRejectCondition::NotCompletedCleanly => !matches!(
                status,
                WorkflowExecutionStatus::Running | WorkflowExecutionStatus::Completed
            ),
            _ => false,
        };
        if reject {
            return Ok(QueryWorkflowResponse {
                query_rejected: Some(QueryRejected { status: info.status }),
                ..Default::default()
            });
        }
        let scope = sundial_dynconfig::Scope::namespace(&info.namespace).with_namespace_id(namespace_id);
        let sticky_query = self
            .config()
            .dynamic_config
            .get(&sundial_dynconfig::keys::ENABLE_STICKY_QUERY, &scope);
        let sticky = sticky_query && !is_closed(&ms) && !info.sticky_task_queue.is_empty();
        let mut queues = Vec::new();
        if sticky {
            queues.push((info.sticky_task_queue.clone(), TaskQueueKind::Sticky));
        }
        queues.push((info.task_queue.clone(), TaskQueueKind::Normal));
        let last = info.next_event_id - 1;
        let mut last_error = None;
        for (queue, kind) in queues {
            let from = if kind == TaskQueueKind::Sticky {
                info.last_completed_workflow_task_started_event_id + 1
            } else {
                1
            };
            let events = self.read_events(&shard, &run, from, last).await?;
            let task = PollWorkflowTaskQueueResponse {
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: run.workflow_id.clone(),
                    run_id: run.run_id.clone(),
                }),
                workflow_type: Some(WorkflowType {
                    name: info.workflow_type.clone(),
                }),
                previous_started_event_id: info.last_completed_workflow_task_started_event_id,
                started_event_id: info.last_completed_workflow_task_started_event_id,
                attempt: 1,
                history: Some(History { events }),
                query: req.query.clone(),
                workflow_execution_task_queue: Some(TaskQueue {
                    name: info.task_queue.clone(),
                    kind: TaskQueueKind::Normal as i32,
                    normal_name: String::new(),
                }),
                ..Default::default()
            };
            let result = self
                .matching(namespace_id, &queue)?
                .query_workflow(MatchingQuery {
                    namespace_id: namespace_id.to_owned(),
                    task_queue: Some(TaskQueue {
                        name: queue,
                        kind: kind as i32,
                        normal_name: String::new(),
                    }),
                    query_task: Some(task),
                })
                .await;
            match result {
                Ok(resp) => {
                    let resp = resp.into_inner();
                    if resp.completed_type == QueryResultType::Failed as i32 {
                        return Err(ServiceError::QueryFailed {
                            message: resp.error_message,
                            failure: resp.failure.map(Box::new),
                        });
                    }
                    return Ok(QueryWorkflowResponse {
                        query_result: resp.query_result,
                        ..Default::default()
                    });
                }
                Err(s) if kind == TaskQueueKind::Sticky => last_error = Some(s),
                Err(s) => return Err(map_matching_error(s)),
            }
        }
        Err(last_error.map_or_else(
            || ServiceError::Internal("no queue to query".into()),
            map_matching_error,
        ))
    }
}

fn map_matching_error(s: tonic::Status) -> ServiceError {
    match s.code() {
        tonic::Code::DeadlineExceeded => ServiceError::Unavailable(format!("query timed out: {}", s.message())),
        tonic::Code::NotFound => ServiceError::NotFound(s.message().to_owned()),
        tonic::Code::InvalidArgument => ServiceError::invalid(s.message()),
        _ => ServiceError::Unavailable(s.message().to_owned()),
    }
}

#[cfg(test)]
mod props;
