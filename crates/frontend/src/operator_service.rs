//! `temporal.api.operatorservice.v1.OperatorService`: custom search attributes per namespace,
//! namespace deletion, and the cluster list of a single cluster.
//! On SQL visibility a custom attribute is an alias of a pre-allocated typed column; adding
//! one picks the first free column of its type and records alias → column in the namespace.

use crate::namespace::NamespaceHandler;
use crate::nexus_endpoints::NexusEndpointHandler;
use crate::search_attributes::system_search_attributes;
use crate::system::ClusterIdentity;
use sundial_api::operatorservice::v1::operator_service_server::OperatorService;
use sundial_api::operatorservice::v1::{
    AddOrUpdateRemoteClusterRequest, AddOrUpdateRemoteClusterResponse, AddSearchAttributesRequest,
    AddSearchAttributesResponse, ClusterMetadata, CreateNexusEndpointRequest, CreateNexusEndpointResponse,
    DeleteNamespaceRequest, DeleteNamespaceResponse, DeleteNexusEndpointRequest, DeleteNexusEndpointResponse,
    GetNexusEndpointRequest, GetNexusEndpointResponse, ListClustersRequest, ListClustersResponse,
    ListNexusEndpointsRequest, ListNexusEndpointsResponse, ListSearchAttributesRequest, ListSearchAttributesResponse,
    RemoveRemoteClusterRequest, RemoveRemoteClusterResponse, RemoveSearchAttributesRequest,
    RemoveSearchAttributesResponse, UpdateNexusEndpointRequest, UpdateNexusEndpointResponse,
};
use sundial_api::sundial::persistence::v1::NamespaceDetail;
use sundial_api::temporal::enums::v1::NamespaceState;
use sundial_common::ServiceError;
use sundial_persistence::PersistenceError;
use sundial_persistence::visibility::{ValueType, free_column, system_attribute};
use tonic::{Request, Response, Status};

const UPDATE_ATTEMPTS: usize = 5;
/// How long AddOrUpdateRemoteCluster waits for the remote frontend.
const REMOTE_CLUSTER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const MAX_NAME_LENGTH: usize = 255;

#[derive(Clone)]
pub struct OperatorHandler {
    namespaces: NamespaceHandler,
    endpoints: NexusEndpointHandler,
    cluster: std::sync::Arc<ClusterIdentity>,
}

impl OperatorHandler {
    pub fn new(namespaces: NamespaceHandler, endpoints: NexusEndpointHandler, cluster: ClusterIdentity) -> Self {
        Self {
            namespaces,
            endpoints,
            cluster: std::sync::Arc::new(cluster),
        }
    }

