//! The outbound side of Nexus operations: a start or cancel request goes to the endpoint's
//! worker through matching (which waits for the worker's answer), and what comes back is
//! applied to the caller's run as one transition. Requests are at least once: a crash between
//! the answer and its transition repeats the request with the same request id, which handlers
//! de-duplicate.

use super::{CancelOutcome, StartOutcome, links};
use crate::HistoryEngine;
use crate::shard::{RunKey, Shard};
use base64::Engine as _;
use std::collections::HashMap;
use std::time::Duration;
use sundial_api::prost::Message;
use sundial_api::sundial::matchingservice::v1::{DispatchNexusTaskRequest, dispatch_nexus_task_response};
use sundial_api::sundial::persistence::v1::{ExecutionInfo, NexusOperationInfo, TransferTask, nexus_endpoint_record};
use sundial_api::sundial::token::v1::NexusCallbackToken;
use sundial_api::temporal::enums::v1::{
    EventType, NexusHandlerErrorRetryBehavior, NexusOperationCancellationState as CancelState,
    PendingNexusOperationState as State, WorkflowExecutionStatus,
};
use sundial_api::temporal::failure::v1::failure::FailureInfo;
use sundial_api::temporal::failure::v1::{ApplicationFailureInfo, Failure, NexusHandlerFailureInfo};
use sundial_api::temporal::history::v1::NexusOperationScheduledEventAttributes;
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::nexus::v1::{
    CancelOperationRequest, Request, StartOperationRequest, request, response, start_operation_response,
};
use sundial_common::ServiceError;
use sundial_common::time::{nanos_to_timestamp, now_nanos, pb_duration_nanos, timestamp_to_nanos};

/// Temporal's `component.nexusoperations.request.timeout` and `…limit.request.timeout.min`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);

/// The service of the system endpoint's operations.
const SYSTEM_SERVICE: &str = "temporal.api.workflowservice.v1.WorkflowService";

/// Handler error types that are final unless the handler says otherwise (nexus-rpc's rule).
const NON_RETRYABLE_TYPES: [&str; 6] = [
    "BAD_REQUEST",
    "UNAUTHENTICATED",
    "UNAUTHORIZED",
    "NOT_FOUND",
    "NOT_IMPLEMENTED",
    "CONFLICT",
];

fn handler_failure(kind: &str, message: &str) -> Failure {
    Failure {
        message: message.to_owned(),
        failure_info: Some(FailureInfo::NexusHandlerFailureInfo(NexusHandlerFailureInfo {
            r#type: kind.to_owned(),
            retry_behavior: NexusHandlerErrorRetryBehavior::Unspecified as i32,
        })),
        ..Default::default()
    }
}

