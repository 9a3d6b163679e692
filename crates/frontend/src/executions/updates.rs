//! Workflow updates at the frontend: UpdateWorkflowExecution, PollWorkflowExecutionUpdate and
//! update-with-start (ExecuteMultiOperation).

use super::*;
use sundial_api::temporal::enums::v1::{UpdateWorkflowExecutionLifecycleStage as Stage, WorkflowExecutionStatus};

/// How long update-with-start looks for an update the current run already knows.
const KNOWN_UPDATE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a long poll may wait for the caller: a little less than its gRPC deadline
/// (`grpc-timeout`), so it gets our answer rather than DEADLINE_EXCEEDED; zero when it set none.
pub fn caller_wait(metadata: &tonic::metadata::MetadataMap) -> std::time::Duration {
    use std::time::Duration;
    let Some(value) = metadata.get("grpc-timeout").and_then(|v| v.to_str().ok()) else {
        return Duration::ZERO;
    };
    let Some(split) = value.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    let (digits, unit) = value.split_at(split);
    let Ok(n) = digits.parse::<u64>() else {
        return Duration::ZERO;
    };
    let d = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return Duration::ZERO,
    };
    (d - (d / 10).min(Duration::from_secs(1))).max(Duration::from_millis(1))
}

impl ExecutionHandler {
    /// Checks an update request the way Temporal's frontend does and fills its defaults
    /// (update id, wait stage COMPLETED).
    fn prepare_update(&self, req: &mut UpdateWorkflowExecutionRequest) -> Res<()> {
        execution(req.workflow_execution.as_ref())?;
        let request = req.request.get_or_insert_with(Default::default);
        let Some(meta) = request.meta.as_mut() else {
            return Err(ServiceError::invalid("Update meta is not set on request.").into());
        };
        let max_id = usize::try_from(self.dc.get(&keys::MAX_ID_LENGTH, &Scope::global())).unwrap_or(usize::MAX);
        if meta.update_id.len() > max_id {
            return Err(ServiceError::invalid("UpdateId length exceeds limit.").into());
        }
        if meta.update_id.is_empty() {
            meta.update_id = uuid::Uuid::new_v4().to_string();
        }
        let Some(input) = request.input.as_ref() else {
            return Err(ServiceError::invalid("Update input is not set on request.").into());
        };
        if input.name.is_empty() {
            return Err(ServiceError::invalid("Update name is not set on request.").into());
        }
        let args = input.args.clone();
        self.check_sizes(&req.namespace, &[], &[args.as_ref()])?;
        let policy = req.wait_policy.get_or_insert_with(Default::default);
        if policy.lifecycle_stage == Stage::Unspecified as i32 {
            policy.lifecycle_stage = Stage::Completed as i32;
        }
        if policy.lifecycle_stage == Stage::Admitted as i32 {
            return Err(Status::permission_denied(
                "UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not supported.",
            ));
        }
        Ok(())
    }

    pub async fn update_workflow(
        &self,
        mut req: UpdateWorkflowExecutionRequest,
        wait: std::time::Duration,
    ) -> Res<UpdateWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        self.prepare_update(&mut req)?;
        let want = req.wait_policy.as_ref().map_or(0, |w| w.lifecycle_stage);
        let caller_bound = self.caller_bound(&req.namespace, wait);
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.workflow_execution.as_ref()),
            update_workflow_execution,
            hs::UpdateWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
                wait_millis: i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
            }
        )
        .await?;
        if caller_bound && !stage_reached(resp.stage, want) {
            return Err(Status::deadline_exceeded("context deadline exceeded"));
        }
        Ok(resp)
    }

    /// The caller's deadline comes before the history long poll would end: like Temporal,
    /// the caller then gets DEADLINE_EXCEEDED rather than an earlier stage.
    fn caller_bound(&self, namespace: &str, wait: std::time::Duration) -> bool {
        let limit = self.dc.get(
            &keys::HISTORY_LONG_POLL_EXPIRATION_INTERVAL,
            &Scope::namespace(namespace),
        );
        !wait.is_zero() && wait < limit
    }

    pub async fn poll_update(
        &self,
        req: PollWorkflowExecutionUpdateRequest,
        wait: std::time::Duration,
    ) -> Res<PollWorkflowExecutionUpdateResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        let Some(update_ref) = req.update_ref.as_ref() else {
            return Err(ServiceError::invalid("UpdateRef is not set on request.").into());
        };
        execution(update_ref.workflow_execution.as_ref())?;
        let want = req.wait_policy.as_ref().map_or(0, |w| w.lifecycle_stage);
        let caller_bound = self.caller_bound(&req.namespace, wait);
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.update_ref.as_ref().and_then(|r| r.workflow_execution.as_ref())),
            poll_workflow_execution_update,
            hs::PollWorkflowExecutionUpdateRequest {
                namespace_id,
                request: Some(req),
                wait_millis: i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
            }
        )
        .await?;
        if caller_bound && !stage_reached(resp.stage, want) {
            return Err(Status::deadline_exceeded("context deadline exceeded"));
        }
        Ok(resp)
    }
}

