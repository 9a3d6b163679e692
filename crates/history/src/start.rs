//! Starting runs: StartWorkflowExecution and SignalWithStartWorkflowExecution, with request-id
//! de-duplication and the workflow-id reuse and conflict policies.

use crate::HistoryEngine;
use crate::mutation::{DEFAULT_WORKFLOW_TASK_TIMEOUT, MAX_WORKFLOW_TASK_TIMEOUT_SECS, Mutation};
use prost_wkt_types::Duration as PbDuration;
use sundial_api::sundial::persistence::v1::{ExecutionInfo, TimerTask, TimerTaskType, WorkflowMutableState};
use sundial_api::temporal::common::v1::{Header, Payloads};
use sundial_api::temporal::enums::v1::{
    ContinueAsNewInitiator, TaskQueueKind, WorkflowExecutionStatus, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{
    WorkflowExecutionSignaledEventAttributes, WorkflowExecutionStartedEventAttributes,
};
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::workflowservice::v1::{StartWorkflowExecutionRequest, StartWorkflowExecutionResponse};
use sundial_common::ServiceError;
use sundial_common::time::{now_nanos, timestamp_to_nanos};
use sundial_persistence::{CurrentCondition, CurrentExecution, PersistenceError};

/// The signal of a signal-with-start.
pub(crate) struct StartSignal {
    pub name: String,
    pub input: Option<Payloads>,
    pub header: Option<Header>,
    pub identity: String,
}

fn positive(d: Option<&PbDuration>) -> Option<PbDuration> {
    d.filter(|d| d.seconds > 0 || d.nanos > 0).copied()
}

fn nanos(d: &PbDuration) -> i64 {
    d.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(d.nanos))
}

