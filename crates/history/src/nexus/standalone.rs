//! Standalone Nexus operations: operations a client starts (StartNexusOperationExecution)
//! rather than a workflow. Each is a run of its own, keyed by
//! `sundial_common::standalone::nexus_key`, holding the one `NexusOperationInfo` (under
//! `SCHEDULED_ID`) and a `StandaloneNexusOperation` record, and writing no history events.
//! Attempts, retries, timeouts, cancellation and completion callbacks are the workflow
//! operation's own (`nexus/mod.rs`); only the end differs: the run closes with the outcome.

use super::{State, nexus_timer, transfer};
use crate::HistoryEngine;
use crate::mutation::Mutation;
use crate::shard::RunKey;
use crate::standalone::{decode_poll_token, poll_token};
use sundial_api::sundial::persistence::v1::{
    ExecutionInfo, NexusOperationInfo, StandaloneNexusOperation, TransferTaskType, WorkflowMutableState,
};
use sundial_api::temporal::enums::v1::{
    NexusOperationIdConflictPolicy, NexusOperationIdReusePolicy, NexusOperationWaitStage, TimeoutType,
    WorkflowExecutionStatus,
};
use sundial_api::temporal::failure::v1::{Failure, TerminatedFailureInfo, failure::FailureInfo};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::nexus::v1::{NexusOperationExecutionCancellationInfo, NexusOperationExecutionInfo};
use sundial_api::workflowservice::v1 as ws;
use sundial_common::ServiceError;
use sundial_common::standalone::nexus_key;
use sundial_common::time::{deadline_after, nanos_to_timestamp, now_nanos, pb_duration_nanos, timestamp_to_nanos};
use sundial_persistence::{CurrentCondition, CurrentExecution, PersistenceError};

/// The key of a standalone operation's one `NexusOperationInfo` in its run.
pub(crate) const SCHEDULED_ID: i64 = 1;

pub(crate) fn is_standalone(m: &Mutation<'_>) -> bool {
    m.info_ref().standalone_nexus.is_some()
}

fn not_found(operation_id: &str) -> ServiceError {
    ServiceError::NotFound(format!("operation not found for ID: {operation_id}"))
}

/// Closes the run with the outcome a workflow's operation would record as `attrs`: the result,
/// or the cause inside the failure wrapper (what the handler or the server said).
pub(crate) fn finish(m: &mut Mutation<'_>, attrs: &Attributes) {
    let cause = |f: &Option<Failure>| f.as_ref().and_then(|f| f.cause.as_deref().cloned());
    let (status, result, failure) = match attrs {
        Attributes::NexusOperationCompletedEventAttributes(a) => (
            WorkflowExecutionStatus::Completed,
            Some(a.result.clone().unwrap_or_default()),
            None,
        ),
        Attributes::NexusOperationFailedEventAttributes(a) => {
            (WorkflowExecutionStatus::Failed, None, cause(&a.failure))
        }
        Attributes::NexusOperationCanceledEventAttributes(a) => {
            (WorkflowExecutionStatus::Canceled, None, cause(&a.failure))
        }
        Attributes::NexusOperationTimedOutEventAttributes(a) => {
            (WorkflowExecutionStatus::TimedOut, None, cause(&a.failure))
        }
        _ => return,
    };
    if let Some(record) = m.info().standalone_nexus.as_mut() {
        record.result = result;
        record.failure = failure;
    }
    m.close_without_event(status);
}

/// How a start relates to the operation id's current run.
enum Decision {
    New(CurrentCondition),
    Existing { run_id: String },
}

fn decide(req: &ws::StartNexusOperationExecutionRequest, c: CurrentExecution) -> Result<Decision, ServiceError> {
    if !req.request_id.is_empty() && c.create_request_id == req.request_id {
        return Ok(Decision::Existing { run_id: c.run_id });
    }
    let already = || ServiceError::NexusOperationAlreadyStarted {
        start_request_id: c.create_request_id.clone(),
        run_id: c.run_id.clone(),
    };
    if c.status == WorkflowExecutionStatus::Running as i32 {
        return match NexusOperationIdConflictPolicy::try_from(req.id_conflict_policy) {
            Ok(NexusOperationIdConflictPolicy::UseExisting) => Ok(Decision::Existing { run_id: c.run_id }),
            _ => Err(already()),
        };
    }
    match NexusOperationIdReusePolicy::try_from(req.id_reuse_policy) {
        Ok(NexusOperationIdReusePolicy::RejectDuplicate) => Err(already()),
        Ok(NexusOperationIdReusePolicy::AllowDuplicateFailedOnly)
            if c.status == WorkflowExecutionStatus::Completed as i32 =>
        {
            Err(already())
        }
        _ => Ok(Decision::New(CurrentCondition::Replace {
            previous_run_id: c.run_id,
        })),
    }
}

