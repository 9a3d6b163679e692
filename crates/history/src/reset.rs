//! Deleting a run, and resetting a workflow to an earlier workflow task: the new run starts
//! from a copy of the history up to that task, its state rebuilt from those events, the task
//! failed with cause RESET_WORKFLOW, and later signals applied again.

use crate::HistoryEngine;
use crate::commands::dispatch_activity_attempt;
use crate::mutation::{Mutation, PendingTask};
use sundial_api::sundial::persistence::v1::{
    ActivityInfo, ChildExecutionInfo, TimerInfo, TimerTask, TimerTaskType, TransferTaskType, WorkflowMutableState,
};
use sundial_api::temporal::common::v1::{Memo, SearchAttributes};
use sundial_api::temporal::enums::v1::{
    ResetReapplyExcludeType, ResetReapplyType, TimeoutType, WorkflowExecutionStatus, WorkflowTaskFailedCause,
};
use sundial_api::temporal::failure::v1::failure::FailureInfo;
use sundial_api::temporal::failure::v1::{Failure, ResetWorkflowFailureInfo};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{HistoryEvent, WorkflowTaskFailedEventAttributes};
use sundial_api::workflowservice::v1::{ResetWorkflowExecutionRequest, ResetWorkflowExecutionResponse};
use sundial_common::ServiceError;
use sundial_common::time::{nanos_to_timestamp, timestamp_to_nanos};

use sundial_common::time::{deadline_after, pb_duration_nanos as nanos};