impl HistoryEngine {
    pub(crate) async fn start_workflow(
        &self,
        namespace_id: &str,
        req: StartWorkflowExecutionRequest,
        signal: Option<StartSignal>,
    ) -> Result<StartWorkflowExecutionResponse, ServiceError> {
        let shard = self.shard(namespace_id, &req.workflow_id).clone();
        for _ in 0..3 {
            let current = shard
                .store
                .get_current_execution(shard.id, namespace_id, &req.workflow_id)
                .await?;
            let condition = match current {
                None => CurrentCondition::BrandNew,
                Some(c) => match self.decide(namespace_id, &req, &c, signal.is_some()).await? {
                    Decision::Replace => CurrentCondition::Replace {
                        previous_run_id: c.run_id,
                    },
                    Decision::Existing { started } => {
                        return Ok(StartWorkflowExecutionResponse {
                            run_id: c.run_id,
                            started,
                            status: WorkflowExecutionStatus::Running as i32,
                            ..Default::default()
                        });
                    }
                },
            };
            match self
                .create_run(&shard, namespace_id, &req, signal.as_ref(), condition)
                .await
            {
                Ok(run_id) => {
                    return Ok(StartWorkflowExecutionResponse {
                        run_id,
                        started: true,
                        status: WorkflowExecutionStatus::Running as i32,
                        ..Default::default()
                    });
                }
                // Another start won the race for the id: decide again against the new run.
                Err(PersistenceError::CurrentExecutionExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "concurrent starts of the same workflow id; retry".into(),
        ))
    }

    async fn decide(
        &self,
        namespace_id: &str,
        req: &StartWorkflowExecutionRequest,
        current: &CurrentExecution,
        with_signal: bool,
    ) -> Result<Decision, ServiceError> {
        let wf = &req.workflow_id;
        let running = current.status == WorkflowExecutionStatus::Running as i32;
        if !req.request_id.is_empty() && current.create_request_id == req.request_id {
            return Ok(Decision::Existing { started: true });
        }
        let reuse = WorkflowIdReusePolicy::try_from(req.workflow_id_reuse_policy).unwrap_or_default();
        if running {
            let conflict = WorkflowIdConflictPolicy::try_from(req.workflow_id_conflict_policy).unwrap_or_default();
            let terminate = conflict == WorkflowIdConflictPolicy::TerminateExisting
                || reuse == WorkflowIdReusePolicy::TerminateIfRunning;
            if terminate {
                self.terminate(
                    namespace_id,
                    wf,
                    &current.run_id,
                    "terminated by a new start with the terminate-existing policy",
                    None,
                    &req.identity,
                )
                .await?;
                return Ok(Decision::Replace);
            }
            if conflict == WorkflowIdConflictPolicy::UseExisting || with_signal {
                return Ok(Decision::Existing { started: false });
            }
            return Err(ServiceError::WorkflowAlreadyStarted {
                message: format!(
                    "Workflow execution is already running. WorkflowId: {wf}, RunId: {}.",
                    current.run_id
                ),
                start_request_id: current.create_request_id.clone(),
                run_id: current.run_id.clone(),
            });
        }
        match reuse {
            WorkflowIdReusePolicy::RejectDuplicate => Err(ServiceError::WorkflowAlreadyStarted {
                message: format!(
                    "Workflow execution already finished and Workflow ID reuse policy is REJECT_DUPLICATE. WorkflowId: {wf}, RunId: {}.",
                    current.run_id
                ),
                start_request_id: current.create_request_id.clone(),
                run_id: current.run_id.clone(),
            }),
            WorkflowIdReusePolicy::AllowDuplicateFailedOnly
                if current.status == WorkflowExecutionStatus::Completed as i32 =>
            {
                Err(ServiceError::WorkflowAlreadyStarted {
                    message: format!(
                        "Workflow execution already finished successfully. WorkflowId: {wf}, RunId: {}. Workflow Id reuse policy: allow duplicate workflow Id if last run failed.",
                        current.run_id
                    ),
                    start_request_id: current.create_request_id.clone(),
                    run_id: current.run_id.clone(),
                })
            }
            _ => Ok(Decision::Replace),
        }
    }

    async fn create_run(
        &self,
        shard: &std::sync::Arc<crate::shard::Shard>,
        namespace_id: &str,
        req: &StartWorkflowExecutionRequest,
        signal: Option<&StartSignal>,
        condition: CurrentCondition,
    ) -> Result<String, PersistenceError> {
        let run_id = uuid::Uuid::new_v4().to_string();
        let now = now_nanos();
        let exec_timeout = positive(req.workflow_execution_timeout.as_ref());
        let mut run_timeout = positive(req.workflow_run_timeout.as_ref()).or(exec_timeout);
        if let (Some(e), Some(r)) = (exec_timeout, run_timeout)
            && nanos(&r) > nanos(&e)
        {
            run_timeout = Some(e);
        }
        let mut task_timeout = positive(req.workflow_task_timeout.as_ref()).unwrap_or(DEFAULT_WORKFLOW_TASK_TIMEOUT);
        if task_timeout.seconds > MAX_WORKFLOW_TASK_TIMEOUT_SECS {
            task_timeout = PbDuration {
                seconds: MAX_WORKFLOW_TASK_TIMEOUT_SECS,
                nanos: 0,
            };
        }
        if let Some(r) = run_timeout
            && nanos(&task_timeout) > nanos(&r)
        {
            task_timeout = r;
        }
        let delay = positive(req.workflow_start_delay.as_ref());
        let delay_nanos = delay.as_ref().map_or(0, nanos);
        let execution_time = now + delay_nanos;
        let task_queue = req.task_queue.as_ref().map(|t| t.name.clone()).unwrap_or_default();
        let mut ms = WorkflowMutableState {
            info: Some(ExecutionInfo {
                namespace_id: namespace_id.to_owned(),
                workflow_id: req.workflow_id.clone(),
                run_id: run_id.clone(),
                first_execution_run_id: run_id.clone(),
                workflow_type: req.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                task_queue: task_queue.clone(),
                execution_timeout: exec_timeout,
                run_timeout,
                task_timeout: Some(task_timeout),
                status: WorkflowExecutionStatus::Running as i32,
                start_time: Some(sundial_common::time::nanos_to_timestamp(now)),
                execution_time: Some(sundial_common::time::nanos_to_timestamp(execution_time)),
                next_event_id: 1,
                create_request_id: req.request_id.clone(),
                retry_policy: req.retry_policy.clone(),
                cron_schedule: req.cron_schedule.clone(),
                memo: req.memo.clone(),
                search_attributes: req.search_attributes.clone(),
                attempt: 1,
                execution_expiration_time: exec_timeout
                    .map(|e| sundial_common::time::nanos_to_timestamp(execution_time + nanos(&e))),
                run_expiration_time: run_timeout
                    .map(|r| sundial_common::time::nanos_to_timestamp(execution_time + nanos(&r))),
                header: req.header.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut m = Mutation::new(&mut ms, now);
        let expiration = m.info_ref().execution_expiration_time;
        m.add_event(Attributes::WorkflowExecutionStartedEventAttributes(
            WorkflowExecutionStartedEventAttributes {
                workflow_type: req.workflow_type.clone(),
                task_queue: Some(TaskQueue {
                    name: task_queue,
                    kind: TaskQueueKind::Normal as i32,
                    normal_name: String::new(),
                }),
                input: req.input.clone(),
                workflow_execution_timeout: exec_timeout,
                workflow_run_timeout: run_timeout,
                workflow_task_timeout: Some(task_timeout),
                initiator: ContinueAsNewInitiator::Unspecified as i32,
                original_execution_run_id: run_id.clone(),
                identity: req.identity.clone(),
                first_execution_run_id: run_id.clone(),
                retry_policy: req.retry_policy.clone(),
                attempt: 1,
                workflow_execution_expiration_time: expiration,
                cron_schedule: req.cron_schedule.clone(),
                first_workflow_task_backoff: delay,
                memo: req.memo.clone(),
                search_attributes: req.search_attributes.clone(),
                header: req.header.clone(),
                workflow_id: req.workflow_id.clone(),
                priority: req.priority.clone(),
                ..Default::default()
            },
        ));
        if let Some(s) = signal {
            m.add_event(Attributes::WorkflowExecutionSignaledEventAttributes(
                WorkflowExecutionSignaledEventAttributes {
                    signal_name: s.name.clone(),
                    input: s.input.clone(),
                    identity: s.identity.clone(),
                    header: s.header.clone(),
                    ..Default::default()
                },
            ));
        }
        match delay {
            Some(d) => m.timer_at(
                now + nanos(&d),
                TimerTask {
                    r#type: TimerTaskType::WorkflowBackoff as i32,
                    ..Default::default()
                },
            ),
            None => m.schedule_workflow_task(1),
        }
        let run_ts = m.info_ref().run_expiration_time;
        let exec_ts = m.info_ref().execution_expiration_time;
        // A run timeout that is just the execution timeout is reported as the execution one.
        if let Some(r) = run_ts.filter(|r| exec_ts.as_ref() != Some(r)) {
            m.timer_at(
                timestamp_to_nanos(&r),
                TimerTask {
                    r#type: TimerTaskType::WorkflowRunTimeout as i32,
                    ..Default::default()
                },
            );
        }
        if let Some(e) = exec_ts {
            m.timer_at(
                timestamp_to_nanos(&e),
                TimerTask {
                    r#type: TimerTaskType::WorkflowExecutionTimeout as i32,
                    ..Default::default()
                },
            );
        }
        m.visibility();
        let (events, tasks) = (std::mem::take(&mut m.events), std::mem::take(&mut m.tasks));
        let run = (namespace_id.to_owned(), req.workflow_id.clone(), run_id.clone());
        let current = CurrentExecution {
            run_id: run_id.clone(),
            create_request_id: req.request_id.clone(),
            status: WorkflowExecutionStatus::Running as i32,
            start_time: now,
        };
        shard.create(&run, ms, events, tasks, condition, current).await?;
        tracing::debug!(workflow_id = %req.workflow_id, %run_id, "workflow started");
        Ok(run_id)
    }
}

enum Decision {
    Replace,
    Existing { started: bool },
}
