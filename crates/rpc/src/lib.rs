//! Clients for the internal services. Roles never call one another except through these, so
//! one process (start-dev) and one process per role (cluster) run the same code.

use std::time::Duration;
use sundial_api::sundial::historyservice::v1::history_service_client::HistoryServiceClient;
use sundial_api::sundial::matchingservice::v1::matching_service_client::MatchingServiceClient;
use tonic::transport::{Channel, Endpoint};

/// Internal messages can be far larger than public ones (whole histories), as in Temporal.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The configured address is not a valid endpoint; fix the configuration.
    #[error("invalid address {address}: {reason}")]
    InvalidAddress { address: String, reason: String },
}

fn channel(address: &str) -> Result<Channel, RpcError> {
    let uri = if address.starts_with("http://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|e| RpcError::InvalidAddress {
        address: address.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(endpoint
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .connect_lazy())
}

pub type HistoryClient = HistoryServiceClient<Channel>;
pub type MatchingClient = MatchingServiceClient<Channel>;

/// A client for the history service at `address` (connects on first use).
pub fn history_client(address: &str) -> Result<HistoryClient, RpcError> {
    Ok(HistoryServiceClient::new(channel(address)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A client for the matching service at `address` (connects on first use).
pub fn matching_client(address: &str) -> Result<MatchingClient, RpcError> {
    Ok(MatchingServiceClient::new(channel(address)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// How a caller should treat a failed internal call.
pub fn is_retryable(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::ResourceExhausted
            | tonic::Code::Aborted
    )
}
