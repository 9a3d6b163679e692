//! Nexus worker RPCs: a Nexus poll waits at the root partition of the queue (Nexus queues have
//! one), and the worker's answer goes back to the matching host whose dispatch waits for it.

use super::{ExecutionHandler, Res};
use crate::validation as v;
use sundial_api::prost::Message;
use sundial_api::sundial::matchingservice::v1 as ms;
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::temporal::failure::v1::failure::FailureInfo;
use sundial_api::temporal::nexus::v1::{response, start_operation_response};
use sundial_api::workflowservice::v1::*;
use sundial_common::ServiceError;

/// Temporal's `component.nexusoperations.limit.operation.token.length`.
pub(crate) const MAX_OPERATION_TOKEN_LENGTH: usize = 4096;

fn nexus_token(bytes: &[u8]) -> Result<TaskToken, ServiceError> {
    v::task_token(bytes)?;
    let token = TaskToken::decode(bytes).map_err(|_| ServiceError::invalid("Error deserializing task token."))?;
    if token.task_queue.is_empty() || token.nexus_task_id.is_empty() {
        return Err(ServiceError::invalid("Invalid TaskToken."));
    }
    Ok(token)
}

impl ExecutionHandler {
    pub async fn poll_nexus_task(&self, req: PollNexusTaskQueueRequest) -> Res<PollNexusTaskQueueResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        v::task_queue(req.task_queue.as_ref())?;
        let queue = req.task_queue.as_ref().map_or("", |q| q.name.as_str()).to_owned();
        let resp = self
            .matching(&namespace_id, &queue)?
            .poll_nexus_task_queue(ms::PollNexusTaskQueueRequest {
                namespace_id,
                poller_id: uuid::Uuid::new_v4().to_string(),
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn nexus_task_completed(
        &self,
        req: RespondNexusTaskCompletedRequest,
    ) -> Res<RespondNexusTaskCompletedResponse> {
        let token = nexus_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        let response = req.response.unwrap_or_default();
        if let Some(response::Variant::StartOperation(start)) = &response.variant
            && let Some(start_operation_response::Variant::AsyncSuccess(started)) = &start.variant
        {
            #[allow(deprecated)]
            let operation_token = if started.operation_token.is_empty() {
                &started.operation_id
            } else {
                &started.operation_token
            };
            if operation_token.is_empty() {
                // Temporal's message, spelling included.
                return Err(ServiceError::invalid("missing opration token in response").into());
            }
            if operation_token.len() > MAX_OPERATION_TOKEN_LENGTH {
                return Err(ServiceError::invalid(format!(
                    "operation token length exceeds allowed limit ({}/{MAX_OPERATION_TOKEN_LENGTH})",
                    operation_token.len()
                ))
                .into());
            }
        }
        self.respond_nexus(
            namespace_id,
            token,
            ms::respond_nexus_task_request::Outcome::Response(response),
        )
        .await?;
        Ok(RespondNexusTaskCompletedResponse::default())
    }

    pub async fn nexus_task_failed(&self, req: RespondNexusTaskFailedRequest) -> Res<RespondNexusTaskFailedResponse> {
        let token = nexus_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        #[allow(deprecated)]
        let failure = match (req.failure, req.error) {
            (Some(f), _) => {
                if !matches!(f.failure_info, Some(FailureInfo::NexusHandlerFailureInfo(_))) {
                    return Err(ServiceError::invalid(
                        "request Failure must contain error or failure with NexusHandlerFailureInfo",
                    )
                    .into());
                }
                f
            }
            (None, Some(error)) => handler_error_failure(error),
            (None, None) => return Err(ServiceError::invalid("request must contain error or failure").into()),
        };
        self.respond_nexus(
            namespace_id,
            token,
            ms::respond_nexus_task_request::Outcome::Failure(failure),
        )
        .await?;
        Ok(RespondNexusTaskFailedResponse::default())
    }

    async fn respond_nexus(
        &self,
        namespace_id: String,
        token: TaskToken,
        outcome: ms::respond_nexus_task_request::Outcome,
    ) -> Res<()> {
        self.matching(&namespace_id, &token.task_queue)?
            .respond_nexus_task(ms::RespondNexusTaskRequest {
                namespace_id,
                task_queue: token.task_queue,
                task_id: token.nexus_task_id,
                outcome: Some(outcome),
            })
            .await?;
        Ok(())
    }
}

/// The deprecated `error` form of RespondNexusTaskFailed as the failure newer workers send.
#[allow(deprecated)]
fn handler_error_failure(
    error: sundial_api::temporal::nexus::v1::HandlerError,
) -> sundial_api::temporal::failure::v1::Failure {
    use sundial_api::temporal::failure::v1::{Failure, NexusHandlerFailureInfo};
    let inner = error.failure.unwrap_or_default();
    Failure {
        message: inner.message,
        stack_trace: inner.stack_trace,
        failure_info: Some(FailureInfo::NexusHandlerFailureInfo(NexusHandlerFailureInfo {
            r#type: error.error_type,
            retry_behavior: error.retry_behavior,
        })),
        ..Default::default()
    }
}
