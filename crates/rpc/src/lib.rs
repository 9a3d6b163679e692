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
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tower::util::MapErr;

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

/// How a transport failure's status begins (see `PeerChannel`).
const PEER_UNREACHABLE: &str = "peer unreachable";

/// The message history gives a call for a shard it does not serve (any more).
pub const NOT_SERVED_HERE: &str = "is not owned by this history host";

/// How long a call to a shard's owner is retried, counted from its first failure, while the
/// owner is unreachable or moving: longer than a dead host takes to leave the rings
/// (`MEMBER_TIMEOUT`) plus a shard takes to open on its next owner.
const OWNER_MOVE_BUDGET: Duration = Duration::from_secs(20);

/// Whether a failed call should go to the shard's owner as the rings name it now: the owner
/// asked did not answer, none was known, or it no longer serves the shard. Other `Unavailable`
/// failures (the database is down, say) go back to the caller at once.
pub fn owner_moved(status: &tonic::Status) -> bool {
    let message = status.message();
    status.code() == tonic::Code::Unavailable
        && (message.starts_with(PEER_UNREACHABLE)
            || message.starts_with("no live history host")
            || message.contains(NOT_SERVED_HERE)
            || message.contains("ownership lost"))
}

/// A channel to a peer whose transport failures are `Unavailable`. Left to tonic, a peer that
/// dies while a call waits for its answer is `Cancelled` ("operation was canceled"), which SDKs
/// do not retry; but the call is as retryable as one the peer refused, on the peer the rings
/// name next.
pub type PeerChannel = MapErr<Channel, fn(tonic::transport::Error) -> tonic::Status>;

fn unreachable_peer(e: tonic::transport::Error) -> tonic::Status {
    use std::error::Error;
    let mut message = format!("{PEER_UNREACHABLE}: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    tonic::Status::unavailable(message)
}

fn channel_with(address: &str, tls: Option<&ClientTlsConfig>) -> Result<PeerChannel, RpcError> {
    let bare = address
        .strip_prefix("http://")
        .or_else(|| address.strip_prefix("https://"))
        .unwrap_or(address);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let invalid = |reason: String| RpcError::InvalidAddress {
        address: address.to_owned(),
        reason,
    };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{bare}")).map_err(|e| invalid(e.to_string()))?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone()).map_err(|e| invalid(e.to_string()))?;
    }
    let channel = endpoint
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .connect_lazy();
    Ok(MapErr::new(channel, unreachable_peer as fn(_) -> _))
}

pub type HistoryClient = HistoryServiceClient<PeerChannel>;
pub type MatchingClient = MatchingServiceClient<PeerChannel>;

/// A client for the history service at `address` (connects on first use).
pub fn history_client(address: &str) -> Result<HistoryClient, RpcError> {
    history_client_tls(address, None)
}

