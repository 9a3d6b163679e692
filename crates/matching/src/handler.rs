//! `MatchingHandler`: the gRPC edge of the matching engine. Validates requests, derives the
//! partition and the wait budget (config capped by the caller's deadline), maps errors.

use crate::engine::{MatchingEngine, Poll, PollRequest, Polled};
use crate::error::MatchingError;
use crate::partition::RANGE_SIZE;
use std::sync::Arc;
use std::time::Duration;
use sundial_api::prost::Message;
use sundial_api::sundial::matchingservice::v1::matching_service_server::MatchingService;
use sundial_api::sundial::matchingservice::v1::*;
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::enums::v1::{TaskQueueKind, TaskQueueType};
use sundial_api::temporal::taskqueue::v1::{
    PollerInfo, TaskIdBlock, TaskQueue, TaskQueuePartitionMetadata, TaskQueueStats, TaskQueueStatus,
};
use sundial_api::workflowservice::v1::{
    DescribeTaskQueueResponse, ListTaskQueuePartitionsResponse, PollActivityTaskQueueResponse,
    PollNexusTaskQueueResponse, PollWorkflowTaskQueueResponse,
};
use sundial_common::partition;
use sundial_common::time::{duration_from_pb, nanos_to_timestamp, now_nanos};
use sundial_persistence::{TASK_TYPE_ACTIVITY, TASK_TYPE_NEXUS, TASK_TYPE_WORKFLOW, TaskQueueKey};
use tonic::{Request, Response, Status};

/// How long QueryWorkflow waits for a worker's answer unless the caller's deadline is sooner.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Temporal reports this as every poller's rate (no per-poller rate limit).
const POLLER_RATE_PER_SECOND: f64 = 100_000.0;

pub struct MatchingHandler(Arc<MatchingEngine>);

impl MatchingHandler {
    pub fn new(engine: Arc<MatchingEngine>) -> Self {
        Self(engine)
    }
}

/// Parses a `grpc-timeout` header value ("<digits><unit>", unit one of H M S m u n).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// `limit`, or less if the caller's deadline comes first: we answer a little before it so the
/// caller gets our (empty) response rather than DEADLINE_EXCEEDED.
fn wait_budget(metadata: &tonic::metadata::MetadataMap, limit: Duration) -> Duration {
    let deadline = metadata
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout);
    match deadline {
        Some(d) => limit.min(d - (d / 10).min(Duration::from_secs(1))),
        None => limit,
    }
}

/// Where a poll goes and who is polling.
struct PollTarget<'a> {
    namespace_id: String,
    poller_id: String,
    namespace: &'a str,
    task_queue: Option<&'a TaskQueue>,
    task_type: i32,
    identity: String,
    partition: i32,
    forwarded: bool,
}

impl MatchingHandler {
    /// Shared by both poll RPCs: finds the queue, bounds the wait (the queue's
    /// `matching.longPollExpirationInterval` and the caller's deadline), and polls.
    async fn poll_queue(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        target: PollTarget<'_>,
        request: PollRequest,
    ) -> Result<Option<Polled>, Status> {
        let (key, sticky) = queue_key(
            &target.namespace_id,
            target.task_queue,
            target.task_type,
            target.partition,
        )?;
        let task_type =
            sundial_dynconfig::TaskType::from_proto(target.task_type).unwrap_or(sundial_dynconfig::TaskType::Workflow);
        let budget = wait_budget(
            metadata,
            self.0.config.long_poll(target.namespace, &key.name, task_type),
        );
        let poll = Poll {
            namespace_id: target.namespace_id,
            namespace: target.namespace.to_owned(),
            poller_id: target.poller_id,
            identity: target.identity,
            request,
            forwarded: target.forwarded,
        };
        Ok(self.0.poll(key, sticky, poll, budget).await?)
    }
}

