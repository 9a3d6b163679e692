//! The frontend role: validates public requests, owns namespaces, and answers system queries.
//! Execution calls will be routed to history and task-queue calls to matching.

mod admin_service;
pub mod auth;
mod batches;
mod executions;
mod namespace;
mod nexus_endpoints;
mod operator_service;
mod registry;
mod schedules;
mod search_attributes;
mod system;
mod validation;
pub mod visibility;
mod workflow_service;

pub use admin_service::AdminHandler;
pub use batches::BatchHandler;
pub use executions::ExecutionHandler;
pub use namespace::{NamespaceHandler, SystemNamespace, ensure_namespace};
pub use nexus_endpoints::NexusEndpointHandler;
pub use operator_service::OperatorHandler;
pub use registry::NamespaceRegistry;
pub use schedules::ScheduleHandler;
pub use system::ClusterIdentity;
pub use workflow_service::WorkflowHandler;

/// Names under which the frontend reports itself healthy (`grpc.health.v1`).
pub const HEALTH_SERVICE_NAMES: [&str; 2] = [
    "temporal.api.workflowservice.v1.WorkflowService",
    "temporal.api.operatorservice.v1.OperatorService",
];
