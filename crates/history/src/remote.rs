//! Operations one workflow's tasks make on another workflow (start a child, report a child's
//! close to its parent, signal or cancel an external workflow, apply a parent close policy).
//! The other workflow's shard may be served by another history host: then the operation is
//! the same internal call a frontend would make, sent to that host.

use crate::HistoryEngine;
use crate::signals::Signal;
use crate::start::ParentInfo;
use sundial_api::sundial::historyservice::v1 as hs;
use sundial_api::sundial::persistence::v1::TransferTask;
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::history::v1::HistoryEvent;
use sundial_api::workflowservice::v1 as ws;
use sundial_common::ServiceError;
use sundial_rpc::HistoryClient;

impl HistoryEngine {
    /// The client of the host serving the workflow's shard, or `None` when it is this host.
    fn remote(&self, namespace_id: &str, workflow_id: &str) -> Result<Option<HistoryClient>, ServiceError> {
        if self.shard(namespace_id, workflow_id).is_ok() {
            return Ok(None);
        }
        self.history_router()
            .for_workflow(namespace_id, workflow_id)
            .map(Some)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
    }

    pub(crate) async fn start_child_on_owner(
        &self,
        namespace_id: &str,
        req: ws::StartWorkflowExecutionRequest,
        parent: ParentInfo,
    ) -> Result<ws::StartWorkflowExecutionResponse, ServiceError> {
        let Some(mut client) = self.remote(namespace_id, &req.workflow_id)? else {
            return self.start_workflow_with_parent(namespace_id, req, parent).await;
        };
        client
            .start_workflow_execution(hs::StartWorkflowExecutionRequest {
                namespace_id: namespace_id.to_owned(),
                request: Some(req),
                parent: Some(parent),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| ServiceError::from_status(&s))
    }

    pub(crate) async fn record_child_completion_on_owner(
        &self,
        task: &TransferTask,
        close_event: Option<HistoryEvent>,
    ) -> Result<(), ServiceError> {
        let Some(mut client) = self.remote(&task.target_namespace_id, &task.target_workflow_id)? else {
            return self.record_child_completion_in_parent(task, close_event).await;
        };
        client
            .record_child_execution_completed(hs::RecordChildExecutionCompletedRequest {
                task: Some(task.clone()),
                close_event,
            })
            .await
            .map(|_| ())
            .map_err(|s| ServiceError::from_status(&s))
    }

    pub(crate) async fn signal_on_owner(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
        signal: Signal,
    ) -> Result<(), ServiceError> {
        let Some(mut client) = self.remote(namespace_id, workflow_id)? else {
            return self.signal(namespace_id, workflow_id, run_id, signal).await;
        };
        client
            .signal_workflow_execution(hs::SignalWorkflowExecutionRequest {
                namespace_id: namespace_id.to_owned(),
                request: Some(ws::SignalWorkflowExecutionRequest {
                    workflow_execution: Some(execution(workflow_id, run_id)),
                    signal_name: signal.name,
                    input: signal.input,
                    identity: signal.identity,
                    request_id: signal.request_id,
                    header: signal.header,
                    ..Default::default()
                }),
                external_workflow_execution: signal.external,
            })
            .await
            .map(|_| ())
            .map_err(|s| ServiceError::from_status(&s))
    }

    pub(crate) async fn cancel_on_owner(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
        reason: &str,
        identity: &str,
    ) -> Result<(), ServiceError> {
        let Some(mut client) = self.remote(namespace_id, workflow_id)? else {
            return self
                .request_cancel(namespace_id, workflow_id, run_id, reason, identity)
                .await;
        };
        client
            .request_cancel_workflow_execution(hs::RequestCancelWorkflowExecutionRequest {
                namespace_id: namespace_id.to_owned(),
                request: Some(ws::RequestCancelWorkflowExecutionRequest {
                    workflow_execution: Some(execution(workflow_id, run_id)),
                    reason: reason.to_owned(),
                    identity: identity.to_owned(),
                    ..Default::default()
                }),
            })
            .await
            .map(|_| ())
            .map_err(|s| ServiceError::from_status(&s))
    }

    pub(crate) async fn terminate_on_owner(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
        reason: &str,
        identity: &str,
    ) -> Result<(), ServiceError> {
        let Some(mut client) = self.remote(namespace_id, workflow_id)? else {
            return self
                .terminate(namespace_id, workflow_id, run_id, reason, None, identity)
                .await;
        };
        client
            .terminate_workflow_execution(hs::TerminateWorkflowExecutionRequest {
                namespace_id: namespace_id.to_owned(),
                request: Some(ws::TerminateWorkflowExecutionRequest {
                    workflow_execution: Some(execution(workflow_id, run_id)),
                    reason: reason.to_owned(),
                    identity: identity.to_owned(),
                    ..Default::default()
                }),
            })
            .await
            .map(|_| ())
            .map_err(|s| ServiceError::from_status(&s))
    }
}

fn execution(workflow_id: &str, run_id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
    }
}
