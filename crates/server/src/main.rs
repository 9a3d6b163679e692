//! `sundial`: a Temporal-compatible workflow server.

mod address;
mod authz;
mod config;
mod dynamic;
mod json_log;
mod node;
mod tls;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use sundial_persistence::{DbConfig, Role, SqlStore};

#[derive(Parser)]
#[command(name = "sundial", version, about = "A Temporal-compatible workflow server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every role in one process on embedded SQLite, ready for local development.
    StartDev(StartDevArgs),
    /// Run the chosen roles of a cluster against the configured database.
    Start(StartArgs),
    /// Manage the database schema.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Check dynamic config files: unknown keys (with a suggestion), constraints a key cannot
    /// use, bad values, broken YAML. Exits non-zero on any error.
    ValidateDynamicConfig {
        /// Dynamic config YAML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the effective value and source of every dynamic config key for a namespace /
    /// task queue, from a file and `--dynamic-config-value` overrides.
    ShowDynamicConfig(ShowDynamicConfigArgs),
    /// Check that the roles of this host answer `grpc.health.v1` as SERVING (a container
    /// healthcheck): exits 0 when all do, 1 otherwise.
    Health(HealthArgs),
}

#[derive(clap::Args)]
struct HealthArgs {
    /// Static configuration file (ports, bind address); docker environment variables apply.
    #[arg(long, short = 'c', default_value = "config/development-postgres.yaml")]
    config: PathBuf,
    /// Roles to check (repeatable, or comma-separated); default all, or env SERVICES.
    #[arg(long = "service", short = 's', env = "SERVICES", value_delimiter = ',')]
    services: Vec<String>,
    /// Seconds to wait for each role's answer.
    #[arg(long, default_value_t = 3.0)]
    timeout: f64,
}

#[derive(clap::Args)]
struct ShowDynamicConfigArgs {
    /// Dynamic config YAML file.
    #[arg(long = "dynamic-config-file")]
    file: Option<PathBuf>,
    /// Override KEY=JSON (repeatable), as for start-dev.
    #[arg(long = "dynamic-config-value", value_name = "KEY=JSON")]
    values: Vec<String>,
    /// Namespace name (without it only unconstrained entries apply).
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// Task queue name, for task-queue keys.
    #[arg(long = "task-queue", short = 't')]
    task_queue: Option<String>,
    /// Task type with --task-queue: workflow or activity.
    #[arg(long = "task-type", default_value = "workflow")]
    task_type: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct StartDevArgs {
    /// IP address to bind every role to.
    #[arg(long, default_value = "127.0.0.1")]
    ip: String,
    /// Frontend port; history, matching and worker use port+1, port+2 and port+6 (0: any free ports).
    #[arg(long, short = 'p', default_value_t = 7233)]
    port: u16,
    /// SQLite file to keep state in; without it state lives in memory and is lost on exit.
    #[arg(long = "db-filename", short = 'f')]
    db_filename: Option<PathBuf>,
    /// Extra namespaces to create at start (repeatable).
    #[arg(long = "namespace", short = 'n')]
    namespaces: Vec<String>,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long = "log-level", default_value = "warn")]
    log_level: String,
    /// Log format: pretty (text) or json (one object per line), as `temporal server start-dev`.
    #[arg(long = "log-format", default_value = "pretty")]
    log_format: config::LogFormat,
    /// Dynamic config value KEY=JSON, e.g. limit.maxIDLength=255 or
    /// workflow.workflowTaskTimeout='"10s"' (repeatable; wins over --dynamic-config-file).
    #[arg(long = "dynamic-config-value", value_name = "KEY=JSON")]
    dynamic_config_values: Vec<String>,
    /// Dynamic config YAML file (Temporal's format), re-read when it changes.
    #[arg(long = "dynamic-config-file", value_name = "FILE")]
    dynamic_config_file: Option<PathBuf>,
    /// Serve Prometheus metrics at http://IP:PORT/metrics (as `temporal server start-dev
    /// --metrics-port`); off without it.
    #[arg(long = "metrics-port")]
    metrics_port: Option<u16>,
}

#[derive(clap::Args)]
struct StartArgs {
    /// Static configuration file (YAML); Temporal's docker environment variables override it.
    #[arg(long, short = 'c', default_value = "config/development-postgres.yaml")]
    config: PathBuf,
    /// Roles to run (repeatable, or comma-separated); default all, or env SERVICES.
    #[arg(long = "service", short = 's', env = "SERVICES", value_delimiter = ',')]
    services: Vec<String>,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Create the database if needed and apply every migration (idempotent).
    Setup(SchemaArgs),
    /// Apply migrations that are not applied yet (the same as setup on an existing database).
    Update(SchemaArgs),
}

