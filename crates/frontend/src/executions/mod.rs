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
use sundial_api::temporal::enums::v1::{DescribeTaskQueueMode, NamespaceState, TaskQueueType};
use sundial_api::temporal::enums::v1::{ResourceExhaustedCause, ResourceExhaustedScope};
use sundial_api::temporal::taskqueue::v1::{TaskQueueTypeInfo, TaskQueueVersionInfo};
use sundial_api::temporal::workflow::v1::WorkflowExecutionInfo;
use sundial_api::workflowservice::v1::*;
use sundial_common::ServiceError;
use sundial_common::time::nanos_to_timestamp;
use sundial_dynconfig::limits::{LimitError, NamespaceRateLimiters, PollerLimiter};
use sundial_dynconfig::{DynamicConfig, Scope, TaskType, keys};
use sundial_persistence::{VisibilityRecord, VisibilityStore};
use sundial_rpc::{HistoryRouter, MatchingClient, MatchingRouter};
use tonic::Status;

/// `$self.history.call` for one history method: `$req` goes to the host that owns the
/// workflow's shard, and again to the next owner while that one is unreachable or moving. A
/// future of the method's response message.
macro_rules! on_history {
    ($self:ident, $namespace_id:expr, $workflow_id:expr, $method:ident, $req:expr) => {{
        let shard = $self.history.shard_of($namespace_id, $workflow_id);
        $self
            .history
            .call(shard, $req, |mut client, req| async move { client.$method(req).await })
    }};
}

/// Temporal's `system.maxCallbacksPerWorkflow`, `frontend.callbackURLMaxLength` and
/// `frontend.callbackHeaderMaxLength`.
const MAX_CALLBACKS: usize = 32;
const MAX_CALLBACK_URL_LENGTH: usize = 1000;
const MAX_CALLBACK_HEADER_SIZE: usize = 8192;

/// Completion callbacks a start may register: Nexus callbacks to this cluster (no callback
/// address is configured for anything else, as in Temporal's default).
fn check_callbacks(req: &StartWorkflowExecutionRequest) -> Result<(), ServiceError> {
    use sundial_api::temporal::common::v1::callback::Variant;
    if req.completion_callbacks.len() > MAX_CALLBACKS {
        return Err(ServiceError::FailedPrecondition(format!(
            "cannot attach more than {MAX_CALLBACKS} callbacks to a workflow ({} callbacks already attached)",
            req.completion_callbacks.len()
        )));
    }
    for callback in &req.completion_callbacks {
        let Some(Variant::Nexus(nexus)) = &callback.variant else {
            return Err(ServiceError::invalid("unsupported callback variant"));
        };
        if nexus.url.len() > MAX_CALLBACK_URL_LENGTH {
            return Err(ServiceError::invalid(format!(
                "invalid url: url length longer than max length allowed of {MAX_CALLBACK_URL_LENGTH}"
            )));
        }
        if nexus.url != "temporal://system" && nexus.url != "temporal://internal" {
            return Err(ServiceError::invalid(format!(
                "invalid url: url does not match any configured callback address: {}",
                nexus.url
            )));
        }
        let size: usize = nexus.header.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_CALLBACK_HEADER_SIZE {
            return Err(ServiceError::invalid(format!(
                "invalid header: header size longer than max allowed size of {MAX_CALLBACK_HEADER_SIZE}"
            )));
        }
    }
    if req
        .on_conflict_options
        .as_ref()
        .is_some_and(|o| o.attach_completion_callbacks && !o.attach_request_id)
    {
        return Err(ServiceError::invalid(
            "attaching request ID is required for attaching completion callbacks",
        ));
    }
    Ok(())
}

