//! One process of the cluster: opens the store, bootstraps cluster metadata and system
//! namespaces, binds a gRPC server per role, and runs until asked to stop.

use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use sundial_api::operatorservice::v1::operator_service_server::OperatorServiceServer;
use sundial_api::sundial::adminservice::v1::admin_service_server::AdminServiceServer;
use sundial_api::sundial::historyservice::v1::history_service_server::HistoryServiceServer;
use sundial_api::sundial::matchingservice::v1::matching_service_server::MatchingServiceServer;
use sundial_api::sundial::persistence::v1::ClusterMetadata;
use sundial_api::workflowservice::v1::workflow_service_server::WorkflowServiceServer;
use sundial_common::time::now_timestamp;
use sundial_frontend::{
    AdminHandler, BatchHandler, ClusterIdentity, ExecutionHandler, NamespaceHandler, NamespaceRegistry,
    NexusEndpointHandler, OperatorHandler, ScheduleHandler, SystemNamespace, WorkflowHandler, ensure_namespace,
};
use sundial_history::{HistoryConfig, HistoryEngine, HistoryHandler};
use sundial_matching::{MatchingConfig, MatchingEngine, MatchingHandler};
use sundial_membership::{LocalMember, Membership};
use sundial_persistence::{ClusterStore, DbConfig, LeaseOwner, Role, SqlStore, sql::SchemaStatus};
use sundial_rpc::{HistoryRouter, MatchingRouter};
use sundial_worker::WorkerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding::Gzip;
use tonic::transport::Server;

/// Everything a process needs to know to run its roles.
pub struct NodeOptions {
    /// `start-dev` or `start`, for the banner.
    pub mode: &'static str,
    pub db: DbConfig,
    /// Apply migrations at start (`start-dev`); otherwise require an up-to-date schema.
    pub setup_schema: bool,
    pub cluster_name: String,
    pub history_shard_count: i32,
    pub bind_ip: String,
    /// The IP recorded in `cluster_membership` for peers (TEMPORAL_BROADCAST_ADDRESS); unset:
    /// see [`crate::address::advertised_ip`].
    pub broadcast_ip: Option<std::net::IpAddr>,
    pub roles: Vec<(Role, u16)>,
    /// Namespaces to create besides `temporal-system` (start-dev: `default` and `--namespace`).
    pub namespaces: Vec<String>,
    /// Live dynamic config (file + `--dynamic-config-value` overrides, or all defaults).
    pub dynamic_config: sundial_dynconfig::DynamicConfig,
    /// Where to serve Prometheus metrics; `None`: metrics are off (recording is a no-op).
    pub metrics: Option<MetricsEndpoint>,
    pub tls: NodeTls,
    /// `global.authorization` when it is on.
    pub auth: Option<crate::authz::AuthSettings>,
}

/// The name of the system worker's token among the cluster's secrets.
const SYSTEM_TOKEN_SECRET: &str = "system-worker-token";

/// `global.tls` as this process uses it.
#[derive(Default)]
pub struct NodeTls {
    /// The frontend's server TLS; plaintext when `None`.
    pub frontend: Option<Arc<crate::tls::ServerTlsState>>,
    /// History's, matching's and the worker's server TLS; plaintext when `None`.
    pub internode: Option<Arc<crate::tls::ServerTlsState>>,
    /// How this process's roles dial the others (history and matching clients).
    pub internode_client: Option<tonic::transport::ClientTlsConfig>,
    /// How often the frontend's certificates are re-read.
    pub refresh: Option<Duration>,
    /// The system worker's client TLS towards the frontend.
    pub worker: Option<tonic::transport::ClientTlsConfig>,
}

/// The process's one Prometheus endpoint.
pub struct MetricsEndpoint {
    /// `host:port`.
    pub address: String,
    /// Normally `/metrics`.
    pub path: String,
}

const NAMESPACE_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