#[derive(clap::Args)]
struct SchemaArgs {
    #[arg(long, short = 'c', default_value = "config/development-postgres.yaml")]
    config: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::ValidateDynamicConfig { files } => {
            let ok = dynamic::validate(&files);
            std::process::exit(if ok { 0 } else { 1 });
        }
        Command::ShowDynamicConfig(args) => {
            return dynamic::show(
                args.file.as_deref(),
                &args.values,
                args.namespace.as_deref(),
                args.task_queue.as_deref(),
                &args.task_type,
                args.json,
            );
        }
        _ => {}
    }
    install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::StartDev(args) => start_dev(args).await,
            Command::Start(args) => start(args).await,
            Command::Health(args) => health(args).await,
            Command::Schema { command } => match command {
                SchemaCommand::Setup(args) | SchemaCommand::Update(args) => schema_setup(args).await,
            },
            Command::ValidateDynamicConfig { .. } | Command::ShowDynamicConfig(_) => unreachable!("handled above"),
        }
    })
}

/// reqwest (JWT keys over https) uses rustls's process-wide crypto provider: *ring*, the one
/// tonic's TLS uses (aws-lc-rs would need a C toolchain build).
#[allow(deprecated)]
fn install_crypto_provider() {
    // Only fails when one is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn init_logging(level: &str, format: config::LogFormat) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .with_context(|| format!("invalid log level {level:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colours only for a person at a terminal, never into a log file or a container's log.
        config::LogFormat::Console => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        config::LogFormat::Json => builder.event_format(json_log::TemporalJson).init(),
    }
    Ok(())
}

async fn start_dev(args: StartDevArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level, args.log_format)?;
    let (dynamic_config, reload) = dynamic::build(
        args.dynamic_config_file.as_deref(),
        sundial_dynconfig::DEFAULT_POLL_INTERVAL,
        &args.dynamic_config_values,
    )?;
    let offset = |delta: u16| {
        if args.port == 0 {
            0
        } else {
            args.port.saturating_add(delta)
        }
    };
    let ip: std::net::IpAddr = args
        .ip
        .parse()
        .with_context(|| format!("--ip {:?} is not an IP address", args.ip))?;
    let mut namespaces = vec!["default".to_owned()];
    for ns in args.namespaces {
        if !namespaces.contains(&ns) {
            namespaces.push(ns);
        }
    }
    let opts = node::NodeOptions {
        mode: "start-dev",
        db: DbConfig::Sqlite { path: args.db_filename },
        setup_schema: true,
        cluster_name: sundial_common::DEFAULT_CLUSTER_NAME.into(),
        history_shard_count: 1,
        bind_ip: args.ip.clone(),
        broadcast_ip: None,
        roles: vec![
            (Role::Frontend, args.port),
            (Role::History, offset(1)),
            (Role::Matching, offset(2)),
            (Role::Worker, offset(6)),
        ],
        namespaces,
        dynamic_config,
        // Like the Temporal CLI: on the frontend's IP, at /metrics.
        metrics: args.metrics_port.map(|port| node::MetricsEndpoint {
            address: std::net::SocketAddr::new(ip, port).to_string(),
            path: sundial_metrics::HANDLER_PATH.to_owned(),
        }),
        tls: node::NodeTls::default(),
        auth: None,
    };
    let result = node::run(opts, shutdown_signal()).await;
    if let Some(r) = reload {
        r.stop();
    }
    result
}

async fn start(args: StartArgs) -> anyhow::Result<()> {
    let config = config::Config::load(&args.config)?;
    init_logging(&config.log.level, config.log.format)?;
    let mut roles = config::parse_roles(&args.services)?;
    if roles.is_empty() {
        roles = Role::ALL.to_vec();
    }
    for notice in config.notices() {
        tracing::warn!("{notice}");
    }
    if config.docker.setup_schema_at_start() {
        // SKIP_SCHEMA_SETUP=false: what Temporal's auto-setup image does before starting.
        setup_database(&config.db_config()?).await?;
    }
    let (dynamic_config, reload) = match &config.dynamic_config {
        Some(section) => dynamic::build(Some(&section.filepath), section.poll_interval()?, &[])?,
        None => dynamic::build(None, sundial_dynconfig::DEFAULT_POLL_INTERVAL, &[])?,
    };
    let opts = node::NodeOptions {
        mode: "start",
        db: config.db_config()?,
        setup_schema: false,
        cluster_name: config.cluster_name.clone(),
        history_shard_count: config.persistence.num_history_shards,
        bind_ip: config.bind_on_ip.clone(),
        broadcast_ip: config.broadcast_ip()?,
        roles: roles.iter().map(|r| (*r, config.port(*r))).collect(),
        namespaces: default_namespace_from_env(|k| std::env::var(k).ok()),
        dynamic_config,
        metrics: config
            .metrics_endpoint()
            .map(|(address, path)| node::MetricsEndpoint { address, path }),
        tls: node::NodeTls {
            frontend: tls::ServerTlsState::frontend(&config.global.tls)?,
            internode: tls::ServerTlsState::internode(&config.global.tls)?,
            internode_client: config.global.tls.internode_client()?,
            refresh: config.global.tls.refresh()?,
            worker: config.global.tls.worker_client()?.map(|w| w.config()).transpose()?,
        },
        auth: config.global.authorization.settings()?,
    };
    let result = node::run(opts, shutdown_signal()).await;
    if let Some(r) = reload {
        r.stop();
    }
    result
}