#[derive(Clone)]
pub struct ExecutionHandler {
    registry: NamespaceRegistry,
    history: HistoryRouter,
    matching: MatchingRouter,
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

/// The namespace states most calls are served in (Temporal's default).
const SERVING: &[NamespaceState] = &[NamespaceState::Registered, NamespaceState::Deprecated];
/// A deprecated namespace takes no new workflows: starts need a registered one.
const STARTING: &[NamespaceState] = &[NamespaceState::Registered];
/// Workflows of a deleted namespace can still be deleted: the worker role's namespace
/// reclaimer empties it through this API (Temporal's deletion goes around its frontend).
const DELETING: &[NamespaceState] = &[
    NamespaceState::Registered,
    NamespaceState::Deprecated,
    NamespaceState::Deleted,
];

/// Resolves the namespace name of a request to its id, with Temporal's errors: the
/// namespace must exist and be in one of the `allowed` states.
async fn namespace_id(
    registry: &NamespaceRegistry,
    name: &str,
    allowed: &[NamespaceState],
) -> Result<String, ServiceError> {
    if name.is_empty() {
        return Err(ServiceError::invalid("Namespace not set on request."));
    }
    let ns = registry.by_name(name).await?;
    let state = match ns.detail.info.as_ref().map(|i| i.state()) {
        // Namespaces recorded without a state are registered ones.
        None | Some(NamespaceState::Unspecified) => NamespaceState::Registered,
        Some(state) => state,
    };
    if !allowed.contains(&state) {
        return Err(ServiceError::NamespaceInvalidState {
            namespace: name.to_owned(),
            state: state as i32,
            allowed: allowed.iter().map(|s| *s as i32).collect(),
        });
    }
    Ok(ns.id.clone())
}

fn decode_token(bytes: &[u8]) -> Result<TaskToken, ServiceError> {
    v::task_token(bytes)?;
    TaskToken::decode(bytes)
        .ok()
        .filter(|t| !t.workflow_id.is_empty())
        .ok_or_else(|| ServiceError::invalid("Error deserializing task token."))
}

/// The workflow id of an optional execution (empty when unset; validation reports that).
fn wf_id(e: Option<&WorkflowExecution>) -> &str {
    e.map_or("", |e| e.workflow_id.as_str())
}

/// The name of an optional task queue.
fn task_queue_name(q: Option<&sundial_api::temporal::taskqueue::v1::TaskQueue>) -> &str {
    q.map_or("", |q| q.name.as_str())
}

/// The checks of a start request that need no server state, in Temporal's order; durations
/// are capped in place.
pub(crate) fn check_start(req: &mut StartWorkflowExecutionRequest) -> Result<(), ServiceError> {
    v::workflow_id(&req.workflow_id)?;
    v::named(
        req.workflow_type.as_ref().map_or("", |t| t.name.as_str()),
        "WorkflowType",
    )?;
    v::task_queue(req.task_queue.as_ref())?;
    v::timeout(&mut req.workflow_execution_timeout, "WorkflowExecutionTimeoutSeconds")?;
    v::timeout(&mut req.workflow_run_timeout, "WorkflowRunTimeoutSeconds")?;
    v::timeout(&mut req.workflow_task_timeout, "WorkflowTaskTimeoutSeconds")?;
    v::start_delay(&mut req.workflow_start_delay, &req.cron_schedule)?;
    v::retry_policy(req.retry_policy.as_ref())?;
    v::cron_schedule(&req.cron_schedule)?;
    v::request_id(&req.request_id)
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
        history: HistoryRouter,
        matching: MatchingRouter,
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
        self.ns_in(name, SERVING).await
    }

