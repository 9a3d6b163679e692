//! Namespace APIs: register, describe, list, update. Validation and messages follow Temporal's
//! frontend so that SDKs and the CLI see the same errors.

use crate::registry::NamespaceRegistry;
use prost_wkt_types::Duration as PbDuration;
use std::sync::Arc;
use sundial_api::sundial::persistence::v1::NamespaceDetail;
use sundial_api::temporal::enums::v1::{ArchivalState, NamespaceState, ReplicationState};
use sundial_api::temporal::namespace::v1::UpdateNamespaceInfo;
use sundial_api::temporal::namespace::v1::{BadBinaries, NamespaceConfig, NamespaceInfo, namespace_info};
use sundial_api::temporal::replication::v1::{ClusterReplicationConfig, NamespaceReplicationConfig};
use sundial_api::workflowservice::v1::{
    DeprecateNamespaceRequest, DeprecateNamespaceResponse, DescribeNamespaceRequest, DescribeNamespaceResponse,
    ListNamespacesRequest, ListNamespacesResponse, RegisterNamespaceRequest, UpdateNamespaceRequest,
    UpdateNamespaceResponse,
};
use sundial_common::{ServiceError, time};
use sundial_persistence::{NamespaceRecord, PersistenceError};

/// Temporal's `limit.maxIDLength` default, which also bounds namespace names.
const MAX_NAME_LENGTH: usize = 1000;
/// Longer retentions are accepted and clamped to this (100 × 365 days), as Temporal does.
const MAX_RETENTION_SECS: i64 = 100 * 365 * 24 * 3600;
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;
const UPDATE_ATTEMPTS: usize = 5;

/// Serves the namespace RPCs for one cluster.
#[derive(Clone)]
pub struct NamespaceHandler {
    registry: NamespaceRegistry,
    cluster_name: Arc<str>,
    dynamic_config: sundial_dynconfig::DynamicConfig,
}

impl NamespaceHandler {
    pub fn new(
        registry: NamespaceRegistry,
        cluster_name: &str,
        dynamic_config: sundial_dynconfig::DynamicConfig,
    ) -> Self {
        Self {
            registry,
            cluster_name: cluster_name.into(),
            dynamic_config,
        }
    }

    /// `system.namespaceMinRetentionLocal`.
    fn min_retention(&self) -> std::time::Duration {
        self.dynamic_config.get(
            &sundial_dynconfig::keys::NAMESPACE_MIN_RETENTION,
            &sundial_dynconfig::Scope::global(),
        )
    }

    pub fn registry(&self) -> &NamespaceRegistry {
        &self.registry
    }