/// The partition a request names: `task_queue` is the queue's own name, `partition` the one
/// the caller picked (always 0 for a sticky queue).
fn queue_key(
    namespace_id: &str,
    task_queue: Option<&TaskQueue>,
    task_type: i32,
    partition: i32,
) -> Result<(TaskQueueKey, bool), MatchingError> {
    if namespace_id.is_empty() {
        return Err(MatchingError::InvalidArgument("namespace_id is required".into()));
    }
    let tq = task_queue
        .filter(|tq| !tq.name.is_empty())
        .ok_or_else(|| MatchingError::InvalidArgument("task_queue name is required".into()))?;
    let sticky = tq.kind == TaskQueueKind::Sticky as i32;
    let limit = if sticky { 1 } else { sundial_dynconfig::MAX_PARTITIONS };
    if u32::try_from(partition).map_or(true, |p| p >= limit) {
        return Err(MatchingError::InvalidArgument(format!(
            "partition {partition} of task queue {} is out of range",
            tq.name
        )));
    }
    let mut key = TaskQueueKey::new(namespace_id, &tq.name, task_type);
    key.partition = partition;
    Ok((key, sticky))
}

/// A `sync_only` add's wait for a poller (capped, so a caller cannot park a task for long).
fn sync_wait(sync_only: bool, wait: Option<&sundial_api::prost_wkt_types::Duration>) -> Option<Duration> {
    sync_only.then(|| {
        wait.and_then(duration_from_pb)
            .unwrap_or_default()
            .min(Duration::from_secs(5))
    })
}

fn task_info(
    execution: Option<WorkflowExecution>,
    scheduled_event_id: i64,
    schedule_to_start: Option<&sundial_api::prost_wkt_types::Duration>,
) -> Result<TaskInfo, MatchingError> {
    let execution = execution
        .filter(|e| !e.workflow_id.is_empty())
        .ok_or_else(|| MatchingError::InvalidArgument("execution is required".into()))?;
    let now = now_nanos();
    let expiry_time = schedule_to_start
        .and_then(duration_from_pb)
        .filter(|d| !d.is_zero())
        .map(|d| nanos_to_timestamp(sundial_common::time::deadline_after_std(now, d)));
    Ok(TaskInfo {
        execution: Some(execution),
        scheduled_event_id,
        create_time: Some(nanos_to_timestamp(now)),
        expiry_time,
    })
}

#[tonic::async_trait]
impl MatchingService for MatchingHandler {
    async fn add_workflow_task(
        &self,
        request: Request<AddWorkflowTaskRequest>,
    ) -> Result<Response<AddWorkflowTaskResponse>, Status> {
        let req = request.into_inner();
        let (key, sticky) = queue_key(
            &req.namespace_id,
            req.task_queue.as_ref(),
            TASK_TYPE_WORKFLOW,
            req.partition,
        )?;
        let info = task_info(
            req.execution,
            req.scheduled_event_id,
            req.schedule_to_start_timeout.as_ref(),
        )?;
        let matched = self
            .0
            .add_task(
                key,
                sticky,
                &req.namespace,
                info,
                sync_wait(req.sync_only, req.forward_wait.as_ref()),
            )
            .await?;
        Ok(Response::new(AddWorkflowTaskResponse { matched }))
    }

    async fn add_activity_task(
        &self,
        request: Request<AddActivityTaskRequest>,
    ) -> Result<Response<AddActivityTaskResponse>, Status> {
        let req = request.into_inner();
        let (key, sticky) = queue_key(
            &req.namespace_id,
            req.task_queue.as_ref(),
            TASK_TYPE_ACTIVITY,
            req.partition,
        )?;
        let info = task_info(
            req.execution,
            req.scheduled_event_id,
            req.schedule_to_start_timeout.as_ref(),
        )?;
        let matched = self
            .0
            .add_task(
                key,
                sticky,
                &req.namespace,
                info,
                sync_wait(req.sync_only, req.forward_wait.as_ref()),
            )
            .await?;
        Ok(Response::new(AddActivityTaskResponse { matched }))
    }

