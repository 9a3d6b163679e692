//! The store traits. Role crates see only these; `SqlStore` implements all of them.

use crate::Result;
use async_trait::async_trait;
use sundial_api::sundial::persistence::v1::{ClusterMetadata, NamespaceDetail, ShardInfo};

/// One namespace row.
#[derive(Clone, Debug, PartialEq)]
pub struct NamespaceRecord {
    pub id: String,
    pub name: String,
    /// Bumped on every change; the compare-and-set guard for updates.
    pub notification_version: i64,
    pub is_global: bool,
    pub detail: NamespaceDetail,
}

/// A page of namespaces and the token for the next one (empty when done).
#[derive(Debug)]
pub struct NamespacePage {
    pub namespaces: Vec<NamespaceRecord>,
    pub next_page_token: Vec<u8>,
}

#[async_trait]
pub trait NamespaceStore: Send + Sync {
    /// Inserts a namespace; `AlreadyExists` when the name (or id) is taken.
    async fn create_namespace(&self, id: &str, name: &str, detail: &NamespaceDetail) -> Result<NamespaceRecord>;
    async fn get_namespace_by_name(&self, name: &str) -> Result<Option<NamespaceRecord>>;
    async fn get_namespace_by_id(&self, id: &str) -> Result<Option<NamespaceRecord>>;
    /// Replaces the detail if the row still has `expected_version`; returns the new record.
    /// `ConditionFailed` when someone else changed it first.
    async fn update_namespace(
        &self,
        id: &str,
        expected_version: i64,
        detail: &NamespaceDetail,
    ) -> Result<NamespaceRecord>;
    /// Like `update_namespace`, renaming the namespace too (DeleteNamespace frees its name);
    /// `AlreadyExists` when the new name is taken.
    async fn rename_namespace(
        &self,
        id: &str,
        expected_version: i64,
        new_name: &str,
        detail: &NamespaceDetail,
    ) -> Result<NamespaceRecord>;
    /// Removes the namespace row (the last step of deleting a namespace).
    async fn delete_namespace(&self, id: &str) -> Result<()>;
    /// Namespaces ordered by id, `page_size` at a time, resuming after `token`. A full page
    /// always returns a token (the last id), as Temporal does.
    async fn list_namespaces(&self, page_size: usize, token: &[u8]) -> Result<NamespacePage>;
    /// The global notification version: it changes whenever any namespace changes.
    async fn namespace_notification_version(&self) -> Result<i64>;
}

/// A process of the cluster as recorded in `cluster_membership`.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberRecord {
    pub host_id: String,
    pub rpc_address: String,
    pub rpc_port: i32,
    pub role: Role,
    pub session_start: i64,
    pub last_heartbeat: i64,
    pub record_expiry: i64,
}

/// Service roles, numbered as in Temporal's `cluster_membership` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Frontend = 1,
    History = 2,
    Matching = 3,
    Worker = 4,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Frontend, Role::History, Role::Matching, Role::Worker];

    pub fn from_i32(v: i32) -> Option<Role> {
        Self::ALL.into_iter().find(|r| *r as i32 == v)
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Frontend => "frontend",
            Role::History => "history",
            Role::Matching => "matching",
            Role::Worker => "worker",
        }
    }
}

#[async_trait]
pub trait ClusterStore: Send + Sync {
    /// Writes `proposed` if no metadata exists for its cluster name, and returns what is stored:
    /// once a cluster is created its recorded values (e.g. the shard count) win.
    async fn init_cluster_metadata(&self, proposed: &ClusterMetadata) -> Result<ClusterMetadata>;
    async fn get_cluster_metadata(&self, cluster_name: &str) -> Result<Option<ClusterMetadata>>;
    /// The cluster's secret called `name`: `proposed` if none was stored yet, else the stored
    /// one (every process of the cluster gets the same value).
    async fn cluster_secret(&self, name: &str, proposed: &str) -> Result<String>;
    /// Inserts or refreshes this host's membership row, and prunes expired rows.
    async fn upsert_member(&self, member: &MemberRecord) -> Result<()>;
    /// Members whose last heartbeat is at or after `since` (nanoseconds).
    async fn list_members(&self, role: Option<Role>, since: i64) -> Result<Vec<MemberRecord>>;
    /// Removes a host's row (it is leaving: peers drop it at their next refresh).
    async fn remove_member(&self, host_id: &str) -> Result<()>;
}

/// A shard row: the lease (`range_id`) and its checkpointed info.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardRecord {
    pub shard_id: i32,
    pub range_id: i64,
    pub info: ShardInfo,
}

#[async_trait]
pub trait ShardStore: Send + Sync {
    /// Reads the shard, creating it with `range_id` 0 on first use.
    async fn get_or_create_shard(&self, shard_id: i32) -> Result<ShardRecord>;
    /// Every shard's current `range_id`, by shard id (shards never used have none): how an
    /// owner learns that another took its lease without having to write.
    async fn list_shard_range_ids(&self) -> Result<Vec<(i32, i64)>>;
    /// Writes `record` only if the stored `range_id` is still `previous_range_id`; otherwise
    /// `ShardOwnershipLost`. Taking ownership is this call with `range_id` bumped by one.
    async fn update_shard(&self, record: &ShardRecord, previous_range_id: i64) -> Result<()>;
}

/// Every store a role may need, as one object.
pub trait Store:
    NamespaceStore
    + ClusterStore
    + ShardStore
    + crate::ExecutionStore
    + crate::VisibilityStore
    + crate::ScheduleStore
    + crate::BatchStore
    + crate::ScavengeStore
    + crate::NexusEndpointStore
{
}
impl<
    T: NamespaceStore
        + ClusterStore
        + ShardStore
        + crate::ExecutionStore
        + crate::VisibilityStore
        + crate::ScheduleStore
        + crate::BatchStore
        + crate::ScavengeStore
        + crate::NexusEndpointStore,
> Store for T
{
}
