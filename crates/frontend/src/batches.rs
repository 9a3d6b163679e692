//! Batch operations (`StartBatchOperation`, `DescribeBatchOperation`, `ListBatchOperations`,
//! `StopBatchOperation`): validated here and kept in the `batch_operations` table, where the
//! system worker runs them.

// Clients name executions in the deprecated `executions` field (newer ones may use
// `target_executions`, folded into it on the way in).
#![allow(deprecated)]

use crate::registry::NamespaceRegistry;
use std::sync::Arc;
use sundial_api::sundial::persistence::v1::BatchRecord;
use sundial_api::temporal::batch::v1::BatchOperationInfo;
use sundial_api::temporal::common::v1::{Execution, WorkflowExecution};
use sundial_api::temporal::enums::v1::{BatchOperationState, BatchOperationType, ExecutionType};
use sundial_api::workflowservice::v1::start_batch_operation_request::Operation;
use sundial_api::workflowservice::v1::*;
use sundial_common::ServiceError;
use sundial_common::time::{nanos_to_timestamp, now_nanos};
use sundial_persistence::{BatchRow, BatchStore, PersistenceError};

/// Operations per second of one job when the request names none, and the most it may ask
/// (Temporal's `frontend.MaxBatchOperationRPS` default).
pub const MAX_OPERATIONS_PER_SECOND: f32 = 50.0;
/// Executions one job may name explicitly.
const MAX_EXECUTIONS: usize = 1000;
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
const CAS_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct BatchHandler {
    registry: NamespaceRegistry,
    store: Arc<dyn BatchStore>,
}

/// The operation's type as DescribeBatchOperation reports it; `None` when Sundial cannot run it.
/// The original numbers (1–5), which every CLI and UI version reads; newer API versions
/// deprecated them for `…Workflow` twins that older clients do not know.
pub(crate) fn operation_type(op: &Operation) -> Option<BatchOperationType> {
    match op {
        Operation::TerminationOperation(_) => Some(BatchOperationType::Terminate),
        Operation::CancellationOperation(_) => Some(BatchOperationType::Cancel),
        Operation::SignalOperation(_) => Some(BatchOperationType::Signal),
        Operation::DeletionOperation(_) => Some(BatchOperationType::Delete),
        Operation::ResetOperation(_) => Some(BatchOperationType::Reset),
        _ => None,
    }
}

fn record_type(rec: &BatchRecord) -> i32 {
    rec.request
        .as_ref()
        .and_then(|r| r.operation.as_ref())
        .and_then(operation_type)
        .map_or(0, |t| t as i32)
}

fn not_found(job_id: &str) -> ServiceError {
    ServiceError::NotFound(format!("batch operation \"{job_id}\" not found"))
}

impl BatchHandler {
    pub fn new(registry: NamespaceRegistry, store: Arc<dyn BatchStore>) -> Self {
        BatchHandler { registry, store }
    }

    async fn namespace_id(&self, name: &str) -> Result<String, ServiceError> {
        if name.is_empty() {
            return Err(ServiceError::invalid("Namespace not set on request."));
        }
        Ok(self.registry.by_name(name).await?.id.clone())
    }