impl HistoryEngine {
    /// Deletes a run, terminating it first if it is still running. The rows go in the
    /// run's visibility queue, after any visibility update already queued for it.
    pub(crate) async fn delete_run(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<(), ServiceError> {
        let run = self.resolve_run(namespace_id, workflow_id, run_id).await?;
        let shard = self.shard(namespace_id, workflow_id)?;
        shard
            .update(&run, |m| {
                if m.info_ref().deleted {
                    return Ok(());
                }
                if m.is_running() {
                    crate::signals::terminate_in(m, "Delete workflow execution", None, "history-service");
                }
                m.info().deleted = true;
                m.visibility();
                Ok(())
            })
            .await?;
        tracing::info!(%workflow_id, run_id = %run.run_id, "workflow execution marked for deletion");
        Ok(())
    }

    pub(crate) async fn reset(
        &self,
        namespace_id: &str,
        req: ResetWorkflowExecutionRequest,
    ) -> Result<ResetWorkflowExecutionResponse, ServiceError> {
        let exec = req.workflow_execution.clone().unwrap_or_default();
        let base = self.resolve_run(namespace_id, &exec.workflow_id, &exec.run_id).await?;
        let shard = self.shard(namespace_id, &exec.workflow_id)?;
        let base_ms = shard.snapshot(&base).await?;
        let base_info = base_ms.info.clone().unwrap_or_default();
        let events = self.read_events(&shard, &base, 1, base_info.next_event_id - 1).await?;
        let target = req.workflow_task_finish_event_id;
        if target <= 1 || target >= base_info.next_event_id {
            return Err(ServiceError::invalid(
                "Workflow task finish ID must be > 1 && <= workflow last event ID.",
            ));
        }
        let bad = || {
            ServiceError::invalid(format!(
                "invalid WorkflowTaskFinishEventId {target}: it must be the id of a WorkflowTaskCompleted, \
                 WorkflowTaskFailed or WorkflowTaskTimedOut event of the run"
            ))
        };
        let finish = events.iter().find(|e| e.event_id == target).ok_or_else(bad)?;
        let (scheduled, started) = match &finish.attributes {
            Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => (a.scheduled_event_id, a.started_event_id),
            Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => (a.scheduled_event_id, a.started_event_id),
            Some(Attributes::WorkflowTaskTimedOutEventAttributes(a)) => (a.scheduled_event_id, a.started_event_id),
            // Temporal accepts a started workflow task too: it is failed right after that event.
            Some(Attributes::WorkflowTaskStartedEventAttributes(a)) => (a.scheduled_event_id, target),
            _ => return Err(bad()),
        };
        if started == 0 {
            return Err(bad());
        }
        let kept: Vec<HistoryEvent> = events.iter().filter(|e| e.event_id <= started).cloned().collect();
        let reapply_signals = req.reset_reapply_type != ResetReapplyType::None as i32
            && !req
                .reset_reapply_exclude_types
                .contains(&(ResetReapplyExcludeType::Signal as i32));
        let signals: Vec<HistoryEvent> = if reapply_signals {
            events
                .iter()
                .filter(|e| e.event_id > target)
                .filter(|e| {
                    matches!(
                        e.attributes,
                        Some(Attributes::WorkflowExecutionSignaledEventAttributes(_))
                    )
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };

        // One transition of the current run (the base, or a later one): it is terminated if
        // still running and the new run replaces it as current, in the same transaction.
        let current = self.resolve_run(namespace_id, &exec.workflow_id, "").await?;
        let reason = if req.reason.is_empty() {
            "resetting workflow"
        } else {
            req.reason.as_str()
        };
        let request_id = if req.request_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            req.request_id.clone()
        };
        let new_run_id = uuid::Uuid::now_v7().to_string();
        let dc = self.config().dynamic_config.clone();
        shard
            .update(&current, |cm| {
                if cm.is_running() {
                    crate::signals::terminate_in(cm, reason, None, "history-resetter");
                }
                let now = cm.now_nanos;
                let mut ms = rebuild(&base_info, &kept, &new_run_id, now);
                ms.info.get_or_insert_with(Default::default).create_request_id = request_id.clone();
                let mut m = Mutation::new(&mut ms, now, dc.clone());
                m.events = kept.clone();
                m.add_event(Attributes::WorkflowTaskFailedEventAttributes(
                    WorkflowTaskFailedEventAttributes {
                        scheduled_event_id: scheduled,
                        started_event_id: started,
                        cause: WorkflowTaskFailedCause::ResetWorkflow as i32,
                        failure: Some(Failure {
                            message: req.reason.clone(),
                            failure_info: Some(FailureInfo::ResetWorkflowFailureInfo(
                                ResetWorkflowFailureInfo::default(),
                            )),
                            ..Default::default()
                        }),
                        identity: "history-service".into(),
                        base_run_id: base.run_id.clone(),
                        new_run_id: new_run_id.clone(),
                        ..Default::default()
                    },
                ));
                for signal in &signals {
                    if let Some(attrs) = signal.attributes.clone() {
                        m.add_event(attrs);
                    }
                }
                redispatch(&mut m);
                m.schedule_workflow_task(1);
                m.visibility();
                let (events, tasks) = (std::mem::take(&mut m.events), std::mem::take(&mut m.tasks));
                cm.new_run = Some(crate::chain::NewRun {
                    run_id: new_run_id.clone(),
                    ms,
                    events,
                    tasks,
                });
                Ok(())
            })
            .await?;
        tracing::info!(workflow_id = %exec.workflow_id, base = %base.run_id, new = %new_run_id, "workflow reset");
        Ok(ResetWorkflowExecutionResponse { run_id: new_run_id })
    }
}

/// The mutable state after `events`: what was pending (activities, timers, children) at the
/// reset point, on a new run that keeps the base run's identity and settings.
fn rebuild(
    base: &sundial_api::sundial::persistence::v1::ExecutionInfo,
    events: &[HistoryEvent],
    run_id: &str,
    now: i64,
) -> WorkflowMutableState {
    let mut info = base.clone();
    info.run_id = run_id.to_owned();
    info.status = WorkflowExecutionStatus::Running as i32;
    info.close_time = None;
    info.completion_event_id = 0;
    info.cancel_requested = false;
    info.sticky_task_queue.clear();
    info.sticky_schedule_to_start_timeout = None;
    info.next_event_id = events.last().map_or(1, |e| e.event_id + 1);
    info.state_transition_count = 0;
    info.history_size_bytes = 0;
    info.history_batch_count = 0;
    info.start_time = Some(nanos_to_timestamp(now));
    info.workflow_task_stamp = 0;
    info.last_completed_workflow_task_started_event_id = 0;
    let mut ms = WorkflowMutableState::default();
    for e in events {
        let time = e.event_time.unwrap_or_default();
        match &e.attributes {
            Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => {
                info.last_completed_workflow_task_started_event_id = a.started_event_id;
            }
            Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                ms.activities.insert(
                    e.event_id,
                    ActivityInfo {
                        scheduled_event_id: e.event_id,
                        activity_id: a.activity_id.clone(),
                        activity_type: a.activity_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                        task_queue: a.task_queue.as_ref().map(|q| q.name.clone()).unwrap_or_default(),
                        scheduled_time: Some(time),
                        current_attempt_scheduled_time: Some(nanos_to_timestamp(now)),
                        attempt: 1,
                        schedule_to_close_timeout: a.schedule_to_close_timeout,
                        schedule_to_start_timeout: a.schedule_to_start_timeout,
                        start_to_close_timeout: a.start_to_close_timeout,
                        heartbeat_timeout: a.heartbeat_timeout,
                        retry_policy: a.retry_policy.clone(),
                        header: a.header.clone(),
                        input: a.input.clone(),
                        expiration_time: a
                            .schedule_to_close_timeout
                            .filter(|d| nanos(d) > 0)
                            .map(|d| nanos_to_timestamp(deadline_after(now, &d))),
                        stamp: 1,
                        ..Default::default()
                    },
                );
            }
            Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
                ms.activities.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskFailedEventAttributes(a)) => {
                ms.activities.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => {
                ms.activities.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => {
                ms.activities.remove(&a.scheduled_event_id);
            }
            Some(Attributes::ActivityTaskCancelRequestedEventAttributes(a)) => {
                if let Some(act) = ms.activities.get_mut(&a.scheduled_event_id) {
                    act.cancel_requested = true;
                    act.cancel_request_event_id = e.event_id;
                }
            }
            Some(Attributes::TimerStartedEventAttributes(a)) => {
                let fire = timestamp_to_nanos(&time).saturating_add(a.start_to_fire_timeout.as_ref().map_or(0, nanos));
                ms.timers.insert(
                    a.timer_id.clone(),
                    TimerInfo {
                        timer_id: a.timer_id.clone(),
                        started_event_id: e.event_id,
                        expiry_time: Some(nanos_to_timestamp(fire)),
                    },
                );
            }
            Some(Attributes::TimerFiredEventAttributes(a)) => {
                ms.timers.remove(&a.timer_id);
            }
            Some(Attributes::TimerCanceledEventAttributes(a)) => {
                ms.timers.remove(&a.timer_id);
            }
            Some(Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a)) => {
                ms.children.insert(
                    e.event_id,
                    ChildExecutionInfo {
                        initiated_event_id: e.event_id,
                        namespace: a.namespace.clone(),
                        namespace_id: a.namespace_id.clone(),
                        workflow_id: a.workflow_id.clone(),
                        workflow_type: a.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                        parent_close_policy: a.parent_close_policy,
                        ..Default::default()
                    },
                );
            }
            Some(Attributes::ChildWorkflowExecutionStartedEventAttributes(a)) => {
                if let Some(c) = ms.children.get_mut(&a.initiated_event_id) {
                    c.started_event_id = e.event_id;
                    c.run_id = a
                        .workflow_execution
                        .as_ref()
                        .map(|x| x.run_id.clone())
                        .unwrap_or_default();
                }
            }
            Some(Attributes::StartChildWorkflowExecutionFailedEventAttributes(a)) => {
                ms.children.remove(&a.initiated_event_id);
            }
            Some(Attributes::ChildWorkflowExecutionCompletedEventAttributes(a)) => {
                ms.children.remove(&a.initiated_event_id);
            }
            Some(Attributes::ChildWorkflowExecutionFailedEventAttributes(a)) => {
                ms.children.remove(&a.initiated_event_id);
            }
            Some(Attributes::ChildWorkflowExecutionCanceledEventAttributes(a)) => {
                ms.children.remove(&a.initiated_event_id);
            }
            Some(Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a)) => {
                ms.children.remove(&a.initiated_event_id);
            }
            Some(Attributes::ChildWorkflowExecutionTerminatedEventAttributes(a)) => {
                ms.children.remove(&a.initiated_event_id);
            }
            Some(Attributes::WorkflowExecutionCancelRequestedEventAttributes(_)) => info.cancel_requested = true,
            Some(Attributes::UpsertWorkflowSearchAttributesEventAttributes(a)) => {
                let sa = info.search_attributes.get_or_insert_with(SearchAttributes::default);
                if let Some(u) = &a.search_attributes {
                    crate::mutation::merge_payloads(&mut sa.indexed_fields, &u.indexed_fields);
                }
            }
            Some(Attributes::WorkflowPropertiesModifiedEventAttributes(a)) => {
                let memo = info.memo.get_or_insert_with(Memo::default);
                if let Some(u) = &a.upserted_memo {
                    crate::mutation::merge_payloads(&mut memo.fields, &u.fields);
                }
            }
            _ => {}
        }
    }
    ms.info = Some(info);
    ms
}

