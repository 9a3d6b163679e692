//! Execution and task-queue APIs: validated here, then routed to history (by workflow) or to
//! matching (by task queue). Visibility reads go to the database directly.

// The CLI still sends and reads the versioning-era describe fields (api_mode, versions_info).
#![allow(deprecated)]

use crate::registry::NamespaceRegistry;
use crate::validation as v;
use std::sync::Arc;
use sundial_api::prost::Message;
use sundial_api::sundial::historyservice::v1 as hs;
use sundial_api::sundial::matchingservice::v1 as ms;
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::temporal::common::v1::{Memo, Payloads, WorkflowExecution, WorkflowType};
use sundial_api::temporal::enums::v1::{DescribeTaskQueueMode, TaskQueueType};
use sundial_api::temporal::enums::v1::{ResourceExhaustedCause, ResourceExhaustedScope};
use sundial_api::temporal::taskqueue::v1::{TaskQueueTypeInfo, TaskQueueVersionInfo};
use sundial_api::temporal::workflow::v1::WorkflowExecutionInfo;
use sundial_api::workflowservice::v1::*;
use sundial_common::ServiceError;
use sundial_common::time::nanos_to_timestamp;
use sundial_dynconfig::limits::{LimitError, NamespaceRateLimiters, PollerLimiter};
use sundial_dynconfig::{DynamicConfig, Scope, TaskType, keys};
use sundial_persistence::{VisibilityRecord, VisibilityStore};
use sundial_rpc::{HistoryClient, MatchingClient};
use tonic::Status;

#[derive(Clone)]
pub struct ExecutionHandler {
    registry: NamespaceRegistry,
    history: HistoryClient,
    matching: MatchingClient,
    visibility: Arc<dyn VisibilityStore>,
    dc: DynamicConfig,
    rate: Arc<NamespaceRateLimiters>,
    pollers: PollerLimiter,
}

fn limit_error(e: LimitError) -> ServiceError {
    let cause = match e {
        LimitError::NamespaceRate { .. } => ResourceExhaustedCause::RpsLimit,
        _ => ResourceExhaustedCause::ConcurrentLimit,
    };
    ServiceError::ResourceExhausted {
        message: e.to_string(),
        cause: cause as i32,
        scope: ResourceExhaustedScope::Namespace as i32,
    }
}

/// Resolves the namespace name of a request to its id, with Temporal's errors.
async fn namespace_id(registry: &NamespaceRegistry, name: &str) -> Result<String, ServiceError> {
    if name.is_empty() {
        return Err(ServiceError::invalid("Namespace not set on request."));
    }
    Ok(registry.by_name(name).await?.id.clone())
}

fn decode_token(bytes: &[u8]) -> Result<TaskToken, ServiceError> {
    v::task_token(bytes)?;
    TaskToken::decode(bytes)
        .ok()
        .filter(|t| !t.workflow_id.is_empty())
        .ok_or_else(|| ServiceError::invalid("Error deserializing task token."))
}

fn execution(e: Option<&WorkflowExecution>) -> Result<WorkflowExecution, ServiceError> {
    let e = e
        .cloned()
        .ok_or_else(|| ServiceError::invalid("Execution is not set on request."))?;
    v::workflow_id(&e.workflow_id)?;
    v::run_id(&e.run_id)?;
    Ok(e)
}

type Res<T> = Result<T, Status>;

impl ExecutionHandler {
    pub fn new(
        registry: NamespaceRegistry,
        history: HistoryClient,
        matching: MatchingClient,
        visibility: Arc<dyn VisibilityStore>,
        dc: DynamicConfig,
    ) -> Self {
        Self {
            registry,
            history,
            matching,
            visibility,
            rate: Arc::new(NamespaceRateLimiters::new(dc.clone())),
            pollers: PollerLimiter::new(dc.clone()),
            dc,
        }
    }

    /// Resolves the namespace and takes a token of its rate limit (`frontend.namespaceRPS`).
    async fn ns(&self, name: &str) -> Res<String> {
        let id = namespace_id(&self.registry, name).await?;
        self.rate.check(name).map_err(limit_error)?;
        Ok(id)
    }

