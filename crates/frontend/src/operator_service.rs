//! `temporal.api.operatorservice.v1.OperatorService`: search attributes for now.

use crate::namespace::NamespaceHandler;
use crate::search_attributes::system_search_attributes;
use sundial_api::operatorservice::v1::operator_service_server::OperatorService;
use sundial_api::operatorservice::v1::{ListSearchAttributesRequest, ListSearchAttributesResponse};
use sundial_common::ServiceError;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct OperatorHandler {
    namespaces: NamespaceHandler,
}

impl OperatorHandler {
    pub fn new(namespaces: NamespaceHandler) -> Self {
        Self { namespaces }
    }
}

#[tonic::async_trait]
impl OperatorService for OperatorHandler {
    async fn list_search_attributes(
        &self,
        request: Request<ListSearchAttributesRequest>,
    ) -> Result<Response<ListSearchAttributesResponse>, Status> {
        let req = request.into_inner();
        if req.namespace.is_empty() {
            return Err(ServiceError::invalid("Namespace is not set on request.").into());
        }
        let ns = self.namespaces.registry().by_name(&req.namespace).await?;
        Ok(Response::new(ListSearchAttributesResponse {
            custom_attributes: ns.detail.search_attributes.clone(),
            system_attributes: system_search_attributes(),
            storage_schema: Default::default(),
        }))
    }
}