/// Sends what was pending at the reset point out again: activities to matching, timers to the
/// timer queue, children not yet started to their start task.
fn redispatch(m: &mut Mutation<'_>) {
    let activities: Vec<ActivityInfo> = m.ms.activities.values().cloned().collect();
    for act in activities {
        dispatch_activity_attempt(m, &act);
        if let Some(exp) = act.expiration_time {
            m.timer_at(
                timestamp_to_nanos(&exp),
                TimerTask {
                    r#type: TimerTaskType::ActivityTimeout as i32,
                    event_id: act.scheduled_event_id,
                    timeout_type: TimeoutType::ScheduleToClose as i32,
                    attempt: 1,
                    ..Default::default()
                },
            );
        }
    }
    let timers: Vec<TimerInfo> = m.ms.timers.values().cloned().collect();
    for timer in timers {
        let fire = timer.expiry_time.as_ref().map_or(m.now_nanos, timestamp_to_nanos);
        m.timer_at(
            fire,
            TimerTask {
                r#type: TimerTaskType::UserTimer as i32,
                event_id: timer.started_event_id,
                timer_id: timer.timer_id.clone(),
                ..Default::default()
            },
        );
    }
    let unstarted: Vec<i64> =
        m.ms.children
            .values()
            .filter(|c| c.started_event_id == 0)
            .map(|c| c.initiated_event_id)
            .collect();
    for initiated in unstarted {
        let task = m.transfer(TransferTaskType::StartChild, initiated);
        m.tasks.push(PendingTask::Transfer(task));
    }
}