/// The new run: its state, and the tasks that send the first start attempt and arm the
/// timeouts.
fn build(
    namespace_id: &str,
    key: &str,
    run_id: &str,
    endpoint_id: &str,
    req: &ws::StartNexusOperationExecutionRequest,
    now: i64,
    dc: &sundial_dynconfig::DynamicConfig,
) -> (WorkflowMutableState, Vec<crate::mutation::PendingTask>) {
    let ts = nanos_to_timestamp;
    let mut ms = WorkflowMutableState {
        info: Some(ExecutionInfo {
            namespace_id: namespace_id.to_owned(),
            namespace: req.namespace.clone(),
            workflow_id: key.to_owned(),
            run_id: run_id.to_owned(),
            first_execution_run_id: run_id.to_owned(),
            // Listed by endpoint (`Endpoint = …`) in the visibility row's type column.
            workflow_type: req.endpoint.clone(),
            task_queue: req.service.clone(),
            status: WorkflowExecutionStatus::Running as i32,
            start_time: Some(ts(now)),
            execution_time: Some(ts(now)),
            next_event_id: 1,
            create_request_id: req.request_id.clone(),
            search_attributes: req.search_attributes.clone(),
            user_metadata: req.user_metadata.clone(),
            last_worker_identity: req.identity.clone(),
            standalone_nexus: Some(StandaloneNexusOperation {
                operation_id: req.operation_id.clone(),
                input: req.input.clone(),
                nexus_header: req
                    .nexus_header
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect(),
                id_reuse_policy: req.id_reuse_policy,
                identity: req.identity.clone(),
                operation: req.operation.clone(),
                ..Default::default()
            }),
            callbacks: super::callbacks::register(&req.completion_callbacks, &req.request_id, ts(now)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let op = NexusOperationInfo {
        scheduled_event_id: SCHEDULED_ID,
        endpoint: req.endpoint.clone(),
        endpoint_id: endpoint_id.to_owned(),
        service: req.service.clone(),
        operation: req.operation.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
        scheduled_time: Some(ts(now)),
        schedule_to_close_timeout: req.schedule_to_close_timeout,
        schedule_to_start_timeout: req.schedule_to_start_timeout,
        start_to_close_timeout: req.start_to_close_timeout,
        state: State::Scheduled as i32,
        stamp: 1,
        ..Default::default()
    };
    let mut m = Mutation::new(&mut ms, now, dc.clone());
    let task = transfer(&m, TransferTaskType::NexusStart, SCHEDULED_ID, op.stamp);
    m.tasks.push(task);
    for (d, kind) in [
        (req.schedule_to_close_timeout, TimeoutType::ScheduleToClose),
        (req.schedule_to_start_timeout, TimeoutType::ScheduleToStart),
    ] {
        if let Some(d) = d.filter(|d| pb_duration_nanos(d) > 0) {
            m.timer_at(deadline_after(now, &d), nexus_timer(SCHEDULED_ID, kind, 0));
        }
    }
    m.visibility();
    let tasks = std::mem::take(&mut m.tasks);
    drop(m);
    ms.nexus_operations.insert(SCHEDULED_ID, op);
    (ms, tasks)
}

/// RequestCancelNexusOperationExecution: the cancel goes to the handler once the operation
/// has started; the operation ends as the handler then reports.
fn request_cancel(m: &mut Mutation<'_>, request_id: &str, reason: &str) -> Result<(), ServiceError> {
    let record = m.info_ref().standalone_nexus.clone().unwrap_or_default();
    if !m.is_running() {
        return Err(ServiceError::FailedPrecondition("operation already completed".into()));
    }
    if !record.cancel_request_id.is_empty() {
        return if record.cancel_request_id == request_id {
            Ok(())
        } else {
            Err(ServiceError::FailedPrecondition(
                "cancellation already requested".into(),
            ))
        };
    }
    let Some(mut op) = m.ms.nexus_operations.get(&SCHEDULED_ID).cloned() else {
        return Err(ServiceError::FailedPrecondition("operation already completed".into()));
    };
    if let Some(r) = m.info().standalone_nexus.as_mut() {
        r.cancel_request_id = if request_id.is_empty() {
            "-".into()
        } else {
            request_id.to_owned()
        };
        r.cancel_reason = reason.to_owned();
    }
    // No event to point at: the operation's own id marks the request.
    op.cancel_requested_event_id = SCHEDULED_ID;
    op.cancel_requested_time = Some(m.now);
    if op.state == State::Started as i32 {
        super::schedule_cancel(m, &mut op);
    }
    m.ms.nexus_operations.insert(SCHEDULED_ID, op);
    Ok(())
}

fn terminate(m: &mut Mutation<'_>, request_id: &str, reason: &str, identity: &str) -> Result<(), ServiceError> {
    let record = m.info_ref().standalone_nexus.clone().unwrap_or_default();
    if !m.is_running() {
        if !request_id.is_empty() && record.terminate_request_id == request_id {
            return Ok(());
        }
        return Err(ServiceError::FailedPrecondition("operation already completed".into()));
    }
    m.ms.nexus_operations.remove(&SCHEDULED_ID);
    if let Some(r) = m.info().standalone_nexus.as_mut() {
        r.terminate_request_id = request_id.to_owned();
        r.failure = Some(Failure {
            message: reason.to_owned(),
            failure_info: Some(FailureInfo::TerminatedFailureInfo(TerminatedFailureInfo {
                identity: identity.to_owned(),
            })),
            ..Default::default()
        });
    }
    m.close_without_event(WorkflowExecutionStatus::Terminated);
    Ok(())
}

fn describe(
    ms: &WorkflowMutableState,
    req: &ws::DescribeNexusOperationExecutionRequest,
) -> ws::DescribeNexusOperationExecutionResponse {
    let info = ms.info.clone().unwrap_or_default();
    let record = info.standalone_nexus.clone().unwrap_or_default();
    let running = info.status == WorkflowExecutionStatus::Running as i32;
    let op = ms.nexus_operations.get(&SCHEDULED_ID).cloned();
    let closed_at = (!running).then_some(info.close_time).flatten();
    let duration = match (closed_at, info.start_time) {
        (Some(c), Some(s)) => Some(sundial_common::time::duration_to_pb(std::time::Duration::from_nanos(
            u64::try_from(timestamp_to_nanos(&c).saturating_sub(timestamp_to_nanos(&s))).unwrap_or(0),
        ))),
        _ => None,
    };
    let op_ref = op.as_ref();
    #[allow(deprecated)]
    let described = NexusOperationExecutionInfo {
        operation_id: record.operation_id.clone(),
        run_id: info.run_id.clone(),
        endpoint: info.workflow_type.clone(),
        service: info.task_queue.clone(),
        operation: record.operation.clone(),
        status: sundial_common::standalone::nexus_status(info.status) as i32,
        state: op_ref.filter(|_| running).map_or(0, |o| o.state),
        schedule_to_close_timeout: op_ref.and_then(|o| o.schedule_to_close_timeout),
        schedule_to_start_timeout: op_ref.and_then(|o| o.schedule_to_start_timeout),
        start_to_close_timeout: op_ref.and_then(|o| o.start_to_close_timeout),
        // Attempts so far; a closed operation made at least one.
        attempt: op_ref.map_or(1, |o| o.attempt.max(1)),
        schedule_time: info.start_time,
        close_time: closed_at,
        last_attempt_complete_time: op_ref.and_then(|o| o.last_attempt_complete_time),
        last_attempt_failure: op_ref.and_then(|o| o.last_attempt_failure.clone()),
        next_attempt_schedule_time: op_ref.and_then(|o| o.next_attempt_schedule_time),
        execution_duration: duration,
        cancellation_info: op_ref.filter(|o| o.cancel_requested_event_id != 0).map(|o| {
            NexusOperationExecutionCancellationInfo {
                requested_time: o.cancel_requested_time,
                state: o.cancel_state,
                attempt: o.cancel_attempt,
                last_attempt_complete_time: o.cancel_last_attempt_complete_time,
                last_attempt_failure: o.cancel_last_attempt_failure.clone(),
                next_attempt_schedule_time: o.cancel_next_attempt_schedule_time,
                reason: record.cancel_reason.clone(),
                ..Default::default()
            }
        }),
        request_id: info.create_request_id.clone(),
        operation_token: op_ref.map(|o| o.operation_token.clone()).unwrap_or_default(),
        state_transition_count: info.state_transition_count,
        search_attributes: Some(info.search_attributes.clone().unwrap_or_default()),
        nexus_header: record.nexus_header.clone(),
        user_metadata: info.user_metadata.clone(),
        links: record.links.clone(),
        identity: record.identity.clone(),
        state_size_bytes: sundial_api::prost::Message::encoded_len(ms) as i64,
        ..Default::default()
    };
    let outcome = if req.include_outcome && !running {
        match (&record.result, &record.failure) {
            (Some(r), _) => Some(ws::describe_nexus_operation_execution_response::Outcome::Result(
                r.clone(),
            )),
            (None, Some(f)) => Some(ws::describe_nexus_operation_execution_response::Outcome::Failure(
                f.clone(),
            )),
            _ => None,
        }
    } else {
        None
    };
    ws::DescribeNexusOperationExecutionResponse {
        run_id: info.run_id.clone(),
        info: Some(described),
        input: if req.include_input { record.input.clone() } else { None },
        outcome,
        long_poll_token: poll_token(&info.run_id, info.state_transition_count),
        completion_callbacks: Vec::new(),
    }
}

impl HistoryEngine {
    pub(crate) async fn start_nexus_operation_execution(
        &self,
        namespace_id: &str,
        req: ws::StartNexusOperationExecutionRequest,
    ) -> Result<ws::StartNexusOperationExecutionResponse, ServiceError> {
        let key = nexus_key(&req.operation_id);
        let shard = self.shard(namespace_id, &key)?;
        let Some(endpoint) = shard.store.get_nexus_endpoint_by_name(&req.endpoint).await? else {
            return Err(ServiceError::NotFound(format!("endpoint {:?} not found", req.endpoint)));
        };
        for _ in 0..3 {
            let current = shard.store.get_current_execution(shard.id, namespace_id, &key).await?;
            let condition = match current {
                None => CurrentCondition::BrandNew,
                Some(c) => match decide(&req, c)? {
                    Decision::Existing { run_id } => {
                        return Ok(ws::StartNexusOperationExecutionResponse { run_id, started: false });
                    }
                    Decision::New(condition) => condition,
                },
            };
            let run_id = uuid::Uuid::now_v7().to_string();
            let now = now_nanos();
            let (ms, tasks) = build(
                namespace_id,
                &key,
                &run_id,
                &endpoint.id,
                &req,
                now,
                &self.config().dynamic_config,
            );
            let run = RunKey::new(namespace_id, key.clone(), run_id.clone());
            let current = CurrentExecution {
                run_id: run_id.clone(),
                create_request_id: req.request_id.clone(),
                status: WorkflowExecutionStatus::Running as i32,
                start_time: now,
            };
            match shard.create(&run, ms, Vec::new(), tasks, condition, current).await {
                Ok(()) => return Ok(ws::StartNexusOperationExecutionResponse { run_id, started: true }),
                Err(PersistenceError::CurrentExecutionExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "concurrent starts of the same operation id; retry".into(),
        ))
    }

    async fn operation_run(
        &self,
        namespace_id: &str,
        operation_id: &str,
        run_id: &str,
    ) -> Result<RunKey, ServiceError> {
        self.resolve_run(namespace_id, &nexus_key(operation_id), run_id)
            .await
            .map_err(|_| not_found(operation_id))
    }

    async fn operation_snapshot(&self, run: &RunKey, operation_id: &str) -> Result<WorkflowMutableState, ServiceError> {
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        match shard.snapshot(run).await {
            Ok(ms)
                if ms
                    .info
                    .as_ref()
                    .is_some_and(|i| i.standalone_nexus.is_some() && !i.deleted) =>
            {
                Ok(ms)
            }
            Ok(_) | Err(ServiceError::NotFound(_)) => Err(not_found(operation_id)),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn describe_nexus_operation_execution(
        &self,
        namespace_id: &str,
        req: ws::DescribeNexusOperationExecutionRequest,
    ) -> Result<ws::DescribeNexusOperationExecutionResponse, ServiceError> {
        let run = self.operation_run(namespace_id, &req.operation_id, &req.run_id).await?;
        if !req.long_poll_token.is_empty() {
            let seen = decode_poll_token(&req.long_poll_token, &run.run_id)?;
            self.operation_snapshot(&run, &req.operation_id).await?;
            let (changed, _) = self.wait_for(&run, |p| p.transitions > seen).await?;
            if !changed {
                return Ok(ws::DescribeNexusOperationExecutionResponse::default());
            }
        }
        let ms = self.operation_snapshot(&run, &req.operation_id).await?;
        Ok(describe(&ms, &req))
    }

    pub(crate) async fn poll_nexus_operation_execution(
        &self,
        namespace_id: &str,
        req: ws::PollNexusOperationExecutionRequest,
    ) -> Result<ws::PollNexusOperationExecutionResponse, ServiceError> {
        let run = self.operation_run(namespace_id, &req.operation_id, &req.run_id).await?;
        let ms = self.operation_snapshot(&run, &req.operation_id).await?;
        let started = |ms: &WorkflowMutableState| {
            ms.nexus_operations
                .get(&SCHEDULED_ID)
                .is_some_and(|o| o.state == State::Started as i32)
        };
        let wants_start = req.wait_stage == NexusOperationWaitStage::Started as i32;
        let reached = |ms: &WorkflowMutableState| {
            let closed = ms
                .info
                .as_ref()
                .is_some_and(|i| i.status != WorkflowExecutionStatus::Running as i32);
            closed || (wants_start && started(ms))
        };
        let ms = if reached(&ms) {
            ms
        } else {
            let seen = ms.info.as_ref().map_or(0, |i| i.state_transition_count);
            self.wait_for(&run, |p| p.closed || (wants_start && p.transitions > seen))
                .await?;
            let ms = self.operation_snapshot(&run, &req.operation_id).await?;
            if !reached(&ms) {
                return Ok(ws::PollNexusOperationExecutionResponse::default());
            }
            ms
        };
        let info = ms.info.clone().unwrap_or_default();
        let record = info.standalone_nexus.clone().unwrap_or_default();
        let closed = info.status != WorkflowExecutionStatus::Running as i32;
        let outcome = match (closed, record.result, record.failure) {
            (false, _, _) => None,
            (true, Some(r), _) => Some(ws::poll_nexus_operation_execution_response::Outcome::Result(r)),
            (true, None, Some(f)) => Some(ws::poll_nexus_operation_execution_response::Outcome::Failure(f)),
            (true, None, None) => None,
        };
        Ok(ws::PollNexusOperationExecutionResponse {
            run_id: run.run_id.clone(),
            wait_stage: if closed {
                NexusOperationWaitStage::Closed
            } else {
                NexusOperationWaitStage::Started
            } as i32,
            operation_token: ms
                .nexus_operations
                .get(&SCHEDULED_ID)
                .map(|o| o.operation_token.clone())
                .unwrap_or_default(),
            outcome,
        })
    }

    /// Runs `f` on the operation's run; a run that is not a standalone operation is not found.
    async fn on_operation<T>(
        &self,
        namespace_id: &str,
        operation_id: &str,
        run_id: &str,
        f: impl Fn(&mut Mutation<'_>) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let run = self.operation_run(namespace_id, operation_id, run_id).await?;
        let shard = self.shard(namespace_id, &run.workflow_id)?;
        let result = shard
            .update(&run, |m| {
                if !is_standalone(m) || m.info_ref().deleted {
                    return Err(not_found(operation_id));
                }
                f(m)
            })
            .await;
        match result {
            Err(ServiceError::NotFound(_)) => Err(not_found(operation_id)),
            other => other,
        }
    }

    pub(crate) async fn request_cancel_nexus_operation_execution(
        &self,
        namespace_id: &str,
        req: ws::RequestCancelNexusOperationExecutionRequest,
    ) -> Result<(), ServiceError> {
        self.on_operation(namespace_id, &req.operation_id, &req.run_id, |m| {
            request_cancel(m, &req.request_id, &req.reason)
        })
        .await
    }

    pub(crate) async fn terminate_nexus_operation_execution(
        &self,
        namespace_id: &str,
        req: ws::TerminateNexusOperationExecutionRequest,
    ) -> Result<(), ServiceError> {
        self.on_operation(namespace_id, &req.operation_id, &req.run_id, |m| {
            terminate(m, &req.request_id, &req.reason, &req.identity)
        })
        .await
    }

    /// Terminates a running operation, then marks the run deleted; its visibility task removes
    /// it (as DeleteWorkflowExecution does).
    pub(crate) async fn delete_nexus_operation_execution(
        &self,
        namespace_id: &str,
        req: ws::DeleteNexusOperationExecutionRequest,
    ) -> Result<(), ServiceError> {
        self.on_operation(namespace_id, &req.operation_id, &req.run_id, |m| {
            if m.is_running() {
                terminate(m, "", "Delete operation execution", "history-service")?;
            }
            m.info().deleted = true;
            m.visibility();
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nexus::{StartOutcome, start_attempt_done};
    use sundial_api::temporal::common::v1::Payload;

    fn request() -> ws::StartNexusOperationExecutionRequest {
        ws::StartNexusOperationExecutionRequest {
            namespace: "default".into(),
            operation_id: "op-1".into(),
            endpoint: "ep".into(),
            service: "svc".into(),
            operation: "hello".into(),
            request_id: "req-1".into(),
            ..Default::default()
        }
    }

    fn started() -> WorkflowMutableState {
        let (ms, tasks) = build(
            "ns",
            &nexus_key("op-1"),
            "run-1",
            "ep-id",
            &request(),
            0,
            &Default::default(),
        );
        assert!(tasks.iter().any(|t| matches!(
            t,
            crate::mutation::PendingTask::Transfer(t) if t.r#type == TransferTaskType::NexusStart as i32
        )));
        ms
    }

    #[test]
    fn a_result_closes_the_run_without_events() {
        let mut ms = started();
        let mut m = Mutation::new(&mut ms, 1, Default::default());
        let result = Payload {
            data: b"\"hi\"".to_vec(),
            ..Default::default()
        };
        start_attempt_done(
            &mut m,
            SCHEDULED_ID,
            1,
            StartOutcome::Sync {
                result: Some(result.clone()),
                links: vec![],
            },
        );
        assert!(m.events.is_empty());
        assert_eq!(m.closed, Some(WorkflowExecutionStatus::Completed as i32));
        drop(m);
        let record = ms.info.and_then(|i| i.standalone_nexus).unwrap_or_default();
        assert_eq!(record.result, Some(result));
    }

    #[test]
    fn terminate_closes_with_a_terminated_failure_and_repeats_are_idempotent() {
        let mut ms = started();
        let mut m = Mutation::new(&mut ms, 1, Default::default());
        assert!(terminate(&mut m, "t-1", "enough", "me").is_ok());
        assert_eq!(m.closed, Some(WorkflowExecutionStatus::Terminated as i32));
        assert!(
            terminate(&mut m, "t-1", "enough", "me").is_ok(),
            "the same request again"
        );
        assert!(terminate(&mut m, "t-2", "again", "me").is_err());
    }

    #[test]
    fn id_policies_decide_like_activities() {
        let current = |status: WorkflowExecutionStatus| CurrentExecution {
            run_id: "old".into(),
            create_request_id: "other".into(),
            status: status as i32,
            start_time: 0,
        };
        let mut req = request();
        assert!(matches!(
            decide(&req, current(WorkflowExecutionStatus::Running)),
            Err(ServiceError::NexusOperationAlreadyStarted { .. })
        ));
        req.id_conflict_policy = NexusOperationIdConflictPolicy::UseExisting as i32;
        assert!(matches!(
            decide(&req, current(WorkflowExecutionStatus::Running)),
            Ok(Decision::Existing { .. })
        ));
        assert!(matches!(
            decide(&req, current(WorkflowExecutionStatus::Completed)),
            Ok(Decision::New(_))
        ));
        req.id_reuse_policy = NexusOperationIdReusePolicy::RejectDuplicate as i32;
        assert!(decide(&req, current(WorkflowExecutionStatus::Failed)).is_err());
    }
}
