//! `temporal.api.workflowservice.v1.WorkflowService`: the thin gRPC edge. Each method hands
//! the request to its handler and maps `ServiceError` to a status; RPCs not implemented yet
//! fall through to the generated `UNIMPLEMENTED` defaults.

use crate::namespace::NamespaceHandler;
use crate::system::{ClusterIdentity, cluster_info, system_info};
use std::sync::Arc;
use sundial_api::workflowservice::v1::workflow_service_server::WorkflowService;
use sundial_api::workflowservice::v1::*;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct WorkflowHandler {
    namespaces: NamespaceHandler,
    cluster: Arc<ClusterIdentity>,
}

impl WorkflowHandler {
    pub fn new(namespaces: NamespaceHandler, cluster: ClusterIdentity) -> Self {
        Self {
            namespaces,
            cluster: Arc::new(cluster),
        }
    }
}

#[tonic::async_trait]
impl WorkflowService for WorkflowHandler {
    async fn get_system_info(
        &self,
        _: Request<GetSystemInfoRequest>,
    ) -> Result<Response<GetSystemInfoResponse>, Status> {
        Ok(Response::new(system_info()))
    }

    async fn get_cluster_info(
        &self,
        _: Request<GetClusterInfoRequest>,
    ) -> Result<Response<GetClusterInfoResponse>, Status> {
        Ok(Response::new(cluster_info(&self.cluster)))
    }

    async fn register_namespace(
        &self,
        request: Request<RegisterNamespaceRequest>,
    ) -> Result<Response<RegisterNamespaceResponse>, Status> {
        self.namespaces.register(request.into_inner()).await?;
        Ok(Response::new(RegisterNamespaceResponse {}))
    }

    async fn describe_namespace(
        &self,
        request: Request<DescribeNamespaceRequest>,
    ) -> Result<Response<DescribeNamespaceResponse>, Status> {
        Ok(Response::new(
            self.namespaces.describe(request.into_inner()).await?,
        ))
    }

    async fn list_namespaces(
        &self,
        request: Request<ListNamespacesRequest>,
    ) -> Result<Response<ListNamespacesResponse>, Status> {
        Ok(Response::new(
            self.namespaces.list(request.into_inner()).await?,
        ))
    }

    async fn update_namespace(
        &self,
        request: Request<UpdateNamespaceRequest>,
    ) -> Result<Response<UpdateNamespaceResponse>, Status> {
        Ok(Response::new(
            self.namespaces.update(request.into_inner()).await?,
        ))
    }
}
