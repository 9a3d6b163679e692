//! Errors at the persistence boundary.

#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    /// A row that must be unique exists already; not retryable.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// Creating a run found another current run for the workflow id (or not the expected one).
    #[error("workflow id already has current run {run_id}")]
    CurrentExecutionExists {
        run_id: String,
        create_request_id: String,
        status: i32,
        start_time: i64,
    },
    /// A compare-and-set guard (version, notification version) did not match; reload and retry.
    #[error("condition failed: {0}")]
    ConditionFailed(String),
    /// The caller's `range_id` lease on a shard is stale: another owner took it. Not retryable
    /// by this owner.
    #[error("shard {shard_id} ownership lost: expected range_id {expected}, found {actual}")]
    ShardOwnershipLost { shard_id: i32, expected: i64, actual: i64 },
    /// The caller's `range_id` lease on a task-queue partition is stale: another matching owner
    /// took it. Not retryable by this owner; unload the partition and lease it again.
    #[error("task queue {task_queue} ownership lost: expected range_id {expected}, found {actual}")]
    TaskQueueOwnershipLost {
        task_queue: String,
        expected: i64,
        actual: i64,
    },
    /// Another matching host holds the partition's lease and is still live; retry once the
    /// membership rings agree (it releases what it no longer owns, or dies and times out).
    #[error("task queue {task_queue} is owned by live matching host {owner}")]
    TaskQueueOwned { task_queue: String, owner: String },
    /// A stored blob could not be decoded; data corruption or a downgrade.
    #[error("corrupt {what}: {reason}")]
    Corrupt { what: &'static str, reason: String },
    /// The database could not be reached or failed the statement; usually retryable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database did not answer within the store's operation timeout (a network cut, say);
    /// whether a write took effect is unknown, as with any lost connection. Retryable.
    #[error("database operation timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The database failed a group commit this write was part of (the first error, as text).
    #[error("database error: {0}")]
    Unavailable(String),
    /// A migration file could not be applied.
    #[error("schema migration {version} failed: {reason}")]
    Migration { version: i64, reason: String },
}

impl PersistenceError {
    pub(crate) fn corrupt(what: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what,
            reason: err.to_string(),
        }
    }
}

impl From<PersistenceError> for sundial_common::ServiceError {
    fn from(err: PersistenceError) -> Self {
        match err {
            PersistenceError::Database(e) => {
                tracing::warn!(error = %e, "database error");
                Self::Unavailable(format!("persistence unavailable: {e}"))
            }
            PersistenceError::ShardOwnershipLost { .. }
            | PersistenceError::TaskQueueOwnershipLost { .. }
            | PersistenceError::TaskQueueOwned { .. }
            | PersistenceError::Timeout(_)
            | PersistenceError::Unavailable(_) => Self::Unavailable(err.to_string()),
            other => {
                tracing::error!(error = %other, "persistence failure");
                Self::Internal(other.to_string())
            }
        }
    }
}
