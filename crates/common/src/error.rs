//! `ServiceError`: what handlers return. It becomes a `tonic::Status` carrying the
//! `temporal.api.errordetails.v1` detail Temporal sends for the same condition, in one place.

use sundial_api::errors::{detail_of, status_with_detail};
use sundial_api::temporal::errordetails::v1 as details;
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; retrying it unchanged fails again.
    #[error("{0}")]
    InvalidArgument(String),
    /// The named namespace does not exist (by name or id).
    #[error("Namespace {namespace} is not found.")]
    NamespaceNotFound { namespace: String },
    /// Registration of a name that is taken.
    #[error("Namespace \"{namespace}\" already exists")]
    NamespaceAlreadyExists { namespace: String },
    /// A start found a run of the workflow id that the id policies forbid replacing.
    #[error("{message}")]
    WorkflowAlreadyStarted {
        message: String,
        start_request_id: String,
        run_id: String,
    },
    /// A standalone activity start found a run of the activity id that the id policies forbid
    /// replacing.
    #[error("activity execution already started")]
    ActivityAlreadyStarted { start_request_id: String, run_id: String },
    /// A standalone Nexus operation start found a run of the operation id that the id policies
    /// forbid replacing.
    #[error("nexus operation execution already started")]
    NexusOperationAlreadyStarted { start_request_id: String, run_id: String },
    /// The worker answered a query with a failure.
    #[error("{message}")]
    QueryFailed {
        message: String,
        failure: Option<Box<sundial_api::temporal::failure::v1::Failure>>,
    },
    /// The namespace's state forbids the call (a start in a deprecated namespace).
    #[error("Namespace has invalid state: {}. Must be {}.", state_name(*state), allowed.iter().map(|s| state_name(*s)).collect::<Vec<_>>().join(" or "))]
    NamespaceInvalidState {
        namespace: String,
        state: i32,
        allowed: Vec<i32>,
    },
    /// Some other entity is missing.
    #[error("{0}")]
    NotFound(String),
    /// Some other entity that must be unique exists already (a Nexus endpoint's name).
    #[error("{0}")]
    AlreadyExists(String),
    /// A limit was hit; retryable after backing off.
    #[error("{message}")]
    ResourceExhausted { message: String, cause: i32, scope: i32 },
    /// A precondition on server state failed.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A transient failure (database unreachable, ownership moving); retryable.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected storage failure; details are logged, not returned.
    #[error("{0}")]
    Internal(String),
}

/// A namespace state as Temporal's messages name it ("Registered", "Deprecated", "Deleted").
fn state_name(state: i32) -> &'static str {
    use sundial_api::temporal::enums::v1::NamespaceState;
    match NamespaceState::try_from(state) {
        Ok(NamespaceState::Registered) => "Registered",
        Ok(NamespaceState::Deprecated) => "Deprecated",
        Ok(NamespaceState::Deleted) => "Deleted",
        _ => "Unspecified",
    }
}

impl ServiceError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Status {
        let message = err.to_string();
        match err {
            ServiceError::InvalidArgument(_) => Status::invalid_argument(message),
            ServiceError::NamespaceNotFound { namespace } => status_with_detail(
                Code::NotFound,
                message,
                &details::NamespaceNotFoundFailure { namespace },
            ),
            ServiceError::NamespaceAlreadyExists { .. } => {
                status_with_detail(Code::AlreadyExists, message, &details::NamespaceAlreadyExistsFailure {})
            }
            ServiceError::WorkflowAlreadyStarted {
                start_request_id,
                run_id,
                ..
            } => status_with_detail(
                Code::AlreadyExists,
                message,
                &details::WorkflowExecutionAlreadyStartedFailure {
                    start_request_id,
                    first_execution_run_id: run_id.clone(),
                    run_id,
                },
            ),
            ServiceError::ActivityAlreadyStarted {
                start_request_id,
                run_id,
            } => status_with_detail(
                Code::AlreadyExists,
                message,
                &details::ActivityExecutionAlreadyStartedFailure {
                    start_request_id,
                    run_id,
                },
            ),
            ServiceError::NexusOperationAlreadyStarted {
                start_request_id,
                run_id,
            } => status_with_detail(
                Code::AlreadyExists,
                message,
                &details::NexusOperationExecutionAlreadyStartedFailure {
                    start_request_id,
                    run_id,
                },
            ),
            ServiceError::QueryFailed { failure, .. } => status_with_detail(
                Code::InvalidArgument,
                message,
                &details::QueryFailedFailure {
                    failure: failure.map(|f| *f),
                },
            ),
            ServiceError::NamespaceInvalidState {
                namespace,
                state,
                allowed,
            } => status_with_detail(
                Code::FailedPrecondition,
                message,
                &details::NamespaceInvalidStateFailure {
                    namespace,
                    state,
                    allowed_states: allowed,
                },
            ),
            ServiceError::NotFound(_) => {
                status_with_detail(Code::NotFound, message, &details::NotFoundFailure::default())
            }
            ServiceError::ResourceExhausted { cause, scope, .. } => status_with_detail(
                Code::ResourceExhausted,
                message,
                &details::ResourceExhaustedFailure { cause, scope },
            ),
            ServiceError::AlreadyExists(_) => Status::already_exists(message),
            ServiceError::FailedPrecondition(_) => Status::failed_precondition(message),
            ServiceError::Unavailable(_) => Status::unavailable(message),
            ServiceError::Internal(_) => Status::internal(message),
        }
    }
}