/// Whether a worker's handler failure may be retried.
fn retryable(failure: &Failure) -> bool {
    match &failure.failure_info {
        Some(FailureInfo::NexusHandlerFailureInfo(info)) => {
            match NexusHandlerErrorRetryBehavior::try_from(info.retry_behavior) {
                Ok(NexusHandlerErrorRetryBehavior::Retryable) => true,
                Ok(NexusHandlerErrorRetryBehavior::NonRetryable) => false,
                _ => !NON_RETRYABLE_TYPES.contains(&info.r#type.as_str()),
            }
        }
        _ => true,
    }
}

/// An RPC failure on the way to the worker, as the handler error Temporal's frontend makes of it.
fn transport_failure(status: &tonic::Status) -> Failure {
    let kind = match status.code() {
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::InvalidArgument => "BAD_REQUEST",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::DeadlineExceeded => "UPSTREAM_TIMEOUT",
        tonic::Code::Unavailable => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    handler_failure(kind, status.message())
}

/// The callback token of an operation, as the handler passes it back.
pub(crate) fn callback_token(run: &RunKey, op: &NexusOperationInfo) -> String {
    let token = NexusCallbackToken {
        namespace_id: run.namespace_id.clone(),
        workflow_id: run.workflow_id.clone(),
        run_id: run.run_id.clone(),
        scheduled_event_id: op.scheduled_event_id,
        request_id: op.request_id.clone(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.encode_to_vec())
}

pub(crate) fn decode_callback_token(text: &str) -> Option<NexusCallbackToken> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()?;
    NexusCallbackToken::decode(bytes.as_slice())
        .ok()
        .filter(|t| !t.namespace_id.is_empty() && !t.workflow_id.is_empty() && t.scheduled_event_id > 0)
}

/// Where an endpoint sends its requests.
enum Target {
    Worker {
        namespace_id: String,
        task_queue: String,
    },
    /// Missing, or not a worker target: the attempt fails for good with this failure.
    Unusable(Box<Failure>),
}

impl HistoryEngine {
    async fn endpoint_target(&self, shard: &Shard, op: &NexusOperationInfo) -> Result<Target, ServiceError> {
        let mut row = shard.store.get_nexus_endpoint(&op.endpoint_id).await?;
        if row.is_none() {
            row = shard.store.get_nexus_endpoint_by_name(&op.endpoint).await?;
        }
        Ok(match row.and_then(|r| r.record.target) {
            Some(nexus_endpoint_record::Target::Worker(w)) => Target::Worker {
                namespace_id: w.namespace_id,
                task_queue: w.task_queue,
            },
            Some(nexus_endpoint_record::Target::ExternalUrl(_)) => Target::Unusable(Box::new(handler_failure(
                "NOT_IMPLEMENTED",
                "endpoints with an external URL target are not supported",
            ))),
            None => Target::Unusable(Box::new(handler_failure("NOT_FOUND", "endpoint not registered"))),
        })
    }

    /// Sends `request` to the worker of `target` and waits up to `timeout` for its answer.
    async fn dispatch(
        &self,
        namespace_id: &str,
        task_queue: &str,
        request: Request,
        timeout: Duration,
    ) -> Result<dispatch_nexus_task_response::Outcome, tonic::Status> {
        let mut client = self
            .matching
            .for_task_queue(namespace_id, task_queue)
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut call = tonic::Request::new(DispatchNexusTaskRequest {
            namespace_id: namespace_id.to_owned(),
            task_queue: task_queue.to_owned(),
            request: Some(request),
            timeout: Some(sundial_common::time::duration_to_pb(timeout)),
        });
        call.set_timeout(timeout + Duration::from_secs(5));
        let answer = client.dispatch_nexus_task(call).await?.into_inner();
        answer
            .outcome
            .ok_or_else(|| tonic::Status::internal("matching returned no Nexus outcome"))
    }

    /// The task's operation, if its run still runs and `current` says the task is its own.
    async fn task_operation(
        &self,
        shard: &Shard,
        task: &TransferTask,
        current: impl Fn(&NexusOperationInfo) -> bool,
    ) -> Result<Option<(RunKey, ExecutionInfo, NexusOperationInfo)>, ServiceError> {
        let run = RunKey::new(task.namespace_id.clone(), task.workflow_id.clone(), task.run_id.clone());
        let ms = shard.snapshot(&run).await?;
        let info = ms.info.clone().unwrap_or_default();
        if info.status != WorkflowExecutionStatus::Running as i32 {
            return Ok(None);
        }
        let op = ms
            .nexus_operations
            .get(&task.scheduled_event_id)
            .filter(|op| current(op))
            .cloned();
        Ok(op.map(|op| (run, info, op)))
    }

    async fn scheduled_event(
        &self,
        shard: &Shard,
        run: &RunKey,
        op: &NexusOperationInfo,
    ) -> Result<NexusOperationScheduledEventAttributes, ServiceError> {
        let scheduled = self
            .read_events(shard, run, op.scheduled_event_id, op.scheduled_event_id)
            .await?
            .into_iter()
            .next()
            .and_then(|e| e.attributes);
        match scheduled {
            Some(Attributes::NexusOperationScheduledEventAttributes(a)) => Ok(a),
            _ => Err(ServiceError::Internal(
                "Nexus operation scheduled event is missing".into(),
            )),
        }
    }

    pub(crate) async fn nexus_start_task(&self, shard: &Shard, task: &TransferTask) -> Result<(), ServiceError> {
        let is_current = |op: &NexusOperationInfo| op.state == State::Scheduled as i32 && op.stamp == task.stamp;
        let Some((run, info, op)) = self.task_operation(shard, task, is_current).await? else {
            return Ok(());
        };
        let (timeout, bounded_by) = super::start_budget(&op, now_nanos(), REQUEST_TIMEOUT);
        let outcome = if let Some(kind) = bounded_by.filter(|_| timeout < MIN_REQUEST_TIMEOUT) {
            StartOutcome::TimedOut(kind)
        } else if op.endpoint == super::SYSTEM_ENDPOINT {
            self.system_operation(shard, &run, &info, &op).await?
        } else {
            match self.endpoint_target(shard, &op).await? {
                Target::Unusable(failure) => StartOutcome::Failed(*failure),
                Target::Worker {
                    namespace_id,
                    task_queue,
                } => {
                    let request = self.start_request(shard, &run, &info, &op).await?;
                    match self.dispatch(&namespace_id, &task_queue, request, timeout).await {
                        Ok(answer) => start_outcome(answer),
                        Err(status) => StartOutcome::Retry(transport_failure(&status)),
                    }
                }
            }
        };
        tracing::debug!(scheduled = op.scheduled_event_id, ?outcome, "Nexus start attempt done");
        shard
            .update(&run, |m| {
                super::start_attempt_done(m, task.scheduled_event_id, task.stamp, outcome.clone());
                Ok(())
            })
            .await
    }

    /// An operation of the `__temporal_system` endpoint: the server runs it in the caller's
    /// namespace and answers synchronously, its request and response as binary protobuf (the
    /// response without the system-payload mark, which asks SDKs to look inside for payloads).
    async fn system_operation(
        &self,
        shard: &Shard,
        run: &RunKey,
        info: &ExecutionInfo,
        op: &NexusOperationInfo,
    ) -> Result<StartOutcome, ServiceError> {
        use sundial_api::sundial::historyservice::v1 as hs;
        use sundial_api::workflowservice::v1 as ws;
        let bad = |message: String| StartOutcome::Failed(handler_failure("BAD_REQUEST", &message));
        if op.service != SYSTEM_SERVICE || op.operation != "SignalWithStartWorkflowExecution" {
            return Ok(StartOutcome::Failed(handler_failure(
                "NOT_FOUND",
                &format!("system operation {}/{} is not supported", op.service, op.operation),
            )));
        }
        let input = self.scheduled_event(shard, run, op).await?.input.unwrap_or_default();
        let Ok(mut req) = ws::SignalWithStartWorkflowExecutionRequest::decode(input.data.as_slice()) else {
            return Ok(bad("input is not a SignalWithStartWorkflowExecutionRequest".into()));
        };
        if !req.namespace.is_empty() && req.namespace != info.namespace {
            return Ok(bad(format!(
                "system operations run in the caller's namespace {:?}, not {:?}",
                info.namespace, req.namespace
            )));
        }
        req.namespace = info.namespace.clone();
        if req.request_id.is_empty() {
            // A retried attempt is the same request.
            req.request_id = op.request_id.clone();
        }
        if req.workflow_id.is_empty()
            || req.signal_name.is_empty()
            || req.workflow_type.as_ref().is_none_or(|t| t.name.is_empty())
            || req.task_queue.as_ref().is_none_or(|q| q.name.is_empty())
        {
            return Ok(bad(
                "workflow id, workflow type, task queue and signal name are required".into(),
            ));
        }
        let mut client = self
            .history_router()
            .for_workflow(&info.namespace_id, &req.workflow_id)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        let answer = client
            .signal_with_start_workflow_execution(hs::SignalWithStartWorkflowExecutionRequest {
                namespace_id: info.namespace_id.clone(),
                request: Some(req),
            })
            .await;
        Ok(match answer {
            Ok(resp) => {
                let resp = resp.into_inner();
                let mut payload = sundial_api::temporal::common::v1::Payload {
                    data: resp.encode_to_vec(),
                    ..Default::default()
                };
                payload.metadata.insert("encoding".into(), b"binary/protobuf".to_vec());
                payload.metadata.insert(
                    "messageType".into(),
                    b"temporal.api.workflowservice.v1.SignalWithStartWorkflowExecutionResponse".to_vec(),
                );
                StartOutcome::Sync {
                    result: Some(payload),
                    links: resp.signal_link.into_iter().collect(),
                }
            }
            Err(status) if sundial_rpc::is_retryable(&status) => StartOutcome::Retry(transport_failure(&status)),
            Err(status) => StartOutcome::Failed(transport_failure(&status)),
        })
    }

    async fn start_request(
        &self,
        shard: &Shard,
        run: &RunKey,
        info: &ExecutionInfo,
        op: &NexusOperationInfo,
    ) -> Result<Request, ServiceError> {
        // A standalone operation keeps what a workflow's keeps in its scheduled event, and its
        // handler links back to the operation rather than to an event.
        let (input, mut header, link) = match &info.standalone_nexus {
            Some(record) => (
                record.input.clone(),
                record.nexus_header.clone(),
                links::nexus_operation(&info.namespace, &record.operation_id, &run.run_id),
            ),
            None => {
                let a = self.scheduled_event(shard, run, op).await?;
                let link = links::workflow_event(
                    &info.namespace,
                    &run.workflow_id,
                    &run.run_id,
                    op.scheduled_event_id,
                    EventType::NexusOperationScheduled,
                );
                (a.input, a.nexus_header, links::to_nexus(&link))
            }
        };
        if let Some(timeout) = operation_timeout(op, now_nanos()) {
            header
                .entry("operation-timeout".into())
                .or_insert_with(|| format!("{}ms", timeout.as_millis()));
        }
        Ok(Request {
            header,
            scheduled_time: Some(nanos_to_timestamp(now_nanos())),
            capabilities: Some(request::Capabilities {
                temporal_failure_responses: true,
            }),
            endpoint: op.endpoint.clone(),
            variant: Some(request::Variant::StartOperation(StartOperationRequest {
                service: op.service.clone(),
                operation: op.operation.clone(),
                request_id: op.request_id.clone(),
                callback: super::SYSTEM_CALLBACK_URL.to_owned(),
                payload: input,
                callback_header: HashMap::from([(super::CALLBACK_TOKEN_HEADER.to_owned(), callback_token(run, op))]),
                links: link.into_iter().collect(),
            })),
        })
    }

    pub(crate) async fn nexus_cancel_task(&self, shard: &Shard, task: &TransferTask) -> Result<(), ServiceError> {
        let is_current =
            |op: &NexusOperationInfo| op.cancel_state == CancelState::Scheduled as i32 && op.cancel_stamp == task.stamp;
        let Some((run, info, op)) = self.task_operation(shard, task, is_current).await? else {
            return Ok(());
        };
        let now = now_nanos();
        let (timeout, bounded) = cancel_budget(&op, now);
        let outcome = if timeout < MIN_REQUEST_TIMEOUT && bounded {
            CancelOutcome::Failed(Failure {
                message: "not enough time to execute another request before the operation's timeout".into(),
                failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
                    r#type: "CallError".into(),
                    non_retryable: true,
                    ..Default::default()
                })),
                ..Default::default()
            })
        } else {
            match self.endpoint_target(shard, &op).await? {
                Target::Unusable(failure) => CancelOutcome::Failed(*failure),
                Target::Worker {
                    namespace_id,
                    task_queue,
                } => {
                    let header = match &info.standalone_nexus {
                        Some(record) => record.nexus_header.clone(),
                        None => self.scheduled_event(shard, &run, &op).await?.nexus_header,
                    };
                    #[allow(deprecated)]
                    let request = Request {
                        header,
                        scheduled_time: Some(nanos_to_timestamp(now)),
                        capabilities: Some(request::Capabilities {
                            temporal_failure_responses: true,
                        }),
                        endpoint: op.endpoint.clone(),
                        variant: Some(request::Variant::CancelOperation(CancelOperationRequest {
                            service: op.service.clone(),
                            operation: op.operation.clone(),
                            operation_id: op.operation_token.clone(),
                            operation_token: op.operation_token.clone(),
                        })),
                    };
                    match self.dispatch(&namespace_id, &task_queue, request, timeout).await {
                        Ok(dispatch_nexus_task_response::Outcome::Response(_)) => CancelOutcome::Done,
                        Ok(dispatch_nexus_task_response::Outcome::Failure(f)) if retryable(&f) => {
                            CancelOutcome::Retry(f)
                        }
                        Ok(dispatch_nexus_task_response::Outcome::Failure(f)) => CancelOutcome::Failed(f),
                        Ok(dispatch_nexus_task_response::Outcome::RequestTimeout(_)) => {
                            CancelOutcome::Retry(handler_failure("UPSTREAM_TIMEOUT", "upstream timeout"))
                        }
                        Err(status) => CancelOutcome::Retry(transport_failure(&status)),
                    }
                }
            }
        };
        shard
            .update(&run, |m| {
                super::cancel_attempt_done(m, task.scheduled_event_id, task.stamp, outcome.clone());
                Ok(())
            })
            .await
    }
}

