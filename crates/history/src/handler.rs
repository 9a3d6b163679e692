//! The internal `HistoryService`: unwraps requests, calls the engine, maps errors at the edge.

use crate::HistoryEngine;
use crate::activity::Outcome;
use crate::activity_ops::{self, Select};
use crate::signals::Signal;
use crate::start::StartSignal;
use std::sync::Arc;
use sundial_api::sundial::historyservice::v1::history_service_server::HistoryService;
use sundial_api::sundial::historyservice::v1::*;
use sundial_api::temporal::enums::v1::HistoryEventFilterType;
use sundial_api::workflowservice::v1 as ws;
use sundial_common::ServiceError;
use sundial_common::time::duration_from_pb;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct HistoryHandler {
    engine: Arc<HistoryEngine>,
}

impl HistoryHandler {
    pub fn new(engine: Arc<HistoryEngine>) -> Self {
        Self { engine }
    }
}

/// Where a signal landed: its request id's WorkflowExecutionSignaled event (as Temporal links it).
fn signaled_link(
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    request_id: &str,
) -> Option<sundial_api::temporal::common::v1::Link> {
    use sundial_api::temporal::common::v1::link::{Variant, WorkflowEvent, workflow_event};
    Some(sundial_api::temporal::common::v1::Link {
        variant: Some(Variant::WorkflowEvent(WorkflowEvent {
            namespace: namespace.to_owned(),
            workflow_id: workflow_id.to_owned(),
            run_id: run_id.to_owned(),
            reference: Some(workflow_event::Reference::RequestIdRef(
                workflow_event::RequestIdReference {
                    request_id: request_id.to_owned(),
                    event_type: sundial_api::temporal::enums::v1::EventType::WorkflowExecutionSignaled as i32,
                },
            )),
        })),
    })
}

fn missing(what: &str) -> Status {
    ServiceError::invalid(format!("{what} is not set on request.")).into()
}

type R<T> = Result<Response<T>, Status>;

fn no_activity() -> Status {
    Status::invalid_argument("Either Activity.Id or Activity.Type should be set on request.")
}

