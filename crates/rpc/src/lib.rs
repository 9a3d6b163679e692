//! Clients for the internal services. Roles never call one another except through these, so
//! one process (start-dev) and one process per role (cluster) run the same code. A router
//! picks the process that owns a call's key (the history shard of a workflow, the task queue
//! of a matching call) from the membership rings at the time of the call, so a peer that
//! restarted elsewhere, or a key that moved, is found without restarting the caller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sundial_api::sundial::historyservice::v1::history_service_client::HistoryServiceClient;
use sundial_api::sundial::matchingservice::v1::matching_service_client::MatchingServiceClient;
use sundial_membership::Rings;
use sundial_persistence::Role;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

/// Internal messages can be far larger than public ones (whole histories), as in Temporal.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The configured address is not a valid endpoint; fix the configuration.
    #[error("invalid address {address}: {reason}")]
    InvalidAddress { address: String, reason: String },
    /// No live process of the role is known (yet); retryable.
    #[error("no live {0} host in the cluster")]
    NoHost(&'static str),
}

impl From<RpcError> for tonic::Status {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::InvalidAddress { .. } => tonic::Status::internal(e.to_string()),
            RpcError::NoHost(_) => tonic::Status::unavailable(e.to_string()),
        }
    }
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

pub type FrontendClient = sundial_api::workflowservice::v1::workflow_service_client::WorkflowServiceClient<Channel>;

/// A client of a frontend's public WorkflowService at `address` (connects on first use), for
/// roles that act as Temporal clients (the system worker's jobs).
pub fn frontend_client(address: &str) -> Result<FrontendClient, RpcError> {
    Ok(FrontendClient::new(channel(address)?)
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

/// Where the hosts of a role come from: the membership rings, or one fixed address.
#[derive(Clone)]
enum Hosts {
    Rings(watch::Receiver<Rings>),
    Fixed(String),
}

impl Hosts {
    fn owner(&self, role: Role, key: &str) -> Result<String, RpcError> {
        match self {
            Hosts::Fixed(address) => Ok(address.clone()),
            Hosts::Rings(rings) => rings
                .borrow()
                .ring(role)
                .owner(key)
                .map(|h| h.address.clone())
                .ok_or(RpcError::NoHost(role.name())),
        }
    }
}

/// One client per peer address, made on first use and kept.
struct Clients<C> {
    by_address: Mutex<HashMap<String, C>>,
    make: fn(&str) -> Result<C, RpcError>,
}

impl<C: Clone> Clients<C> {
    fn new(make: fn(&str) -> Result<C, RpcError>) -> Self {
        Clients {
            by_address: Mutex::new(HashMap::new()),
            make,
        }
    }

    fn get(&self, address: &str) -> Result<C, RpcError> {
        let mut map = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(address) {
            return Ok(c.clone());
        }
        let c = (self.make)(address)?;
        map.insert(address.to_owned(), c.clone());
        Ok(c)
    }
}

/// Routes history calls to the owner of the workflow's shard.
#[derive(Clone)]
pub struct HistoryRouter {
    hosts: Hosts,
    shard_count: i32,
    clients: Arc<Clients<HistoryClient>>,
}

impl HistoryRouter {
    /// Routes by the membership rings.
    pub fn new(rings: watch::Receiver<Rings>, shard_count: i32) -> Self {
        HistoryRouter {
            hosts: Hosts::Rings(rings),
            shard_count,
            clients: Arc::new(Clients::new(history_client)),
        }
    }

    /// Sends everything to one address (tests, or a fixed single history host).
    pub fn fixed(address: &str, shard_count: i32) -> Self {
        HistoryRouter {
            hosts: Hosts::Fixed(address.to_owned()),
            shard_count,
            clients: Arc::new(Clients::new(history_client)),
        }
    }

    /// The client of the host that owns `shard`.
    pub fn for_shard(&self, shard: i32) -> Result<HistoryClient, RpcError> {
        self.clients.get(&self.hosts.owner(Role::History, &shard_key(shard))?)
    }

    /// The client of the host that owns the workflow's shard.
    pub fn for_workflow(&self, namespace_id: &str, workflow_id: &str) -> Result<HistoryClient, RpcError> {
        self.for_shard(sundial_common::shard_for(namespace_id, workflow_id, self.shard_count))
    }

    /// Any live history host (for calls that are not about one workflow).
    pub fn any(&self) -> Result<HistoryClient, RpcError> {
        self.for_shard(0)
    }

    pub fn shard_count(&self) -> i32 {
        self.shard_count
    }

    /// The address of the host that owns `shard`, if any is live.
    pub fn shard_owner(&self, shard: i32) -> Option<String> {
        self.hosts.owner(Role::History, &shard_key(shard)).ok()
    }

    /// The live members of `role`'s ring (one fixed address for a fixed router).
    pub fn members(&self, role: Role) -> Vec<String> {
        match &self.hosts {
            Hosts::Fixed(address) => vec![address.clone()],
            Hosts::Rings(rings) => rings
                .borrow()
                .ring(role)
                .hosts()
                .iter()
                .map(|h| h.address.clone())
                .collect(),
        }
    }
}

/// The ring key of a history shard: its number, as Temporal looks shards up.
pub fn shard_key(shard: i32) -> String {
    shard.to_string()
}

/// Routes matching calls to the owner of the task queue. Every partition of a queue lives
/// on the host that owns the queue's name, so forwarding between partitions stays local.
#[derive(Clone)]
pub struct MatchingRouter {
    hosts: Hosts,
    clients: Arc<Clients<MatchingClient>>,
}

impl MatchingRouter {
    pub fn new(rings: watch::Receiver<Rings>) -> Self {
        MatchingRouter {
            hosts: Hosts::Rings(rings),
            clients: Arc::new(Clients::new(matching_client)),
        }
    }

    pub fn fixed(address: &str) -> Self {
        MatchingRouter {
            hosts: Hosts::Fixed(address.to_owned()),
            clients: Arc::new(Clients::new(matching_client)),
        }
    }

    /// The client of the host that owns the task queue (its name, any partition).
    pub fn for_task_queue(&self, namespace_id: &str, task_queue: &str) -> Result<MatchingClient, RpcError> {
        self.clients.get(
            &self
                .hosts
                .owner(Role::Matching, &task_queue_key(namespace_id, task_queue))?,
        )
    }
}

/// The ring key of a task queue: its namespace and its name without any partition prefix
/// (`/_sys/NAME/N`), so all partitions of a queue share an owner.
pub fn task_queue_key(namespace_id: &str, task_queue: &str) -> String {
    let base = sundial_common::partition::parse(task_queue).map_or(task_queue, |(name, _)| name);
    format!("{namespace_id}/{base}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn partitions_of_a_queue_share_a_key() {
        assert_eq!(super::task_queue_key("ns", "orders"), "ns/orders");
        assert_eq!(super::task_queue_key("ns", "/_sys/orders/3"), "ns/orders");
        assert_eq!(super::task_queue_key("ns", "/_sys/a/b/12"), "ns/a/b");
        assert_ne!(
            super::task_queue_key("ns", "orders"),
            super::task_queue_key("other", "orders")
        );
    }
}