pub async fn run(opts: NodeOptions, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    // Bound before the store is opened, so a bad address fails fast.
    let (metrics, metrics_server) = match &opts.metrics {
        Some(endpoint) => {
            let metrics = sundial_metrics::Metrics::new()?;
            let server = sundial_metrics::serve(&endpoint.address, &endpoint.path, metrics.clone()).await?;
            (metrics, Some((server, endpoint.path.clone())))
        }
        None => (sundial_metrics::Metrics::disabled(), None),
    };
    if opts.tls.frontend.is_some() && opts.tls.worker.is_none() && opts.roles.iter().any(|(r, _)| *r == Role::Worker) {
        anyhow::bail!(
            "the frontend serves TLS (global.tls.frontend.server), but the system worker has no TLS settings \
             to reach it: set global.tls.systemWorker (certFile, keyFile, client.rootCaFiles, client.serverName) \
             or global.tls.frontend.client"
        );
    }
    let store = Arc::new(open_store(&opts).await?);
    let cluster = bootstrap_cluster(&store, &opts).await?;
    // Every process of the cluster reads the same token; a frontend with authorization on
    // takes a call carrying it for the system worker's. Only those two need it.
    let needs_token = opts
        .roles
        .iter()
        .any(|(r, _)| *r == Role::Worker || (*r == Role::Frontend && opts.auth.is_some()));
    let system_token = if needs_token {
        let proposed = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        store.cluster_secret(SYSTEM_TOKEN_SECRET, &proposed).await?
    } else {
        String::new()
    };
    let registry = NamespaceRegistry::new(store.clone());
    bootstrap_namespaces(&registry, &opts.namespaces).await?;

    let mut bound = Vec::new();
    for &(role, port) in &opts.roles {
        let listener = TcpListener::bind((opts.bind_ip.as_str(), port))
            .await
            .with_context(|| format!("{} cannot listen on {}:{port}", role.name(), opts.bind_ip))?;
        let addr = listener.local_addr()?;
        bound.push((role, listener, addr));
    }
    let bind_ip = bound.first().map(|(_, _, a)| a.ip());
    let advertised = match bind_ip {
        Some(ip) => Some(crate::address::advertised_ip(ip, opts.broadcast_ip)?),
        None => None,
    };
    print_banner(
        &opts,
        &bound,
        advertised,
        metrics_server
            .as_ref()
            .map(|(s, path)| format!("http://{}{path}", s.address)),
    );

    // What peers (and this process's own roles) dial: the advertised IP, never a wildcard.
    let advertise = |addr: SocketAddr| advertised.map_or(addr, |ip| SocketAddr::new(ip, addr.port()));
    // Announce every local role before waiting for peers, so processes that start together
    // (history waits for matching, matching for history) find each other.
    let members = bound
        .iter()
        .map(|(r, _, a)| LocalMember::new(*r, advertise(*a).to_string()))
        .collect();
    let mut membership = Membership::join(store.clone(), members).await?;
    let history_router =
        HistoryRouter::new(membership.rings(), cluster.history_shard_count).with_tls(opts.tls.internode_client.clone());
    let matching_router = MatchingRouter::new(membership.rings()).with_tls(opts.tls.internode_client.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers: Vec<JoinHandle<anyhow::Result<()>>> = Vec::new();
    let mut background: Vec<JoinHandle<()>> = Vec::new();
    let mut engines = Engines::default();
    let mut addresses = BTreeMap::new();
    for (role, listener, addr) in bound {
        addresses.insert(role.name(), addr);
        let stop = wait_for_stop(stop_rx.clone());
        let incoming = nodelay_incoming(listener);
        let router = match role {
            Role::Frontend => {
                wait_for_peer(&membership, Role::History).await?;
                wait_for_peer(&membership, Role::Matching).await?;
                let executions = ExecutionHandler::new(
                    registry.clone(),
                    history_router.clone(),
                    matching_router.clone(),
                    store.clone(),
                    opts.dynamic_config.clone(),
                );
                let auth = match &opts.auth {
                    Some(settings) => {
                        let keys = sundial_frontend::auth::KeySet::load(settings.key_sources.clone()).await;
                        if !settings.refresh.is_zero() {
                            background.push(keys.spawn_refresh(settings.refresh));
                        }
                        Some(sundial_frontend::auth::AuthLayer::new(
                            keys,
                            sundial_frontend::auth::Permissions {
                                claim: settings.permissions_claim.clone(),
                                pattern: settings.permissions_regex.clone(),
                            },
                            settings.audience.clone(),
                            settings.header.clone(),
                            system_token.clone(),
                        ))
                    }
                    None => None,
                };
                frontend_router(
                    auth,
                    metrics.rpc_layer("frontend"),
                    &registry,
                    executions,
                    store.clone(),
                    &opts.cluster_name,
                    ClusterIdentity {
                        frontend_address: advertise(addr).to_string(),
                        ..cluster.clone()
                    },
                    opts.dynamic_config.clone(),
                    history_router.clone(),
                )
                .await
            }
            Role::History => {
                wait_for_peer(&membership, Role::Matching).await?;
                let matching = matching_router.clone();
                let address = membership
                    .local()
                    .iter()
                    .find(|m| m.role == Role::History)
                    .map(|m| m.address.clone())
                    .unwrap_or_else(|| addr.to_string());
                let config = HistoryConfig {
                    shard_count: cluster.history_shard_count,
                    dynamic_config: opts.dynamic_config.clone(),
                    rings: membership.rings(),
                    address,
                    metrics: metrics.clone(),
                };
                let engine = HistoryEngine::start(store.clone(), matching, history_router.clone(), config).await?;
                engines.history = Some(engine.clone());
                role_router(Role::History, &metrics).await.add_service(
                    HistoryServiceServer::new(HistoryHandler::new(engine))
                        .max_decoding_message_size(MAX_INTERNAL_MESSAGE),
                )
            }
            Role::Matching => {
                wait_for_peer(&membership, Role::History).await?;
                let history = history_router.clone();
                let me = membership.local().iter().find(|m| m.role == Role::Matching);
                let config = MatchingConfig {
                    dynamic_config: Some(opts.dynamic_config.clone()),
                    host_address: me.map_or_else(|| advertise(addr).to_string(), |m| m.address.clone()),
                    lease_owner: LeaseOwner {
                        host_id: me.map(|m| m.host_id.clone()).unwrap_or_default(),
                        member_timeout: sundial_membership::MEMBER_TIMEOUT,
                    },
                    rings: Some(membership.rings()),
                    peers: Some(matching_router.clone()),
                    ..MatchingConfig::default()
                };
                let engine = MatchingEngine::new(store.clone(), history, config);
                engines.matching = Some(engine.clone());
                role_router(Role::Matching, &metrics).await.add_service(
                    MatchingServiceServer::new(MatchingHandler::new(engine))
                        .max_decoding_message_size(MAX_INTERNAL_MESSAGE),
                )
            }
            Role::Worker => {
                wait_for_peer(&membership, Role::Frontend).await?;
                let address = membership
                    .local()
                    .iter()
                    .find(|m| m.role == Role::Worker)
                    .map_or_else(|| advertise(addr).to_string(), |m| m.address.clone());
                background.extend(sundial_worker::spawn(
                    store.clone(),
                    WorkerConfig {
                        address,
                        rings: membership.rings(),
                        dynamic_config: opts.dynamic_config.clone(),
                        shard_count: cluster.history_shard_count,
                        frontend_tls: opts.tls.worker.clone(),
                        system_token: system_token.clone(),
                    },
                ));
                role_router(Role::Worker, &metrics).await
            }
        };
        metrics.restarted(role.name());
        let tls = match role {
            Role::Frontend => opts.tls.frontend.clone(),
            _ => opts.tls.internode.clone(),
        };
        if let (Some(tls), Some(every)) = (&tls, opts.tls.refresh) {
            background.push(tls.spawn_refresh(every));
        }
        servers.push(tokio::spawn(async move {
            match tls {
                Some(tls) => router.serve_with_incoming_shutdown(tls.incoming(incoming), stop).await,
                None => router.serve_with_incoming_shutdown(incoming, stop).await,
            }
            .with_context(|| format!("{} server failed", role.name()))
        }));
    }
    if opts.roles.iter().any(|(r, _)| *r == Role::Frontend) {
        background.push(registry.spawn_refresher(NAMESPACE_REFRESH_INTERVAL));
    }
    println!("Ready.");
    let _ = std::io::stdout().flush();
    tracing::info!(?addresses, "sundial is serving");

    shutdown.await;
    tracing::info!("shutting down");
    // Peers drop this process from their rings at once instead of after the member timeout.
    membership.leave().await;
    let _ = stop_tx.send(true);
    if let Some(m) = &engines.matching {
        // Releases waiting pollers so the servers can finish their in-flight calls.
        m.shutdown().await;
    }
    for task in &background {
        task.abort();
    }
    let mut result = Ok(());
    for server in servers {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(e) => result = Err(e.into()),
        }
    }
    if let Some(h) = &engines.history {
        h.shutdown();
    }
    if let Some((server, _)) = metrics_server {
        server.stop();
    }
    drop(engines);
    store.close().await;
    result
}

