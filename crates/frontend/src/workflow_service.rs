//! `temporal.api.workflowservice.v1.WorkflowService`: the thin gRPC edge. Each method hands
//! the request to its handler and maps `ServiceError` to a status; RPCs not implemented yet
//! fall through to the generated `UNIMPLEMENTED` defaults.

use crate::batches::BatchHandler;
use crate::executions::ExecutionHandler;
use crate::namespace::NamespaceHandler;
use crate::schedules::ScheduleHandler;
use crate::system::{ClusterIdentity, cluster_info, system_info};
use std::sync::Arc;
use sundial_api::workflowservice::v1::workflow_service_server::WorkflowService;
use sundial_api::workflowservice::v1::*;
use sundial_common::ServiceError;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct WorkflowHandler {
    namespaces: NamespaceHandler,
    executions: ExecutionHandler,
    schedules: ScheduleHandler,
    batches: BatchHandler,
    cluster: Arc<ClusterIdentity>,
}

impl WorkflowHandler {
    pub fn new(
        namespaces: NamespaceHandler,
        executions: ExecutionHandler,
        schedules: ScheduleHandler,
        batches: BatchHandler,
        cluster: ClusterIdentity,
    ) -> Self {
        Self {
            namespaces,
            executions,
            schedules,
            batches,
            cluster: Arc::new(cluster),
        }
    }
}

#[tonic::async_trait]
impl WorkflowService for WorkflowHandler {
    async fn get_system_info(
        &self,
        _: Request<GetSystemInfoRequest>,
    ) -> Result<Response<GetSystemInfoResponse>, Status> {
        Ok(Response::new(system_info()))
    }

    async fn get_cluster_info(
        &self,
        _: Request<GetClusterInfoRequest>,
    ) -> Result<Response<GetClusterInfoResponse>, Status> {
        Ok(Response::new(cluster_info(&self.cluster)))
    }

    async fn register_namespace(
        &self,
        request: Request<RegisterNamespaceRequest>,
    ) -> Result<Response<RegisterNamespaceResponse>, Status> {
        self.namespaces.register(request.into_inner()).await?;
        Ok(Response::new(RegisterNamespaceResponse {}))
    }

    async fn describe_namespace(
        &self,
        request: Request<DescribeNamespaceRequest>,
    ) -> Result<Response<DescribeNamespaceResponse>, Status> {
        Ok(Response::new(self.namespaces.describe(request.into_inner()).await?))
    }

    async fn list_namespaces(
        &self,
        request: Request<ListNamespacesRequest>,
    ) -> Result<Response<ListNamespacesResponse>, Status> {
        Ok(Response::new(self.namespaces.list(request.into_inner()).await?))
    }

    async fn start_workflow_execution(
        &self,
        request: Request<StartWorkflowExecutionRequest>,
    ) -> Result<Response<StartWorkflowExecutionResponse>, Status> {
        self.executions.start(request.into_inner()).await.map(Response::new)
    }

