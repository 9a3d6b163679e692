//! What each RPC needs, by Temporal's classification of its API (read-only, write, admin;
//! per namespace or cluster-wide). A method of a service not listed here is refused.

use super::role;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scope {
    Namespace,
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Requirement {
    pub scope: Scope,
    /// The lowest role that passes; 0 lets everyone through.
    pub level: u8,
}

const WORKFLOW_SERVICE: &str = "/temporal.api.workflowservice.v1.WorkflowService/";
const OPERATOR_SERVICE: &str = "/temporal.api.operatorservice.v1.OperatorService/";
const ADMIN_SERVICE: &str = "/sundial.server.api.adminservice.v1.AdminService/";
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";

const NAMESPACE_READS: &[&str] = &[
    "DescribeNamespace",
    "GetWorkflowExecutionHistory",
    "GetWorkflowExecutionHistoryReverse",
    "ListOpenWorkflowExecutions",
    "ListClosedWorkflowExecutions",
    "ListWorkflowExecutions",
    "ListArchivedWorkflowExecutions",
    "ScanWorkflowExecutions",
    "CountWorkflowExecutions",
    "QueryWorkflow",
    "DescribeWorkflowExecution",
    "DescribeTaskQueue",
    "ListTaskQueuePartitions",
    "DescribeSchedule",
    "ListSchedules",
    "CountSchedules",
    "ListScheduleMatchingTimes",
    "GetWorkerBuildIdCompatibility",
    "GetWorkerVersioningRules",
    "GetWorkerTaskReachability",
    "PollWorkflowExecutionUpdate",
    "DescribeBatchOperation",
    "ListBatchOperations",
    "DescribeDeployment",
    "ListDeployments",
    "GetDeploymentReachability",
    "GetCurrentDeployment",
    "DescribeWorkerDeployment",
    "DescribeWorkerDeploymentVersion",
    "ListWorkerDeployments",
    "ListWorkers",
    "DescribeWorker",
    "CountWorkers",
    "FetchWorkerConfig",
    "DescribeActivityExecution",
    "ListActivityExecutions",
    "CountActivityExecutions",
    "PollActivityExecution",
    "DescribeNexusOperationExecution",
    "ListNexusOperationExecutions",
    "CountNexusOperationExecutions",
    "PollNexusOperationExecution",
    "ListWorkflowRules",
    "DescribeWorkflowRule",
];

const CLUSTER_READS: &[&str] = &["ListNamespaces", "GetSearchAttributes", "GetClusterInfo"];

const NAMESPACE_ADMIN: &[&str] = &["RegisterNamespace", "UpdateNamespace", "DeprecateNamespace"];

const fn need(scope: Scope, level: u8) -> Option<Requirement> {
    Some(Requirement { scope, level })
}

/// What calling `path` (`/package.Service/Method`) needs; `None` for a method it does not know.
pub(super) fn requirement(path: &str) -> Option<Requirement> {
    use Scope::{Cluster, Namespace};
    if path == HEALTH_CHECK {
        return need(Cluster, 0);
    }
    if let Some(method) = path.strip_prefix(WORKFLOW_SERVICE) {
        // The RPCs of the API version Sundial serves; anything else is unknown.
        sundial_api::rpc_namespaces::namespace_field(path)?;
        return match method {
            // SDKs call it before anything else.
            "GetSystemInfo" => need(Cluster, 0),
            m if CLUSTER_READS.contains(&m) => need(Cluster, role::READER),
            m if NAMESPACE_READS.contains(&m) => need(Namespace, role::READER),
            m if NAMESPACE_ADMIN.contains(&m) => need(Namespace, role::ADMIN),
            // Every other WorkflowService RPC changes something in one namespace.
            _ => need(Namespace, role::WRITER),
        };
    }
    if let Some(method) = path.strip_prefix(OPERATOR_SERVICE) {
        return match method {
            "ListSearchAttributes" => need(Namespace, role::READER),
            "AddSearchAttributes" | "RemoveSearchAttributes" | "DeleteNamespace" => need(Namespace, role::ADMIN),
            "AddOrUpdateRemoteCluster"
            | "RemoveRemoteCluster"
            | "ListClusters"
            | "CreateNexusEndpoint"
            | "UpdateNexusEndpoint"
            | "DeleteNexusEndpoint"
            | "GetNexusEndpoint"
            | "ListNexusEndpoints" => need(Cluster, role::ADMIN),
            _ => None,
        };
    }
    if path.starts_with(ADMIN_SERVICE) {
        return need(Cluster, role::ADMIN);
    }
    None
}