    async fn poll_workflow_task_queue(
        &self,
        request: Request<PollWorkflowTaskQueueRequest>,
    ) -> Result<Response<PollWorkflowTaskQueueResponse>, Status> {
        let metadata = request.metadata().clone();
        let req = request.into_inner();
        let poll = req
            .request
            .ok_or_else(|| MatchingError::InvalidArgument("request is required".into()))?;
        let (namespace, queue, identity) = (poll.namespace.clone(), poll.task_queue.clone(), poll.identity.clone());
        let target = PollTarget {
            namespace_id: req.namespace_id,
            poller_id: req.poller_id,
            namespace: &namespace,
            task_queue: queue.as_ref(),
            task_type: TASK_TYPE_WORKFLOW,
            identity,
            partition: req.partition,
            forwarded: req.forwarded,
        };
        match self.poll_queue(&metadata, target, PollRequest::Workflow(poll)).await? {
            Some(Polled::Workflow(response)) => Ok(Response::new(response)),
            _ => Ok(Response::new(PollWorkflowTaskQueueResponse::default())),
        }
    }

    async fn poll_activity_task_queue(
        &self,
        request: Request<PollActivityTaskQueueRequest>,
    ) -> Result<Response<PollActivityTaskQueueResponse>, Status> {
        let metadata = request.metadata().clone();
        let req = request.into_inner();
        let poll = req
            .request
            .ok_or_else(|| MatchingError::InvalidArgument("request is required".into()))?;
        let (namespace, queue, identity) = (poll.namespace.clone(), poll.task_queue.clone(), poll.identity.clone());
        let target = PollTarget {
            namespace_id: req.namespace_id,
            poller_id: req.poller_id,
            namespace: &namespace,
            task_queue: queue.as_ref(),
            task_type: TASK_TYPE_ACTIVITY,
            identity,
            partition: req.partition,
            forwarded: req.forwarded,
        };
        match self.poll_queue(&metadata, target, PollRequest::Activity(poll)).await? {
            Some(Polled::Activity(response)) => Ok(Response::new(response)),
            _ => Ok(Response::new(PollActivityTaskQueueResponse::default())),
        }
    }

    async fn query_workflow(
        &self,
        request: Request<QueryWorkflowRequest>,
    ) -> Result<Response<QueryWorkflowResponse>, Status> {
        let budget = wait_budget(request.metadata(), QUERY_TIMEOUT);
        let response = self.0.query_workflow(request.into_inner(), budget).await?;
        Ok(Response::new(response))
    }

    async fn respond_query_task_completed(
        &self,
        request: Request<RespondQueryTaskCompletedRequest>,
    ) -> Result<Response<RespondQueryTaskCompletedResponse>, Status> {
        let req = request.into_inner();
        let answer = req
            .request
            .ok_or_else(|| MatchingError::InvalidArgument("request is required".into()))?;
        // The frontend normally passes the id; fall back to the worker's task token.
        let query_task_id = if req.query_task_id.is_empty() {
            TaskToken::decode(answer.task_token.as_slice())
                .map(|t| t.query_task_id)
                .map_err(|_| MatchingError::InvalidArgument("malformed task token".into()))?
        } else {
            req.query_task_id
        };
        if query_task_id.is_empty() {
            return Err(MatchingError::InvalidArgument("query_task_id is required".into()).into());
        }
        self.0.respond_query_task_completed(&query_task_id, answer)?;
        Ok(Response::new(RespondQueryTaskCompletedResponse {}))
    }

    // The CLI's legacy mode reads `task_queue_status` (deprecated in the API, still used).
    #[allow(deprecated)]
    async fn describe_task_queue(
        &self,
        request: Request<DescribeTaskQueueRequest>,
    ) -> Result<Response<DescribeTaskQueueResponse>, Status> {
        let req = request.into_inner();
        let describe = req
            .request
            .ok_or_else(|| MatchingError::InvalidArgument("request is required".into()))?;
        let task_type = if describe.task_queue_type == TaskQueueType::Activity as i32 {
            TASK_TYPE_ACTIVITY
        } else {
            TASK_TYPE_WORKFLOW
        };
        let (mut key, _) = queue_key(&req.namespace_id, describe.task_queue.as_ref(), task_type, 0)?;
        let (base, number) = partition::parse(&key.name).map_err(MatchingError::InvalidArgument)?;
        let (base, number) = (base.to_owned(), number);
        key.name = base;
        key.partition = number as i32;
        let described = self.0.describe(&key);
        let pollers = described
            .pollers
            .into_iter()
            .map(|(identity, seen)| PollerInfo {
                identity,
                last_access_time: Some(nanos_to_timestamp(seen)),
                rate_per_second: POLLER_RATE_PER_SECOND,
                ..Default::default()
            })
            .collect();
        let stats = describe.report_stats.then(|| TaskQueueStats {
            approximate_backlog_count: described.status.as_ref().map_or(0, |s| s.backlog_hint),
            ..Default::default()
        });
        let task_queue_status = describe.include_task_queue_status.then(|| {
            let status = described.status;
            TaskQueueStatus {
                backlog_count_hint: status.as_ref().map_or(0, |s| s.backlog_hint),
                read_level: status.as_ref().map_or(0, |s| s.read_level),
                ack_level: status.as_ref().map_or(0, |s| s.ack_level),
                task_id_block: status.as_ref().map(|s| TaskIdBlock {
                    start_id: (s.range_id - 1) * RANGE_SIZE + 1,
                    end_id: s.range_id * RANGE_SIZE,
                }),
                ..Default::default()
            }
        });
        Ok(Response::new(DescribeTaskQueueResponse {
            pollers,
            stats,
            task_queue_status,
            ..Default::default()
        }))
    }