fn ok<T>(r: Result<T, ServiceError>) -> R<T> {
    r.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl HistoryService for HistoryHandler {
    async fn delete_workflow_execution(
        &self,
        request: Request<DeleteWorkflowExecutionRequest>,
    ) -> R<ws::DeleteWorkflowExecutionResponse> {
        let req = request.into_inner();
        let exec = req.execution.unwrap_or_default();
        ok(self
            .engine
            .delete_run(&req.namespace_id, &exec.workflow_id, &exec.run_id)
            .await
            .map(|_| ws::DeleteWorkflowExecutionResponse::default()))
    }

    async fn reset_workflow_execution(
        &self,
        request: Request<ResetWorkflowExecutionRequest>,
    ) -> R<ws::ResetWorkflowExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self.engine.reset(&req.namespace_id, r).await)
    }

    async fn start_workflow_execution(
        &self,
        request: Request<StartWorkflowExecutionRequest>,
    ) -> R<ws::StartWorkflowExecutionResponse> {
        let req = request.into_inner();
        let inner = req.request.ok_or_else(|| missing("Request"))?;
        match req.parent {
            Some(parent) => ok(self
                .engine
                .start_workflow_with_parent(&req.namespace_id, inner, parent)
                .await),
            None => ok(self.engine.start_workflow(&req.namespace_id, inner, None).await),
        }
    }

    async fn signal_workflow_execution(
        &self,
        request: Request<SignalWorkflowExecutionRequest>,
    ) -> R<ws::SignalWorkflowExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let exec = r.workflow_execution.unwrap_or_default();
        let link = signaled_link(&r.namespace, &exec.workflow_id, &exec.run_id, &r.request_id);
        let signal = Signal {
            name: r.signal_name,
            input: r.input,
            header: r.header,
            identity: r.identity,
            request_id: r.request_id,
            external: req.external_workflow_execution,
            links: r.links,
        };
        ok(self
            .engine
            .signal(&req.namespace_id, &exec.workflow_id, &exec.run_id, signal)
            .await
            .map(|_| ws::SignalWorkflowExecutionResponse { link }))
    }

    async fn signal_with_start_workflow_execution(
        &self,
        request: Request<SignalWithStartWorkflowExecutionRequest>,
    ) -> R<ws::SignalWithStartWorkflowExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let start = ws::StartWorkflowExecutionRequest {
            namespace: r.namespace.clone(),
            workflow_id: r.workflow_id.clone(),
            workflow_type: r.workflow_type.clone(),
            task_queue: r.task_queue.clone(),
            input: r.input.clone(),
            workflow_execution_timeout: r.workflow_execution_timeout,
            workflow_run_timeout: r.workflow_run_timeout,
            workflow_task_timeout: r.workflow_task_timeout,
            identity: r.identity.clone(),
            request_id: r.request_id.clone(),
            workflow_id_reuse_policy: r.workflow_id_reuse_policy,
            workflow_id_conflict_policy: r.workflow_id_conflict_policy,
            retry_policy: r.retry_policy.clone(),
            cron_schedule: r.cron_schedule.clone(),
            memo: r.memo.clone(),
            search_attributes: r.search_attributes.clone(),
            header: r.header.clone(),
            workflow_start_delay: r.workflow_start_delay,
            user_metadata: r.user_metadata.clone(),
            priority: r.priority.clone(),
            ..Default::default()
        };
        let signal = StartSignal {
            name: r.signal_name.clone(),
            input: r.signal_input.clone(),
            header: r.header.clone(),
            identity: r.identity.clone(),
            links: r.links.clone(),
        };
        let started = self
            .engine
            .start_workflow(&req.namespace_id, start, Some(signal))
            .await
            .map_err(Status::from)?;
        if !started.started {
            // The run already existed: deliver the signal to it.
            let signal = Signal {
                name: r.signal_name,
                input: r.signal_input,
                header: r.header,
                identity: r.identity,
                request_id: r.request_id.clone(),
                external: None,
                links: r.links.clone(),
            };
            self.engine
                .signal(&req.namespace_id, &r.workflow_id, &started.run_id, signal)
                .await
                .map_err(Status::from)?;
        }
        Ok(Response::new(ws::SignalWithStartWorkflowExecutionResponse {
            signal_link: signaled_link(&r.namespace, &r.workflow_id, &started.run_id, &r.request_id),
            run_id: started.run_id,
            started: started.started,
            ..Default::default()
        }))
    }

    async fn request_cancel_workflow_execution(
        &self,
        request: Request<RequestCancelWorkflowExecutionRequest>,
    ) -> R<ws::RequestCancelWorkflowExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let exec = r.workflow_execution.unwrap_or_default();
        ok(self
            .engine
            .request_cancel(
                &req.namespace_id,
                &exec.workflow_id,
                &exec.run_id,
                &r.reason,
                &r.identity,
            )
            .await
            .map(|_| ws::RequestCancelWorkflowExecutionResponse::default()))
    }

    async fn terminate_workflow_execution(
        &self,
        request: Request<TerminateWorkflowExecutionRequest>,
    ) -> R<ws::TerminateWorkflowExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let exec = r.workflow_execution.unwrap_or_default();
        ok(self
            .engine
            .terminate(
                &req.namespace_id,
                &exec.workflow_id,
                &exec.run_id,
                &r.reason,
                r.details,
                &r.identity,
            )
            .await
            .map(|_| ws::TerminateWorkflowExecutionResponse::default()))
    }

    async fn describe_workflow_execution(
        &self,
        request: Request<DescribeWorkflowExecutionRequest>,
    ) -> R<ws::DescribeWorkflowExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self
            .engine
            .describe(&req.namespace_id, r.execution.unwrap_or_default())
            .await)
    }

    async fn get_workflow_execution_history(
        &self,
        request: Request<GetWorkflowExecutionHistoryRequest>,
    ) -> R<ws::GetWorkflowExecutionHistoryResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self.engine.get_history(&req.namespace_id, r).await)
    }

    async fn get_workflow_execution_history_reverse(
        &self,
        request: Request<GetWorkflowExecutionHistoryReverseRequest>,
    ) -> R<ws::GetWorkflowExecutionHistoryReverseResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        // Read everything forward, then page from the end.
        let mut events = Vec::new();
        let mut token = Vec::new();
        loop {
            let page = self
                .engine
                .get_history(
                    &req.namespace_id,
                    ws::GetWorkflowExecutionHistoryRequest {
                        namespace: r.namespace.clone(),
                        execution: r.execution.clone(),
                        next_page_token: token,
                        history_event_filter_type: HistoryEventFilterType::AllEvent as i32,
                        ..Default::default()
                    },
                )
                .await
                .map_err(Status::from)?;
            events.extend(page.history.unwrap_or_default().events);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        events.reverse();
        let (range, next_page_token) =
            crate::read::reverse_page(events.len(), &r.next_page_token, r.maximum_page_size).map_err(Status::from)?;
        Ok(Response::new(ws::GetWorkflowExecutionHistoryReverseResponse {
            history: Some(sundial_api::temporal::history::v1::History {
                events: events.get(range).map(<[_]>::to_vec).unwrap_or_default(),
            }),
            next_page_token,
        }))
    }

    async fn query_workflow(&self, request: Request<QueryWorkflowRequest>) -> R<ws::QueryWorkflowResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self.engine.query(&req.namespace_id, r).await)
    }

    async fn reset_sticky_task_queue(
        &self,
        request: Request<ResetStickyTaskQueueRequest>,
    ) -> R<ws::ResetStickyTaskQueueResponse> {
        let req = request.into_inner();
        let exec = req.execution.unwrap_or_default();
        ok(self
            .engine
            .reset_sticky(&req.namespace_id, &exec.workflow_id, &exec.run_id)
            .await
            .map(|_| ws::ResetStickyTaskQueueResponse::default()))
    }

    async fn record_workflow_task_started(
        &self,
        request: Request<RecordWorkflowTaskStartedRequest>,
    ) -> R<ws::PollWorkflowTaskQueueResponse> {
        ok(self.engine.record_workflow_task_started(request.into_inner()).await)
    }

    async fn record_activity_task_started(
        &self,
        request: Request<RecordActivityTaskStartedRequest>,
    ) -> R<ws::PollActivityTaskQueueResponse> {
        ok(self.engine.record_activity_task_started(request.into_inner()).await)
    }

    async fn respond_workflow_task_completed(
        &self,
        request: Request<RespondWorkflowTaskCompletedRequest>,
    ) -> R<ws::RespondWorkflowTaskCompletedResponse> {
        ok(self.engine.respond_workflow_task_completed(request.into_inner()).await)
    }

    async fn respond_workflow_task_failed(
        &self,
        request: Request<RespondWorkflowTaskFailedRequest>,
    ) -> R<ws::RespondWorkflowTaskFailedResponse> {
        ok(self.engine.respond_workflow_task_failed(request.into_inner()).await)
    }

    async fn record_activity_task_heartbeat(
        &self,
        request: Request<RecordActivityTaskHeartbeatRequest>,
    ) -> R<ws::RecordActivityTaskHeartbeatResponse> {
        let req = request.into_inner();
        ok(self
            .engine
            .heartbeat_activity(&req.namespace_id, &req.task_token, req.details)
            .await
            .map(|answer| ws::RecordActivityTaskHeartbeatResponse {
                cancel_requested: answer.cancel_requested,
                activity_paused: answer.paused,
                activity_reset: answer.reset,
            }))
    }

    async fn pause_activity(&self, request: Request<PauseActivityRequest>) -> R<ws::PauseActivityResponse> {
        use ws::pause_activity_request::Activity;
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let exec = r.execution.clone().unwrap_or_default();
        let which = match r.activity {
            Some(Activity::Id(id)) => Select::Id(id),
            Some(Activity::Type(t)) => Select::Type(t),
            None => return Err(no_activity()),
        };
        ok(self
            .engine
            .on_activities(&req.namespace_id, &exec.workflow_id, &exec.run_id, &which, |m, ids| {
                activity_ops::pause(m, ids, &r.identity, &r.reason, &r.request_id)
            })
            .await
            .map(|_| ws::PauseActivityResponse::default()))
    }

    async fn unpause_activity(&self, request: Request<UnpauseActivityRequest>) -> R<ws::UnpauseActivityResponse> {
        use ws::unpause_activity_request::Activity;
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let exec = r.execution.clone().unwrap_or_default();
        let which = match r.activity {
            Some(Activity::Id(id)) => Select::Id(id),
            Some(Activity::Type(t)) => Select::Type(t),
            Some(Activity::UnpauseAll(_)) => Select::All,
            None => return Err(no_activity()),
        };
        let jitter = r.jitter.as_ref().and_then(duration_from_pb).unwrap_or_default();
        ok(self
            .engine
            .on_activities(&req.namespace_id, &exec.workflow_id, &exec.run_id, &which, |m, ids| {
                activity_ops::unpause(m, ids, r.reset_attempts, r.reset_heartbeat, jitter)
            })
            .await
            .map(|_| ws::UnpauseActivityResponse::default()))
    }

    async fn reset_activity(&self, request: Request<ResetActivityRequest>) -> R<ws::ResetActivityResponse> {
        use ws::reset_activity_request::Activity;
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        if r.restore_original_options {
            return Err(Status::unimplemented(
                "ResetActivity with restore_original_options is not supported yet",
            ));
        }
        let exec = r.execution.clone().unwrap_or_default();
        let which = match r.activity {
            Some(Activity::Id(id)) => Select::Id(id),
            Some(Activity::Type(t)) => Select::Type(t),
            Some(Activity::MatchAll(_)) => Select::All,
            None => return Err(no_activity()),
        };
        let jitter = r.jitter.as_ref().and_then(duration_from_pb).unwrap_or_default();
        ok(self
            .engine
            .on_activities(&req.namespace_id, &exec.workflow_id, &exec.run_id, &which, |m, ids| {
                activity_ops::reset(m, ids, r.reset_heartbeat, r.keep_paused, jitter)
            })
            .await
            .map(|_| ws::ResetActivityResponse::default()))
    }

    async fn update_activity_options(
        &self,
        request: Request<UpdateActivityOptionsRequest>,
    ) -> R<ws::UpdateActivityOptionsResponse> {
        use ws::update_activity_options_request::Activity;
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let paths = r.update_mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default();
        if r.restore_original {
            if !paths.is_empty() {
                return Err(Status::invalid_argument(
                    "Both UpdateMask and RestoreOriginal are provided",
                ));
            }
            return Err(Status::unimplemented(
                "UpdateActivityOptions with restore_original is not supported yet",
            ));
        }
        let options = r
            .activity_options
            .clone()
            .ok_or_else(|| Status::invalid_argument("ActivityOptions are not provided"))?;
        if r.update_mask.is_none() {
            return Err(Status::invalid_argument("UpdateMask is not provided"));
        }
        let exec = r.execution.clone().unwrap_or_default();
        let which = match r.activity {
            Some(Activity::Id(id)) => Select::Id(id),
            Some(Activity::Type(t)) => Select::Type(t),
            Some(Activity::MatchAll(_)) => Select::All,
            None => return Err(no_activity()),
        };
        ok(self
            .engine
            .on_activities(&req.namespace_id, &exec.workflow_id, &exec.run_id, &which, |m, ids| {
                activity_ops::update_options(m, ids, &options, &paths)
            })
            .await
            .map(|activity_options| ws::UpdateActivityOptionsResponse {
                activity_options: Some(activity_options),
            }))
    }

    async fn respond_activity_task_completed(
        &self,
        request: Request<RespondActivityTaskCompletedRequest>,
    ) -> R<ws::RespondActivityTaskCompletedResponse> {
        let req = request.into_inner();
        ok(self
            .engine
            .finish_activity(
                &req.namespace_id,
                &req.task_token,
                Outcome::Completed(req.result),
                &req.identity,
            )
            .await
            .map(|_| ws::RespondActivityTaskCompletedResponse::default()))
    }

    async fn respond_activity_task_failed(
        &self,
        request: Request<RespondActivityTaskFailedRequest>,
    ) -> R<ws::RespondActivityTaskFailedResponse> {
        let req = request.into_inner();
        let r = req.request.unwrap_or_default();
        let outcome = Outcome::Failed {
            failure: Box::new(r.failure.unwrap_or_default()),
            details: r.last_heartbeat_details,
        };
        ok(self
            .engine
            .finish_activity(&req.namespace_id, &req.task_token, outcome, &r.identity)
            .await
            .map(|_| ws::RespondActivityTaskFailedResponse::default()))
    }

    async fn respond_activity_task_canceled(
        &self,
        request: Request<RespondActivityTaskCanceledRequest>,
    ) -> R<ws::RespondActivityTaskCanceledResponse> {
        let req = request.into_inner();
        ok(self
            .engine
            .finish_activity(
                &req.namespace_id,
                &req.task_token,
                Outcome::Canceled(req.details),
                &req.identity,
            )
            .await
            .map(|_| ws::RespondActivityTaskCanceledResponse::default()))
    }

    async fn update_workflow_execution(
        &self,
        request: Request<UpdateWorkflowExecutionRequest>,
    ) -> R<ws::UpdateWorkflowExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let wait = std::time::Duration::from_millis(u64::try_from(req.wait_millis).unwrap_or(0));
        ok(self.engine.update_workflow(&req.namespace_id, r, wait).await)
    }

    async fn start_workflow_with_update(
        &self,
        request: Request<StartWorkflowWithUpdateRequest>,
    ) -> R<StartWorkflowWithUpdateResponse> {
        let req = request.into_inner();
        let start = req.start.ok_or_else(|| missing("Start"))?;
        let update = req.update.ok_or_else(|| missing("Update"))?;
        let wait = std::time::Duration::from_millis(u64::try_from(req.wait_millis).unwrap_or(0));
        let (started, answer) = self
            .engine
            .start_workflow_with_update(&req.namespace_id, start, update, wait)
            .await
            .map_err(Status::from)?;
        Ok(Response::new(match answer {
            Ok(update) => StartWorkflowWithUpdateResponse {
                start: Some(started),
                update: Some(update),
                ..Default::default()
            },
            Err(e) => {
                let status = Status::from(e);
                StartWorkflowWithUpdateResponse {
                    start: Some(started),
                    update: None,
                    update_error_code: status.code() as i32,
                    update_error_message: status.message().to_owned(),
                }
            }
        }))
    }

    async fn poll_workflow_execution_update(
        &self,
        request: Request<PollWorkflowExecutionUpdateRequest>,
    ) -> R<ws::PollWorkflowExecutionUpdateResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        let wait = std::time::Duration::from_millis(u64::try_from(req.wait_millis).unwrap_or(0));
        ok(self.engine.poll_update(&req.namespace_id, r, wait).await)
    }

    async fn record_child_execution_completed(
        &self,
        request: Request<RecordChildExecutionCompletedRequest>,
    ) -> R<RecordChildExecutionCompletedResponse> {
        let req = request.into_inner();
        let task = req.task.ok_or_else(|| missing("Task"))?;
        ok(self
            .engine
            .record_child_completion_in_parent(&task, req.close_event)
            .await
            .map(|()| RecordChildExecutionCompletedResponse {}))
    }

    async fn complete_nexus_operation(
        &self,
        request: Request<CompleteNexusOperationRequest>,
    ) -> R<CompleteNexusOperationResponse> {
        ok(self
            .engine
            .complete_nexus_operation(request.into_inner())
            .await
            .map(|()| CompleteNexusOperationResponse {}))
    }
    async fn start_activity_execution(
        &self,
        request: Request<StartActivityExecutionRequest>,
    ) -> R<ws::StartActivityExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self.engine.start_activity_execution(&req.namespace_id, r).await)
    }

    async fn describe_activity_execution(
        &self,
        request: Request<DescribeActivityExecutionRequest>,
    ) -> R<ws::DescribeActivityExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self.engine.describe_activity_execution(&req.namespace_id, r).await)
    }

    async fn poll_activity_execution(
        &self,
        request: Request<PollActivityExecutionRequest>,
    ) -> R<ws::PollActivityExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self.engine.poll_activity_execution(&req.namespace_id, r).await)
    }

    async fn request_cancel_activity_execution(
        &self,
        request: Request<RequestCancelActivityExecutionRequest>,
    ) -> R<ws::RequestCancelActivityExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self
            .engine
            .request_cancel_activity_execution(&req.namespace_id, r)
            .await
            .map(|()| ws::RequestCancelActivityExecutionResponse {}))
    }

    async fn terminate_activity_execution(
        &self,
        request: Request<TerminateActivityExecutionRequest>,
    ) -> R<ws::TerminateActivityExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self
            .engine
            .terminate_activity_execution(&req.namespace_id, r)
            .await
            .map(|()| ws::TerminateActivityExecutionResponse {}))
    }

    async fn delete_activity_execution(
        &self,
        request: Request<DeleteActivityExecutionRequest>,
    ) -> R<ws::DeleteActivityExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self
            .engine
            .delete_activity_execution(&req.namespace_id, r)
            .await
            .map(|()| ws::DeleteActivityExecutionResponse {}))
    }

    async fn start_nexus_operation_execution(
        &self,
        request: Request<StartNexusOperationExecutionRequest>,
    ) -> R<ws::StartNexusOperationExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self.engine.start_nexus_operation_execution(&req.namespace_id, r).await)
    }

    async fn describe_nexus_operation_execution(
        &self,
        request: Request<DescribeNexusOperationExecutionRequest>,
    ) -> R<ws::DescribeNexusOperationExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self
            .engine
            .describe_nexus_operation_execution(&req.namespace_id, r)
            .await)
    }

    async fn poll_nexus_operation_execution(
        &self,
        request: Request<PollNexusOperationExecutionRequest>,
    ) -> R<ws::PollNexusOperationExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self.engine.poll_nexus_operation_execution(&req.namespace_id, r).await)
    }

    async fn request_cancel_nexus_operation_execution(
        &self,
        request: Request<RequestCancelNexusOperationExecutionRequest>,
    ) -> R<ws::RequestCancelNexusOperationExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self
            .engine
            .request_cancel_nexus_operation_execution(&req.namespace_id, r)
            .await
            .map(|()| ws::RequestCancelNexusOperationExecutionResponse {}))
    }

    async fn terminate_nexus_operation_execution(
        &self,
        request: Request<TerminateNexusOperationExecutionRequest>,
    ) -> R<ws::TerminateNexusOperationExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self
            .engine
            .terminate_nexus_operation_execution(&req.namespace_id, r)
            .await
            .map(|()| ws::TerminateNexusOperationExecutionResponse {}))
    }

    async fn delete_nexus_operation_execution(
        &self,
        request: Request<DeleteNexusOperationExecutionRequest>,
    ) -> R<ws::DeleteNexusOperationExecutionResponse> {
        let req = request.into_inner();
        let r = req.request.ok_or_else(|| missing("Request"))?;
        ok(self
            .engine
            .delete_nexus_operation_execution(&req.namespace_id, r)
            .await
            .map(|()| ws::DeleteNexusOperationExecutionResponse {}))
    }
}