    async fn signal_with_start_workflow_execution(
        &self,
        request: Request<SignalWithStartWorkflowExecutionRequest>,
    ) -> Result<Response<SignalWithStartWorkflowExecutionResponse>, Status> {
        self.executions
            .signal_with_start(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn signal_workflow_execution(
        &self,
        request: Request<SignalWorkflowExecutionRequest>,
    ) -> Result<Response<SignalWorkflowExecutionResponse>, Status> {
        self.executions.signal(request.into_inner()).await.map(Response::new)
    }

    async fn request_cancel_workflow_execution(
        &self,
        request: Request<RequestCancelWorkflowExecutionRequest>,
    ) -> Result<Response<RequestCancelWorkflowExecutionResponse>, Status> {
        self.executions
            .request_cancel(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn pause_activity(
        &self,
        request: Request<PauseActivityRequest>,
    ) -> Result<Response<PauseActivityResponse>, Status> {
        self.executions
            .pause_activity(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn unpause_activity(
        &self,
        request: Request<UnpauseActivityRequest>,
    ) -> Result<Response<UnpauseActivityResponse>, Status> {
        self.executions
            .unpause_activity(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn reset_activity(
        &self,
        request: Request<ResetActivityRequest>,
    ) -> Result<Response<ResetActivityResponse>, Status> {
        self.executions
            .reset_activity(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn update_activity_options(
        &self,
        request: Request<UpdateActivityOptionsRequest>,
    ) -> Result<Response<UpdateActivityOptionsResponse>, Status> {
        self.executions
            .update_activity_options(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn start_activity_execution(
        &self,
        request: Request<StartActivityExecutionRequest>,
    ) -> Result<Response<StartActivityExecutionResponse>, Status> {
        self.executions
            .start_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn describe_activity_execution(
        &self,
        request: Request<DescribeActivityExecutionRequest>,
    ) -> Result<Response<DescribeActivityExecutionResponse>, Status> {
        self.executions
            .describe_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn poll_activity_execution(
        &self,
        request: Request<PollActivityExecutionRequest>,
    ) -> Result<Response<PollActivityExecutionResponse>, Status> {
        self.executions
            .poll_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn request_cancel_activity_execution(
        &self,
        request: Request<RequestCancelActivityExecutionRequest>,
    ) -> Result<Response<RequestCancelActivityExecutionResponse>, Status> {
        self.executions
            .request_cancel_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn terminate_activity_execution(
        &self,
        request: Request<TerminateActivityExecutionRequest>,
    ) -> Result<Response<TerminateActivityExecutionResponse>, Status> {
        self.executions
            .terminate_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_activity_execution(
        &self,
        request: Request<DeleteActivityExecutionRequest>,
    ) -> Result<Response<DeleteActivityExecutionResponse>, Status> {
        self.executions
            .delete_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_activity_executions(
        &self,
        request: Request<ListActivityExecutionsRequest>,
    ) -> Result<Response<ListActivityExecutionsResponse>, Status> {
        self.executions
            .list_activity_executions(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn count_activity_executions(
        &self,
        request: Request<CountActivityExecutionsRequest>,
    ) -> Result<Response<CountActivityExecutionsResponse>, Status> {
        self.executions
            .count_activity_executions(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn record_worker_heartbeat(
        &self,
        request: Request<RecordWorkerHeartbeatRequest>,
    ) -> Result<Response<RecordWorkerHeartbeatResponse>, Status> {
        self.executions
            .record_worker_heartbeat(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_workers(
        &self,
        request: Request<ListWorkersRequest>,
    ) -> Result<Response<ListWorkersResponse>, Status> {
        self.executions
            .list_workers(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn count_workers(
        &self,
        request: Request<CountWorkersRequest>,
    ) -> Result<Response<CountWorkersResponse>, Status> {
        self.executions
            .count_workers(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn describe_worker(
        &self,
        request: Request<DescribeWorkerRequest>,
    ) -> Result<Response<DescribeWorkerResponse>, Status> {
        self.executions
            .describe_worker(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn pause_activity_execution(
        &self,
        request: Request<PauseActivityExecutionRequest>,
    ) -> Result<Response<PauseActivityExecutionResponse>, Status> {
        self.executions
            .pause_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn unpause_activity_execution(
        &self,
        request: Request<UnpauseActivityExecutionRequest>,
    ) -> Result<Response<UnpauseActivityExecutionResponse>, Status> {
        self.executions
            .unpause_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn reset_activity_execution(
        &self,
        request: Request<ResetActivityExecutionRequest>,
    ) -> Result<Response<ResetActivityExecutionResponse>, Status> {
        self.executions
            .reset_activity_execution(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn update_activity_execution_options(
        &self,
        request: Request<UpdateActivityExecutionOptionsRequest>,
    ) -> Result<Response<UpdateActivityExecutionOptionsResponse>, Status> {
        self.executions
            .update_activity_execution_options(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn terminate_workflow_execution(
        &self,
        request: Request<TerminateWorkflowExecutionRequest>,
    ) -> Result<Response<TerminateWorkflowExecutionResponse>, Status> {
        self.executions.terminate(request.into_inner()).await.map(Response::new)
    }

    async fn describe_workflow_execution(
        &self,
        request: Request<DescribeWorkflowExecutionRequest>,
    ) -> Result<Response<DescribeWorkflowExecutionResponse>, Status> {
        self.executions.describe(request.into_inner()).await.map(Response::new)
    }

    async fn get_workflow_execution_history(
        &self,
        request: Request<GetWorkflowExecutionHistoryRequest>,
    ) -> Result<Response<GetWorkflowExecutionHistoryResponse>, Status> {
        self.executions
            .history_page(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn update_workflow_execution(
        &self,
        request: Request<UpdateWorkflowExecutionRequest>,
    ) -> Result<Response<UpdateWorkflowExecutionResponse>, Status> {
        let wait = crate::executions::caller_wait(request.metadata());
        self.executions
            .update_workflow(request.into_inner(), wait)
            .await
            .map(Response::new)
    }

    async fn poll_workflow_execution_update(
        &self,
        request: Request<PollWorkflowExecutionUpdateRequest>,
    ) -> Result<Response<PollWorkflowExecutionUpdateResponse>, Status> {
        let wait = crate::executions::caller_wait(request.metadata());
        self.executions
            .poll_update(request.into_inner(), wait)
            .await
            .map(Response::new)
    }

    async fn execute_multi_operation(
        &self,
        request: Request<ExecuteMultiOperationRequest>,
    ) -> Result<Response<ExecuteMultiOperationResponse>, Status> {
        let wait = crate::executions::caller_wait(request.metadata());
        self.executions
            .execute_multi_operation(request.into_inner(), wait)
            .await
            .map(Response::new)
    }

    async fn get_workflow_execution_history_reverse(
        &self,
        request: Request<GetWorkflowExecutionHistoryReverseRequest>,
    ) -> Result<Response<GetWorkflowExecutionHistoryReverseResponse>, Status> {
        self.executions
            .history_reverse(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn query_workflow(
        &self,
        request: Request<QueryWorkflowRequest>,
    ) -> Result<Response<QueryWorkflowResponse>, Status> {
        self.executions.query(request.into_inner()).await.map(Response::new)
    }

    async fn reset_sticky_task_queue(
        &self,
        request: Request<ResetStickyTaskQueueRequest>,
    ) -> Result<Response<ResetStickyTaskQueueResponse>, Status> {
        self.executions
            .reset_sticky(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn poll_workflow_task_queue(
        &self,
        request: Request<PollWorkflowTaskQueueRequest>,
    ) -> Result<Response<PollWorkflowTaskQueueResponse>, Status> {
        self.executions
            .poll_workflow_task(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn poll_activity_task_queue(
        &self,
        request: Request<PollActivityTaskQueueRequest>,
    ) -> Result<Response<PollActivityTaskQueueResponse>, Status> {
        self.executions
            .poll_activity_task(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_workflow_task_completed(
        &self,
        request: Request<RespondWorkflowTaskCompletedRequest>,
    ) -> Result<Response<RespondWorkflowTaskCompletedResponse>, Status> {
        self.executions
            .workflow_task_completed(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_workflow_task_failed(
        &self,
        request: Request<RespondWorkflowTaskFailedRequest>,
    ) -> Result<Response<RespondWorkflowTaskFailedResponse>, Status> {
        self.executions
            .workflow_task_failed(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn record_activity_task_heartbeat(
        &self,
        request: Request<RecordActivityTaskHeartbeatRequest>,
    ) -> Result<Response<RecordActivityTaskHeartbeatResponse>, Status> {
        self.executions.heartbeat(request.into_inner()).await.map(Response::new)
    }

    async fn record_activity_task_heartbeat_by_id(
        &self,
        request: Request<RecordActivityTaskHeartbeatByIdRequest>,
    ) -> Result<Response<RecordActivityTaskHeartbeatByIdResponse>, Status> {
        self.executions
            .heartbeat_by_id(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_activity_task_completed(
        &self,
        request: Request<RespondActivityTaskCompletedRequest>,
    ) -> Result<Response<RespondActivityTaskCompletedResponse>, Status> {
        self.executions
            .activity_completed(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_activity_task_completed_by_id(
        &self,
        request: Request<RespondActivityTaskCompletedByIdRequest>,
    ) -> Result<Response<RespondActivityTaskCompletedByIdResponse>, Status> {
        self.executions
            .activity_completed_by_id(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_activity_task_failed(
        &self,
        request: Request<RespondActivityTaskFailedRequest>,
    ) -> Result<Response<RespondActivityTaskFailedResponse>, Status> {
        self.executions
            .activity_failed(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_activity_task_failed_by_id(
        &self,
        request: Request<RespondActivityTaskFailedByIdRequest>,
    ) -> Result<Response<RespondActivityTaskFailedByIdResponse>, Status> {
        self.executions
            .activity_failed_by_id(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_activity_task_canceled(
        &self,
        request: Request<RespondActivityTaskCanceledRequest>,
    ) -> Result<Response<RespondActivityTaskCanceledResponse>, Status> {
        self.executions
            .activity_canceled(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_activity_task_canceled_by_id(
        &self,
        request: Request<RespondActivityTaskCanceledByIdRequest>,
    ) -> Result<Response<RespondActivityTaskCanceledByIdResponse>, Status> {
        self.executions
            .activity_canceled_by_id(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_query_task_completed(
        &self,
        request: Request<RespondQueryTaskCompletedRequest>,
    ) -> Result<Response<RespondQueryTaskCompletedResponse>, Status> {
        self.executions
            .query_task_completed(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn describe_task_queue(
        &self,
        request: Request<DescribeTaskQueueRequest>,
    ) -> Result<Response<DescribeTaskQueueResponse>, Status> {
        self.executions
            .describe_task_queue(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_task_queue_partitions(
        &self,
        request: Request<ListTaskQueuePartitionsRequest>,
    ) -> Result<Response<ListTaskQueuePartitionsResponse>, Status> {
        self.executions
            .list_task_queue_partitions(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_workflow_executions(
        &self,
        request: Request<ListWorkflowExecutionsRequest>,
    ) -> Result<Response<ListWorkflowExecutionsResponse>, Status> {
        self.executions.list(request.into_inner()).await.map(Response::new)
    }

    async fn count_workflow_executions(
        &self,
        request: Request<CountWorkflowExecutionsRequest>,
    ) -> Result<Response<CountWorkflowExecutionsResponse>, Status> {
        self.executions.count(request.into_inner()).await.map(Response::new)
    }

    async fn scan_workflow_executions(
        &self,
        request: Request<ScanWorkflowExecutionsRequest>,
    ) -> Result<Response<ScanWorkflowExecutionsResponse>, Status> {
        crate::visibility::scan(&self.executions, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_open_workflow_executions(
        &self,
        request: Request<ListOpenWorkflowExecutionsRequest>,
    ) -> Result<Response<ListOpenWorkflowExecutionsResponse>, Status> {
        crate::visibility::list_open(&self.executions, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_closed_workflow_executions(
        &self,
        request: Request<ListClosedWorkflowExecutionsRequest>,
    ) -> Result<Response<ListClosedWorkflowExecutionsResponse>, Status> {
        crate::visibility::list_closed(&self.executions, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn delete_workflow_execution(
        &self,
        request: Request<DeleteWorkflowExecutionRequest>,
    ) -> Result<Response<DeleteWorkflowExecutionResponse>, Status> {
        self.executions.delete(request.into_inner()).await.map(Response::new)
    }

    async fn reset_workflow_execution(
        &self,
        request: Request<ResetWorkflowExecutionRequest>,
    ) -> Result<Response<ResetWorkflowExecutionResponse>, Status> {
        self.executions.reset(request.into_inner()).await.map(Response::new)
    }

    async fn shutdown_worker(
        &self,
        request: Request<ShutdownWorkerRequest>,
    ) -> Result<Response<ShutdownWorkerResponse>, Status> {
        self.executions
            .shutdown_worker(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn update_namespace(
        &self,
        request: Request<UpdateNamespaceRequest>,
    ) -> Result<Response<UpdateNamespaceResponse>, Status> {
        Ok(Response::new(self.namespaces.update(request.into_inner()).await?))
    }

    async fn deprecate_namespace(
        &self,
        request: Request<DeprecateNamespaceRequest>,
    ) -> Result<Response<DeprecateNamespaceResponse>, Status> {
        Ok(Response::new(self.namespaces.deprecate(request.into_inner()).await?))
    }

    async fn get_search_attributes(
        &self,
        _: Request<GetSearchAttributesRequest>,
    ) -> Result<Response<GetSearchAttributesResponse>, Status> {
        Ok(Response::new(GetSearchAttributesResponse {
            keys: crate::search_attributes::cluster_search_attributes(),
        }))
    }

    /// Archival is not configured (Sundial has none): Temporal's answer for such a cluster,
    /// after the namespace is checked.
    async fn list_archived_workflow_executions(
        &self,
        request: Request<ListArchivedWorkflowExecutionsRequest>,
    ) -> Result<Response<ListArchivedWorkflowExecutionsResponse>, Status> {
        let namespace = request.into_inner().namespace;
        if namespace.is_empty() {
            return Err(ServiceError::invalid("Namespace not set on request.").into());
        }
        self.namespaces.registry().by_name(&namespace).await?;
        Err(ServiceError::invalid("Cluster is not configured for visibility archival.").into())
    }

    async fn count_schedules(
        &self,
        request: Request<CountSchedulesRequest>,
    ) -> Result<Response<CountSchedulesResponse>, Status> {
        Ok(Response::new(self.schedules.count(request.into_inner()).await?))
    }

    async fn create_schedule(
        &self,
        request: Request<CreateScheduleRequest>,
    ) -> Result<Response<CreateScheduleResponse>, Status> {
        Ok(Response::new(self.schedules.create(request.into_inner()).await?))
    }

    async fn describe_schedule(
        &self,
        request: Request<DescribeScheduleRequest>,
    ) -> Result<Response<DescribeScheduleResponse>, Status> {
        Ok(Response::new(self.schedules.describe(request.into_inner()).await?))
    }

    async fn update_schedule(
        &self,
        request: Request<UpdateScheduleRequest>,
    ) -> Result<Response<UpdateScheduleResponse>, Status> {
        Ok(Response::new(self.schedules.update(request.into_inner()).await?))
    }

    async fn patch_schedule(
        &self,
        request: Request<PatchScheduleRequest>,
    ) -> Result<Response<PatchScheduleResponse>, Status> {
        Ok(Response::new(self.schedules.patch(request.into_inner()).await?))
    }

    async fn delete_schedule(
        &self,
        request: Request<DeleteScheduleRequest>,
    ) -> Result<Response<DeleteScheduleResponse>, Status> {
        Ok(Response::new(self.schedules.delete(request.into_inner()).await?))
    }

    async fn list_schedules(
        &self,
        request: Request<ListSchedulesRequest>,
    ) -> Result<Response<ListSchedulesResponse>, Status> {
        Ok(Response::new(self.schedules.list(request.into_inner()).await?))
    }

    async fn list_schedule_matching_times(
        &self,
        request: Request<ListScheduleMatchingTimesRequest>,
    ) -> Result<Response<ListScheduleMatchingTimesResponse>, Status> {
        Ok(Response::new(
            self.schedules.list_matching_times(request.into_inner()).await?,
        ))
    }

    async fn start_batch_operation(
        &self,
        request: Request<StartBatchOperationRequest>,
    ) -> Result<Response<StartBatchOperationResponse>, Status> {
        Ok(Response::new(self.batches.start(request.into_inner()).await?))
    }

    async fn describe_batch_operation(
        &self,
        request: Request<DescribeBatchOperationRequest>,
    ) -> Result<Response<DescribeBatchOperationResponse>, Status> {
        Ok(Response::new(self.batches.describe(request.into_inner()).await?))
    }

    async fn list_batch_operations(
        &self,
        request: Request<ListBatchOperationsRequest>,
    ) -> Result<Response<ListBatchOperationsResponse>, Status> {
        Ok(Response::new(self.batches.list(request.into_inner()).await?))
    }

    async fn stop_batch_operation(
        &self,
        request: Request<StopBatchOperationRequest>,
    ) -> Result<Response<StopBatchOperationResponse>, Status> {
        Ok(Response::new(self.batches.stop(request.into_inner()).await?))
    }

    async fn poll_nexus_task_queue(
        &self,
        request: Request<PollNexusTaskQueueRequest>,
    ) -> Result<Response<PollNexusTaskQueueResponse>, Status> {
        Ok(Response::new(
            self.executions.poll_nexus_task(request.into_inner()).await?,
        ))
    }

    async fn respond_nexus_task_completed(
        &self,
        request: Request<RespondNexusTaskCompletedRequest>,
    ) -> Result<Response<RespondNexusTaskCompletedResponse>, Status> {
        Ok(Response::new(
            self.executions.nexus_task_completed(request.into_inner()).await?,
        ))
    }

    async fn respond_nexus_task_failed(
        &self,
        request: Request<RespondNexusTaskFailedRequest>,
    ) -> Result<Response<RespondNexusTaskFailedResponse>, Status> {
        Ok(Response::new(
            self.executions.nexus_task_failed(request.into_inner()).await?,
        ))
    }

    async fn start_nexus_operation_execution(
        &self,
        request: Request<StartNexusOperationExecutionRequest>,
    ) -> Result<Response<StartNexusOperationExecutionResponse>, Status> {
        Ok(Response::new(
            self.executions
                .start_nexus_operation_execution(request.into_inner())
                .await?,
        ))
    }

    async fn describe_nexus_operation_execution(
        &self,
        request: Request<DescribeNexusOperationExecutionRequest>,
    ) -> Result<Response<DescribeNexusOperationExecutionResponse>, Status> {
        Ok(Response::new(
            self.executions
                .describe_nexus_operation_execution(request.into_inner())
                .await?,
        ))
    }

    async fn poll_nexus_operation_execution(
        &self,
        request: Request<PollNexusOperationExecutionRequest>,
    ) -> Result<Response<PollNexusOperationExecutionResponse>, Status> {
        Ok(Response::new(
            self.executions
                .poll_nexus_operation_execution(request.into_inner())
                .await?,
        ))
    }

    async fn request_cancel_nexus_operation_execution(
        &self,
        request: Request<RequestCancelNexusOperationExecutionRequest>,
    ) -> Result<Response<RequestCancelNexusOperationExecutionResponse>, Status> {
        Ok(Response::new(
            self.executions
                .request_cancel_nexus_operation_execution(request.into_inner())
                .await?,
        ))
    }

    async fn terminate_nexus_operation_execution(
        &self,
        request: Request<TerminateNexusOperationExecutionRequest>,
    ) -> Result<Response<TerminateNexusOperationExecutionResponse>, Status> {
        Ok(Response::new(
            self.executions
                .terminate_nexus_operation_execution(request.into_inner())
                .await?,
        ))
    }

    async fn delete_nexus_operation_execution(
        &self,
        request: Request<DeleteNexusOperationExecutionRequest>,
    ) -> Result<Response<DeleteNexusOperationExecutionResponse>, Status> {
        Ok(Response::new(
            self.executions
                .delete_nexus_operation_execution(request.into_inner())
                .await?,
        ))
    }

    async fn list_nexus_operation_executions(
        &self,
        request: Request<ListNexusOperationExecutionsRequest>,
    ) -> Result<Response<ListNexusOperationExecutionsResponse>, Status> {
        Ok(Response::new(
            self.executions
                .list_nexus_operation_executions(request.into_inner())
                .await?,
        ))
    }

    async fn count_nexus_operation_executions(
        &self,
        request: Request<CountNexusOperationExecutionsRequest>,
    ) -> Result<Response<CountNexusOperationExecutionsResponse>, Status> {
        Ok(Response::new(
            self.executions
                .count_nexus_operation_executions(request.into_inner())
                .await?,
        ))
    }
}