#[derive(Default)]
struct Engines {
    history: Option<Arc<HistoryEngine>>,
    matching: Option<Arc<MatchingEngine>>,
}

/// Internal calls carry whole histories; allow far more than the public 4 MiB.
const MAX_INTERNAL_MESSAGE: usize = 128 * 1024 * 1024;
/// How long a role waits for a peer role of another process to appear in the membership table.
const PEER_WAIT: Duration = Duration::from_secs(60);

/// Waits until a process of `role` (this one's or another's) is in the membership rings.
async fn wait_for_peer(membership: &Membership, role: Role) -> anyhow::Result<()> {
    if membership.wait_for(role, PEER_WAIT).await {
        Ok(())
    } else {
        anyhow::bail!("no live {} service found in cluster_membership", role.name())
    }
}

async fn open_store(opts: &NodeOptions) -> anyhow::Result<SqlStore> {
    let what = opts.db.describe();
    if opts.setup_schema {
        return SqlStore::open(&opts.db)
            .await
            .with_context(|| format!("opening {what}"));
    }
    let store = SqlStore::connect(&opts.db)
        .await
        .with_context(|| format!("connecting to {what}"))?;
    match store.schema_status().await? {
        SchemaStatus::UpToDate { .. } => Ok(store),
        SchemaStatus::Behind { current, expected } => anyhow::bail!(
            "database schema is at version {current}, this binary needs {expected}: run `sundial schema setup` first"
        ),
        SchemaStatus::Ahead { current, expected } => anyhow::bail!(
            "database schema is at version {current}, newer than this binary's {expected}: upgrade sundial"
        ),
    }
}

