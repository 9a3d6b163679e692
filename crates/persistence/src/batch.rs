//! Batch operations: one row per job holding the request and the job's progress, changed
//! only by compare-and-set on `version` (the frontend stops jobs, the system worker advances
//! them).

use crate::Result;
use async_trait::async_trait;
use sundial_api::sundial::persistence::v1::BatchRecord;

#[derive(Clone, Debug, PartialEq)]
pub struct BatchRow {
    pub namespace_id: String,
    pub job_id: String,
    pub version: i64,
    /// When the system worker should next work on the job (Unix nanoseconds); `i64::MAX`
    /// once it finished.
    pub next_wake: i64,
    /// When the job was started (Unix nanoseconds): the listing order.
    pub start_time: i64,
    pub record: BatchRecord,
}

#[async_trait]
pub trait BatchStore: Send + Sync {
    /// Inserts a new job with `version` 1; `AlreadyExists` if the job id is taken.
    async fn create_batch(&self, row: &BatchRow) -> Result<()>;

    async fn get_batch(&self, namespace_id: &str, job_id: &str) -> Result<Option<BatchRow>>;

    /// Replaces the row if its stored version is still `row.version`, writing `row.version + 1`;
    /// `ConditionFailed` otherwise.
    async fn update_batch(&self, row: &BatchRow) -> Result<()>;

    /// A namespace's jobs, newest first, after the (start time, job id) `after`, at most `limit`.
    async fn list_batches(&self, namespace_id: &str, after: Option<(i64, &str)>, limit: usize)
    -> Result<Vec<BatchRow>>;

    /// (namespace id, job id) of jobs whose wake-up time has passed, at most `limit`.
    async fn due_batches(&self, now: i64, limit: usize) -> Result<Vec<(String, String)>>;
}
