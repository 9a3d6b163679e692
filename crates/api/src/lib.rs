//! Generated gRPC code: Temporal's public services (server + client traits over the message
//! types of `temporalio-protos`) and Sundial's internal protos, plus error-detail helpers.

#![allow(clippy::all, clippy::unwrap_used, missing_docs)]

pub use prost;
pub use prost_wkt_types;
pub use temporalio_protos::google;
pub use temporalio_protos::temporal::api as temporal;

pub mod errors;

/// Public Temporal services, generated here (messages live in `temporalio-protos`).
pub mod workflowservice {
    pub mod v1 {
        pub use temporalio_protos::temporal::api::workflowservice::v1::*;
        tonic::include_proto!("temporal.api.workflowservice.v1");
    }
}

pub mod operatorservice {
    pub mod v1 {
        pub use temporalio_protos::temporal::api::operatorservice::v1::*;
        tonic::include_proto!("temporal.api.operatorservice.v1");
    }
}

/// Sundial's own protos (persistence blobs, internal services, the admin service, task tokens).
pub mod sundial {
    pub mod persistence {
        pub mod v1 {
            tonic::include_proto!("sundial.server.api.persistence.v1");
        }
    }
    pub mod token {
        pub mod v1 {
            tonic::include_proto!("sundial.server.api.token.v1");
        }
    }
    pub mod historyservice {
        pub mod v1 {
            tonic::include_proto!("sundial.server.api.historyservice.v1");
        }
    }
    pub mod matchingservice {
        pub mod v1 {
            tonic::include_proto!("sundial.server.api.matchingservice.v1");
        }
    }
    pub mod adminservice {
        pub mod v1 {
            tonic::include_proto!("sundial.server.api.adminservice.v1");
        }
    }
}