/// Whether an update at `stage` satisfies a wait for `want`.
fn stage_reached(stage: i32, want: i32) -> bool {
    use sundial_api::temporal::enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage;
    stage == Stage::Completed as i32
        || (want == Stage::Accepted as i32 && stage >= Stage::Accepted as i32)
        || want <= Stage::Admitted as i32
}

/// A failed multi-operation: one status per operation, the failed one as if it ran alone and
/// the others `Aborted` with `MultiOperationExecutionAborted` (Temporal's shape).
fn multi_operation_failure(failed_index: usize, count: usize, status: &Status) -> Status {
    use sundial_api::google::rpc::Status as RpcStatus;
    use sundial_api::temporal::errordetails::v1::MultiOperationExecutionFailure;
    use sundial_api::temporal::errordetails::v1::multi_operation_execution_failure::OperationStatus;
    let aborted = prost_wkt_types::Any {
        type_url: "type.googleapis.com/temporal.api.failure.v1.MultiOperationExecutionAborted".into(),
        value: Vec::new(),
    };
    let details = RpcStatus::decode(status.details())
        .map(|s| s.details)
        .unwrap_or_default();
    let statuses = (0..count)
        .map(|i| {
            if i == failed_index {
                OperationStatus {
                    code: status.code() as i32,
                    message: status.message().to_owned(),
                    details: details.clone(),
                }
            } else {
                OperationStatus {
                    code: tonic::Code::Aborted as i32,
                    message: "Operation was aborted.".into(),
                    details: vec![aborted.clone()],
                }
            }
        })
        .collect();
    sundial_api::errors::status_with_detail(
        status.code(),
        format!("Update-with-Start could not be executed: {}", status.message()),
        &MultiOperationExecutionFailure { statuses },
    )
}

impl ExecutionHandler {
    /// `ExecuteMultiOperation` for update-with-start: [StartWorkflow, UpdateWorkflow]. The
    /// start (with its id-conflict policy) runs first; the update goes to the run it names.
    pub async fn execute_multi_operation(
        &self,
        req: ExecuteMultiOperationRequest,
        wait: std::time::Duration,
    ) -> Res<ExecuteMultiOperationResponse> {
        use sundial_api::workflowservice::v1::execute_multi_operation_request::operation::Operation as Op;
        use sundial_api::workflowservice::v1::execute_multi_operation_response::{
            Response as OpResponse, response::Response as OpResult,
        };
        let ops: Vec<Option<Op>> = req.operations.iter().map(|o| o.operation.clone()).collect();
        let (mut start, mut update) = match ops.as_slice() {
            [Some(Op::StartWorkflow(s)), Some(Op::UpdateWorkflow(u))] => (s.clone(), u.clone()),
            _ => {
                return Err(ServiceError::invalid("Operations have to be exactly [Start, Update].").into());
            }
        };
        if start.namespace.is_empty() {
            start.namespace = req.namespace.clone();
        }
        if update.namespace.is_empty() {
            update.namespace = req.namespace.clone();
        }
        if start.namespace != req.namespace || update.namespace != req.namespace {
            return Err(ServiceError::invalid("Operation namespace mismatch with request namespace.").into());
        }
        let wid = update
            .workflow_execution
            .as_ref()
            .map(|e| e.workflow_id.clone())
            .unwrap_or_default();
        if !wid.is_empty() && wid != start.workflow_id {
            let err: Status = ServiceError::invalid("WorkflowId is not consistent with previous operation(s)").into();
            return Err(multi_operation_failure(1, 2, &err));
        }
        if update.workflow_execution.as_ref().is_some_and(|e| !e.run_id.is_empty()) {
            let err: Status = ServiceError::invalid("RunId is not empty").into();
            return Err(multi_operation_failure(1, 2, &err));
        }
        let respond = |started: StartWorkflowExecutionResponse, updated: UpdateWorkflowExecutionResponse| {
            ExecuteMultiOperationResponse {
                responses: vec![
                    OpResponse {
                        response: Some(OpResult::StartWorkflow(started)),
                    },
                    OpResponse {
                        response: Some(OpResult::UpdateWorkflow(updated)),
                    },
                ],
            }
        };
        // As Temporal: an update the workflow id's current run already knows is attached to,
        // whatever the id policies say: a completed one (even in a closed run) answers with
        // its outcome, an unfinished one in a running run is waited for.
        if let Some(known) = self.known_update(&start, &update).await? {
            let run_id = known
                .update_ref
                .as_ref()
                .and_then(|r| r.workflow_execution.as_ref())
                .map(|e| e.run_id.clone())
                .unwrap_or_default();
            let status = self.run_status(&start, &run_id).await?;
            let completed = known.stage == Stage::Completed as i32;
            if completed || status == WorkflowExecutionStatus::Running as i32 {
                let started = StartWorkflowExecutionResponse {
                    run_id: run_id.clone(),
                    started: false,
                    status,
                    ..Default::default()
                };
                let updated = if completed {
                    UpdateWorkflowExecutionResponse {
                        update_ref: known.update_ref,
                        outcome: known.outcome,
                        stage: known.stage,
                        ..Default::default()
                    }
                } else {
                    update.workflow_execution = Some(WorkflowExecution {
                        workflow_id: start.workflow_id.clone(),
                        run_id,
                    });
                    self.update_workflow(update, wait)
                        .await
                        .map_err(|e| multi_operation_failure(1, 2, &e))?
                };
                return Ok(respond(started, updated));
            }
        }
        // The start and the update in one call: a new run is created with the update admitted.
        let (namespace_id, start) = self
            .checked_start(start)
            .await
            .map_err(|e| multi_operation_failure(0, 2, &e))?;
        update.workflow_execution = Some(WorkflowExecution {
            workflow_id: start.workflow_id.clone(),
            run_id: String::new(),
        });
        self.prepare_update(&mut update)
            .map_err(|e| multi_operation_failure(1, 2, &e))?;
        let want = update.wait_policy.as_ref().map_or(0, |w| w.lifecycle_stage);
        let caller_bound = self.caller_bound(&req.namespace, wait);
        let resp = on_history!(
            self,
            &namespace_id,
            &start.workflow_id,
            start_workflow_with_update,
            hs::StartWorkflowWithUpdateRequest {
                namespace_id: namespace_id.clone(),
                start: Some(start),
                update: Some(update),
                wait_millis: i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
            }
        )
        .await
        .map_err(|e| multi_operation_failure(0, 2, &e))?;
        let started = resp.start.unwrap_or_default();
        if resp.update_error_code != 0 {
            let err = Status::new(tonic::Code::from(resp.update_error_code), resp.update_error_message);
            return Err(multi_operation_failure(1, 2, &err));
        }
        let updated = resp.update.unwrap_or_default();
        if caller_bound && !stage_reached(updated.stage, want) {
            return Err(Status::deadline_exceeded("context deadline exceeded"));
        }
        Ok(respond(started, updated))
    }