async fn bootstrap_cluster(store: &SqlStore, opts: &NodeOptions) -> anyhow::Result<ClusterIdentity> {
    let proposed = ClusterMetadata {
        cluster_name: opts.cluster_name.clone(),
        cluster_id: uuid::Uuid::new_v4().to_string(),
        history_shard_count: opts.history_shard_count,
        created_time: Some(now_timestamp()),
    };
    let stored = store.init_cluster_metadata(&proposed).await?;
    if stored.history_shard_count != opts.history_shard_count {
        tracing::warn!(
            configured = opts.history_shard_count,
            recorded = stored.history_shard_count,
            "the history shard count is fixed when a cluster is created; using the recorded value"
        );
    }
    Ok(ClusterIdentity {
        cluster_name: stored.cluster_name,
        cluster_id: stored.cluster_id,
        history_shard_count: stored.history_shard_count,
        store_kind: match opts.db {
            DbConfig::Postgres(_) => "postgres".into(),
            DbConfig::Sqlite { .. } => "sqlite".into(),
        },
        frontend_address: String::new(),
    })
}

async fn bootstrap_namespaces(registry: &NamespaceRegistry, extra: &[String]) -> anyhow::Result<()> {
    ensure_namespace(
        registry,
        &SystemNamespace {
            name: sundial_common::SYSTEM_NAMESPACE,
            id: Some(sundial_common::SYSTEM_NAMESPACE_ID),
            description: "Temporal internal system namespace",
            owner_email: "temporal-core@temporal.io",
            retention_secs: 7 * 24 * 3600,
        },
    )
    .await?;
    for name in extra {
        ensure_namespace(
            registry,
            &SystemNamespace {
                name,
                id: None,
                description: "",
                owner_email: "",
                retention_secs: 24 * 3600,
            },
        )
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    }
    Ok(())
}

