//! Namespace deletion, after DeleteNamespace renamed a namespace and marked it DELETED: once
//! its delete delay is over, each pass deletes a page of its workflows, of its standalone
//! activities and of its standalone Nexus operations (terminating running ones) through the
//! frontend; when visibility shows none of them left, its schedules and finally the namespace
//! row go. Each pass is idempotent, so a
//! restart just carries on.

use crate::cluster::{Cluster, PassError};
use std::sync::Arc;
use std::time::Duration;
use sundial_api::temporal::enums::v1::NamespaceState;
use sundial_api::workflowservice::v1::{
    CountActivityExecutionsRequest, CountNexusOperationExecutionsRequest, CountWorkflowExecutionsRequest,
    DeleteActivityExecutionRequest, DeleteNexusOperationExecutionRequest, DeleteWorkflowExecutionRequest,
    ListActivityExecutionsRequest, ListNexusOperationExecutionsRequest, ListWorkflowExecutionsRequest,
};
use sundial_common::time::{now_nanos, timestamp_to_nanos};
use sundial_persistence::NamespaceRecord;
use tokio::task::JoinHandle;
use tonic::Code;

const TICK: Duration = Duration::from_secs(2);
const PAGE: i32 = 100;

pub(crate) struct Reclaimer {
    cluster: Arc<Cluster>,
}

fn due(ns: &NamespaceRecord, now: i64) -> bool {
    let deleted = ns
        .detail
        .info
        .as_ref()
        .is_some_and(|i| i.state == NamespaceState::Deleted as i32);
    deleted && ns.detail.delete_after.as_ref().map_or(0, timestamp_to_nanos) <= now
}

impl Reclaimer {
    pub(crate) fn spawn(cluster: Arc<Cluster>) -> JoinHandle<()> {
        let reclaimer = Reclaimer { cluster };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = reclaimer.tick().await {
                    tracing::warn!(error = %e, "deleting namespaces failed; retrying");
                }
            }
        })
    }

    async fn tick(&self) -> Result<(), PassError> {
        let mut token = Vec::new();
        loop {
            let page = self.cluster.store.list_namespaces(100, &token).await?;
            let now = now_nanos();
            for ns in page.namespaces.iter().filter(|ns| due(ns, now)) {
                if self.cluster.owns(&format!("namespace/{}", ns.id))
                    && let Err(e) = self.reclaim(ns).await
                {
                    tracing::warn!(namespace = %ns.name, error = %e, "deleting a namespace's data failed; retrying");
                }
            }
            if page.next_page_token.is_empty() {
                return Ok(());
            }
            token = page.next_page_token;
        }
    }

    async fn reclaim(&self, ns: &NamespaceRecord) -> Result<(), PassError> {
        let mut frontend = self.cluster.frontend()?;
        let page = frontend
            .list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: ns.name.clone(),
                page_size: PAGE,
                next_page_token: Vec::new(),
                query: String::new(),
            })
            .await?
            .into_inner();
        for info in page.executions {
            let request = DeleteWorkflowExecutionRequest {
                namespace: ns.name.clone(),
                workflow_execution: info.execution,
            };
            match frontend.delete_workflow_execution(request).await {
                Ok(_) => {}
                Err(s) if s.code() == Code::NotFound => {}
                Err(s) => return Err(s.into()),
            }
        }
        let activities = frontend
            .list_activity_executions(ListActivityExecutionsRequest {
                namespace: ns.name.clone(),
                page_size: PAGE,
                next_page_token: Vec::new(),
                query: String::new(),
            })
            .await?
            .into_inner();
        for info in activities.executions {
            let request = DeleteActivityExecutionRequest {
                namespace: ns.name.clone(),
                activity_id: info.activity_id,
                run_id: info.run_id,
            };
            match frontend.delete_activity_execution(request).await {
                Ok(_) => {}
                Err(s) if s.code() == Code::NotFound => {}
                Err(s) => return Err(s.into()),
            }
        }
        let operations = frontend
            .list_nexus_operation_executions(ListNexusOperationExecutionsRequest {
                namespace: ns.name.clone(),
                page_size: PAGE,
                next_page_token: Vec::new(),
                query: String::new(),
            })
            .await?
            .into_inner();
        for info in operations.operations {
            let request = DeleteNexusOperationExecutionRequest {
                namespace: ns.name.clone(),
                operation_id: info.operation_id,
                run_id: info.run_id,
            };
            match frontend.delete_nexus_operation_execution(request).await {
                Ok(_) => {}
                Err(s) if s.code() == Code::NotFound => {}
                Err(s) => return Err(s.into()),
            }
        }
        // Deletions leave visibility a moment later; the namespace goes once it shows nothing.
        let workflows_left = frontend
            .count_workflow_executions(CountWorkflowExecutionsRequest {
                namespace: ns.name.clone(),
                query: String::new(),
            })
            .await?
            .into_inner()
            .count;
        let activities_left = frontend
            .count_activity_executions(CountActivityExecutionsRequest {
                namespace: ns.name.clone(),
                query: String::new(),
            })
            .await?
            .into_inner()
            .count;
        let operations_left = frontend
            .count_nexus_operation_executions(CountNexusOperationExecutionsRequest {
                namespace: ns.name.clone(),
                query: String::new(),
            })
            .await?
            .into_inner()
            .count;
        if workflows_left > 0 || activities_left > 0 || operations_left > 0 {
            return Ok(());
        }
        loop {
            let schedules = self.cluster.store.list_schedules(&ns.id, "", 1000).await?;
            if schedules.is_empty() {
                break;
            }
            for s in schedules {
                self.cluster.store.delete_schedule(&ns.id, &s.schedule_id).await?;
            }
        }
        self.cluster.store.delete_namespace(&ns.id).await?;
        tracing::info!(namespace = %ns.name, deleted_name = %ns.detail.deleted_name, "namespace and its data deleted");
        Ok(())
    }
}