    /// Applies `change` to the namespace's detail with compare-and-set, re-reading on conflict.
    async fn update_detail(
        &self,
        namespace: &str,
        change: impl Fn(&mut NamespaceDetail) -> Result<bool, ServiceError>,
    ) -> Result<(), ServiceError> {
        let registry = self.namespaces.registry();
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(current) = registry.store().get_namespace_by_name(namespace).await? else {
                return Err(ServiceError::NamespaceNotFound {
                    namespace: namespace.to_owned(),
                });
            };
            let mut detail = current.detail.clone();
            if !change(&mut detail)? {
                registry.insert(current);
                return Ok(());
            }
            detail.updated_time = Some(sundial_common::time::now_timestamp());
            match registry
                .store()
                .update_namespace(&current.id, current.notification_version, &detail)
                .await
            {
                Ok(record) => {
                    registry.insert(record);
                    return Ok(());
                }
                Err(PersistenceError::ConditionFailed(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(format!(
            "namespace {namespace} is being updated concurrently; retry"
        )))
    }
}

/// The namespace a deployment creates for itself; never deleted.
const SYSTEM_NAMESPACE: &str = "temporal-system";

impl OperatorHandler {
    /// Renames the namespace to `<name>-deleted-<first 5 characters of its id>` and marks it
    /// DELETED at once, which frees the name; the system worker then deletes its workflows,
    /// schedules and finally the namespace itself, after `namespace_delete_delay`.
    async fn delete_namespace(&self, req: DeleteNamespaceRequest) -> Result<DeleteNamespaceResponse, ServiceError> {
        let registry = self.namespaces.registry();
        for _ in 0..UPDATE_ATTEMPTS {
            let current = if !req.namespace_id.is_empty() {
                registry.store().get_namespace_by_id(&req.namespace_id).await?
            } else {
                require_namespace(&req.namespace)?;
                registry.store().get_namespace_by_name(&req.namespace).await?
            };
            let Some(current) = current else {
                return Err(ServiceError::NamespaceNotFound {
                    namespace: if req.namespace.is_empty() {
                        req.namespace_id.clone()
                    } else {
                        req.namespace.clone()
                    },
                });
            };
            if current.name == SYSTEM_NAMESPACE {
                return Err(ServiceError::FailedPrecondition(
                    "unable to delete system namespace".into(),
                ));
            }
            let mut detail = current.detail.clone();
            let info = detail.info.get_or_insert_with(Default::default);
            if info.state == NamespaceState::Deleted as i32 {
                return Err(ServiceError::FailedPrecondition(format!(
                    "Namespace {} is already being deleted.",
                    current.name
                )));
            }
            let suffix: String = current.id.chars().take(5).collect();
            let new_name = format!("{}-deleted-{suffix}", current.name);
            info.state = NamespaceState::Deleted as i32;
            info.name = new_name.clone();
            let delay = req
                .namespace_delete_delay
                .as_ref()
                .map_or(0, sundial_common::time::pb_duration_nanos)
                .max(0);
            detail.deleted_name = current.name.clone();
            detail.delete_after = Some(sundial_common::time::nanos_to_timestamp(
                sundial_common::time::now_nanos().saturating_add(delay),
            ));
            detail.updated_time = Some(sundial_common::time::now_timestamp());
            match registry
                .store()
                .rename_namespace(&current.id, current.notification_version, &new_name, &detail)
                .await
            {
                Ok(record) => {
                    registry.forget_name(&current.name);
                    registry.insert(record);
                    tracing::info!(namespace = %current.name, renamed = %new_name, "namespace deleted");
                    return Ok(DeleteNamespaceResponse {
                        deleted_namespace: new_name,
                    });
                }
                Err(PersistenceError::ConditionFailed(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "the namespace is being updated concurrently; retry".into(),
        ))
    }
}

fn require_namespace(namespace: &str) -> Result<(), ServiceError> {
    if namespace.is_empty() {
        return Err(ServiceError::invalid("Namespace is not set on request."));
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), ServiceError> {
    if name.is_empty() {
        return Err(ServiceError::invalid("Search attribute name is empty."));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(ServiceError::invalid(format!(
            "Search attribute name {name} is longer than {MAX_NAME_LENGTH} characters."
        )));
    }
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ServiceError::invalid(format!(
            "Search attribute name {name:?} is invalid: use ASCII letters, digits, '_', '-' and '.', starting with a letter or '_'."
        )));
    }
    if system_attribute(name).is_some() {
        return Err(ServiceError::invalid(format!(
            "Search attribute {name} is reserved by system."
        )));
    }
    Ok(())
}

/// Adds `wanted` (name → IndexedValueType) to `detail`; names already there with the same
/// type are left alone. Returns whether anything changed.
fn add_attributes(
    detail: &mut NamespaceDetail,
    wanted: &[(String, ValueType)],
    namespace: &str,
) -> Result<bool, ServiceError> {
    let mut changed = false;
    for (name, ty) in wanted {
        if let Some(existing) = detail.search_attributes.get(name) {
            if ValueType::from_indexed(*existing) == Some(*ty) && detail.search_attribute_columns.contains_key(name) {
                continue;
            }
            return Err(ServiceError::invalid(format!(
                "Search attribute {name} already exists in namespace {namespace} with type {}.",
                ValueType::from_indexed(*existing).map_or("Unspecified", ValueType::name)
            )));
        }
        let Some(column) = free_column(detail, *ty) else {
            return Err(ServiceError::invalid(format!(
                "Unable to create search attribute {name}: namespace {namespace} cannot have more than {} search attributes of type {}.",
                ty.pool().len(),
                ty.name()
            )));
        };
        detail.search_attributes.insert(name.clone(), ty.indexed() as i32);
        detail
            .search_attribute_columns
            .insert(name.clone(), crate::search_attributes::column_name(column));
        changed = true;
    }
    Ok(changed)
}

#[tonic::async_trait]
impl OperatorService for OperatorHandler {
    async fn create_nexus_endpoint(
        &self,
        request: Request<CreateNexusEndpointRequest>,
    ) -> Result<Response<CreateNexusEndpointResponse>, Status> {
        Ok(Response::new(self.endpoints.create(request.into_inner()).await?))
    }

    async fn update_nexus_endpoint(
        &self,
        request: Request<UpdateNexusEndpointRequest>,
    ) -> Result<Response<UpdateNexusEndpointResponse>, Status> {
        Ok(Response::new(self.endpoints.update(request.into_inner()).await?))
    }

    async fn delete_nexus_endpoint(
        &self,
        request: Request<DeleteNexusEndpointRequest>,
    ) -> Result<Response<DeleteNexusEndpointResponse>, Status> {
        Ok(Response::new(self.endpoints.delete(request.into_inner()).await?))
    }

    async fn get_nexus_endpoint(
        &self,
        request: Request<GetNexusEndpointRequest>,
    ) -> Result<Response<GetNexusEndpointResponse>, Status> {
        Ok(Response::new(self.endpoints.get(request.into_inner()).await?))
    }

    async fn list_nexus_endpoints(
        &self,
        request: Request<ListNexusEndpointsRequest>,
    ) -> Result<Response<ListNexusEndpointsResponse>, Status> {
        Ok(Response::new(self.endpoints.list(request.into_inner()).await?))
    }

    async fn delete_namespace(
        &self,
        request: Request<DeleteNamespaceRequest>,
    ) -> Result<Response<DeleteNamespaceResponse>, Status> {
        Ok(Response::new(
            OperatorHandler::delete_namespace(self, request.into_inner()).await?,
        ))
    }

    async fn add_search_attributes(
        &self,
        request: Request<AddSearchAttributesRequest>,
    ) -> Result<Response<AddSearchAttributesResponse>, Status> {
        let req = request.into_inner();
        require_namespace(&req.namespace)?;
        if req.search_attributes.is_empty() {
            return Err(ServiceError::invalid("Search attributes are not set on request.").into());
        }
        let mut wanted = Vec::new();
        for (name, ty) in &req.search_attributes {
            validate_name(name)?;
            let Some(ty) = ValueType::from_indexed(*ty) else {
                return Err(ServiceError::invalid(format!("Unknown search attribute type {ty} for {name}.")).into());
            };
            wanted.push((name.clone(), ty));
        }
        wanted.sort_by(|a, b| a.0.cmp(&b.0));
        let namespace = req.namespace.clone();
        self.update_detail(&req.namespace, |d| add_attributes(d, &wanted, &namespace))
            .await?;
        tracing::info!(namespace = %req.namespace, attributes = ?wanted, "search attributes added");
        Ok(Response::new(AddSearchAttributesResponse {}))
    }

    async fn remove_search_attributes(
        &self,
        request: Request<RemoveSearchAttributesRequest>,
    ) -> Result<Response<RemoveSearchAttributesResponse>, Status> {
        let req = request.into_inner();
        require_namespace(&req.namespace)?;
        if req.search_attributes.is_empty() {
            return Err(ServiceError::invalid("Search attributes are not set on request.").into());
        }
        let names = req.search_attributes.clone();
        self.update_detail(&req.namespace, |d| {
            for name in &names {
                if system_attribute(name).is_some() {
                    return Err(ServiceError::invalid(format!(
                        "Unable to remove search attribute {name}: it is a system search attribute."
                    )));
                }
                if d.search_attributes.remove(name).is_none() {
                    return Err(ServiceError::NotFound(format!(
                        "Search attribute {name} doesn't exist."
                    )));
                }
                d.search_attribute_columns.remove(name);
            }
            Ok(true)
        })
        .await?;
        tracing::info!(namespace = %req.namespace, attributes = ?req.search_attributes, "search attributes removed");
        Ok(Response::new(RemoveSearchAttributesResponse {}))
    }

    async fn list_search_attributes(
        &self,
        request: Request<ListSearchAttributesRequest>,
    ) -> Result<Response<ListSearchAttributesResponse>, Status> {
        let req = request.into_inner();
        require_namespace(&req.namespace)?;
        let ns = self.namespaces.registry().by_name(&req.namespace).await?;
        Ok(Response::new(ListSearchAttributesResponse {
            custom_attributes: ns.detail.search_attributes.clone(),
            system_attributes: system_search_attributes(),
            storage_schema: Default::default(),
        }))
    }

    /// The one cluster Sundial runs, as a single-cluster Temporal lists itself.
    async fn list_clusters(
        &self,
        _request: Request<ListClustersRequest>,
    ) -> Result<Response<ListClustersResponse>, Status> {
        let c = &self.cluster;
        Ok(Response::new(ListClustersResponse {
            clusters: vec![ClusterMetadata {
                cluster_name: c.cluster_name.clone(),
                cluster_id: c.cluster_id.clone(),
                address: c.frontend_address.clone(),
                http_address: String::new(),
                initial_failover_version: 1,
                history_shard_count: c.history_shard_count,
                is_connection_enabled: true,
                is_replication_enabled: false,
            }],
            next_page_token: Vec::new(),
        }))
    }

    /// There are no remote clusters to remove; the current one cannot be.
    async fn remove_remote_cluster(
        &self,
        request: Request<RemoveRemoteClusterRequest>,
    ) -> Result<Response<RemoveRemoteClusterResponse>, Status> {
        let name = request.into_inner().cluster_name;
        if name == self.cluster.cluster_name {
            return Err(Status::internal(
                "Unable to delete cluster info with error: Cannot delete current cluster metadata.",
            ));
        }
        Err(ServiceError::NotFound("The cluster to be deleted cannot be found in clusters cache.".into()).into())
    }

    /// Sundial does not replicate between clusters: the remote frontend is asked who it is (so
    /// an unreachable address fails as in Temporal), then the connection is refused.
    async fn add_or_update_remote_cluster(
        &self,
        request: Request<AddOrUpdateRemoteClusterRequest>,
    ) -> Result<Response<AddOrUpdateRemoteClusterResponse>, Status> {
        let address = request.into_inner().frontend_address;
        let unreachable = |reason: &str| {
            Status::unavailable(format!(
                "Unable connect to remote cluster {address} with error: {reason}."
            ))
        };
        let mut remote = sundial_rpc::frontend_client(&address).map_err(|e| unreachable(&e.to_string()))?;
        let ask = remote.get_cluster_info(sundial_api::workflowservice::v1::GetClusterInfoRequest {});
        let info = match tokio::time::timeout(REMOTE_CLUSTER_TIMEOUT, ask).await {
            Ok(Ok(info)) => info.into_inner(),
            Ok(Err(status)) => return Err(unreachable(status.message())),
            Err(_) => return Err(unreachable("no answer in time")),
        };
        let reason = if info.cluster_name == self.cluster.cluster_name {
            "Cannot update current cluster metadata from rpc calls."
        } else {
            "Sundial runs a single cluster; multi-cluster replication is not supported."
        };
        Err(ServiceError::invalid(format!(
            "Unable connect to remote cluster with invalid config: {reason}"
        ))
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("CustomerId").is_ok());
        assert!(validate_name("_x-1.y").is_ok());
        for bad in ["", "1abc", "a b", "a'b", "WorkflowId", "ExecutionStatus"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn columns_are_allocated_per_type_and_reused_idempotently() {
        let mut d = NamespaceDetail::default();
        let kw = |n: &str| (n.to_owned(), ValueType::Keyword);
        assert_eq!(add_attributes(&mut d, &[kw("A"), kw("B")], "ns").ok(), Some(true));
        assert_eq!(d.search_attribute_columns["A"], "Keyword01");
        assert_eq!(d.search_attribute_columns["B"], "Keyword02");
        assert_eq!(add_attributes(&mut d, &[kw("A")], "ns").ok(), Some(false));
        assert!(add_attributes(&mut d, &[("A".into(), ValueType::Int)], "ns").is_err());
        assert_eq!(
            add_attributes(&mut d, &[("L".into(), ValueType::KeywordList)], "ns").ok(),
            Some(true)
        );
        assert_eq!(d.search_attribute_columns["L"], "KeywordList01");
        let many: Vec<_> = (0..8).map(|i| kw(&format!("K{i}"))).collect();
        assert_eq!(add_attributes(&mut d, &many, "ns").ok(), Some(true));
        let err = add_attributes(&mut d, &[kw("Z")], "ns").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("more than 10")));
        d.search_attributes.remove("B");
        d.search_attribute_columns.remove("B");
        assert_eq!(add_attributes(&mut d, &[kw("Z")], "ns").ok(), Some(true));
        assert_eq!(d.search_attribute_columns["Z"], "Keyword02");
    }
}