async fn health_service(
    names: &[&str],
) -> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health> {
    let (reporter, service) = tonic_health::server::health_reporter();
    for name in names {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    service.accept_compressed(Gzip).send_compressed(Gzip)
}

/// A role's tonic router with the RPC metrics layer around every service.
type RoleRouter =
    tonic::transport::server::Router<tower_layer::Stack<sundial_metrics::RpcMetricsLayer, tower_layer::Identity>>;

#[allow(clippy::too_many_arguments)]
async fn frontend_router(
    auth: Option<Arc<sundial_frontend::auth::AuthLayer>>,
    metrics_layer: sundial_metrics::RpcMetricsLayer,
    registry: &NamespaceRegistry,
    executions: ExecutionHandler,
    store: Arc<SqlStore>,
    cluster_name: &str,
    cluster: ClusterIdentity,
    dynamic_config: sundial_dynconfig::DynamicConfig,
    history: HistoryRouter,
) -> RoleRouter {
    let namespaces = NamespaceHandler::new(registry.clone(), cluster_name, dynamic_config.clone());
    let workflow = WorkflowServiceServer::new(WorkflowHandler::new(
        namespaces.clone(),
        executions,
        ScheduleHandler::new(registry.clone(), store.clone()),
        BatchHandler::new(registry.clone(), store.clone()),
        cluster.clone(),
    ))
    .accept_compressed(Gzip)
    .send_compressed(Gzip);
    let operator = OperatorServiceServer::new(OperatorHandler::new(
        namespaces,
        NexusEndpointHandler::new(registry.clone(), store),
        cluster,
    ))
    .accept_compressed(Gzip)
    .send_compressed(Gzip);
    let admin = AdminServiceServer::new(AdminHandler::new(registry.clone(), dynamic_config, history))
        .accept_compressed(Gzip)
        .send_compressed(Gzip);
    let router = Server::builder()
        .tcp_nodelay(true)
        .layer(metrics_layer)
        .add_service(health_service(&sundial_frontend::HEALTH_SERVICE_NAMES).await);
    match auth {
        Some(auth) => router
            .add_service(auth.wrap(workflow))
            .add_service(auth.wrap(operator))
            .add_service(auth.wrap(admin)),
        None => router.add_service(workflow).add_service(operator).add_service(admin),
    }
}

/// The health service every internal role serves; the role's own service is added to it.
async fn role_router(role: Role, metrics: &sundial_metrics::Metrics) -> RoleRouter {
    let name = format!("sundial.{}", role.name());
    Server::builder()
        .tcp_nodelay(true)
        .layer(metrics.rpc_layer(role.name()))
        .add_service(health_service(&[name.as_str()]).await)
}

/// Accepted connections with Nagle's algorithm off. `Server::tcp_nodelay` only applies when
/// tonic binds the socket itself; without this every small response waits ~40 ms for the
/// peer's delayed ACK.
fn nodelay_incoming(listener: TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|conn| {
        let conn = conn?;
        conn.set_nodelay(true)?;
        Ok(conn)
    })
}

async fn wait_for_stop(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

fn print_banner(
    opts: &NodeOptions,
    bound: &[(Role, TcpListener, SocketAddr)],
    advertised: Option<std::net::IpAddr>,
    metrics_url: Option<String>,
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Sundial {} ({})", sundial_common::SERVER_VERSION, opts.mode);
    for (role, _, addr) in bound {
        let _ = writeln!(out, "  {:<10} {addr}", role.name());
    }
    if let Some(ip) = advertised.filter(|ip| bound.iter().any(|(_, _, a)| a.ip() != *ip)) {
        let _ = writeln!(out, "  {:<10} {ip}", "broadcast");
    }
    let _ = writeln!(out, "  {:<10} {}", "state", opts.db.describe());
    if let Some(url) = metrics_url {
        let _ = writeln!(out, "  {:<10} {url}", "metrics");
    }
    if !opts.namespaces.is_empty() {
        let _ = writeln!(out, "  {:<10} {}", "namespaces", opts.namespaces.join(", "));
    }
    let _ = out.flush();
}
