//! Nexus endpoints: cluster-wide rows the operator API creates, updates and deletes, and that
//! history reads by name when a workflow schedules a Nexus operation.

use crate::Result;
use async_trait::async_trait;
use sundial_api::sundial::persistence::v1::NexusEndpointRecord;

#[derive(Clone, Debug, PartialEq)]
pub struct NexusEndpointRow {
    pub id: String,
    /// 1 when created, bumped by every update.
    pub version: i64,
    pub record: NexusEndpointRecord,
}

#[async_trait]
pub trait NexusEndpointStore: Send + Sync {
    /// Inserts `record` under `id` with version 1; `AlreadyExists` when the name (or id) is taken.
    async fn create_nexus_endpoint(&self, id: &str, record: &NexusEndpointRecord) -> Result<NexusEndpointRow>;

    /// Replaces the endpoint if its version is still `expected_version`, and returns it with the
    /// next version; `ConditionFailed` otherwise (or when it is gone), `AlreadyExists` when the
    /// new name belongs to another endpoint.
    async fn update_nexus_endpoint(
        &self,
        id: &str,
        expected_version: i64,
        record: &NexusEndpointRecord,
    ) -> Result<NexusEndpointRow>;

    /// Removes the endpoint; false when there was none.
    async fn delete_nexus_endpoint(&self, id: &str) -> Result<bool>;

    async fn get_nexus_endpoint(&self, id: &str) -> Result<Option<NexusEndpointRow>>;

    async fn get_nexus_endpoint_by_name(&self, name: &str) -> Result<Option<NexusEndpointRow>>;

    /// Endpoints ordered by id, after `after_id` (exclusive; empty for the start), at most `limit`.
    async fn list_nexus_endpoints(&self, after_id: &str, limit: usize) -> Result<Vec<NexusEndpointRow>>;
}
