//! `sundial.server.api.adminservice.v1.AdminService`: operator views that Temporal's public API
//! lacks, served on the frontend's public port. `DescribeDynamicConfig` is the admin view of
//! the dynamic config (temporal#7947): every key's effective value for a namespace, task queue
//! and task type, read exactly as the roles read it (namespace name and id).

use crate::registry::NamespaceRegistry;
use sundial_api::sundial::adminservice::v1::admin_service_server::AdminService;
use sundial_api::sundial::adminservice::v1::{
    DescribeDynamicConfigRequest, DescribeDynamicConfigResponse, DescribeMembershipRequest, DescribeMembershipResponse,
    DynamicConfigEntry, RingMembers, ShardOwner,
};
use sundial_common::ServiceError;
use sundial_dynconfig::{DynamicConfig, EffectiveValue, Scope, TaskType};
use sundial_persistence::Role;
use sundial_rpc::HistoryRouter;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct AdminHandler {
    registry: NamespaceRegistry,
    dynamic_config: DynamicConfig,
    history: HistoryRouter,
}

impl AdminHandler {
    pub fn new(registry: NamespaceRegistry, dynamic_config: DynamicConfig, history: HistoryRouter) -> Self {
        Self {
            registry,
            dynamic_config,
            history,
        }
    }
}

/// `workflow` / `activity` (any case, also `TASK_QUEUE_TYPE_*`); empty is `workflow` when a
/// task queue is given. A task type without a task queue is refused: it would change nothing.
fn task_type(task_queue: &str, task_type: &str) -> Result<Option<TaskType>, ServiceError> {
    let given = task_type.trim();
    if task_queue.is_empty() {
        if !given.is_empty() {
            return Err(ServiceError::invalid(format!(
                "Task type {given:?} needs a task queue: set task_queue too."
            )));
        }
        return Ok(None);
    }
    if given.is_empty() {
        return Ok(Some(TaskType::Workflow));
    }
    TaskType::from_json(&given.into())
        .map(Some)
        .ok_or_else(|| ServiceError::invalid(format!("Invalid task type {given:?}: use workflow or activity.")))
}

fn to_entry(v: EffectiveValue) -> DynamicConfigEntry {
    DynamicConfigEntry {
        key: v.key.to_owned(),
        aliases: v.aliases.iter().map(|a| (*a).to_owned()).collect(),
        kind: v.kind.name().to_owned(),
        scope: v.scope.name().to_owned(),
        value_json: v.value.to_string(),
        source: v.source.as_str().to_owned(),
        written_as: v.written_as.unwrap_or_default().to_owned(),
        constraints: v.constraints.unwrap_or_default(),
        live: v.live,
        unit: v.unit.to_owned(),
    }
}