    pub async fn register(&self, req: RegisterNamespaceRequest) -> Result<(), ServiceError> {
        validate_name(&req.namespace)?;
        let retention = validate_retention(req.workflow_execution_retention_period.as_ref(), self.min_retention())?;
        if req.is_global_namespace {
            return Err(ServiceError::invalid(
                "Cannot register global namespace when not enabled",
            ));
        }
        self.check_cluster_name(&req.active_cluster_name)?;
        for c in &req.clusters {
            self.check_cluster_name(&c.cluster_name)?;
        }
        let detail = NamespaceDetail {
            info: Some(NamespaceInfo {
                name: req.namespace.clone(),
                state: NamespaceState::Registered as i32,
                description: req.description,
                owner_email: req.owner_email,
                data: req.data,
                ..Default::default()
            }),
            config: Some(NamespaceConfig {
                workflow_execution_retention_ttl: Some(retention),
                bad_binaries: Some(BadBinaries::default()),
                // Archival is not supported: always recorded as disabled.
                history_archival_state: ArchivalState::Disabled as i32,
                visibility_archival_state: ArchivalState::Disabled as i32,
                ..Default::default()
            }),
            replication_state: ReplicationState::Normal as i32,
            created_time: Some(time::now_timestamp()),
            ..Default::default()
        };
        let id = uuid::Uuid::new_v4().to_string();
        match self
            .registry
            .store()
            .create_namespace(&id, &req.namespace, &detail)
            .await
        {
            Ok(record) => {
                tracing::info!(namespace = %record.name, id = %record.id, "namespace registered");
                self.registry.insert(record);
                Ok(())
            }
            Err(PersistenceError::AlreadyExists(_)) => Err(ServiceError::NamespaceAlreadyExists {
                namespace: req.namespace,
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn describe(&self, req: DescribeNamespaceRequest) -> Result<DescribeNamespaceResponse, ServiceError> {
        let record = match (req.namespace.is_empty(), req.id.is_empty()) {
            (false, false) => {
                return Err(ServiceError::invalid(
                    "GetNamespace operation failed.  Both ID and Name specified in request.",
                ));
            }
            (true, true) => return Err(ServiceError::invalid("Namespace not set on request.")),
            (false, true) => {
                check_name_length(&req.namespace)?;
                self.registry.by_name(&req.namespace).await?
            }
            (true, false) => self.registry.by_id(&parse_namespace_id(&req.id)?).await?,
        };
        Ok(self.describe_record(&record))
    }

    pub async fn list(&self, req: ListNamespacesRequest) -> Result<ListNamespacesResponse, ServiceError> {
        let page_size = match usize::try_from(req.page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) => n.min(MAX_PAGE_SIZE),
            Err(_) => {
                return Err(ServiceError::invalid("Invalid PageSize: must not be negative."));
            }
        };
        let page = self
            .registry
            .store()
            .list_namespaces(page_size, &req.next_page_token)
            .await
            .map_err(|e| match e {
                PersistenceError::ConditionFailed(_) => ServiceError::invalid("Invalid NextPageToken."),
                other => other.into(),
            })?;
        Ok(ListNamespacesResponse {
            namespaces: page.namespaces.iter().map(|r| self.describe_record(r)).collect(),
            next_page_token: page.next_page_token,
        })
    }

    pub async fn update(&self, req: UpdateNamespaceRequest) -> Result<UpdateNamespaceResponse, ServiceError> {
        if req.namespace.is_empty() {
            return Err(ServiceError::invalid("Namespace not set on request."));
        }
        check_name_length(&req.namespace)?;
        if req.promote_namespace {
            return Err(ServiceError::invalid(format!(
                "global namespace is not enabled on this cluster, cannot update global namespace or promote local namespace: {}",
                req.namespace
            )));
        }
        if let Some(repl) = &req.replication_config {
            self.check_cluster_name(&repl.active_cluster_name)?;
            for c in &repl.clusters {
                self.check_cluster_name(&c.cluster_name)?;
            }
        }
        let retention = match req
            .config
            .as_ref()
            .and_then(|c| c.workflow_execution_retention_ttl.as_ref())
        {
            Some(r) => Some(validate_retention(Some(r), self.min_retention())?),
            None => None,
        };
        if let Some(info) = &req.update_info
            && info.state == NamespaceState::Deleted as i32
        {
            return Err(ServiceError::invalid(
                "Namespace state cannot be set to deleted through UpdateNamespace.",
            ));
        }

        // Compare-and-set on the notification version; a concurrent update makes us re-read.
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.registry.store().get_namespace_by_name(&req.namespace).await?;
            let Some(current) = current else {
                return Err(ServiceError::NamespaceNotFound {
                    namespace: req.namespace.clone(),
                });
            };
            let mut detail = current.detail.clone();
            apply_update(&mut detail, &req, retention);
            match self
                .registry
                .store()
                .update_namespace(&current.id, current.notification_version, &detail)
                .await
            {
                Ok(record) => {
                    tracing::info!(namespace = %record.name, "namespace updated");
                    let record = self.registry.insert(record);
                    let d = self.describe_record(&record);
                    return Ok(UpdateNamespaceResponse {
                        namespace_info: d.namespace_info,
                        config: d.config,
                        replication_config: d.replication_config,
                        failover_version: d.failover_version,
                        is_global_namespace: d.is_global_namespace,
                    });
                }
                Err(PersistenceError::ConditionFailed(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(format!(
            "namespace {} is being updated concurrently; retry",
            req.namespace
        )))
    }

    /// DeprecateNamespace: the namespace takes no new workflows (starts fail with
    /// NamespaceInvalidState); everything else goes on. Deprecating twice is no error.
    pub async fn deprecate(&self, req: DeprecateNamespaceRequest) -> Result<DeprecateNamespaceResponse, ServiceError> {
        self.update(UpdateNamespaceRequest {
            namespace: req.namespace,
            update_info: Some(UpdateNamespaceInfo {
                state: NamespaceState::Deprecated as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
        Ok(DeprecateNamespaceResponse {})
    }

    fn check_cluster_name(&self, name: &str) -> Result<(), ServiceError> {
        if name.is_empty() || name == &*self.cluster_name {
            Ok(())
        } else {
            Err(ServiceError::invalid(format!("Invalid cluster name: {name}")))
        }
    }

    /// The public view of a stored namespace.
    pub fn describe_record(&self, record: &NamespaceRecord) -> DescribeNamespaceResponse {
        let detail = &record.detail;
        let mut info = detail.info.clone().unwrap_or_default();
        info.name = record.name.clone();
        info.id = record.id.clone();
        if info.state == NamespaceState::Unspecified as i32 {
            info.state = NamespaceState::Registered as i32;
        }
        let standalone = self.dynamic_config.get(
            &sundial_dynconfig::keys::ACTIVITY_ENABLE_STANDALONE,
            &sundial_dynconfig::Scope::namespace(&record.name).with_namespace_id(&record.id),
        );
        // Only what Sundial implements is advertised; the rest stays false.
        info.capabilities = Some(namespace_info::Capabilities {
            // Workflow updates: waiting for COMPLETED, and returning at ACCEPTED.
            sync_update: true,
            async_update: true,
            eager_workflow_start: self.dynamic_config.get(
                &sundial_dynconfig::keys::ENABLE_EAGER_WORKFLOW_START,
                &sundial_dynconfig::Scope::namespace(&record.name).with_namespace_id(&record.id),
            ),
            // ShutdownWorker ends the worker's outstanding polls (SDKs then wait for them).
            worker_poll_complete_on_shutdown: self.dynamic_config.get(
                &sundial_dynconfig::keys::FRONTEND_ENABLE_CANCEL_WORKER_POLLS_ON_SHUTDOWN,
                &sundial_dynconfig::Scope::namespace(&record.name).with_namespace_id(&record.id),
            ),
            // RecordWorkerHeartbeat is kept and listed (ListWorkers, DescribeWorker).
            worker_heartbeats: true,
            // StartActivityExecution and its family, start delay included.
            standalone_activities: standalone,
            standalone_activity_start_delay: standalone,
            standalone_activity_operator_commands: standalone
                && self.dynamic_config.get(
                    &sundial_dynconfig::keys::HISTORY_ENABLE_STANDALONE_ACTIVITY_OPERATOR_COMMANDS,
                    &sundial_dynconfig::Scope::namespace(&record.name).with_namespace_id(&record.id),
                ),
            ..Default::default()
        });
        info.limits = Some(namespace_info::Limits {
            blob_size_limit_error: 2 * 1024 * 1024,
            memo_size_limit_error: 2 * 1024 * 1024,
            ..Default::default()
        });
        info.supports_schedules = true;
        let mut config = detail.config.clone().unwrap_or_default();
        config.bad_binaries.get_or_insert_with(BadBinaries::default);
        config.custom_search_attribute_aliases = detail
            .search_attribute_columns
            .iter()
            .map(|(name, column)| (column.clone(), name.clone()))
            .collect();
        DescribeNamespaceResponse {
            namespace_info: Some(info),
            config: Some(config),
            replication_config: Some(NamespaceReplicationConfig {
                active_cluster_name: self.cluster_name.to_string(),
                clusters: vec![ClusterReplicationConfig {
                    cluster_name: self.cluster_name.to_string(),
                    ..Default::default()
                }],
                state: detail.replication_state,
            }),
            failover_version: 0,
            is_global_namespace: record.is_global,
            ..Default::default()
        }
    }
}

fn apply_update(detail: &mut NamespaceDetail, req: &UpdateNamespaceRequest, retention: Option<PbDuration>) {
    let info = detail.info.get_or_insert_with(Default::default);
    if let Some(u) = &req.update_info {
        // Temporal treats empty strings as "not set": they never clear a field.
        if !u.description.is_empty() {
            info.description = u.description.clone();
        }
        if !u.owner_email.is_empty() {
            info.owner_email = u.owner_email.clone();
        }
        info.data.extend(u.data.iter().map(|(k, v)| (k.clone(), v.clone())));
        if u.state != NamespaceState::Unspecified as i32 {
            info.state = u.state;
        }
    }
    let config = detail.config.get_or_insert_with(Default::default);
    if let Some(r) = retention {
        config.workflow_execution_retention_ttl = Some(r);
    }
    if let Some(bad) = req.config.as_ref().and_then(|c| c.bad_binaries.as_ref()) {
        let existing = config.bad_binaries.get_or_insert_with(BadBinaries::default);
        for (checksum, info) in &bad.binaries {
            let mut info = info.clone();
            info.create_time = Some(time::now_timestamp());
            existing.binaries.insert(checksum.clone(), info);
        }
    }
    if !req.delete_bad_binary.is_empty()
        && let Some(existing) = config.bad_binaries.as_mut()
    {
        existing.binaries.remove(&req.delete_bad_binary);
    }
    detail.updated_time = Some(time::now_timestamp());
}

fn check_name_length(name: &str) -> Result<(), ServiceError> {
    if name.len() > MAX_NAME_LENGTH {
        return Err(ServiceError::invalid("Namespace length exceeds limit."));
    }
    Ok(())
}

/// Empty and overlong names get Temporal's messages. Temporal itself accepts any characters;
/// we refuse names that break tools downstream (spaces, slashes, control and non-ASCII
/// characters end up in gRPC headers, URLs and metric labels).
pub(crate) fn validate_name(name: &str) -> Result<(), ServiceError> {
    if name.is_empty() {
        return Err(ServiceError::invalid("Namespace not set on request."));
    }
    check_name_length(name)?;
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !first_ok || !rest_ok {
        return Err(ServiceError::invalid(format!(
            "Namespace name {name:?} is invalid: use ASCII letters, digits, '-', '_' and '.', starting with a letter or digit."
        )));
    }
    Ok(())
}

fn validate_retention(retention: Option<&PbDuration>, min: std::time::Duration) -> Result<PbDuration, ServiceError> {
    let invalid = || ServiceError::invalid("A valid retention period is not set on request.");
    let r = retention.ok_or_else(invalid)?;
    let too_short = time::duration_from_pb(r).is_none_or(|d| d < min);
    if r.nanos < 0 || too_short {
        return Err(invalid());
    }
    if r.seconds >= MAX_RETENTION_SECS {
        return Ok(PbDuration {
            seconds: MAX_RETENTION_SECS,
            nanos: 0,
        });
    }
    Ok(*r)
}

/// Accepts the UUID spellings Temporal's Go parser accepts and returns the canonical form.
fn parse_namespace_id(id: &str) -> Result<String, ServiceError> {
    uuid::Uuid::try_parse(id)
        .map(|u| u.hyphenated().to_string())
        .map_err(|e| ServiceError::invalid(format!("Invalid namespace id {id:?}: {e}")))
}

/// A namespace the server makes sure exists at start-up.
pub struct SystemNamespace<'a> {
    pub name: &'a str,
    /// Fixed id, or `None` for a fresh random one.
    pub id: Option<&'a str>,
    pub description: &'a str,
    pub owner_email: &'a str,
    pub retention_secs: i64,
}

/// Creates `ns` unless a namespace of that name exists; safe to call on every start and from
/// several processes at once.
pub async fn ensure_namespace(registry: &NamespaceRegistry, ns: &SystemNamespace<'_>) -> Result<(), ServiceError> {
    if registry.store().get_namespace_by_name(ns.name).await?.is_some() {
        return Ok(());
    }
    let detail = NamespaceDetail {
        info: Some(NamespaceInfo {
            name: ns.name.to_owned(),
            state: NamespaceState::Registered as i32,
            description: ns.description.to_owned(),
            owner_email: ns.owner_email.to_owned(),
            ..Default::default()
        }),
        config: Some(NamespaceConfig {
            workflow_execution_retention_ttl: Some(PbDuration {
                seconds: ns.retention_secs,
                nanos: 0,
            }),
            bad_binaries: Some(BadBinaries::default()),
            history_archival_state: ArchivalState::Disabled as i32,
            visibility_archival_state: ArchivalState::Disabled as i32,
            ..Default::default()
        }),
        created_time: Some(time::now_timestamp()),
        ..Default::default()
    };
    let id = ns.id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    match registry.store().create_namespace(&id, ns.name, &detail).await {
        Ok(record) => {
            registry.insert(record);
            Ok(())
        }
        Err(PersistenceError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("order-service").is_ok());
        assert!(validate_name("Team_1.prod").is_ok());
        for bad in ["", "bad name!", "a/b", "-lead", "héllo", " x"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_name(&"a".repeat(1000)).is_ok());
        assert!(validate_name(&"a".repeat(1001)).is_err());
    }

    #[test]
    fn retention_bounds_match_temporal() {
        let d = |seconds, nanos| PbDuration { seconds, nanos };
        let hour = std::time::Duration::from_secs(3600);
        let check = |r: Option<&PbDuration>| validate_retention(r, hour);
        assert!(check(None).is_err());
        assert!(check(Some(&d(3599, 999_999_999))).is_err());
        assert!(check(Some(&d(-86400, 0))).is_err());
        assert_eq!(check(Some(&d(3600, 0))).ok(), Some(d(3600, 0)));
        assert_eq!(check(Some(&d(86400, 500_000_000))).ok(), Some(d(86400, 500_000_000)));
        assert_eq!(check(Some(&d(i64::MAX, 0))).ok(), Some(d(MAX_RETENTION_SECS, 0)));
        // system.namespaceMinRetentionLocal lowers the floor.
        let second = std::time::Duration::from_secs(1);
        assert_eq!(validate_retention(Some(&d(2, 0)), second).ok(), Some(d(2, 0)));
        assert!(validate_retention(Some(&d(0, 999_999_999)), second).is_err());
    }

    #[test]
    fn namespace_ids_are_canonicalised() {
        let id = "3ACC6698-DDC6-4AC4-8B6E-C19D5A08A52F";
        assert_eq!(
            parse_namespace_id(id).ok().as_deref(),
            Some("3acc6698-ddc6-4ac4-8b6e-c19d5a08a52f")
        );
        assert!(parse_namespace_id("not-a-uuid").is_err());
    }
}