fn history_client_tls(address: &str, tls: Option<&ClientTlsConfig>) -> Result<HistoryClient, RpcError> {
    Ok(HistoryServiceClient::new(channel_with(address, tls)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A client for the matching service at `address` (connects on first use).
pub fn matching_client(address: &str) -> Result<MatchingClient, RpcError> {
    matching_client_tls(address, None)
}

fn matching_client_tls(address: &str, tls: Option<&ClientTlsConfig>) -> Result<MatchingClient, RpcError> {
    Ok(MatchingServiceClient::new(channel_with(address, tls)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

pub type FrontendClient = sundial_api::workflowservice::v1::workflow_service_client::WorkflowServiceClient<
    tonic::service::interceptor::InterceptedService<PeerChannel, SystemToken>,
>;

/// The header the system worker's calls carry the cluster's system token in, so that a
/// frontend with authorization on lets them through (see the frontend's `auth`).
pub const SYSTEM_TOKEN_HEADER: &str = "sundial-system-token";

/// Adds the system token to every call (nothing when there is none).
#[derive(Clone, Default)]
pub struct SystemToken(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl SystemToken {
    pub fn new(token: &str) -> Self {
        SystemToken(Some(token).filter(|t| !t.is_empty()).and_then(|t| t.parse().ok()))
    }
}

impl tonic::service::Interceptor for SystemToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert(SYSTEM_TOKEN_HEADER, token.clone());
        }
        Ok(request)
    }
}

/// A client of a frontend's public WorkflowService at `address` (connects on first use), for
/// roles that act as Temporal clients (the system worker's jobs).
pub fn frontend_client(address: &str) -> Result<FrontendClient, RpcError> {
    frontend_client_as(address, None, SystemToken::default())
}

/// [`frontend_client`] over TLS when `tls` is given (a frontend serving `global.tls.frontend`),
/// presenting `token` on every call.
pub fn frontend_client_as(
    address: &str,
    tls: Option<&ClientTlsConfig>,
    token: SystemToken,
) -> Result<FrontendClient, RpcError> {
    let channel = tonic::service::interceptor::InterceptedService::new(channel_with(address, tls)?, token);
    Ok(FrontendClient::new(channel)
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

/// Makes a client of one peer, over TLS when given.
type MakeClient<C> = fn(&str, Option<&ClientTlsConfig>) -> Result<C, RpcError>;

/// One client per peer address, made on first use and kept.
struct Clients<C> {
    by_address: Mutex<HashMap<String, C>>,
    make: MakeClient<C>,
    /// Internode TLS (`global.tls.internode.client`); plaintext when `None`.
    tls: Option<ClientTlsConfig>,
}

impl<C: Clone> Clients<C> {
    fn new(make: MakeClient<C>, tls: Option<ClientTlsConfig>) -> Self {
        Clients {
            by_address: Mutex::new(HashMap::new()),
            make,
            tls,
        }
    }

    fn get(&self, address: &str) -> Result<C, RpcError> {
        let mut map = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(address) {
            return Ok(c.clone());
        }
        let c = (self.make)(address, self.tls.as_ref())?;
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
            clients: Arc::new(Clients::new(history_client_tls, None)),
        }
    }

    /// Sends everything to one address (tests, or a fixed single history host).
    pub fn fixed(address: &str, shard_count: i32) -> Self {
        HistoryRouter {
            hosts: Hosts::Fixed(address.to_owned()),
            shard_count,
            clients: Arc::new(Clients::new(history_client_tls, None)),
        }
    }

    /// Dials peers over TLS (`global.tls.internode.client`) when given.
    pub fn with_tls(mut self, tls: Option<ClientTlsConfig>) -> Self {
        self.clients = Arc::new(Clients::new(history_client_tls, tls));
        self
    }

    /// The client of the host that owns `shard`.
    pub fn for_shard(&self, shard: i32) -> Result<HistoryClient, RpcError> {
        self.clients.get(&self.hosts.owner(Role::History, &shard_key(shard))?)
    }

    /// The client of the host that owns the workflow's shard.
    pub fn for_workflow(&self, namespace_id: &str, workflow_id: &str) -> Result<HistoryClient, RpcError> {
        self.for_shard(self.shard_of(namespace_id, workflow_id))
    }

    /// The shard of a workflow.
    pub fn shard_of(&self, namespace_id: &str, workflow_id: &str) -> i32 {
        sundial_common::shard_for(namespace_id, workflow_id, self.shard_count)
    }

    /// Sends `req` with `send` to the owner of `shard`, and again to the owner the rings name
    /// then while the owner is unreachable or moving (`owner_moved`), for up to
    /// `OWNER_MOVE_BUDGET`: a history host that dies under a call costs its caller the seconds
    /// its shards take to move, not an error.
    pub async fn call<Req, Resp, F, Fut>(&self, shard: i32, req: Req, mut send: F) -> Result<Resp, tonic::Status>
    where
        Req: Clone,
        F: FnMut(HistoryClient, Req) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let mut first_failure: Option<std::time::Instant> = None;
        let mut pause = Duration::from_millis(50);
        loop {
            let outcome = match self.for_shard(shard) {
                Ok(client) => send(client, req.clone()).await.map(tonic::Response::into_inner),
                Err(e) => Err(e.into()),
            };
            match outcome {
                Err(status) if owner_moved(&status) => {
                    let since = *first_failure.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed().saturating_add(pause) > OWNER_MOVE_BUDGET {
                        return Err(status);
                    }
                    tracing::debug!(shard, error = %status.message(), "history owner moving; retrying");
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2).min(Duration::from_secs(1));
                }
                other => return other,
            }
        }
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

/// Routes matching calls to the owner of a task-queue partition. Each partition has its own
/// place on the ring, so one busy queue's partitions spread over the matching hosts.
#[derive(Clone)]
pub struct MatchingRouter {
    hosts: Hosts,
    clients: Arc<Clients<MatchingClient>>,
}

impl MatchingRouter {
    pub fn new(rings: watch::Receiver<Rings>) -> Self {
        MatchingRouter {
            hosts: Hosts::Rings(rings),
            clients: Arc::new(Clients::new(matching_client_tls, None)),
        }
    }

    pub fn fixed(address: &str) -> Self {
        MatchingRouter {
            hosts: Hosts::Fixed(address.to_owned()),
            clients: Arc::new(Clients::new(matching_client_tls, None)),
        }
    }

    /// Dials peers over TLS (`global.tls.internode.client`) when given.
    pub fn with_tls(mut self, tls: Option<ClientTlsConfig>) -> Self {
        self.clients = Arc::new(Clients::new(matching_client_tls, tls));
        self
    }

    /// The client of the host that owns partition 0 of the task queue (or the partition a
    /// `/_sys/NAME/N` wire name names).
    pub fn for_task_queue(&self, namespace_id: &str, task_queue: &str) -> Result<MatchingClient, RpcError> {
        let (base, number) = sundial_common::partition::parse(task_queue).unwrap_or((task_queue, 0));
        self.for_partition(namespace_id, base, number)
    }

    /// The client of the host that owns partition `number` of queue `base`.
    pub fn for_partition(&self, namespace_id: &str, base: &str, number: u32) -> Result<MatchingClient, RpcError> {
        self.clients.get(&self.owner_of(namespace_id, base, number)?)
    }

    /// The client of the matching host at `address`.
    pub fn for_address(&self, address: &str) -> Result<MatchingClient, RpcError> {
        self.clients.get(address)
    }

    /// The address of the host that owns partition `number` of queue `base`.
    pub fn owner_of(&self, namespace_id: &str, base: &str, number: u32) -> Result<String, RpcError> {
        self.hosts
            .owner(Role::Matching, &partition_key(namespace_id, base, number))
    }
}

/// The ring key of one partition of a task queue (`base` is the queue's own name). Each
/// partition has its own key, so a busy queue's partitions spread over the matching hosts;
/// partition 0's key is the queue's, as before partitions were spread.
/// Where a namespace's worker registry sits on the matching ring: placed like a task queue of
/// this name (it starts with a control character, which no SDK puts in a queue name).
pub const WORKER_REGISTRY: &str = "\u{1}worker-registry";

pub fn partition_key(namespace_id: &str, base: &str, number: u32) -> String {
    if number == 0 {
        format!("{namespace_id}/{base}")
    } else {
        format!("{namespace_id}/{base}#{number}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_partition_of_a_queue_has_its_own_key() {
        assert_eq!(super::partition_key("ns", "orders", 0), "ns/orders");
        assert_eq!(super::partition_key("ns", "orders", 3), "ns/orders#3");
        assert_ne!(
            super::partition_key("ns", "orders", 0),
            super::partition_key("other", "orders", 0)
        );
        let router = super::MatchingRouter::fixed("127.0.0.1:1");
        assert_eq!(router.owner_of("ns", "orders", 2).ok().as_deref(), Some("127.0.0.1:1"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod peer_tests {
    use super::*;

    #[test]
    fn only_routing_failures_send_a_call_to_the_next_owner() {
        for moved in [
            tonic::Status::unavailable(format!("{PEER_UNREACHABLE}: operation was canceled")),
            tonic::Status::from(RpcError::NoHost("history")),
            tonic::Status::unavailable(format!("shard 3 {NOT_SERVED_HERE}; retry")),
            tonic::Status::unavailable("shard 3 ownership lost: expected range_id 4, found 5"),
        ] {
            assert!(owner_moved(&moved), "{moved:?}");
        }
        for stays in [
            tonic::Status::unavailable("persistence unavailable: connection refused"),
            tonic::Status::cancelled(format!("{PEER_UNREACHABLE}: x")),
            tonic::Status::not_found("workflow not found"),
            tonic::Status::resource_exhausted("namespace rate limit exceeded"),
        ] {
            assert!(!owner_moved(&stays), "{stays:?}");
        }
    }

    async fn describe_fails(address: &str) -> tonic::Status {
        history_client(address)
            .unwrap()
            .describe_workflow_execution(
                sundial_api::sundial::historyservice::v1::DescribeWorkflowExecutionRequest::default(),
            )
            .await
            .unwrap_err()
    }

    /// A peer that is not there is `Unavailable`, named as unreachable: what callers and SDKs
    /// retry.
    #[tokio::test]
    async fn a_peer_that_does_not_answer_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let status = describe_fails(&address).await;
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(owner_moved(&status), "{status:?}");
    }

    /// A peer that takes the call and dies before answering: tonic alone calls this
    /// `Cancelled`, which SDKs do not retry.
    #[tokio::test]
    async fn a_peer_that_dies_under_a_call_is_unavailable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let peer = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            // An HTTP/2 server's settings frame, then read until the request's headers arrive,
            // and hang up without a response.
            socket.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut seen = 0;
            while seen < 24 + 9 + 9 {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen += n,
                }
            }
            drop(socket);
        });
        let status = describe_fails(&address).await;
        peer.await.unwrap();
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(owner_moved(&status), "{status:?}");
    }
}
