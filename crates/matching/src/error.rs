//! Errors of the matching engine and their one mapping to `tonic::Status`.

use sundial_common::ServiceError;
use sundial_persistence::PersistenceError;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum MatchingError {
    /// The request is malformed; retrying it unchanged fails again.
    #[error("{0}")]
    InvalidArgument(String),
    /// No worker polled the sticky queue recently; history retries on the normal queue.
    #[error("StickyWorkerUnavailable: no poller seen on sticky task queue {task_queue} recently")]
    StickyWorkerUnavailable { task_queue: String },
    /// No worker took the query task in time; retryable once a worker polls.
    #[error("query was not picked up by a worker of task queue {task_queue} within {waited_ms} ms")]
    QueryNotPickedUp { task_queue: String, waited_ms: u128 },
    /// A worker took the query task but did not answer in time.
    #[error("query task {query_task_id} was not answered by the worker within {waited_ms} ms")]
    QueryNotAnswered { query_task_id: String, waited_ms: u128 },
    /// The query task id is unknown: answered already, timed out, or never issued.
    #[error("query task {0} not found (it may have timed out)")]
    QueryNotFound(String),
    /// The Nexus task id is unknown: answered already, timed out, or never issued.
    #[error("Nexus task not found or already expired")]
    NexusTaskNotFound,
    /// The membership ring gives the queue to another matching host (or to none yet); the
    /// caller retries once its own ring agrees.
    #[error("task queue {task_queue} belongs to matching host {owner}, not this one")]
    NotOwner { task_queue: String, owner: String },
    /// The engine is stopping; the caller should retry against the next owner.
    #[error("matching engine is shutting down")]
    ShuttingDown,
    /// A storage failure (including a lost partition lease); usually retryable.
    #[error(transparent)]
    Persistence(#[from] PersistenceError),
    /// History refused or failed a call; passed through as is.
    #[error("history: {0}")]
    History(Status),
    /// Another matching host (the owner of a parent or child partition) failed a call.
    #[error("matching peer: {0}")]
    Peer(Status),
}

impl From<MatchingError> for Status {
    fn from(err: MatchingError) -> Status {
        match err {
            MatchingError::InvalidArgument(m) => Status::invalid_argument(m),
            e @ MatchingError::StickyWorkerUnavailable { .. } => Status::failed_precondition(e.to_string()),
            e @ (MatchingError::QueryNotPickedUp { .. } | MatchingError::QueryNotAnswered { .. }) => {
                Status::deadline_exceeded(e.to_string())
            }
            e @ (MatchingError::QueryNotFound(_) | MatchingError::NexusTaskNotFound) => {
                Status::not_found(e.to_string())
            }
            e @ (MatchingError::ShuttingDown | MatchingError::NotOwner { .. }) => Status::unavailable(e.to_string()),
            MatchingError::Persistence(e) => ServiceError::from(e).into(),
            MatchingError::History(status) | MatchingError::Peer(status) => status,
        }
    }
}
