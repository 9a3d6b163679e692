//! The batcher: runs batch operations a chunk at a time. A pass reads the next chunk of
//! targets (a page of the job's visibility query, or the next slice of its execution list),
//! applies the operation to each through the frontend at the job's rate, and saves the
//! counts and the cursor with compare-and-set; a stopped job (StopBatchOperation) is seen at
//! the save and left alone. A pass cut short by a crash runs again: terminate, cancel, signal
//! (same request id) and delete of an already-handled workflow change nothing more.

// The batch request names executions in its deprecated `executions` field (the frontend folds
// `target_executions` into it).
#![allow(deprecated)]

use crate::cluster::{Cluster, PassError};
use std::sync::Arc;
use std::time::Duration;
use sundial_api::sundial::persistence::v1::BatchRecord;
use sundial_api::temporal::batch::v1::BatchOperationReset;
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::common::v1::reset_options::Target;
use sundial_api::temporal::enums::v1::{BatchOperationState, EventType, ResetType, WorkflowExecutionStatus};
use sundial_api::workflowservice::v1::start_batch_operation_request::Operation;
use sundial_api::workflowservice::v1::*;
use sundial_common::time::{nanos_to_timestamp, now_nanos};
use sundial_persistence::{BatchRow, PersistenceError};
use tokio::task::JoinHandle;
use tonic::Code;

const TICK: Duration = Duration::from_millis(500);
const BATCH: usize = 50;
/// Targets handled per pass (and the visibility page size).
const CHUNK: usize = 100;
const SAVE_ATTEMPTS: usize = 3;

pub(crate) struct Batcher {
    cluster: Arc<Cluster>,
}

fn running(rec: &BatchRecord) -> bool {
    rec.state == BatchOperationState::Running as i32
}