/// The `operation-timeout` a start request carries: start-to-close, cut by what is left of
/// schedule-to-close.
fn operation_timeout(op: &NexusOperationInfo, now: i64) -> Option<Duration> {
    let scheduled = op.scheduled_time.as_ref().map_or(now, timestamp_to_nanos);
    let stc = op.start_to_close_timeout.as_ref().map_or(0, pb_duration_nanos);
    let s2c = op.schedule_to_close_timeout.as_ref().map_or(0, pb_duration_nanos);
    let s2c_left = (s2c > 0).then(|| s2c.saturating_sub(now.saturating_sub(scheduled)).max(0));
    let nanos = match (stc > 0, s2c_left) {
        (true, Some(left)) => stc.min(left),
        (true, None) => stc,
        (false, Some(left)) => left,
        (false, None) => return None,
    };
    Some(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

/// The time a cancel request made now may take, and whether an operation timeout bounds it.
fn cancel_budget(op: &NexusOperationInfo, now: i64) -> (Duration, bool) {
    let left = |since: Option<&prost_wkt_types::Timestamp>, d: Option<&prost_wkt_types::Duration>| {
        let d = d.map_or(0, pb_duration_nanos);
        (d > 0).then(|| {
            let since = since.map_or(now, timestamp_to_nanos);
            Duration::from_nanos(u64::try_from(d.saturating_sub(now.saturating_sub(since))).unwrap_or(0))
        })
    };
    let mut timeout = REQUEST_TIMEOUT;
    let mut bounded = false;
    for bound in [
        left(op.started_time.as_ref(), op.start_to_close_timeout.as_ref()),
        left(op.scheduled_time.as_ref(), op.schedule_to_close_timeout.as_ref()),
    ]
    .into_iter()
    .flatten()
    {
        if bound < timeout {
            timeout = bound;
            bounded = true;
        }
    }
    (timeout, bounded)
}

/// What the worker's answer to a start request means for the operation.
fn start_outcome(answer: dispatch_nexus_task_response::Outcome) -> StartOutcome {
    use dispatch_nexus_task_response::Outcome;
    match answer {
        Outcome::RequestTimeout(_) => StartOutcome::Retry(handler_failure("UPSTREAM_TIMEOUT", "upstream timeout")),
        Outcome::Failure(f) if retryable(&f) => StartOutcome::Retry(f),
        Outcome::Failure(f) => StartOutcome::Failed(f),
        Outcome::Response(r) => {
            let start = match r.variant {
                Some(response::Variant::StartOperation(s)) => s,
                _ => return StartOutcome::Retry(handler_failure("INTERNAL", "empty outcome")),
            };
            #[allow(deprecated)]
            match start.variant {
                Some(start_operation_response::Variant::SyncSuccess(s)) => StartOutcome::Sync {
                    result: s.payload,
                    links: s.links.iter().filter_map(links::from_nexus).collect(),
                },
                Some(start_operation_response::Variant::AsyncSuccess(a)) => StartOutcome::Async {
                    token: if a.operation_token.is_empty() {
                        a.operation_id
                    } else {
                        a.operation_token
                    },
                    links: a.links.iter().filter_map(links::from_nexus).collect(),
                },
                Some(start_operation_response::Variant::Failure(f)) => {
                    if matches!(f.failure_info, Some(FailureInfo::CanceledFailureInfo(_))) {
                        StartOutcome::Canceled(f)
                    } else {
                        StartOutcome::Failed(f)
                    }
                }
                Some(start_operation_response::Variant::OperationError(e)) => {
                    let failure = e.failure.map(nexus_failure).unwrap_or_default();
                    if e.operation_state == "canceled" {
                        StartOutcome::Canceled(failure)
                    } else {
                        StartOutcome::Failed(failure)
                    }
                }
                None => StartOutcome::Retry(handler_failure("INTERNAL", "empty outcome")),
            }
        }
    }
}

/// A failure in the plain Nexus form (older workers) as a Temporal failure.
fn nexus_failure(f: sundial_api::temporal::nexus::v1::Failure) -> Failure {
    Failure {
        message: f.message,
        stack_trace: f.stack_trace,
        cause: f.cause.map(|c| Box::new(nexus_failure(*c))),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
            non_retryable: true,
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(kind: &str, behavior: NexusHandlerErrorRetryBehavior) -> Failure {
        Failure {
            failure_info: Some(FailureInfo::NexusHandlerFailureInfo(NexusHandlerFailureInfo {
                r#type: kind.into(),
                retry_behavior: behavior as i32,
            })),
            ..Default::default()
        }
    }

    #[test]
    fn handler_errors_retry_by_type_unless_the_handler_says() {
        use NexusHandlerErrorRetryBehavior as B;
        assert!(retryable(&typed("INTERNAL", B::Unspecified)));
        assert!(retryable(&typed("UPSTREAM_TIMEOUT", B::Unspecified)));
        assert!(retryable(&typed("SOMETHING_NEW", B::Unspecified)));
        assert!(!retryable(&typed("BAD_REQUEST", B::Unspecified)));
        assert!(!retryable(&typed("NOT_FOUND", B::Unspecified)));
        assert!(!retryable(&typed("INTERNAL", B::NonRetryable)));
        assert!(retryable(&typed("BAD_REQUEST", B::Retryable)));
    }

    #[test]
    fn callback_tokens_round_trip_and_reject_garbage() {
        let run = RunKey::new("ns".to_owned(), "wf".to_owned(), "run".to_owned());
        let op = NexusOperationInfo {
            scheduled_event_id: 5,
            request_id: "req".into(),
            ..Default::default()
        };
        let token = decode_callback_token(&callback_token(&run, &op)).expect("decodes");
        assert_eq!((token.scheduled_event_id, token.request_id.as_str()), (5, "req"));
        assert!(decode_callback_token("not a token!").is_none());
        assert!(decode_callback_token("").is_none());
    }

    #[test]
    fn operation_timeout_is_start_to_close_cut_by_schedule_to_close() {
        let secs = |s| Some(sundial_common::time::duration_to_pb(Duration::from_secs(s)));
        let op = NexusOperationInfo {
            scheduled_time: Some(nanos_to_timestamp(0)),
            start_to_close_timeout: secs(30),
            schedule_to_close_timeout: secs(20),
            ..Default::default()
        };
        assert_eq!(operation_timeout(&op, 5_000_000_000), Some(Duration::from_secs(15)));
        assert_eq!(operation_timeout(&NexusOperationInfo::default(), 0), None);
    }
}
