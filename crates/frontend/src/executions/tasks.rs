//! Task APIs of the frontend: polls, workflow-task and activity-task completions (by token
//! and by id), query-task answers, task-queue description and worker shutdown.

use super::*;
use sundial_api::temporal::enums::v1::{QueryResultType, TaskQueueKind};
use sundial_api::temporal::failure::v1::{Failure, ServerFailureInfo, failure::FailureInfo};
use sundial_api::temporal::taskqueue::v1::{PollerInfo, TaskQueue};

// Temporal's reasons (`common.FailureReason*ExceedsLimit`) for a worker payload over
// `limit.blobSize.error`: the activity is failed with them instead of recording the payload.
const COMPLETE_RESULT_TOO_LARGE: &str = "Complete result exceeds size limit.";
const FAILURE_TOO_LARGE: &str = "Failure exceeds size limit.";
const CANCEL_DETAILS_TOO_LARGE: &str = "Cancel details exceed size limit.";
const HEARTBEAT_TOO_LARGE: &str = "Heartbeat details exceed size limit.";

/// A non-retryable server failure, as Temporal records for an oversized worker payload.
fn server_failure(message: &str) -> Failure {
    Failure {
        message: message.to_owned(),
        failure_info: Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
            non_retryable: true,
        })),
        ..Default::default()
    }
}

fn too_large<M: Message>(limit: i64, payload: Option<&M>) -> bool {
    limit > 0 && payload.is_some_and(|p| p.encoded_len() as i64 > limit)
}

impl ExecutionHandler {
    /// A poll's partition, picked at random among the queue's read partitions (a sticky queue
    /// has one), and the matching host that owns it.
    fn poll_target(
        &self,
        namespace: &str,
        namespace_id: &str,
        queue: Option<&TaskQueue>,
        task_type: TaskType,
    ) -> Res<(MatchingClient, i32)> {
        let name = task_queue_name(queue);
        let number = if queue.is_some_and(|q| q.kind == TaskQueueKind::Sticky as i32) {
            0
        } else {
            let (read, _) =
                sundial_dynconfig::partition_counts(Some(&self.dc), namespace, namespace_id, name, task_type);
            sundial_common::partition::pick(read)
        };
        Ok((self.matching.for_partition(namespace_id, name, number)?, number as i32))
    }

    /// `limit.blobSize.error` of the namespace with id `namespace_id` (0: no limit).
    async fn blob_limit(&self, namespace_id: &str) -> Res<i64> {
        let ns = self.registry.by_id(namespace_id).await?;
        let scope = Scope::namespace(&ns.name).with_namespace_id(namespace_id);
        Ok(self.dc.get(&keys::BLOB_SIZE_LIMIT_ERROR, &scope))
    }

    /// Fails the activity of `task_token` with `reason` (its payload was over the limit).
    async fn fail_activity_over_limit(
        &self,
        namespace_id: String,
        task_token: Vec<u8>,
        identity: String,
        reason: &str,
    ) -> Res<()> {
        tracing::warn!(%namespace_id, reason, key = "limit.blobSize.error", "activity payload over the limit");
        on_history!(
            self,
            &namespace_id,
            &decode_token(&task_token)?.workflow_id,
            respond_activity_task_failed,
            hs::RespondActivityTaskFailedRequest {
                namespace_id,
                task_token: task_token.clone(),
                request: Some(RespondActivityTaskFailedRequest {
                    task_token,
                    failure: Some(server_failure(reason)),
                    identity,
                    ..Default::default()
                }),
            }
        )
        .await?;
        Ok(())
    }