#[tonic::async_trait]
impl AdminService for AdminHandler {
    async fn describe_membership(
        &self,
        _request: Request<DescribeMembershipRequest>,
    ) -> Result<Response<DescribeMembershipResponse>, Status> {
        let rings = Role::ALL
            .into_iter()
            .map(|role| RingMembers {
                role: role.name().to_owned(),
                members: self.history.members(role),
            })
            .collect();
        let shards = (0..self.history.shard_count())
            .map(|shard_id| ShardOwner {
                shard_id,
                owner: self.history.shard_owner(shard_id).unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(DescribeMembershipResponse { rings, shards }))
    }

    async fn describe_dynamic_config(
        &self,
        request: Request<DescribeDynamicConfigRequest>,
    ) -> Result<Response<DescribeDynamicConfigResponse>, Status> {
        let req = request.into_inner();
        if req.namespace.is_empty() {
            return Err(ServiceError::invalid("Namespace is not set on request.").into());
        }
        let task_type = task_type(&req.task_queue, &req.task_type)?;
        let ns = self.registry.by_name(&req.namespace).await?;
        let scope = Scope {
            namespace: Some(&ns.name),
            namespace_id: Some(&ns.id),
            task_queue: (!req.task_queue.is_empty()).then_some(req.task_queue.as_str()),
            task_type,
        };
        let entries = self
            .dynamic_config
            .effective(&scope)
            .into_iter()
            .map(to_entry)
            .collect();
        Ok(Response::new(DescribeDynamicConfigResponse { entries }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use sundial_api::sundial::persistence::v1::NamespaceDetail;
    use sundial_persistence::{DbConfig, NamespaceStore, SqlStore};
    use tonic::Code;

    const YAML: &str = "\
workflow.workflowTaskTimeout:
  - value: 7s
    constraints: {namespace: order-service}
limit.maxTaskQueuePollers:
  - value: 10
    constraints: {namespace: order-service, taskQueueName: q}
  - value: 3
    constraints: {namespace: order-service, taskQueueName: q, taskType: Activity}
";

    async fn handler() -> AdminHandler {
        let store = SqlStore::open(&DbConfig::Sqlite { path: None }).await.expect("sqlite");
        store
            .create_namespace("ns-id-1", "order-service", &NamespaceDetail::default())
            .await
            .expect("create");
        let store: Arc<dyn NamespaceStore> = Arc::new(store);
        AdminHandler::new(
            NamespaceRegistry::new(store),
            DynamicConfig::from_yaml_str(YAML).expect("yaml"),
            HistoryRouter::fixed("127.0.0.1:7234", 4),
        )
    }

    #[tokio::test]
    async fn membership_names_a_history_host_for_every_shard() {
        let resp = handler()
            .await
            .describe_membership(Request::new(DescribeMembershipRequest {}))
            .await
            .expect("describe")
            .into_inner();
        let owners: Vec<(i32, &str)> = resp.shards.iter().map(|s| (s.shard_id, s.owner.as_str())).collect();
        assert_eq!(owners, (0..4).map(|i| (i, "127.0.0.1:7234")).collect::<Vec<_>>());
        let roles: Vec<&str> = resp.rings.iter().map(|r| r.role.as_str()).collect();
        assert_eq!(roles, ["frontend", "history", "matching", "worker"]);
    }

    async fn describe(h: &AdminHandler, ns: &str, tq: &str, tt: &str) -> Result<Vec<DynamicConfigEntry>, Status> {
        let req = DescribeDynamicConfigRequest {
            namespace: ns.into(),
            task_queue: tq.into(),
            task_type: tt.into(),
        };
        Ok(h.describe_dynamic_config(Request::new(req)).await?.into_inner().entries)
    }

    fn find<'a>(entries: &'a [DynamicConfigEntry], key: &str) -> &'a DynamicConfigEntry {
        entries.iter().find(|e| e.key == key).expect("key listed")
    }

    #[tokio::test]
    async fn effective_values_per_scope_and_errors() {
        let h = handler().await;
        let all = describe(&h, "order-service", "q", "").await.expect("describe");
        let timeout = find(&all, "workflow.workflowTaskTimeout");
        assert_eq!(
            (timeout.value_json.as_str(), timeout.source.as_str()),
            ("\"7s\"", "file")
        );
        assert_eq!(timeout.constraints, "{namespace=order-service}");
        let pollers = find(&all, "limit.maxTaskQueuePollers");
        assert_eq!(
            (pollers.value_json.as_str(), pollers.scope.as_str()),
            ("10", "task-queue")
        );

        let activity = describe(&h, "order-service", "q", "activity").await.expect("activity");
        assert_eq!(find(&activity, "limit.maxTaskQueuePollers").value_json, "3");

        let no_tq = describe(&h, "order-service", "", "").await.expect("no tq");
        let pollers = find(&no_tq, "limit.maxTaskQueuePollers");
        assert_eq!((pollers.source.as_str(), pollers.written_as.as_str()), ("default", ""));

        let missing = describe(&h, "nope", "", "").await.expect_err("unknown namespace");
        assert_eq!(missing.code(), Code::NotFound);
        let empty = describe(&h, "", "", "").await.expect_err("no namespace");
        assert_eq!(empty.code(), Code::InvalidArgument);
        let bad = describe(&h, "order-service", "q", "nexus").await.expect_err("bad type");
        assert_eq!(bad.code(), Code::InvalidArgument);
        let lonely = describe(&h, "order-service", "", "workflow")
            .await
            .expect_err("type without tq");
        assert_eq!(lonely.code(), Code::InvalidArgument);
    }
}