impl ServiceError {
    /// The error a peer's status stands for: the inverse of `From<ServiceError> for Status`,
    /// for calls one role forwards to another and whose outcome it acts on (a child already
    /// started, a workflow not found). Transport failures are `Unavailable`.
    pub fn from_status(status: &Status) -> ServiceError {
        let message = status.message().to_owned();
        match status.code() {
            Code::InvalidArgument => match detail_of::<details::QueryFailedFailure>(status) {
                Some(d) => ServiceError::QueryFailed {
                    message,
                    failure: d.failure.map(Box::new),
                },
                None => ServiceError::InvalidArgument(message),
            },
            Code::NotFound => match detail_of::<details::NamespaceNotFoundFailure>(status) {
                Some(d) => ServiceError::NamespaceNotFound { namespace: d.namespace },
                None => ServiceError::NotFound(message),
            },
            Code::AlreadyExists => {
                if let Some(d) = detail_of::<details::WorkflowExecutionAlreadyStartedFailure>(status) {
                    ServiceError::WorkflowAlreadyStarted {
                        message,
                        start_request_id: d.start_request_id,
                        run_id: d.run_id,
                    }
                } else if let Some(d) = detail_of::<details::ActivityExecutionAlreadyStartedFailure>(status) {
                    ServiceError::ActivityAlreadyStarted {
                        start_request_id: d.start_request_id,
                        run_id: d.run_id,
                    }
                } else if let Some(d) = detail_of::<details::NexusOperationExecutionAlreadyStartedFailure>(status) {
                    ServiceError::NexusOperationAlreadyStarted {
                        start_request_id: d.start_request_id,
                        run_id: d.run_id,
                    }
                } else if detail_of::<details::NamespaceAlreadyExistsFailure>(status).is_some() {
                    ServiceError::NamespaceAlreadyExists {
                        namespace: String::new(),
                    }
                } else {
                    ServiceError::AlreadyExists(message)
                }
            }
            Code::ResourceExhausted => {
                let d = detail_of::<details::ResourceExhaustedFailure>(status).unwrap_or_default();
                ServiceError::ResourceExhausted {
                    message,
                    cause: d.cause,
                    scope: d.scope,
                }
            }
            Code::FailedPrecondition => match detail_of::<details::NamespaceInvalidStateFailure>(status) {
                Some(d) => ServiceError::NamespaceInvalidState {
                    namespace: d.namespace,
                    state: d.state,
                    allowed: d.allowed_states,
                },
                None => ServiceError::FailedPrecondition(message),
            },
            _ => ServiceError::Unavailable(message),
        }
    }
}

#[cfg(test)]
mod from_status_tests {
    use super::*;

    #[test]
    fn statuses_map_back_to_the_errors_they_came_from() {
        let started = ServiceError::WorkflowAlreadyStarted {
            message: "started".into(),
            start_request_id: "r".into(),
            run_id: "run".into(),
        };
        for err in [
            started,
            ServiceError::ActivityAlreadyStarted {
                start_request_id: "r".into(),
                run_id: "run".into(),
            },
            ServiceError::NotFound("gone".into()),
            ServiceError::NamespaceNotFound { namespace: "ns".into() },
            ServiceError::InvalidArgument("bad".into()),
            ServiceError::FailedPrecondition("no".into()),
            ServiceError::NamespaceInvalidState {
                namespace: "ns".into(),
                state: 2,
                allowed: vec![1],
            },
        ] {
            let expected = format!("{err:?}");
            let back = ServiceError::from_status(&Status::from(err));
            assert_eq!(format!("{back:?}"), expected);
        }
        let deprecated = ServiceError::NamespaceInvalidState {
            namespace: "ns".into(),
            state: 2,
            allowed: vec![1, 2],
        };
        assert_eq!(
            deprecated.to_string(),
            "Namespace has invalid state: Deprecated. Must be Registered or Deprecated."
        );
        assert!(matches!(
            ServiceError::from_status(&Status::internal("boom")),
            ServiceError::Unavailable(_)
        ));
    }
}