/// Like Temporal's auto-setup image: `default` (or DEFAULT_NAMESPACE) is created unless
/// SKIP_DEFAULT_NAMESPACE_CREATION=true.
fn default_namespace_from_env(get: impl Fn(&str) -> Option<String>) -> Vec<String> {
    if get("SKIP_DEFAULT_NAMESPACE_CREATION").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Vec::new();
    }
    vec![
        get("DEFAULT_NAMESPACE")
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned()),
    ]
}

async fn schema_setup(args: SchemaArgs) -> anyhow::Result<()> {
    let config = config::Config::load(&args.config)?;
    init_logging(&config.log.level, config.log.format)?;
    setup_database(&config.db_config()?).await
}

/// Creates the PostgreSQL database if missing and applies every migration (idempotent; an
/// advisory lock serialises concurrent runs).
async fn setup_database(db: &DbConfig) -> anyhow::Result<()> {
    if let DbConfig::Postgres(pg) = db
        && sundial_persistence::sql::create_postgres_database(pg).await?
    {
        println!("created database {}", pg.database);
    }
    let store = SqlStore::connect(db)
        .await
        .with_context(|| format!("connecting to {}", db.describe()))?;
    let applied = store.setup_schema().await?;
    println!("schema up to date ({applied} migrations applied) on {}", db.describe());
    store.close().await;
    Ok(())
}

/// `sundial health`: asks every chosen role on this host for its `grpc.health.v1` status.
async fn health(args: HealthArgs) -> anyhow::Result<()> {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
    let config = config::Config::load(&args.config)?;
    let mut roles = config::parse_roles(&args.services)?;
    if roles.is_empty() {
        roles = Role::ALL.to_vec();
    }
    let timeout = std::time::Duration::try_from_secs_f64(args.timeout).context("--timeout")?;
    // With TLS on, the check dials as the system worker dials the frontend and as the roles
    // dial one another.
    let frontend_tls = config.global.tls.worker_client()?.map(|w| w.config()).transpose()?;
    let internode_tls = config.global.tls.internode_client()?;
    let mut healthy = true;
    for role in roles {
        let addr = address::local_connect_addr(std::net::SocketAddr::new(config.bind_ip()?, config.port(role)));
        let service = match role {
            Role::Frontend => sundial_frontend::HEALTH_SERVICE_NAMES[0].to_owned(),
            other => format!("sundial.{}", other.name()),
        };
        let tls = match role {
            Role::Frontend => frontend_tls.clone(),
            _ => internode_tls.clone(),
        };
        let check = async {
            let endpoint = match tls {
                Some(tls) => tonic::transport::Endpoint::from_shared(format!("https://{addr}"))?.tls_config(tls)?,
                None => tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?,
            };
            let channel = endpoint.connect_timeout(timeout).connect().await?;
            let response = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: service.clone(),
                })
                .await?;
            anyhow::Ok(response.into_inner().status)
        };
        let status = match tokio::time::timeout(timeout, check).await {
            Err(_) => Err(format!("no answer within {timeout:?}")),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Ok(Ok(s)) if s == ServingStatus::Serving as i32 => Ok(()),
            Ok(Ok(s)) => Err(format!(
                "status {}",
                ServingStatus::try_from(s).map_or_else(|_| s.to_string(), |v| v.as_str_name().to_owned())
            )),
        };
        match status {
            Ok(()) => println!("{} {addr}: SERVING", role.name()),
            Err(why) => {
                println!("{} {addr}: NOT SERVING ({why})", role.name());
                healthy = false;
            }
        }
    }
    if !healthy {
        std::process::exit(1);
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