    /// The update of this id in the workflow id's current run, if that run knows it (asking for
    /// the admitted stage, which any known update has reached).
    async fn known_update(
        &self,
        start: &StartWorkflowExecutionRequest,
        update: &UpdateWorkflowExecutionRequest,
    ) -> Res<Option<PollWorkflowExecutionUpdateResponse>> {
        let update_id = update
            .request
            .as_ref()
            .and_then(|r| r.meta.as_ref())
            .map(|m| m.update_id.clone())
            .unwrap_or_default();
        if update_id.is_empty() || start.workflow_id.is_empty() {
            return Ok(None);
        }
        let poll = PollWorkflowExecutionUpdateRequest {
            namespace: start.namespace.clone(),
            update_ref: Some(sundial_api::temporal::update::v1::UpdateRef {
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: start.workflow_id.clone(),
                    run_id: String::new(),
                }),
                update_id,
            }),
            identity: update
                .request
                .as_ref()
                .and_then(|r| r.meta.as_ref())
                .map(|m| m.identity.clone())
                .unwrap_or_default(),
            wait_policy: Some(sundial_api::temporal::update::v1::WaitPolicy {
                lifecycle_stage: Stage::Admitted as i32,
            }),
        };
        // Unknown (no run, no such update) or ended without an outcome (aborted by the run's
        // close): nothing to attach to.
        match self.poll_update(poll, KNOWN_UPDATE_WAIT).await {
            // An accepted update its run's close cut short never completed: a new start may
            // take the id (Temporal finds no outcome for it).
            Ok(resp) if never_completed(&resp) => Ok(None),
            Ok(resp) => Ok(Some(resp)),
            Err(s) if s.code() == tonic::Code::Unavailable => Err(s),
            Err(_) => Ok(None),
        }
    }

    async fn run_status(&self, start: &StartWorkflowExecutionRequest, run_id: &str) -> Res<i32> {
        let described = self
            .describe(DescribeWorkflowExecutionRequest {
                namespace: start.namespace.clone(),
                execution: Some(WorkflowExecution {
                    workflow_id: start.workflow_id.clone(),
                    run_id: run_id.to_owned(),
                }),
            })
            .await?;
        Ok(described.workflow_execution_info.map_or(0, |i| i.status))
    }
}

/// The outcome history gives an accepted update whose run closed before it completed.
fn never_completed(resp: &PollWorkflowExecutionUpdateResponse) -> bool {
    use sundial_api::temporal::failure::v1::failure::FailureInfo;
    use sundial_api::temporal::update::v1::outcome::Value;
    matches!(
        resp.outcome.as_ref().and_then(|o| o.value.as_ref()),
        Some(Value::Failure(f)) if matches!(
            &f.failure_info,
            Some(FailureInfo::ApplicationFailureInfo(a)) if a.r#type == "AcceptedUpdateCompletedWorkflow"
        )
    )
}
