//! Operator actions on a workflow's pending activities: PauseActivity, UnpauseActivity,
//! ResetActivity, UpdateActivityOptions, and their `*ActivityExecution` forms (what the
//! `temporal activity` commands send). The newer forms also name standalone activities (no
//! workflow id), whose one activity lives in the same state under the activity's key; they are
//! served while `history.enableStandaloneActivityOperatorCommands` is on.

use super::*;
use sundial_api::temporal::common::v1::WorkflowExecution;

fn standalone_disabled() -> Status {
    Status::unimplemented("Standalone activity operator commands are disabled")
}

fn no_activity() -> Status {
    ServiceError::invalid("Either Activity.Id or Activity.Type should be set on request.").into()
}

/// The run a request names: a workflow id (or a standalone activity's key) is required, a run
/// id may be empty (the current run).
fn target(execution: Option<&WorkflowExecution>) -> Result<WorkflowExecution, ServiceError> {
    let e = execution.cloned().unwrap_or_default();
    if sundial_common::standalone::activity_id_of(&e.workflow_id).is_none() {
        v::workflow_id(&e.workflow_id)?;
    }
    v::run_id(&e.run_id)?;
    Ok(e)
}

/// `activity_id` of an `*ActivityExecution` request (of a workflow or standalone activity).
pub(super) fn activity_id(id: &str) -> Result<(), ServiceError> {
    if id.is_empty() {
        return Err(ServiceError::invalid("activity ID is required"));
    }
    if id.len() > v::MAX_ID_LENGTH {
        return Err(ServiceError::invalid(format!(
            "activity ID exceeds length limit. Length={} Limit={}",
            id.len(),
            v::MAX_ID_LENGTH
        )));
    }
    Ok(())
}

fn execution_of(workflow_id: &str, run_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
    })
}

impl ExecutionHandler {
    /// The execution an `*ActivityExecution` request names: the workflow, or with no workflow
    /// id the standalone activity's own run (if operator commands on them are on).
    fn activity_target(
        &self,
        namespace: &str,
        workflow_id: &str,
        activity_id: &str,
        run_id: &str,
    ) -> Res<Option<WorkflowExecution>> {
        if !workflow_id.is_empty() {
            return Ok(execution_of(workflow_id, run_id));
        }
        if !self.standalone_on(namespace)
            || !self.dc.get(
                &keys::HISTORY_ENABLE_STANDALONE_ACTIVITY_OPERATOR_COMMANDS,
                &Scope::namespace(namespace),
            )
        {
            return Err(standalone_disabled());
        }
        Ok(execution_of(
            &sundial_common::standalone::activity_key(activity_id),
            run_id,
        ))
    }
}

/// The checks every legacy activity operation makes (namespace, workflow id, an activity
/// selected), then the call to the history host of the workflow's shard.
macro_rules! activity_op {
    ($self:ident, $req:ident, $method:ident, $internal:ident) => {{
        let namespace_id = $self.ns(&$req.namespace).await?;
        let exec = target($req.execution.as_ref())?;
        if $req.activity.is_none() {
            return Err(no_activity());
        }
        on_history!(
            $self,
            &namespace_id,
            &exec.workflow_id,
            $method,
            hs::$internal {
                namespace_id: namespace_id.clone(),
                request: Some($req),
            }
        )
        .await
    }};
}

impl ExecutionHandler {
    pub async fn pause_activity(&self, req: PauseActivityRequest) -> Res<PauseActivityResponse> {
        activity_op!(self, req, pause_activity, PauseActivityRequest)
    }

    pub async fn unpause_activity(&self, req: UnpauseActivityRequest) -> Res<UnpauseActivityResponse> {
        activity_op!(self, req, unpause_activity, UnpauseActivityRequest)
    }

    pub async fn reset_activity(&self, req: ResetActivityRequest) -> Res<ResetActivityResponse> {
        activity_op!(self, req, reset_activity, ResetActivityRequest)
    }

    pub async fn update_activity_options(
        &self,
        req: UpdateActivityOptionsRequest,
    ) -> Res<UpdateActivityOptionsResponse> {
        activity_op!(self, req, update_activity_options, UpdateActivityOptionsRequest)
    }

    pub async fn pause_activity_execution(
        &self,
        req: PauseActivityExecutionRequest,
    ) -> Res<PauseActivityExecutionResponse> {
        activity_id(&req.activity_id)?;
        let execution = self.activity_target(&req.namespace, &req.workflow_id, &req.activity_id, &req.run_id)?;
        let request_id = if req.request_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            req.request_id
        };
        self.pause_activity(PauseActivityRequest {
            namespace: req.namespace,
            execution,
            identity: req.identity,
            reason: req.reason,
            request_id,
            activity: Some(pause_activity_request::Activity::Id(req.activity_id)),
        })
        .await?;
        Ok(PauseActivityExecutionResponse::default())
    }

    pub async fn unpause_activity_execution(
        &self,
        req: UnpauseActivityExecutionRequest,
    ) -> Res<UnpauseActivityExecutionResponse> {
        activity_id(&req.activity_id)?;
        let execution = self.activity_target(&req.namespace, &req.workflow_id, &req.activity_id, &req.run_id)?;
        self.unpause_activity(UnpauseActivityRequest {
            namespace: req.namespace,
            execution,
            identity: req.identity,
            jitter: req.jitter,
            activity: Some(unpause_activity_request::Activity::Id(req.activity_id)),
            ..Default::default()
        })
        .await?;
        Ok(UnpauseActivityExecutionResponse::default())
    }

    pub async fn reset_activity_execution(
        &self,
        req: ResetActivityExecutionRequest,
    ) -> Res<ResetActivityExecutionResponse> {
        activity_id(&req.activity_id)?;
        let execution = self.activity_target(&req.namespace, &req.workflow_id, &req.activity_id, &req.run_id)?;
        self.reset_activity(ResetActivityRequest {
            namespace: req.namespace,
            execution,
            identity: req.identity,
            reset_heartbeat: req.reset_heartbeat,
            keep_paused: req.keep_paused,
            jitter: req.jitter,
            restore_original_options: req.restore_original_options,
            activity: Some(reset_activity_request::Activity::Id(req.activity_id)),
        })
        .await?;
        Ok(ResetActivityExecutionResponse::default())
    }

    pub async fn update_activity_execution_options(
        &self,
        req: UpdateActivityExecutionOptionsRequest,
    ) -> Res<UpdateActivityExecutionOptionsResponse> {
        activity_id(&req.activity_id)?;
        let execution = self.activity_target(&req.namespace, &req.workflow_id, &req.activity_id, &req.run_id)?;
        let resp = self
            .update_activity_options(UpdateActivityOptionsRequest {
                namespace: req.namespace,
                execution,
                identity: req.identity,
                activity_options: req.activity_options,
                update_mask: req.update_mask,
                restore_original: req.restore_original,
                activity: Some(update_activity_options_request::Activity::Id(req.activity_id)),
            })
            .await?;
        Ok(UpdateActivityExecutionOptionsResponse {
            activity_options: resp.activity_options,
        })
    }
}
