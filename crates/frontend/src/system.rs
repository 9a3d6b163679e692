//! GetSystemInfo and GetClusterInfo.

use std::collections::HashMap;
use sundial_api::workflowservice::v1::{GetClusterInfoResponse, GetSystemInfoResponse, get_system_info_response};

/// What GetClusterInfo reports; fixed for the life of the process.
#[derive(Clone, Debug)]
pub struct ClusterIdentity {
    pub cluster_name: String,
    pub cluster_id: String,
    pub history_shard_count: i32,
    /// `postgres` or `sqlite`.
    pub store_kind: String,
    /// The address clients reach this frontend at (ListClusters).
    pub frontend_address: String,
}

/// Capabilities are promises to SDKs: only what Sundial implements is set.
pub(crate) fn system_info() -> GetSystemInfoResponse {
    GetSystemInfoResponse {
        server_version: sundial_common::SERVER_VERSION.to_owned(),
        capabilities: Some(get_system_info_response::Capabilities {
            // Errors distinguish INTERNAL (a server fault) from UNKNOWN.
            internal_error_differentiation: true,
            // Failures are stored and returned as sent; encoded attributes pass through intact.
            encoded_failure_attributes: true,
            // Heartbeat details sent with an activity failure reach the next attempt.
            activity_failure_include_heartbeat: true,
            // CountWorkflowExecutions answers `GROUP BY ExecutionStatus`.
            count_group_by_execution_status: true,
            // WorkflowTaskCompleted events keep the SDK's metadata (patches, flags).
            sdk_metadata: true,
            // ModifyWorkflowProperties upserts the memo.
            upsert_memo: true,
            // Signal and query headers reach the worker.
            signal_and_query_header: true,
            // Create/Describe/Update/Patch/Delete/ListSchedules, run by the system worker.
            supports_schedules: true,
            // StartWorkflowExecution returns the first workflow task when asked.
            eager_workflow_start: true,
            // Nexus operations from workflows, to endpoints with worker targets.
            nexus: true,
            ..Default::default()
        }),
    }
}

pub(crate) fn cluster_info(id: &ClusterIdentity) -> GetClusterInfoResponse {
    let supported_clients: HashMap<String, String> = [
        ("temporal-cli", "<2.0.0"),
        ("temporal-go", "<2.0.0"),
        ("temporal-java", "<2.0.0"),
        ("temporal-php", "<2.0.0"),
        ("temporal-server", "<2.0.0"),
        ("temporal-typescript", "<2.0.0"),
        ("temporal-ui", "<3.0.0"),
        ("Nexus-go-sdk", "<2.0.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    GetClusterInfoResponse {
        supported_clients,
        server_version: sundial_common::SERVER_VERSION.to_owned(),
        cluster_id: id.cluster_id.clone(),
        version_info: None,
        cluster_name: id.cluster_name.clone(),
        history_shard_count: id.history_shard_count,
        persistence_store: id.store_kind.clone(),
        visibility_store: id.store_kind.clone(),
        initial_failover_version: 1,
        failover_version_increment: 10,
    }
}