    /// `limit.maxIDLength` and `limit.blobSize.error` for what a start or signal carries.
    fn check_sizes(
        &self,
        namespace: &str,
        ids: &[(&str, &str)],
        blobs: &[Option<&Payloads>],
    ) -> Result<(), ServiceError> {
        let max_id = usize::try_from(self.dc.get(&keys::MAX_ID_LENGTH, &Scope::global())).unwrap_or(usize::MAX);
        for (what, id) in ids {
            if id.len() > max_id {
                return Err(ServiceError::invalid(format!(
                    "{what} exceeds maximum allowed length ({}/{max_id})",
                    id.len()
                )));
            }
        }
        let max_blob = self.dc.get(&keys::BLOB_SIZE_LIMIT_ERROR, &Scope::namespace(namespace));
        for blob in blobs.iter().flatten() {
            if max_blob > 0 && blob.encoded_len() as i64 > max_blob {
                return Err(ServiceError::invalid("Blob data size exceeds limit."));
            }
        }
        Ok(())
    }

    /// Search attributes given at start must be registered and of their registered type.
    async fn check_search_attributes(
        &self,
        namespace: &str,
        attrs: Option<&sundial_api::temporal::common::v1::SearchAttributes>,
    ) -> Res<()> {
        if attrs.is_none_or(|a| a.indexed_fields.is_empty()) {
            return Ok(());
        }
        let ns = self.registry.by_name(namespace).await?;
        crate::search_attributes::validate_search_attributes(&ns.detail, attrs)?;
        Ok(())
    }

    fn history(&self) -> HistoryClient {
        self.history.clone()
    }

    fn matching(&self) -> MatchingClient {
        self.matching.clone()
    }