    pub async fn start(
        &self,
        mut req: StartBatchOperationRequest,
    ) -> Result<StartBatchOperationResponse, ServiceError> {
        let namespace_id = self.namespace_id(&req.namespace).await?;
        if req.job_id.is_empty() {
            return Err(ServiceError::invalid("JobId is not set on request."));
        }
        if req.job_id.len() > 1000 {
            return Err(ServiceError::invalid("JobId exceeds maximum allowed length (1000)."));
        }
        if req.reason.is_empty() {
            return Err(ServiceError::invalid("Reason is not set on request."));
        }
        let op = req
            .operation
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("Batch operation is not set on request."))?;
        if operation_type(op).is_none() {
            return Err(ServiceError::invalid(
                "This batch operation type is not supported by this server (terminate, cancel, signal, delete and reset are).",
            ));
        }
        if let Operation::SignalOperation(s) = op
            && s.signal.is_empty()
        {
            return Err(ServiceError::invalid("SignalName is not set on request."));
        }
        if req.executions.is_empty() {
            req.executions = std::mem::take(&mut req.target_executions)
                .into_iter()
                .map(|e| WorkflowExecution {
                    workflow_id: e.business_id,
                    run_id: e.run_id,
                })
                .collect();
        }
        req.target_executions.clear();
        let has_query = !req.visibility_query.trim().is_empty();
        let has_list = !req.executions.is_empty();
        if has_query == has_list {
            return Err(ServiceError::invalid(
                "Exactly one of VisibilityQuery and Executions must be set on request.",
            ));
        }
        if req.executions.len() > MAX_EXECUTIONS {
            return Err(ServiceError::invalid(format!(
                "Too many executions ({}); at most {MAX_EXECUTIONS} per batch operation.",
                req.executions.len()
            )));
        }
        if req.executions.iter().any(|e| e.workflow_id.is_empty()) {
            return Err(ServiceError::invalid("Every execution needs a WorkflowId."));
        }
        if has_query {
            sundial_persistence::visibility::query::parse(&req.visibility_query)
                .map_err(|e| ServiceError::invalid(format!("invalid query: {}", e.0)))?;
        }
        if !req.max_operations_per_second.is_finite() || req.max_operations_per_second < 0.0 {
            return Err(ServiceError::invalid(
                "MaxOperationsPerSecond must be a positive number.",
            ));
        }
        if req.max_operations_per_second == 0.0 || req.max_operations_per_second > MAX_OPERATIONS_PER_SECOND {
            req.max_operations_per_second = MAX_OPERATIONS_PER_SECOND;
        }
        let now = now_nanos();
        let total = i64::try_from(req.executions.len()).unwrap_or(i64::MAX);
        let row = BatchRow {
            namespace_id,
            job_id: req.job_id.clone(),
            version: 1,
            next_wake: now,
            start_time: now,
            record: BatchRecord {
                state: BatchOperationState::Running as i32,
                start_time: Some(nanos_to_timestamp(now)),
                total,
                counted: has_list,
                request: Some(req),
                ..Default::default()
            },
        };
        match self.store.create_batch(&row).await {
            Ok(()) => Ok(StartBatchOperationResponse {}),
            Err(PersistenceError::AlreadyExists(_)) => Err(ServiceError::WorkflowAlreadyStarted {
                message: format!("Batch operation with job ID \"{}\" already exists.", row.job_id),
                start_request_id: String::new(),
                run_id: String::new(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn describe(
        &self,
        req: DescribeBatchOperationRequest,
    ) -> Result<DescribeBatchOperationResponse, ServiceError> {
        let namespace_id = self.namespace_id(&req.namespace).await?;
        let row = self
            .store
            .get_batch(&namespace_id, &req.job_id)
            .await?
            .ok_or_else(|| not_found(&req.job_id))?;
        let rec = row.record;
        let request = rec.request.clone().unwrap_or_default();
        let identity = match request.operation.as_ref() {
            Some(Operation::TerminationOperation(o)) => o.identity.clone(),
            Some(Operation::CancellationOperation(o)) => o.identity.clone(),
            Some(Operation::SignalOperation(o)) => o.identity.clone(),
            Some(Operation::DeletionOperation(o)) => o.identity.clone(),
            Some(Operation::ResetOperation(o)) => o.identity.clone(),
            _ => String::new(),
        };
        Ok(DescribeBatchOperationResponse {
            operation_type: record_type(&rec),
            job_id: row.job_id,
            state: rec.state,
            start_time: rec.start_time,
            close_time: rec.close_time,
            total_operation_count: rec.total,
            complete_operation_count: rec.completed,
            failure_operation_count: rec.failed,
            identity,
            reason: request.reason.clone(),
            query: request.visibility_query.clone(),
            executions: request
                .executions
                .iter()
                .map(|e| Execution {
                    r#type: ExecutionType::Workflow as i32,
                    business_id: e.workflow_id.clone(),
                    run_id: e.run_id.clone(),
                })
                .collect(),
        })
    }

    pub async fn list(&self, req: ListBatchOperationsRequest) -> Result<ListBatchOperationsResponse, ServiceError> {
        let namespace_id = self.namespace_id(&req.namespace).await?;
        let page = usize::try_from(req.page_size)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_PAGE)
            .min(MAX_PAGE);
        let token =
            String::from_utf8(req.next_page_token).map_err(|_| ServiceError::invalid("Invalid NextPageToken."))?;
        let after = if token.is_empty() {
            None
        } else {
            let (start, job) = token
                .split_once(':')
                .and_then(|(s, j)| s.parse::<i64>().ok().map(|s| (s, j.to_owned())))
                .ok_or_else(|| ServiceError::invalid("Invalid NextPageToken."))?;
            Some((start, job))
        };
        let rows = self
            .store
            .list_batches(&namespace_id, after.as_ref().map(|(s, j)| (*s, j.as_str())), page)
            .await?;
        let next_page_token = match rows.last() {
            Some(last) if rows.len() == page => format!("{}:{}", last.start_time, last.job_id).into_bytes(),
            _ => Vec::new(),
        };
        Ok(ListBatchOperationsResponse {
            operation_info: rows
                .into_iter()
                .map(|r| BatchOperationInfo {
                    operation_type: record_type(&r.record),
                    job_id: r.job_id,
                    state: r.record.state,
                    start_time: r.record.start_time,
                    close_time: r.record.close_time,
                })
                .collect(),
            next_page_token,
        })
    }

    pub async fn stop(&self, req: StopBatchOperationRequest) -> Result<StopBatchOperationResponse, ServiceError> {
        let namespace_id = self.namespace_id(&req.namespace).await?;
        if req.job_id.is_empty() {
            return Err(ServiceError::invalid("JobId is not set on request."));
        }
        if req.reason.is_empty() {
            return Err(ServiceError::invalid("Reason is not set on request."));
        }
        for _ in 0..CAS_ATTEMPTS {
            let mut row = self
                .store
                .get_batch(&namespace_id, &req.job_id)
                .await?
                .ok_or_else(|| not_found(&req.job_id))?;
            if row.record.state != BatchOperationState::Running as i32 {
                return Err(ServiceError::FailedPrecondition(format!(
                    "batch operation \"{}\" is not running",
                    req.job_id
                )));
            }
            row.record.state = BatchOperationState::Failed as i32;
            row.record.close_time = Some(nanos_to_timestamp(now_nanos()));
            row.record.stop_reason = req.reason.clone();
            row.next_wake = i64::MAX;
            match self.store.update_batch(&row).await {
                Ok(()) => return Ok(StopBatchOperationResponse {}),
                Err(PersistenceError::ConditionFailed(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "the batch operation is being updated concurrently; retry".into(),
        ))
    }
}
