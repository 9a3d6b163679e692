//! Shared building blocks for every role: time conversions, names of system entities, and
//! `ServiceError`, the error every handler returns before it becomes a `tonic::Status`.

pub mod error;
pub mod time;

pub use error::ServiceError;

/// The namespace Temporal creates for its own system workflows.
pub const SYSTEM_NAMESPACE: &str = "temporal-system";
/// The system namespace's fixed id (the same as Temporal's, so tools that look for it agree).
pub const SYSTEM_NAMESPACE_ID: &str = "32049b68-7872-4094-8e63-d0dd59896a83";
/// Default cluster name, as Temporal's dev server and docker image call it.
pub const DEFAULT_CLUSTER_NAME: &str = "active";
/// Sundial's version; reported as the server version.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");