    pub async fn start(&self, mut req: StartWorkflowExecutionRequest) -> Res<StartWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        self.check_search_attributes(&req.namespace, req.search_attributes.as_ref())
            .await?;
        v::workflow_id(&req.workflow_id)?;
        v::named(
            req.workflow_type.as_ref().map_or("", |t| t.name.as_str()),
            "WorkflowType",
        )?;
        v::task_queue(req.task_queue.as_ref())?;
        v::timeout(
            req.workflow_execution_timeout.as_ref(),
            "WorkflowExecutionTimeoutSeconds",
        )?;
        v::timeout(req.workflow_run_timeout.as_ref(), "WorkflowRunTimeoutSeconds")?;
        v::timeout(req.workflow_task_timeout.as_ref(), "WorkflowTaskTimeoutSeconds")?;
        v::timeout(req.workflow_start_delay.as_ref(), "WorkflowStartDelay")?;
        v::retry_policy(req.retry_policy.as_ref())?;
        v::cron_schedule(&req.cron_schedule)?;
        v::request_id(&req.request_id)?;
        if req.request_id.is_empty() {
            req.request_id = uuid::Uuid::new_v4().to_string();
        }
        let resp = self
            .history()
            .start_workflow_execution(hs::StartWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn signal_with_start(
        &self,
        mut req: SignalWithStartWorkflowExecutionRequest,
    ) -> Res<SignalWithStartWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        self.check_search_attributes(&req.namespace, req.search_attributes.as_ref())
            .await?;
        v::workflow_id(&req.workflow_id)?;
        v::named(
            req.workflow_type.as_ref().map_or("", |t| t.name.as_str()),
            "WorkflowType",
        )?;
        v::task_queue(req.task_queue.as_ref())?;
        v::named(&req.signal_name, "SignalName")?;
        self.check_sizes(
            &req.namespace,
            &[("WorkflowId", &req.workflow_id)],
            &[req.input.as_ref(), req.signal_input.as_ref()],
        )?;
        v::timeout(
            req.workflow_execution_timeout.as_ref(),
            "WorkflowExecutionTimeoutSeconds",
        )?;
        v::timeout(req.workflow_run_timeout.as_ref(), "WorkflowRunTimeoutSeconds")?;
        v::timeout(req.workflow_task_timeout.as_ref(), "WorkflowTaskTimeoutSeconds")?;
        v::retry_policy(req.retry_policy.as_ref())?;
        v::cron_schedule(&req.cron_schedule)?;
        v::request_id(&req.request_id)?;
        if req.request_id.is_empty() {
            req.request_id = uuid::Uuid::new_v4().to_string();
        }
        let resp = self
            .history()
            .signal_with_start_workflow_execution(hs::SignalWithStartWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn signal(&self, req: SignalWorkflowExecutionRequest) -> Res<SignalWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.workflow_execution.as_ref())?;
        v::named(&req.signal_name, "SignalName")?;
        self.check_sizes(&req.namespace, &[], &[req.input.as_ref()])?;
        v::request_id(&req.request_id)?;
        let resp = self
            .history()
            .signal_workflow_execution(hs::SignalWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn request_cancel(
        &self,
        req: RequestCancelWorkflowExecutionRequest,
    ) -> Res<RequestCancelWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.workflow_execution.as_ref())?;
        let resp = self
            .history()
            .request_cancel_workflow_execution(hs::RequestCancelWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn terminate(
        &self,
        mut req: TerminateWorkflowExecutionRequest,
    ) -> Res<TerminateWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.workflow_execution.as_ref())?;
        if req.reason.is_empty() {
            req.reason = "terminated by user via frontend".into();
        }
        if req.identity.is_empty() {
            req.identity = "frontend-service".into();
        }
        let resp = self
            .history()
            .terminate_workflow_execution(hs::TerminateWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn describe(&self, req: DescribeWorkflowExecutionRequest) -> Res<DescribeWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.execution.as_ref())?;
        let resp = self
            .history()
            .describe_workflow_execution(hs::DescribeWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn history_page(
        &self,
        req: GetWorkflowExecutionHistoryRequest,
    ) -> Res<GetWorkflowExecutionHistoryResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.execution.as_ref())?;
        let resp = self
            .history()
            .get_workflow_execution_history(hs::GetWorkflowExecutionHistoryRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn history_reverse(
        &self,
        req: GetWorkflowExecutionHistoryReverseRequest,
    ) -> Res<GetWorkflowExecutionHistoryReverseResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.execution.as_ref())?;
        let resp = self
            .history()
            .get_workflow_execution_history_reverse(hs::GetWorkflowExecutionHistoryReverseRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn query(&self, req: QueryWorkflowRequest) -> Res<QueryWorkflowResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.execution.as_ref())?;
        v::named(req.query.as_ref().map_or("", |q| q.query_type.as_str()), "QueryType")?;
        let resp = self
            .history()
            .query_workflow(hs::QueryWorkflowRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn reset_sticky(&self, req: ResetStickyTaskQueueRequest) -> Res<ResetStickyTaskQueueResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        let exec = execution(req.execution.as_ref())?;
        let resp = self
            .history()
            .reset_sticky_task_queue(hs::ResetStickyTaskQueueRequest {
                namespace_id,
                execution: Some(exec),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn poll_workflow_task(&self, req: PollWorkflowTaskQueueRequest) -> Res<PollWorkflowTaskQueueResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        v::task_queue(req.task_queue.as_ref())?;
        let queue = req.task_queue.as_ref().map_or("", |q| q.name.as_str());
        let _permit = self
            .pollers
            .acquire(&req.namespace, queue, TaskType::Workflow)
            .map_err(limit_error)?;
        let resp = self
            .matching()
            .poll_workflow_task_queue(ms::PollWorkflowTaskQueueRequest {
                namespace_id,
                poller_id: uuid::Uuid::new_v4().to_string(),
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn poll_activity_task(&self, req: PollActivityTaskQueueRequest) -> Res<PollActivityTaskQueueResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        v::task_queue(req.task_queue.as_ref())?;
        let queue = req.task_queue.as_ref().map_or("", |q| q.name.as_str());
        let _permit = self
            .pollers
            .acquire(&req.namespace, queue, TaskType::Activity)
            .map_err(limit_error)?;
        let resp = self
            .matching()
            .poll_activity_task_queue(ms::PollActivityTaskQueueRequest {
                namespace_id,
                poller_id: uuid::Uuid::new_v4().to_string(),
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn workflow_task_completed(
        &self,
        req: RespondWorkflowTaskCompletedRequest,
    ) -> Res<RespondWorkflowTaskCompletedResponse> {
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        let resp = self
            .history()
            .respond_workflow_task_completed(hs::RespondWorkflowTaskCompletedRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn workflow_task_failed(
        &self,
        req: RespondWorkflowTaskFailedRequest,
    ) -> Res<RespondWorkflowTaskFailedResponse> {
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        let resp = self
            .history()
            .respond_workflow_task_failed(hs::RespondWorkflowTaskFailedRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    /// The namespace of a task token; the request's namespace, when given, must agree.
    async fn ns_for_token(&self, name: &str, token: &TaskToken) -> Res<String> {
        if name.is_empty() {
            return Ok(self.registry.by_id(&token.namespace_id).await?.id.clone());
        }
        let id = self.ns(name).await?;
        if id != token.namespace_id {
            return Err(ServiceError::invalid("Operation requested with a token from a different namespace.").into());
        }
        Ok(id)
    }

    /// A token for the `*ById` activity calls: history finds the activity by its id.
    async fn token_by_id(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        activity_id: &str,
    ) -> Res<(String, Vec<u8>)> {
        let namespace_id = self.ns(namespace).await?;
        v::workflow_id(workflow_id)?;
        v::run_id(run_id)?;
        v::named(activity_id, "ActivityId")?;
        let token = TaskToken {
            namespace_id: namespace_id.clone(),
            workflow_id: workflow_id.to_owned(),
            run_id: run_id.to_owned(),
            activity_id: activity_id.to_owned(),
            ..Default::default()
        };
        Ok((namespace_id, token.encode_to_vec()))
    }

    pub async fn heartbeat(&self, req: RecordActivityTaskHeartbeatRequest) -> Res<RecordActivityTaskHeartbeatResponse> {
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        let resp = self
            .history()
            .record_activity_task_heartbeat(hs::RecordActivityTaskHeartbeatRequest {
                namespace_id,
                task_token: req.task_token,
                details: req.details,
                identity: req.identity,
            })
            .await?;
        Ok(resp.into_inner())
    }

    pub async fn heartbeat_by_id(
        &self,
        req: RecordActivityTaskHeartbeatByIdRequest,
    ) -> Res<RecordActivityTaskHeartbeatByIdResponse> {
        let (namespace_id, task_token) = self
            .token_by_id(&req.namespace, &req.workflow_id, &req.run_id, &req.activity_id)
            .await?;
        let resp = self
            .history()
            .record_activity_task_heartbeat(hs::RecordActivityTaskHeartbeatRequest {
                namespace_id,
                task_token,
                details: req.details,
                identity: req.identity,
            })
            .await?
            .into_inner();
        Ok(RecordActivityTaskHeartbeatByIdResponse {
            cancel_requested: resp.cancel_requested,
            activity_paused: resp.activity_paused,
            activity_reset: resp.activity_reset,
        })
    }

    pub async fn activity_completed(
        &self,
        req: RespondActivityTaskCompletedRequest,
    ) -> Res<RespondActivityTaskCompletedResponse> {
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        self.history()
            .respond_activity_task_completed(hs::RespondActivityTaskCompletedRequest {
                namespace_id,
                task_token: req.task_token,
                result: req.result,
                identity: req.identity,
            })
            .await?;
        Ok(RespondActivityTaskCompletedResponse::default())
    }

    pub async fn activity_completed_by_id(
        &self,
        req: RespondActivityTaskCompletedByIdRequest,
    ) -> Res<RespondActivityTaskCompletedByIdResponse> {
        let (namespace_id, task_token) = self
            .token_by_id(&req.namespace, &req.workflow_id, &req.run_id, &req.activity_id)
            .await?;
        self.history()
            .respond_activity_task_completed(hs::RespondActivityTaskCompletedRequest {
                namespace_id,
                task_token,
                result: req.result,
                identity: req.identity,
            })
            .await?;
        Ok(RespondActivityTaskCompletedByIdResponse::default())
    }

    pub async fn activity_failed(
        &self,
        req: RespondActivityTaskFailedRequest,
    ) -> Res<RespondActivityTaskFailedResponse> {
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        let task_token = req.task_token.clone();
        self.history()
            .respond_activity_task_failed(hs::RespondActivityTaskFailedRequest {
                namespace_id,
                task_token,
                request: Some(req),
            })
            .await?;
        Ok(RespondActivityTaskFailedResponse::default())
    }

    pub async fn activity_failed_by_id(
        &self,
        req: RespondActivityTaskFailedByIdRequest,
    ) -> Res<RespondActivityTaskFailedByIdResponse> {
        let (namespace_id, task_token) = self
            .token_by_id(&req.namespace, &req.workflow_id, &req.run_id, &req.activity_id)
            .await?;
        let inner = RespondActivityTaskFailedRequest {
            namespace: req.namespace,
            failure: req.failure,
            identity: req.identity,
            last_heartbeat_details: req.last_heartbeat_details,
            ..Default::default()
        };
        self.history()
            .respond_activity_task_failed(hs::RespondActivityTaskFailedRequest {
                namespace_id,
                task_token,
                request: Some(inner),
            })
            .await?;
        Ok(RespondActivityTaskFailedByIdResponse::default())
    }

    pub async fn activity_canceled(
        &self,
        req: RespondActivityTaskCanceledRequest,
    ) -> Res<RespondActivityTaskCanceledResponse> {
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        self.history()
            .respond_activity_task_canceled(hs::RespondActivityTaskCanceledRequest {
                namespace_id,
                task_token: req.task_token,
                details: req.details,
                identity: req.identity,
            })
            .await?;
        Ok(RespondActivityTaskCanceledResponse::default())
    }

    pub async fn activity_canceled_by_id(
        &self,
        req: RespondActivityTaskCanceledByIdRequest,
    ) -> Res<RespondActivityTaskCanceledByIdResponse> {
        let (namespace_id, task_token) = self
            .token_by_id(&req.namespace, &req.workflow_id, &req.run_id, &req.activity_id)
            .await?;
        self.history()
            .respond_activity_task_canceled(hs::RespondActivityTaskCanceledRequest {
                namespace_id,
                task_token,
                details: req.details,
                identity: req.identity,
            })
            .await?;
        Ok(RespondActivityTaskCanceledByIdResponse::default())
    }

    pub async fn query_task_completed(
        &self,
        req: RespondQueryTaskCompletedRequest,
    ) -> Res<RespondQueryTaskCompletedResponse> {
        let token = decode_token(&req.task_token)?;
        if token.query_task_id.is_empty() {
            return Err(ServiceError::invalid("Error deserializing task token.").into());
        }
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        self.matching()
            .respond_query_task_completed(ms::RespondQueryTaskCompletedRequest {
                namespace_id,
                task_queue: Some(sundial_api::temporal::taskqueue::v1::TaskQueue {
                    name: token.task_queue.clone(),
                    ..Default::default()
                }),
                query_task_id: token.query_task_id.clone(),
                request: Some(req),
            })
            .await?;
        Ok(RespondQueryTaskCompletedResponse::default())
    }

    pub async fn describe_task_queue(&self, req: DescribeTaskQueueRequest) -> Res<DescribeTaskQueueResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        v::task_queue(req.task_queue.as_ref())?;
        if req.api_mode == DescribeTaskQueueMode::Enhanced as i32 {
            return self.describe_task_queue_enhanced(namespace_id, req).await;
        }
        let resp = self
            .matching()
            .describe_task_queue(ms::DescribeTaskQueueRequest {
                namespace_id,
                request: Some(req),
            })
            .await?;
        Ok(resp.into_inner())
    }

    /// A worker is going away: its sticky queue stops taking tasks now, so the next workflow
    /// task of its runs goes to the normal queue at once.
    pub async fn shutdown_worker(&self, req: ShutdownWorkerRequest) -> Res<ShutdownWorkerResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        if !req.sticky_task_queue.is_empty() {
            self.matching()
                .unload_sticky_queue(ms::UnloadStickyQueueRequest {
                    namespace_id,
                    task_queue: req.sticky_task_queue,
                })
                .await?;
        }
        Ok(ShutdownWorkerResponse::default())
    }

    /// The enhanced form reports pollers per task type under the unversioned build id ("").
    async fn describe_task_queue_enhanced(
        &self,
        namespace_id: String,
        req: DescribeTaskQueueRequest,
    ) -> Res<DescribeTaskQueueResponse> {
        let types = if req.task_queue_types.is_empty() {
            vec![TaskQueueType::Workflow as i32, TaskQueueType::Activity as i32]
        } else {
            req.task_queue_types.clone()
        };
        let mut types_info = std::collections::HashMap::new();
        for task_type in types {
            let legacy = DescribeTaskQueueRequest {
                namespace: req.namespace.clone(),
                task_queue: req.task_queue.clone(),
                task_queue_type: task_type,
                report_stats: req.report_stats,
                ..Default::default()
            };
            let resp = self
                .matching()
                .describe_task_queue(ms::DescribeTaskQueueRequest {
                    namespace_id: namespace_id.clone(),
                    request: Some(legacy),
                })
                .await?
                .into_inner();
            let info = TaskQueueTypeInfo {
                pollers: if req.report_pollers { resp.pollers } else { Vec::new() },
                stats: if req.report_stats { resp.stats } else { None },
            };
            types_info.insert(task_type, info);
        }
        let versions_info = [(
            String::new(),
            TaskQueueVersionInfo {
                types_info,
                task_reachability: 0,
            },
        )]
        .into();
        Ok(DescribeTaskQueueResponse {
            versions_info,
            ..Default::default()
        })
    }

    pub async fn list(&self, req: ListWorkflowExecutionsRequest) -> Res<ListWorkflowExecutionsResponse> {
        Ok(crate::visibility::list(&self.registry, self.visibility.as_ref(), req).await?)
    }

    pub async fn count(&self, req: CountWorkflowExecutionsRequest) -> Res<CountWorkflowExecutionsResponse> {
        Ok(crate::visibility::count(&self.registry, self.visibility.as_ref(), req).await?)
    }
}

/// A visibility row as list calls return it.
pub(crate) fn execution_info(r: &VisibilityRecord) -> WorkflowExecutionInfo {
    WorkflowExecutionInfo {
        execution: Some(WorkflowExecution {
            workflow_id: r.workflow_id.clone(),
            run_id: r.run_id.clone(),
        }),
        r#type: Some(WorkflowType {
            name: r.workflow_type.clone(),
        }),
        start_time: Some(nanos_to_timestamp(r.start_time)),
        close_time: r.close_time.map(nanos_to_timestamp),
        status: r.status,
        history_length: r.history_length,
        execution_time: Some(nanos_to_timestamp(r.execution_time)),
        memo: r.memo.as_deref().and_then(|m| Memo::decode(m).ok()),
        search_attributes: r
            .search_attributes
            .as_deref()
            .and_then(|s| sundial_api::temporal::common::v1::SearchAttributes::decode(s).ok()),
        task_queue: r.task_queue.clone(),
        state_transition_count: r.state_transition_count,
        history_size_bytes: r.history_size_bytes,
        execution_duration: r.close_time.map(|c| {
            sundial_common::time::duration_to_pb(std::time::Duration::from_nanos(
                u64::try_from(c - r.execution_time).unwrap_or(0),
            ))
        }),
        parent_execution: r.parent_workflow_id.as_ref().map(|wf| WorkflowExecution {
            workflow_id: wf.clone(),
            run_id: r.parent_run_id.clone().unwrap_or_default(),
        }),
        root_execution: Some(WorkflowExecution {
            workflow_id: if r.root_workflow_id.is_empty() {
                r.workflow_id.clone()
            } else {
                r.root_workflow_id.clone()
            },
            run_id: if r.root_run_id.is_empty() {
                r.run_id.clone()
            } else {
                r.root_run_id.clone()
            },
        }),
        ..Default::default()
    }
}

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
        use sundial_api::temporal::enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage;
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
        let resp = self
            .history()
            .update_workflow_execution(hs::UpdateWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
                wait_millis: i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
            })
            .await?
            .into_inner();
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
        let resp = self
            .history()
            .poll_workflow_execution_update(hs::PollWorkflowExecutionUpdateRequest {
                namespace_id,
                request: Some(req),
                wait_millis: i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
            })
            .await?
            .into_inner();
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
        let started = self
            .start(start.clone())
            .await
            .map_err(|e| multi_operation_failure(0, 2, &e))?;
        update.workflow_execution = Some(WorkflowExecution {
            workflow_id: start.workflow_id.clone(),
            run_id: started.run_id.clone(),
        });
        let updated = self
            .update_workflow(update, wait)
            .await
            .map_err(|e| multi_operation_failure(1, 2, &e))?;
        Ok(ExecuteMultiOperationResponse {
            responses: vec![
                OpResponse {
                    response: Some(OpResult::StartWorkflow(started)),
                },
                OpResponse {
                    response: Some(OpResult::UpdateWorkflow(updated)),
                },
            ],
        })
    }
}
