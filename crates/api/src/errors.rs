//! Builds `tonic::Status` values that carry a `google.rpc.Status` with the
//! `temporal.api.errordetails.v1` detail an SDK or the CLI decodes.

use prost::Message;
use temporalio_protos::google::rpc::Status as RpcStatus;
use temporalio_protos::temporal::api::errordetails::v1 as details;
use tonic::Code;

/// A Temporal error-detail message and its `Any` type URL.
pub trait ErrorDetail: Message + Sized {
    const TYPE_NAME: &'static str;
}

macro_rules! detail {
    ($($ty:ident),* $(,)?) => {
        $(impl ErrorDetail for details::$ty {
            const TYPE_NAME: &'static str = concat!("temporal.api.errordetails.v1.", stringify!($ty));
        })*
    };
}

detail!(
    NotFoundFailure,
    WorkflowExecutionAlreadyStartedFailure,
    NamespaceNotActiveFailure,
    NamespaceUnavailableFailure,
    NamespaceInvalidStateFailure,
    NamespaceNotFoundFailure,
    NamespaceAlreadyExistsFailure,
    ClientVersionNotSupportedFailure,
    ServerVersionNotSupportedFailure,
    CancellationAlreadyRequestedFailure,
    QueryFailedFailure,
    PermissionDeniedFailure,
    ResourceExhaustedFailure,
    SystemWorkflowFailure,
    WorkflowNotReadyFailure,
    NewerBuildExistsFailure,
    MultiOperationExecutionFailure,
    ActivityExecutionAlreadyStartedFailure,
    NexusOperationExecutionAlreadyStartedFailure,
);

/// A status with `detail` packed as the first `google.rpc.Status` detail, the way Temporal's
/// frontend sends it (`grpc-status-details-bin`).
pub fn status_with_detail<D: ErrorDetail>(code: Code, message: impl Into<String>, detail: &D) -> tonic::Status {
    let message = message.into();
    let rpc = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_wkt_types::Any {
            type_url: format!("type.googleapis.com/{}", D::TYPE_NAME),
            value: detail.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(code, message, rpc.encode_to_vec().into())
}

/// Decodes the first detail of a status if it is of type `D` (used by tests and tctl).
pub fn detail_of<D: ErrorDetail + Default>(status: &tonic::Status) -> Option<D> {
    let rpc = RpcStatus::decode(status.details()).ok()?;
    let any = rpc.details.first()?;
    if any.type_url.rsplit('/').next()? != D::TYPE_NAME {
        return None;
    }
    D::decode(any.value.as_slice()).ok()
}