    /// `ns` for calls that need the namespace in one of `allowed` states.
    async fn ns_in(&self, name: &str, allowed: &[NamespaceState]) -> Res<String> {
        let id = namespace_id(&self.registry, name, allowed).await?;
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
        let scope = Scope::namespace(namespace);
        let max_blob = self.dc.get(&keys::BLOB_SIZE_LIMIT_ERROR, &scope);
        let warn_blob = self.dc.get(&keys::BLOB_SIZE_LIMIT_WARN, &scope);
        for blob in blobs.iter().flatten() {
            let size = blob.encoded_len() as i64;
            if max_blob > 0 && size > max_blob {
                return Err(ServiceError::invalid("Blob data size exceeds limit."));
            }
            if warn_blob > 0 && size > warn_blob {
                tracing::warn!(%namespace, size, limit = warn_blob, key = "limit.blobSize.warn", "large payload");
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

    /// The matching host that owns the task queue.
    fn matching(&self, namespace_id: &str, task_queue: &str) -> Res<MatchingClient> {
        Ok(self.matching.for_task_queue(namespace_id, task_queue)?)
    }

    pub async fn start(&self, req: StartWorkflowExecutionRequest) -> Res<StartWorkflowExecutionResponse> {
        let (namespace_id, req) = self.checked_start(req).await?;
        let resp = on_history!(
            self,
            &namespace_id,
            &req.workflow_id,
            start_workflow_execution,
            hs::StartWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
                parent: None,
            }
        )
        .await?;
        Ok(resp)
    }

    /// A start request validated, defaulted and with its namespace id.
    async fn checked_start(
        &self,
        mut req: StartWorkflowExecutionRequest,
    ) -> Res<(String, StartWorkflowExecutionRequest)> {
        let namespace_id = self.ns_in(&req.namespace, STARTING).await?;
        self.check_search_attributes(&req.namespace, req.search_attributes.as_ref())
            .await?;
        check_start(&mut req)?;
        check_callbacks(&req)?;
        self.check_sizes(
            &req.namespace,
            &[
                ("WorkflowId", &req.workflow_id),
                (
                    "WorkflowType",
                    req.workflow_type.as_ref().map_or("", |t| t.name.as_str()),
                ),
                ("TaskQueue", req.task_queue.as_ref().map_or("", |t| t.name.as_str())),
                ("RequestId", &req.request_id),
            ],
            &[req.input.as_ref()],
        )?;
        if req.request_id.is_empty() {
            req.request_id = uuid::Uuid::new_v4().to_string();
        }
        Ok((namespace_id, req))
    }

    pub async fn signal_with_start(
        &self,
        mut req: SignalWithStartWorkflowExecutionRequest,
    ) -> Res<SignalWithStartWorkflowExecutionResponse> {
        let namespace_id = self.ns_in(&req.namespace, STARTING).await?;
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
            &[
                ("WorkflowId", &req.workflow_id),
                (
                    "WorkflowType",
                    req.workflow_type.as_ref().map_or("", |t| t.name.as_str()),
                ),
                ("TaskQueue", req.task_queue.as_ref().map_or("", |t| t.name.as_str())),
                ("SignalName", &req.signal_name),
                ("RequestId", &req.request_id),
            ],
            &[req.input.as_ref(), req.signal_input.as_ref()],
        )?;
        v::timeout(&mut req.workflow_execution_timeout, "WorkflowExecutionTimeoutSeconds")?;
        v::timeout(&mut req.workflow_run_timeout, "WorkflowRunTimeoutSeconds")?;
        v::timeout(&mut req.workflow_task_timeout, "WorkflowTaskTimeoutSeconds")?;
        v::start_delay(&mut req.workflow_start_delay, &req.cron_schedule)?;
        v::retry_policy(req.retry_policy.as_ref())?;
        v::cron_schedule(&req.cron_schedule)?;
        v::request_id(&req.request_id)?;
        if req.request_id.is_empty() {
            req.request_id = uuid::Uuid::new_v4().to_string();
        }
        let resp = on_history!(
            self,
            &namespace_id,
            &req.workflow_id,
            signal_with_start_workflow_execution,
            hs::SignalWithStartWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn signal(&self, req: SignalWorkflowExecutionRequest) -> Res<SignalWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.workflow_execution.as_ref())?;
        v::named(&req.signal_name, "SignalName")?;
        self.check_sizes(&req.namespace, &[], &[req.input.as_ref()])?;
        v::request_id(&req.request_id)?;
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.workflow_execution.as_ref()),
            signal_workflow_execution,
            hs::SignalWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
                external_workflow_execution: None,
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn request_cancel(
        &self,
        req: RequestCancelWorkflowExecutionRequest,
    ) -> Res<RequestCancelWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.workflow_execution.as_ref())?;
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.workflow_execution.as_ref()),
            request_cancel_workflow_execution,
            hs::RequestCancelWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
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
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.workflow_execution.as_ref()),
            terminate_workflow_execution,
            hs::TerminateWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn delete(&self, req: DeleteWorkflowExecutionRequest) -> Res<DeleteWorkflowExecutionResponse> {
        let namespace_id = self.ns_in(&req.namespace, DELETING).await?;
        let exec = execution(req.workflow_execution.as_ref())?;
        let resp = on_history!(
            self,
            &namespace_id,
            &exec.workflow_id,
            delete_workflow_execution,
            hs::DeleteWorkflowExecutionRequest {
                namespace_id,
                execution: Some(exec),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn reset(&self, req: ResetWorkflowExecutionRequest) -> Res<ResetWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.workflow_execution.as_ref())?;
        if req.workflow_task_finish_event_id <= 1 {
            return Err(
                ServiceError::invalid("Workflow task finish ID must be > 1 && <= workflow last event ID.").into(),
            );
        }
        v::request_id(&req.request_id)?;
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.workflow_execution.as_ref()),
            reset_workflow_execution,
            hs::ResetWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn describe(&self, req: DescribeWorkflowExecutionRequest) -> Res<DescribeWorkflowExecutionResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.execution.as_ref())?;
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.execution.as_ref()),
            describe_workflow_execution,
            hs::DescribeWorkflowExecutionRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn history_page(
        &self,
        req: GetWorkflowExecutionHistoryRequest,
    ) -> Res<GetWorkflowExecutionHistoryResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.execution.as_ref())?;
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.execution.as_ref()),
            get_workflow_execution_history,
            hs::GetWorkflowExecutionHistoryRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn history_reverse(
        &self,
        req: GetWorkflowExecutionHistoryReverseRequest,
    ) -> Res<GetWorkflowExecutionHistoryReverseResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.execution.as_ref())?;
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.execution.as_ref()),
            get_workflow_execution_history_reverse,
            hs::GetWorkflowExecutionHistoryReverseRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn query(&self, req: QueryWorkflowRequest) -> Res<QueryWorkflowResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        execution(req.execution.as_ref())?;
        v::named(req.query.as_ref().map_or("", |q| q.query_type.as_str()), "QueryType")?;
        let resp = on_history!(
            self,
            &namespace_id,
            wf_id(req.execution.as_ref()),
            query_workflow,
            hs::QueryWorkflowRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn reset_sticky(&self, req: ResetStickyTaskQueueRequest) -> Res<ResetStickyTaskQueueResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        let exec = execution(req.execution.as_ref())?;
        let resp = on_history!(
            self,
            &namespace_id,
            &exec.workflow_id,
            reset_sticky_task_queue,
            hs::ResetStickyTaskQueueRequest {
                namespace_id,
                execution: Some(exec),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn list(&self, req: ListWorkflowExecutionsRequest) -> Res<ListWorkflowExecutionsResponse> {
        let order_by_disabled = self.dc.get(
            &keys::VISIBILITY_DISABLE_ORDER_BY_CLAUSE,
            &Scope::namespace(&req.namespace),
        );
        Ok(crate::visibility::list(&self.registry, self.visibility.as_ref(), req, order_by_disabled).await?)
    }

    pub async fn count(&self, req: CountWorkflowExecutionsRequest) -> Res<CountWorkflowExecutionsResponse> {
        Ok(crate::visibility::count(&self.registry, self.visibility.as_ref(), req).await?)
    }
}

/// A visibility row as list calls return it.
/// A visibility record's search attributes as list calls return them.
pub(crate) fn record_search_attributes(
    r: &VisibilityRecord,
) -> Option<sundial_api::temporal::common::v1::SearchAttributes> {
    r.search_attributes
        .as_deref()
        .and_then(|s| sundial_api::temporal::common::v1::SearchAttributes::decode(s).ok())
}

/// The time from `from` to `to` (nanoseconds), as a duration (zero if negative).
pub(crate) fn elapsed(from: i64, to: i64) -> prost_wkt_types::Duration {
    sundial_common::time::duration_to_pb(std::time::Duration::from_nanos(
        u64::try_from(to.saturating_sub(from)).unwrap_or(0),
    ))
}

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
        search_attributes: record_search_attributes(r),
        task_queue: r.task_queue.clone(),
        state_transition_count: r.state_transition_count,
        history_size_bytes: r.history_size_bytes,
        execution_duration: r.close_time.map(|c| elapsed(r.execution_time, c)),
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

mod activities;
mod nexus;
mod nexus_operations;
#[cfg(test)]
pub(crate) mod props;
mod standalone;
mod tasks;
mod updates;
mod workers;
pub(crate) use updates::caller_wait;