    async fn list_task_queue_partitions(
        &self,
        request: Request<ListTaskQueuePartitionsRequest>,
    ) -> Result<Response<ListTaskQueuePartitionsResponse>, Status> {
        let req = request.into_inner();
        let list = req
            .request
            .ok_or_else(|| MatchingError::InvalidArgument("request is required".into()))?;
        let (key, _) = queue_key(&req.namespace_id, list.task_queue.as_ref(), TASK_TYPE_WORKFLOW, 0)?;
        let partitions = |task_type| {
            let (_, write) = self
                .0
                .partition_counts(&list.namespace, &req.namespace_id, &key.name, task_type);
            (0..write)
                .map(|n| TaskQueuePartitionMetadata {
                    key: partition::rpc_name(&key.name, n),
                    owner_host_name: self.0.owner_address(&TaskQueueKey {
                        task_type,
                        partition: n as i32,
                        ..key.clone()
                    }),
                })
                .collect()
        };
        Ok(Response::new(ListTaskQueuePartitionsResponse {
            activity_task_queue_partitions: partitions(TASK_TYPE_ACTIVITY),
            workflow_task_queue_partitions: partitions(TASK_TYPE_WORKFLOW),
        }))
    }

    async fn unload_sticky_queue(
        &self,
        request: Request<UnloadStickyQueueRequest>,
    ) -> Result<Response<UnloadStickyQueueResponse>, Status> {
        let req = request.into_inner();
        if req.namespace_id.is_empty() || req.task_queue.is_empty() {
            return Err(MatchingError::InvalidArgument("namespace_id and task_queue are required".into()).into());
        }
        self.0.unload_queue(&TaskQueueKey::new(
            &req.namespace_id,
            &req.task_queue,
            TASK_TYPE_WORKFLOW,
        ));
        Ok(Response::new(UnloadStickyQueueResponse {}))
    }

    async fn cancel_outstanding_poll(
        &self,
        request: Request<CancelOutstandingPollRequest>,
    ) -> Result<Response<CancelOutstandingPollResponse>, Status> {
        let req = request.into_inner();
        if req.poller_id.is_empty() {
            return Err(MatchingError::InvalidArgument("poller_id is required".into()).into());
        }
        self.0.polls.cancel(&req.poller_id);
        Ok(Response::new(CancelOutstandingPollResponse {}))
    }

    async fn cancel_outstanding_worker_polls(
        &self,
        request: Request<CancelOutstandingWorkerPollsRequest>,
    ) -> Result<Response<CancelOutstandingWorkerPollsResponse>, Status> {
        let req = request.into_inner();
        if req.namespace_id.is_empty() || req.task_queue.is_empty() || req.worker_instance_key.is_empty() {
            return Err(MatchingError::InvalidArgument(
                "namespace_id, task_queue and worker_instance_key are required".into(),
            )
            .into());
        }
        let cancelled = self.0.polls.cancel_worker(
            &req.namespace_id,
            &req.task_queue,
            &req.task_types,
            &req.worker_instance_key,
        );
        Ok(Response::new(CancelOutstandingWorkerPollsResponse {
            cancelled_count: i32::try_from(cancelled).unwrap_or(i32::MAX),
        }))
    }