    pub async fn poll_workflow_task(&self, req: PollWorkflowTaskQueueRequest) -> Res<PollWorkflowTaskQueueResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        v::task_queue(req.task_queue.as_ref())?;
        let queue = req.task_queue.as_ref().map_or("", |q| q.name.as_str());
        let _permit = self
            .pollers
            .acquire(&req.namespace, queue, TaskType::Workflow)
            .map_err(limit_error)?;
        let (mut matching, partition) = self.poll_target(
            &req.namespace,
            &namespace_id,
            req.task_queue.as_ref(),
            TaskType::Workflow,
        )?;
        let resp = matching
            .poll_workflow_task_queue(ms::PollWorkflowTaskQueueRequest {
                namespace_id,
                poller_id: uuid::Uuid::new_v4().to_string(),
                request: Some(req),
                partition,
                forwarded: false,
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
        let (mut matching, partition) = self.poll_target(
            &req.namespace,
            &namespace_id,
            req.task_queue.as_ref(),
            TaskType::Activity,
        )?;
        let resp = matching
            .poll_activity_task_queue(ms::PollActivityTaskQueueRequest {
                namespace_id,
                poller_id: uuid::Uuid::new_v4().to_string(),
                request: Some(req),
                partition,
                forwarded: false,
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
        let resp = on_history!(
            self,
            &namespace_id,
            &decode_token(&req.task_token)?.workflow_id,
            respond_workflow_task_completed,
            hs::RespondWorkflowTaskCompletedRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn workflow_task_failed(
        &self,
        req: RespondWorkflowTaskFailedRequest,
    ) -> Res<RespondWorkflowTaskFailedResponse> {
        let mut req = req;
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        if too_large(self.blob_limit(&namespace_id).await?, req.failure.as_ref()) {
            req.failure = Some(server_failure(FAILURE_TOO_LARGE));
        }
        let resp = on_history!(
            self,
            &namespace_id,
            &decode_token(&req.task_token)?.workflow_id,
            respond_workflow_task_failed,
            hs::RespondWorkflowTaskFailedRequest {
                namespace_id,
                request: Some(req),
            }
        )
        .await?;
        Ok(resp)
    }

    /// The namespace of a task token; the request's namespace, when given, must agree.
    pub(super) async fn ns_for_token(&self, name: &str, token: &TaskToken) -> Res<String> {
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
        v::run_id(run_id)?;
        v::named(activity_id, "ActivityId")?;
        // No workflow id: the call is for a standalone activity (`run_id` is the activity's).
        let key = if workflow_id.is_empty() {
            sundial_common::standalone::activity_key(activity_id)
        } else {
            v::workflow_id(workflow_id)?;
            workflow_id.to_owned()
        };
        let token = TaskToken {
            namespace_id: namespace_id.clone(),
            workflow_id: key,
            run_id: run_id.to_owned(),
            activity_id: activity_id.to_owned(),
            ..Default::default()
        };
        Ok((namespace_id, token.encode_to_vec()))
    }

    pub async fn heartbeat(&self, req: RecordActivityTaskHeartbeatRequest) -> Res<RecordActivityTaskHeartbeatResponse> {
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        if too_large(self.blob_limit(&namespace_id).await?, req.details.as_ref()) {
            self.fail_activity_over_limit(namespace_id, req.task_token, req.identity, HEARTBEAT_TOO_LARGE)
                .await?;
            return Ok(RecordActivityTaskHeartbeatResponse {
                cancel_requested: true,
                ..Default::default()
            });
        }
        let resp = on_history!(
            self,
            &namespace_id,
            &decode_token(&req.task_token)?.workflow_id,
            record_activity_task_heartbeat,
            hs::RecordActivityTaskHeartbeatRequest {
                namespace_id,
                task_token: req.task_token,
                details: req.details,
                identity: req.identity,
            }
        )
        .await?;
        Ok(resp)
    }

    pub async fn heartbeat_by_id(
        &self,
        req: RecordActivityTaskHeartbeatByIdRequest,
    ) -> Res<RecordActivityTaskHeartbeatByIdResponse> {
        let (namespace_id, task_token) = self
            .token_by_id(&req.namespace, &req.workflow_id, &req.run_id, &req.activity_id)
            .await?;
        if too_large(self.blob_limit(&namespace_id).await?, req.details.as_ref()) {
            self.fail_activity_over_limit(namespace_id, task_token, req.identity, HEARTBEAT_TOO_LARGE)
                .await?;
            return Ok(RecordActivityTaskHeartbeatByIdResponse {
                cancel_requested: true,
                ..Default::default()
            });
        }
        let resp = on_history!(
            self,
            &namespace_id,
            &decode_token(&task_token)?.workflow_id,
            record_activity_task_heartbeat,
            hs::RecordActivityTaskHeartbeatRequest {
                namespace_id,
                task_token,
                details: req.details,
                identity: req.identity,
            }
        )
        .await?;
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
        if too_large(self.blob_limit(&namespace_id).await?, req.result.as_ref()) {
            self.fail_activity_over_limit(namespace_id, req.task_token, req.identity, COMPLETE_RESULT_TOO_LARGE)
                .await?;
            return Ok(RespondActivityTaskCompletedResponse::default());
        }
        on_history!(
            self,
            &namespace_id,
            &decode_token(&req.task_token)?.workflow_id,
            respond_activity_task_completed,
            hs::RespondActivityTaskCompletedRequest {
                namespace_id,
                task_token: req.task_token,
                result: req.result,
                identity: req.identity,
            }
        )
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
        if too_large(self.blob_limit(&namespace_id).await?, req.result.as_ref()) {
            self.fail_activity_over_limit(namespace_id, task_token, req.identity, COMPLETE_RESULT_TOO_LARGE)
                .await?;
            return Ok(RespondActivityTaskCompletedByIdResponse::default());
        }
        on_history!(
            self,
            &namespace_id,
            &decode_token(&task_token)?.workflow_id,
            respond_activity_task_completed,
            hs::RespondActivityTaskCompletedRequest {
                namespace_id,
                task_token,
                result: req.result,
                identity: req.identity,
            }
        )
        .await?;
        Ok(RespondActivityTaskCompletedByIdResponse::default())
    }

    pub async fn activity_failed(
        &self,
        req: RespondActivityTaskFailedRequest,
    ) -> Res<RespondActivityTaskFailedResponse> {
        let mut req = req;
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        let limit = self.blob_limit(&namespace_id).await?;
        if too_large(limit, req.last_heartbeat_details.as_ref()) {
            req.last_heartbeat_details = None;
        }
        if too_large(limit, req.failure.as_ref()) {
            req.failure = Some(server_failure(FAILURE_TOO_LARGE));
        }
        let task_token = req.task_token.clone();
        on_history!(
            self,
            &namespace_id,
            &decode_token(&req.task_token)?.workflow_id,
            respond_activity_task_failed,
            hs::RespondActivityTaskFailedRequest {
                namespace_id,
                task_token,
                request: Some(req),
            }
        )
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
        let mut inner = RespondActivityTaskFailedRequest {
            namespace: req.namespace,
            failure: req.failure,
            identity: req.identity,
            last_heartbeat_details: req.last_heartbeat_details,
            ..Default::default()
        };
        let limit = self.blob_limit(&namespace_id).await?;
        if too_large(limit, inner.last_heartbeat_details.as_ref()) {
            inner.last_heartbeat_details = None;
        }
        if too_large(limit, inner.failure.as_ref()) {
            inner.failure = Some(server_failure(FAILURE_TOO_LARGE));
        }
        on_history!(
            self,
            &namespace_id,
            &decode_token(&task_token)?.workflow_id,
            respond_activity_task_failed,
            hs::RespondActivityTaskFailedRequest {
                namespace_id,
                task_token,
                request: Some(inner),
            }
        )
        .await?;
        Ok(RespondActivityTaskFailedByIdResponse::default())
    }

    pub async fn activity_canceled(
        &self,
        req: RespondActivityTaskCanceledRequest,
    ) -> Res<RespondActivityTaskCanceledResponse> {
        let token = decode_token(&req.task_token)?;
        let namespace_id = self.ns_for_token(&req.namespace, &token).await?;
        if too_large(self.blob_limit(&namespace_id).await?, req.details.as_ref()) {
            self.fail_activity_over_limit(namespace_id, req.task_token, req.identity, CANCEL_DETAILS_TOO_LARGE)
                .await?;
            return Ok(RespondActivityTaskCanceledResponse::default());
        }
        on_history!(
            self,
            &namespace_id,
            &decode_token(&req.task_token)?.workflow_id,
            respond_activity_task_canceled,
            hs::RespondActivityTaskCanceledRequest {
                namespace_id,
                task_token: req.task_token,
                details: req.details,
                identity: req.identity,
            }
        )
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
        if too_large(self.blob_limit(&namespace_id).await?, req.details.as_ref()) {
            self.fail_activity_over_limit(namespace_id, task_token, req.identity, CANCEL_DETAILS_TOO_LARGE)
                .await?;
            return Ok(RespondActivityTaskCanceledByIdResponse::default());
        }
        on_history!(
            self,
            &namespace_id,
            &decode_token(&task_token)?.workflow_id,
            respond_activity_task_canceled,
            hs::RespondActivityTaskCanceledRequest {
                namespace_id,
                task_token,
                details: req.details,
                identity: req.identity,
            }
        )
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
        let mut req = req;
        if too_large(self.blob_limit(&namespace_id).await?, req.query_result.as_ref()) {
            // Like Temporal: the query fails instead of carrying the oversized answer.
            req.completed_type = QueryResultType::Failed as i32;
            req.query_result = None;
            req.error_message = "Blob data size exceeds limit.".into();
            req.failure = None;
        }
        self.matching(&namespace_id, &token.task_queue)?
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
        // A partition's own name (`/_sys/<name>/<n>`, the CLI's --partitions-legacy) is allowed here.
        v::task_queue_partition(req.task_queue.as_ref())?;
        if req.api_mode == DescribeTaskQueueMode::Enhanced as i32 {
            return self.describe_task_queue_enhanced(namespace_id, req).await;
        }
        self.describe_partitions(&namespace_id, req).await
    }

    /// DescribeTaskQueue of a partition's own name describes that partition; of a queue's
    /// name, every partition it may have (each asked of the host that owns it), merged:
    /// pollers by identity (latest access), the backlog stat summed; the legacy status (read
    /// and ack levels, backlog hint) stays the root partition's, as in Temporal.
    #[allow(deprecated)] // task_queue_status: the CLI's legacy mode still reads it
    async fn describe_partitions(
        &self,
        namespace_id: &str,
        req: DescribeTaskQueueRequest,
    ) -> Res<DescribeTaskQueueResponse> {
        let name = task_queue_name(req.task_queue.as_ref()).to_owned();
        let sticky = req
            .task_queue
            .as_ref()
            .is_some_and(|q| q.kind == TaskQueueKind::Sticky as i32);
        let count = if sticky || name.starts_with(sundial_common::partition::RESERVED_PREFIX) {
            1
        } else {
            let task_type = TaskType::from_proto(req.task_queue_type).unwrap_or(TaskType::Workflow);
            let (read, write) =
                sundial_dynconfig::partition_counts(Some(&self.dc), &req.namespace, namespace_id, &name, task_type);
            read.max(write)
        };
        let mut merged: Option<DescribeTaskQueueResponse> = None;
        let mut pollers: std::collections::HashMap<String, PollerInfo> = std::collections::HashMap::new();
        for n in 0..count {
            let mut one = req.clone();
            if let Some(q) = one.task_queue.as_mut() {
                q.name = sundial_common::partition::rpc_name(&name, n);
            }
            let resp = self
                .matching(namespace_id, task_queue_name(one.task_queue.as_ref()))?
                .describe_task_queue(ms::DescribeTaskQueueRequest {
                    namespace_id: namespace_id.to_owned(),
                    request: Some(one),
                })
                .await?
                .into_inner();
            for p in &resp.pollers {
                let newer = pollers.get(&p.identity).is_none_or(|seen| {
                    seen.last_access_time
                        .as_ref()
                        .map(sundial_common::time::timestamp_to_nanos)
                        < p.last_access_time
                            .as_ref()
                            .map(sundial_common::time::timestamp_to_nanos)
                });
                if newer {
                    pollers.insert(p.identity.clone(), p.clone());
                }
            }
            match merged.as_mut() {
                None => merged = Some(resp),
                Some(m) => {
                    if let (Some(total), Some(part)) = (m.stats.as_mut(), resp.stats) {
                        total.approximate_backlog_count += part.approximate_backlog_count;
                    }
                }
            }
        }
        let mut merged = merged.unwrap_or_default();
        let mut pollers: Vec<PollerInfo> = pollers.into_values().collect();
        pollers.sort_by_key(|p| {
            std::cmp::Reverse(
                p.last_access_time
                    .as_ref()
                    .map(sundial_common::time::timestamp_to_nanos),
            )
        });
        merged.pollers = pollers;
        Ok(merged)
    }

    /// The queue's partitions (as many as its write partitions) and the matching service
    /// that owns them.
    pub async fn list_task_queue_partitions(
        &self,
        req: ListTaskQueuePartitionsRequest,
    ) -> Res<ListTaskQueuePartitionsResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        v::task_queue(req.task_queue.as_ref())?;
        let resp = self
            .matching(&namespace_id, task_queue_name(req.task_queue.as_ref()))?
            .list_task_queue_partitions(ms::ListTaskQueuePartitionsRequest {
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
        let scope = Scope::namespace(&req.namespace).with_namespace_id(&namespace_id);
        if self
            .dc
            .get(&keys::FRONTEND_ENABLE_CANCEL_WORKER_POLLS_ON_SHUTDOWN, &scope)
            && !req.worker_instance_key.is_empty()
            && !req.task_queue.is_empty()
        {
            self.cancel_worker_polls(&namespace_id, &req).await;
        }
        // The worker's last word on its status; losing it only leaves the entry to expire.
        if let Err(e) = self
            .record_last_heartbeat(&namespace_id, req.worker_heartbeat.clone())
            .await
        {
            tracing::debug!(error = %e, "the shutting-down worker's last heartbeat was not recorded");
        }
        if !req.sticky_task_queue.is_empty() {
            self.matching(&namespace_id, &req.sticky_task_queue)?
                .unload_sticky_queue(ms::UnloadStickyQueueRequest {
                    namespace_id,
                    task_queue: req.sticky_task_queue,
                })
                .await?;
        }
        Ok(ShutdownWorkerResponse::default())
    }

    /// Ends the shutting-down worker's polls of its queue on every matching host that owns
    /// one of the queue's read partitions. Best effort: a host that fails to answer ends them
    /// at their timeout, as without this.
    async fn cancel_worker_polls(&self, namespace_id: &str, req: &ShutdownWorkerRequest) {
        let types: Vec<i32> = if req.task_queue_types.is_empty() {
            vec![TaskQueueType::Workflow as i32, TaskQueueType::Activity as i32]
        } else {
            req.task_queue_types.clone()
        };
        let mut hosts = std::collections::BTreeSet::new();
        for task_type in &types {
            let task_type = TaskType::from_proto(*task_type).unwrap_or(TaskType::Workflow);
            let (read, _) = sundial_dynconfig::partition_counts(
                Some(&self.dc),
                &req.namespace,
                namespace_id,
                &req.task_queue,
                task_type,
            );
            for n in 0..read {
                match self.matching.owner_of(namespace_id, &req.task_queue, n) {
                    Ok(host) => {
                        hosts.insert(host);
                    }
                    Err(e) => tracing::debug!(error = %e, "no matching host for a partition"),
                }
            }
        }
        for host in hosts {
            let sent = match self.matching.for_address(&host) {
                Ok(mut client) => client
                    .cancel_outstanding_worker_polls(ms::CancelOutstandingWorkerPollsRequest {
                        namespace_id: namespace_id.to_owned(),
                        task_queue: req.task_queue.clone(),
                        task_types: types.clone(),
                        worker_instance_key: req.worker_instance_key.clone(),
                    })
                    .await
                    .map(|_| ()),
                Err(e) => Err(Status::unavailable(e.to_string())),
            };
            if let Err(e) = sent {
                tracing::debug!(%host, error = %e, "cancelling a shutting-down worker's polls failed");
            }
        }
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
            let resp = self.describe_partitions(&namespace_id, legacy).await?;
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
}