impl Batcher {
    pub(crate) fn spawn(cluster: Arc<Cluster>) -> JoinHandle<()> {
        let batcher = Arc::new(Batcher { cluster });
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = batcher.tick().await {
                    tracing::warn!(error = %e, "reading due batch operations failed; retrying");
                }
            }
        })
    }

    async fn tick(&self) -> Result<(), PersistenceError> {
        let due = self.cluster.store.due_batches(now_nanos(), BATCH).await?;
        for (namespace_id, job_id) in due {
            if !self.cluster.owns(&format!("batch/{namespace_id}/{job_id}")) {
                continue;
            }
            if let Err(e) = self.pass(&namespace_id, &job_id).await {
                tracing::warn!(%namespace_id, %job_id, error = %e, "batch operation pass failed; retrying");
            }
        }
        Ok(())
    }

    async fn pass(&self, namespace_id: &str, job_id: &str) -> Result<(), PassError> {
        let Some(mut row) = self.cluster.store.get_batch(namespace_id, job_id).await? else {
            return Ok(());
        };
        if !running(&row.record) {
            return self.save(row, |_| {}).await;
        }
        let Some(namespace) = self.cluster.namespace_name(namespace_id).await? else {
            return self
                .save(row, |rec| {
                    finish(rec, BatchOperationState::Failed, "the namespace was deleted")
                })
                .await;
        };
        let request = row.record.request.clone().unwrap_or_default();
        let query = request.visibility_query.trim().to_owned();
        if !query.is_empty() && !row.record.counted {
            let count = self
                .cluster
                .frontend()?
                .count_workflow_executions(CountWorkflowExecutionsRequest {
                    namespace: namespace.clone(),
                    query: query.clone(),
                })
                .await?
                .into_inner()
                .count;
            row.record.total = count;
            row.record.counted = true;
        }
        // The next chunk and where the cursor goes after it.
        let (targets, page_token, next_execution, last) = if query.is_empty() {
            let from = usize::try_from(row.record.next_execution).unwrap_or(usize::MAX);
            let targets: Vec<WorkflowExecution> = request.executions.iter().skip(from).take(CHUNK).cloned().collect();
            let next = from.saturating_add(targets.len());
            let last = next >= request.executions.len();
            (targets, Vec::new(), i64::try_from(next).unwrap_or(i64::MAX), last)
        } else {
            let page = self
                .cluster
                .frontend()?
                .list_workflow_executions(ListWorkflowExecutionsRequest {
                    namespace: namespace.clone(),
                    page_size: i32::try_from(CHUNK).unwrap_or(100),
                    next_page_token: row.record.page_token.clone(),
                    query: query.clone(),
                })
                .await?
                .into_inner();
            // Closing a workflow moves its row behind the page cursor (closed rows sort after
            // running ones), so a terminate, cancel or signal job meets the workflows it already
            // handled again, closed: those are skipped, not counted twice.
            let only_running = matches!(
                request.operation,
                Some(
                    Operation::TerminationOperation(_)
                        | Operation::CancellationOperation(_)
                        | Operation::SignalOperation(_)
                )
            );
            let targets = page
                .executions
                .into_iter()
                .filter(|e| !only_running || e.status == WorkflowExecutionStatus::Running as i32)
                .filter_map(|e| e.execution)
                .collect();
            let last = page.next_page_token.is_empty();
            (targets, page.next_page_token, 0, last)
        };
        let op = request.operation.clone();
        let pace = Duration::from_secs_f32(1.0 / request.max_operations_per_second.max(0.1));
        let (mut done, mut failed) = (0i64, 0i64);
        for (i, target) in targets.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(pace).await;
            }
            match self.apply(&namespace, &request, op.as_ref(), target).await {
                Ok(()) => done += 1,
                Err(e) => {
                    tracing::debug!(job_id, workflow_id = %target.workflow_id, error = %e, "batch operation failed on one workflow");
                    failed += 1;
                }
            }
        }
        self.save(row, |rec| {
            if !running(rec) {
                return;
            }
            rec.completed = rec.completed.saturating_add(done);
            rec.failed = rec.failed.saturating_add(failed);
            rec.page_token = page_token.clone();
            rec.next_execution = next_execution;
            if last {
                rec.exhausted = true;
                rec.total = rec.total.max(rec.completed.saturating_add(rec.failed));
                finish(rec, BatchOperationState::Completed, "");
            }
        })
        .await
    }

    /// Saves `change` applied to the latest row: the first try on the row this pass read, then
    /// on fresh reads if someone (StopBatchOperation) changed it meanwhile.
    async fn save(&self, mut row: BatchRow, change: impl Fn(&mut BatchRecord)) -> Result<(), PassError> {
        for _ in 0..SAVE_ATTEMPTS {
            change(&mut row.record);
            row.next_wake = if running(&row.record) { now_nanos() } else { i64::MAX };
            match self.cluster.store.update_batch(&row).await {
                Ok(()) => return Ok(()),
                Err(PersistenceError::ConditionFailed(_)) => {
                    let Some(fresh) = self.cluster.store.get_batch(&row.namespace_id, &row.job_id).await? else {
                        return Ok(());
                    };
                    row = fresh;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn apply(
        &self,
        namespace: &str,
        request: &StartBatchOperationRequest,
        op: Option<&Operation>,
        target: &WorkflowExecution,
    ) -> Result<(), PassError> {
        let mut client = self.cluster.frontend()?;
        let execution = Some(target.clone());
        let request_id = format!("{}-{}-{}", request.job_id, target.workflow_id, target.run_id);
        match op {
            Some(Operation::TerminationOperation(o)) => {
                client
                    .terminate_workflow_execution(TerminateWorkflowExecutionRequest {
                        namespace: namespace.to_owned(),
                        workflow_execution: execution,
                        reason: request.reason.clone(),
                        details: o.details.clone(),
                        identity: o.identity.clone(),
                        ..Default::default()
                    })
                    .await?;
            }
            Some(Operation::CancellationOperation(o)) => {
                client
                    .request_cancel_workflow_execution(RequestCancelWorkflowExecutionRequest {
                        namespace: namespace.to_owned(),
                        workflow_execution: execution,
                        identity: o.identity.clone(),
                        request_id,
                        reason: request.reason.clone(),
                        ..Default::default()
                    })
                    .await?;
            }
            Some(Operation::SignalOperation(o)) => {
                client
                    .signal_workflow_execution(SignalWorkflowExecutionRequest {
                        namespace: namespace.to_owned(),
                        workflow_execution: execution,
                        signal_name: o.signal.clone(),
                        input: o.input.clone(),
                        identity: o.identity.clone(),
                        request_id,
                        header: o.header.clone(),
                        ..Default::default()
                    })
                    .await?;
            }
            Some(Operation::DeletionOperation(_)) => {
                match client
                    .delete_workflow_execution(DeleteWorkflowExecutionRequest {
                        namespace: namespace.to_owned(),
                        workflow_execution: execution,
                    })
                    .await
                {
                    Ok(_) => {}
                    // Deleted by an earlier attempt of this pass.
                    Err(s) if s.code() == Code::NotFound => {}
                    Err(s) => return Err(s.into()),
                }
            }
            Some(Operation::ResetOperation(o)) => {
                let event_id = self.reset_point(namespace, target, o).await?;
                let reapply = o
                    .options
                    .as_ref()
                    .map_or(o.reset_reapply_type, |opts| opts.reset_reapply_type);
                client
                    .reset_workflow_execution(ResetWorkflowExecutionRequest {
                        namespace: namespace.to_owned(),
                        workflow_execution: execution,
                        reason: request.reason.clone(),
                        workflow_task_finish_event_id: event_id,
                        request_id,
                        reset_reapply_type: reapply,
                        identity: o.identity.clone(),
                        ..Default::default()
                    })
                    .await?;
            }
            _ => {
                return Err(PassError::Rpc(tonic::Status::unimplemented(
                    "this batch operation type is not supported",
                )));
            }
        }
        Ok(())
    }

    /// The workflow-task-completed event a reset goes back to: the first or the last one, or
    /// the one the options name.
    async fn reset_point(
        &self,
        namespace: &str,
        target: &WorkflowExecution,
        op: &BatchOperationReset,
    ) -> Result<i64, PassError> {
        let first = match op.options.as_ref().and_then(|o| o.target.as_ref()) {
            Some(Target::WorkflowTaskId(id)) => return Ok(*id),
            Some(Target::FirstWorkflowTask(())) => true,
            Some(Target::LastWorkflowTask(())) => false,
            Some(_) => {
                return Err(PassError::Rpc(tonic::Status::invalid_argument(
                    "only first, last or a given workflow task are supported as reset points",
                )));
            }
            None => op.reset_type == ResetType::FirstWorkflowTask as i32,
        };
        let mut token = Vec::new();
        let mut found = None;
        loop {
            let page = self
                .cluster
                .frontend()?
                .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                    namespace: namespace.to_owned(),
                    execution: Some(target.clone()),
                    maximum_page_size: 1000,
                    next_page_token: token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            for event in page.history.map(|h| h.events).unwrap_or_default() {
                if event.event_type == EventType::WorkflowTaskCompleted as i32 {
                    found = Some(event.event_id);
                    if first {
                        return Ok(event.event_id);
                    }
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        found.ok_or_else(|| {
            PassError::Rpc(tonic::Status::failed_precondition(
                "the workflow has no completed workflow task to reset to",
            ))
        })
    }
}

fn finish(rec: &mut BatchRecord, state: BatchOperationState, reason: &str) {
    rec.state = state as i32;
    rec.close_time = Some(nanos_to_timestamp(now_nanos()));
    if !reason.is_empty() {
        rec.stop_reason = reason.to_owned();
    }
}