    async fn load_partition(
        &self,
        request: Request<LoadPartitionRequest>,
    ) -> Result<Response<LoadPartitionResponse>, Status> {
        let req = request.into_inner();
        let queue = TaskQueue {
            name: req.task_queue,
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        };
        if req.task_type != TASK_TYPE_WORKFLOW && req.task_type != TASK_TYPE_ACTIVITY {
            return Err(MatchingError::InvalidArgument(format!("unknown task type {}", req.task_type)).into());
        }
        let (key, _) = queue_key(&req.namespace_id, Some(&queue), req.task_type, req.partition)?;
        let min_count = u32::try_from(req.min_partition_count)
            .unwrap_or(0)
            .min(sundial_dynconfig::MAX_PARTITIONS);
        self.0.load_partition(&key, min_count).await?;
        Ok(Response::new(LoadPartitionResponse {}))
    }

    async fn record_worker_heartbeat(
        &self,
        request: Request<RecordWorkerHeartbeatRequest>,
    ) -> Result<Response<RecordWorkerHeartbeatResponse>, Status> {
        let req = request.into_inner();
        self.0
            .workers
            .record(&req.namespace_id, req.worker_heartbeat, std::time::Instant::now());
        Ok(Response::new(RecordWorkerHeartbeatResponse {}))
    }

    async fn list_workers(
        &self,
        request: Request<ListWorkersRequest>,
    ) -> Result<Response<ListWorkersResponse>, Status> {
        let req = request.into_inner();
        Ok(Response::new(ListWorkersResponse {
            workers: self.0.workers.list(&req.namespace_id, std::time::Instant::now()),
        }))
    }

    async fn poll_nexus_task_queue(
        &self,
        request: Request<PollNexusTaskQueueRequest>,
    ) -> Result<Response<PollNexusTaskQueueResponse>, Status> {
        let metadata = request.metadata().clone();
        let req = request.into_inner();
        let poll = req
            .request
            .ok_or_else(|| MatchingError::InvalidArgument("request is required".into()))?;
        let (namespace, queue, identity) = (poll.namespace.clone(), poll.task_queue.clone(), poll.identity.clone());
        // Nexus queues have one partition: dispatches wait at the root for a poller.
        let target = PollTarget {
            namespace_id: req.namespace_id,
            poller_id: req.poller_id,
            namespace: &namespace,
            task_queue: queue.as_ref(),
            task_type: TASK_TYPE_NEXUS,
            identity,
            partition: 0,
            forwarded: false,
        };
        match self.poll_queue(&metadata, target, PollRequest::Nexus(poll)).await? {
            Some(Polled::Nexus(response)) => Ok(Response::new(response)),
            _ => Ok(Response::new(PollNexusTaskQueueResponse::default())),
        }
    }

    async fn dispatch_nexus_task(
        &self,
        request: Request<DispatchNexusTaskRequest>,
    ) -> Result<Response<DispatchNexusTaskResponse>, Status> {
        Ok(Response::new(self.0.dispatch_nexus_task(request.into_inner()).await?))
    }

    async fn respond_nexus_task(
        &self,
        request: Request<RespondNexusTaskRequest>,
    ) -> Result<Response<RespondNexusTaskResponse>, Status> {
        self.0.respond_nexus_task(request.into_inner())?;
        Ok(Response::new(RespondNexusTaskResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_and_cap_the_wait() {
        assert_eq!(parse_grpc_timeout("70S"), Some(Duration::from_secs(70)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout(""), None);
        assert_eq!(parse_grpc_timeout("10x"), None);

        let mut md = tonic::metadata::MetadataMap::new();
        let limit = Duration::from_secs(60);
        assert_eq!(wait_budget(&md, limit), limit);
        md.insert("grpc-timeout", "70S".parse().expect("ascii"));
        assert_eq!(wait_budget(&md, limit), limit);
        md.insert("grpc-timeout", "20S".parse().expect("ascii"));
        assert_eq!(wait_budget(&md, limit), Duration::from_secs(19));
        md.insert("grpc-timeout", "500m".parse().expect("ascii"));
        assert_eq!(wait_budget(&md, limit), Duration::from_millis(450));
    }
}
