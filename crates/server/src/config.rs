//! Static configuration for `sundial start`: a YAML file, then the environment variables of
//! Temporal's docker image on top (DB, POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, POSTGRES_PWD,
//! DBNAME, VISIBILITY_DBNAME, NUM_HISTORY_SHARDS, SERVICES, BIND_ON_IP,
//! TEMPORAL_BROADCAST_ADDRESS, DYNAMIC_CONFIG_FILE_PATH, SKIP_SCHEMA_SETUP, PROMETHEUS_ENDPOINT).

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use sundial_persistence::sql::PostgresConfig;
use sundial_persistence::{DbConfig, Role};

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default = "default_cluster_name")]
    pub cluster_name: String,
    /// Temporal's static config spells it `bindOnIP`.
    #[serde(default = "default_bind", alias = "bindOnIP")]
    pub bind_on_ip: String,
    /// The IP recorded in `cluster_membership` for peers (Temporal's
    /// `global.membership.broadcastAddress`, env TEMPORAL_BROADCAST_ADDRESS). Unset: the bind
    /// address, or for a wildcard bind the address the host name resolves to.
    #[serde(default)]
    pub broadcast_address: Option<String>,
    #[serde(default)]
    pub log: LogConfig,
    pub persistence: PersistenceConfig,
    #[serde(default)]
    pub services: ServicesConfig,
    /// Dynamic config file, hot-reloaded (Temporal calls the section `dynamicConfigClient`).
    #[serde(default, alias = "dynamicConfigClient")]
    pub dynamic_config: Option<DynamicConfigSection>,
    /// Temporal's `global` section: `global.metrics.prometheus`, `global.tls` and
    /// `global.authorization`.
    #[serde(default)]
    pub global: GlobalSection,
    /// Settings that exist only as docker environment variables.
    #[serde(skip)]
    pub docker: DockerEnv,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GlobalSection {
    #[serde(default)]
    pub metrics: Option<MetricsSection>,
    /// `global.tls` (crate::tls).
    #[serde(default)]
    pub tls: crate::tls::TlsSection,
    /// `global.authorization` (crate::authz).
    #[serde(default)]
    pub authorization: crate::authz::AuthorizationSection,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricsSection {
    #[serde(default)]
    pub prometheus: Option<PrometheusSection>,
}

/// `global.metrics.prometheus`: where `/metrics` is served. Metrics are named the way
/// Temporal's default `tally` framework names them whatever `framework` says.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusSection {
    /// `host:port`; required by Temporal, and here the switch that turns metrics on.
    #[serde(default)]
    pub listen_address: String,
    /// Default `/metrics`.
    #[serde(default)]
    pub handler_path: String,
    /// `tally` (default) or `opentelemetry`; Sundial always exports tally names.
    #[serde(default)]
    pub framework: Option<String>,
    /// Deprecated in Temporal too (timers are always histograms); accepted and ignored.
    #[serde(default)]
    pub timer_type: Option<String>,
}

/// Temporal docker-image variables with no static-config counterpart here.
#[derive(Debug, Default, PartialEq)]
pub struct DockerEnv {
    /// SKIP_SCHEMA_SETUP: `Some(false)` makes `start` create/migrate the database first (as
    /// Temporal's auto-setup image does unless SKIP_SCHEMA_SETUP=true); unset or `true`: it
    /// only checks that the schema is up to date.
    pub skip_schema_setup: Option<bool>,
    /// VISIBILITY_DBNAME: accepted for compatibility; visibility records live in the main
    /// database (DBNAME) here.
    pub visibility_dbname: Option<String>,
    /// PROMETHEUS_ENDPOINT: the metrics listen address (wins over the file's
    /// `global.metrics.prometheus.listenAddress`, as in Temporal's docker template).
    pub prometheus_endpoint: Option<String>,
}

impl DockerEnv {
    /// Whether `start` applies the schema before running.
    pub fn setup_schema_at_start(&self) -> bool {
        self.skip_schema_setup == Some(false)
    }
}

/// A boolean environment value: true/false, 1/0, yes/no (any case).
fn parse_env_bool(name: &str, value: &str) -> anyhow::Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => bail!("{name}={value} is not a boolean: use true or false"),
    }
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DynamicConfigSection {
    /// Path of the YAML file (relative paths are relative to the working directory).
    pub filepath: PathBuf,
    /// How often the file's mtime is checked: `"10s"`, `"1m"` or seconds; at least 5 s.
    #[serde(default)]
    pub poll_interval: Option<DurationText>,
}

/// A duration as written in YAML: `60s` or a number of seconds.
#[derive(Debug, Deserialize, PartialEq, Clone)]
#[serde(untagged)]
pub enum DurationText {
    Seconds(f64),
    Text(String),
}

impl DynamicConfigSection {
    /// The poll interval: default 10 s, at least 5 s.
    pub fn poll_interval(&self) -> anyhow::Result<Duration> {
        let interval = match &self.poll_interval {
            None => return Ok(sundial_dynconfig::DEFAULT_POLL_INTERVAL),
            Some(DurationText::Seconds(s)) if s.is_finite() && *s >= 0.0 => {
                Duration::try_from_secs_f64(*s).unwrap_or(Duration::MAX)
            }
            Some(DurationText::Seconds(s)) => bail!("dynamicConfig.pollInterval {s} is not a duration"),
            Some(DurationText::Text(t)) => {
                sundial_dynconfig::parse_duration(t).map_err(|e| anyhow::anyhow!("dynamicConfig.pollInterval: {e}"))?
            }
        };
        if interval < sundial_dynconfig::MIN_POLL_INTERVAL {
            bail!(
                "dynamicConfig.pollInterval must be at least {}, not {}",
                sundial_dynconfig::format_duration(sundial_dynconfig::MIN_POLL_INTERVAL),
                sundial_dynconfig::format_duration(interval)
            );
        }
        Ok(interval)
    }
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogConfig {
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `json` (one JSON object per line) or `console` (text, the default); Temporal's key.
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_log_level(),
            format: LogFormat::default(),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text (`console`; the CLI's start-dev calls it `pretty`).
    #[default]
    #[serde(alias = "pretty")]
    Console,
    /// One JSON object per line, fields at the top level, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "console" | "pretty" => Ok(LogFormat::Console),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected json, console or pretty"
            )),
        }
    }
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PersistenceConfig {
    #[serde(default = "default_shards")]
    pub num_history_shards: i32,
    /// `postgres` or `sqlite`.
    pub driver: String,
    #[serde(default)]
    pub postgres: Option<PostgresSection>,
    #[serde(default)]
    pub sqlite: Option<SqliteSection>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostgresSection {
    #[serde(default = "default_pg_host")]
    pub host: String,
    #[serde(default = "default_pg_port")]
    pub port: u16,
    #[serde(default = "default_pg_user")]
    pub user: String,
    #[serde(default)]
    pub password: String,
    #[serde(default = "default_pg_database")]
    pub database: String,
    #[serde(default = "default_max_conns")]
    pub max_conns: u32,
}

impl Default for PostgresSection {
    fn default() -> Self {
        Self {
            host: default_pg_host(),
            port: default_pg_port(),
            user: default_pg_user(),
            password: String::new(),
            database: default_pg_database(),
            max_conns: default_max_conns(),
        }
    }
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqliteSection {
    /// Empty: in memory.
    #[serde(default)]
    pub filename: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    #[serde(default = "ServiceConfig::frontend")]
    pub frontend: ServiceConfig,
    #[serde(default = "ServiceConfig::history")]
    pub history: ServiceConfig,
    #[serde(default = "ServiceConfig::matching")]
    pub matching: ServiceConfig,
    #[serde(default = "ServiceConfig::worker")]
    pub worker: ServiceConfig,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            frontend: ServiceConfig::frontend(),
            history: ServiceConfig::history(),
            matching: ServiceConfig::matching(),
            worker: ServiceConfig::worker(),
        }
    }
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub port: u16,
}

impl ServiceConfig {
    fn frontend() -> Self {
        Self { port: 7233 }
    }
    fn history() -> Self {
        Self { port: 7234 }
    }
    fn matching() -> Self {
        Self { port: 7235 }
    }
    fn worker() -> Self {
        Self { port: 7239 }
    }
}

fn default_cluster_name() -> String {
    sundial_common::DEFAULT_CLUSTER_NAME.into()
}
fn default_bind() -> String {
    "127.0.0.1".into()
}
fn default_log_level() -> String {
    "info".into()
}
fn default_shards() -> i32 {
    4
}
fn default_pg_host() -> String {
    "127.0.0.1".into()
}
fn default_pg_port() -> u16 {
    5432
}
fn default_pg_user() -> String {
    "postgres".into()
}
fn default_pg_database() -> String {
    "temporal".into()
}
fn default_max_conns() -> u32 {
    20
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        let mut config: Config =
            serde_yaml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        config.apply_env(|k| std::env::var(k).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the docker image's environment variables; `get` reads one.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(db) = get("DB") {
            self.persistence.driver = match db.as_str() {
                "postgres" | "postgres12" | "postgres12_pgx" | "postgresql" => "postgres".into(),
                "sqlite" => "sqlite".into(),
                other => bail!("DB={other} is not supported: use postgres12 or sqlite"),
            };
        }
        let pg_env = ["POSTGRES_SEEDS", "DB_PORT", "POSTGRES_USER", "POSTGRES_PWD", "DBNAME"];
        if pg_env.iter().any(|k| get(k).is_some()) {
            let pg = self.persistence.postgres.get_or_insert_with(Default::default);
            if let Some(seeds) = get("POSTGRES_SEEDS") {
                // Temporal accepts a comma-separated list; we use the first seed.
                pg.host = seeds.split(',').next().unwrap_or_default().trim().to_owned();
            }
            if let Some(port) = get("DB_PORT") {
                pg.port = port
                    .parse()
                    .with_context(|| format!("DB_PORT={port} is not a port number"))?;
            }
            if let Some(user) = get("POSTGRES_USER") {
                pg.user = user;
            }
            if let Some(pwd) = get("POSTGRES_PWD") {
                pg.password = pwd;
            }
            if let Some(name) = get("DBNAME") {
                pg.database = name;
            }
        }
        if let Some(n) = get("NUM_HISTORY_SHARDS") {
            self.persistence.num_history_shards = n
                .parse()
                .with_context(|| format!("NUM_HISTORY_SHARDS={n} is not a number"))?;
        }
        if let Some(ip) = get("BIND_ON_IP").filter(|v| !v.is_empty()) {
            self.bind_on_ip = ip;
        }
        if let Some(ip) = get("TEMPORAL_BROADCAST_ADDRESS").filter(|v| !v.is_empty()) {
            self.broadcast_address = Some(ip);
        }
        if let Some(v) = get("SKIP_SCHEMA_SETUP") {
            self.docker.skip_schema_setup = Some(parse_env_bool("SKIP_SCHEMA_SETUP", &v)?);
        }
        self.docker.visibility_dbname = get("VISIBILITY_DBNAME").filter(|v| !v.is_empty());
        self.docker.prometheus_endpoint = get("PROMETHEUS_ENDPOINT").filter(|v| !v.is_empty());
        self.apply_tls_env(&get)?;
        self.global.authorization.apply_env(&get);
        if let Some(path) = get("DYNAMIC_CONFIG_FILE_PATH").filter(|p| !p.is_empty()) {
            match &mut self.dynamic_config {
                Some(section) => section.filepath = PathBuf::from(path),
                None => {
                    self.dynamic_config = Some(DynamicConfigSection {
                        filepath: PathBuf::from(path),
                        poll_interval: None,
                    })
                }
            }
        }
        Ok(())
    }

    /// The TEMPORAL_TLS_* variables of Temporal's docker config template, each filling the
    /// `global.tls` keys the template fills with it (unset or empty: the file's value stays).
    fn apply_tls_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let tls = &mut self.global.tls;
        if let Some(v) = get("TEMPORAL_TLS_REFRESH_INTERVAL") {
            tls.refresh_interval = Some(DurationText::Text(v));
        }
        let frontend = tls.frontend.get_or_insert_with(Default::default);
        let internode = tls.internode.get_or_insert_with(Default::default);
        let fs = frontend.server.get_or_insert_with(Default::default);
        let is = internode.server.get_or_insert_with(Default::default);
        if let Some(v) = get("TEMPORAL_TLS_REQUIRE_CLIENT_AUTH") {
            let require = parse_env_bool("TEMPORAL_TLS_REQUIRE_CLIENT_AUTH", &v)?;
            fs.require_client_auth = require;
            is.require_client_auth = require;
        }
        let set = |target: &mut String, key: &str| {
            if let Some(v) = get(key) {
                *target = v;
            }
        };
        set(&mut fs.cert_file, "TEMPORAL_TLS_FRONTEND_CERT");
        set(&mut fs.key_file, "TEMPORAL_TLS_FRONTEND_KEY");
        set(&mut fs.cert_data, "TEMPORAL_TLS_FRONTEND_CERT_DATA");
        set(&mut fs.key_data, "TEMPORAL_TLS_FRONTEND_KEY_DATA");
        set(&mut is.cert_file, "TEMPORAL_TLS_SERVER_CERT");
        set(&mut is.key_file, "TEMPORAL_TLS_SERVER_KEY");
        set(&mut is.cert_data, "TEMPORAL_TLS_SERVER_CERT_DATA");
        set(&mut is.key_data, "TEMPORAL_TLS_SERVER_KEY_DATA");
        // Both client CAs are written only when the first is set, as in the template.
        if let Some(first) = get("TEMPORAL_TLS_CLIENT1_CA_CERT") {
            fs.client_ca_files = std::iter::once(first)
                .chain(get("TEMPORAL_TLS_CLIENT2_CA_CERT"))
                .collect();
        }
        if let Some(first) = get("TEMPORAL_TLS_CLIENT1_CA_CERT_DATA") {
            fs.client_ca_data = std::iter::once(first)
                .chain(get("TEMPORAL_TLS_CLIENT2_CA_CERT_DATA"))
                .collect();
        }
        let fc = frontend.client.get_or_insert_with(Default::default);
        let ic = internode.client.get_or_insert_with(Default::default);
        if let Some(ca) = get("TEMPORAL_TLS_SERVER_CA_CERT") {
            is.client_ca_files = vec![ca.clone()];
            ic.root_ca_files = vec![ca.clone()];
            fc.root_ca_files = vec![ca];
        }
        if let Some(ca) = get("TEMPORAL_TLS_SERVER_CA_CERT_DATA") {
            is.client_ca_data = vec![ca.clone()];
            ic.root_ca_data = vec![ca.clone()];
            fc.root_ca_data = vec![ca];
        }
        set(&mut ic.server_name, "TEMPORAL_TLS_INTERNODE_SERVER_NAME");
        set(&mut fc.server_name, "TEMPORAL_TLS_FRONTEND_SERVER_NAME");
        if let Some(v) = get("TEMPORAL_TLS_INTERNODE_DISABLE_HOST_VERIFICATION") {
            ic.disable_host_verification = parse_env_bool("TEMPORAL_TLS_INTERNODE_DISABLE_HOST_VERIFICATION", &v)?;
        }
        if let Some(v) = get("TEMPORAL_TLS_FRONTEND_DISABLE_HOST_VERIFICATION") {
            fc.disable_host_verification = parse_env_bool("TEMPORAL_TLS_FRONTEND_DISABLE_HOST_VERIFICATION", &v)?;
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.global.tls.check()?;
        self.global.authorization.settings()?;
        if self.persistence.num_history_shards < 1 {
            bail!("persistence.numHistoryShards must be at least 1");
        }
        if let Some(dc) = &self.dynamic_config {
            dc.poll_interval()?;
        }
        self.bind_ip()?;
        self.broadcast_ip()?;
        self.db_config().map(|_| ())
    }

    /// `bindOnIP` / BIND_ON_IP as an address.
    pub fn bind_ip(&self) -> anyhow::Result<std::net::IpAddr> {
        self.bind_on_ip
            .trim()
            .parse()
            .with_context(|| format!("bindOnIP / BIND_ON_IP {:?} is not an IP address", self.bind_on_ip))
    }

    /// `broadcastAddress` / TEMPORAL_BROADCAST_ADDRESS, when set.
    pub fn broadcast_ip(&self) -> anyhow::Result<Option<std::net::IpAddr>> {
        self.broadcast_address
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(crate::address::parse_broadcast)
            .transpose()
            .context("broadcastAddress / TEMPORAL_BROADCAST_ADDRESS")
    }

    /// Warnings about accepted settings that have no effect here.
    pub fn notices(&self) -> Vec<String> {
        let mut out = self.global.tls.notices();
        if let Some(name) = &self.docker.visibility_dbname {
            let main = self.persistence.postgres.as_ref().map(|p| p.database.as_str());
            if self.persistence.driver != "postgres" || main != Some(name.as_str()) {
                out.push(format!(
                    "VISIBILITY_DBNAME={name} is accepted for compatibility, but visibility records are kept in \
                     the main database ({}): no separate visibility database is used",
                    main.unwrap_or("the sqlite store")
                ));
            }
        }
        if let Some(framework) = self.prometheus().and_then(|p| p.framework.as_deref())
            && framework != "tally"
        {
            out.push(format!(
                "global.metrics.prometheus.framework={framework}: sundial exports tally-style names \
                 (no _total, seconds histograms) regardless"
            ));
        }
        out
    }

    fn prometheus(&self) -> Option<&PrometheusSection> {
        self.global.metrics.as_ref().and_then(|m| m.prometheus.as_ref())
    }

    /// Where to serve `/metrics` (address, handler path), if metrics are on: PROMETHEUS_ENDPOINT,
    /// else `global.metrics.prometheus.listenAddress`.
    pub fn metrics_endpoint(&self) -> Option<(String, String)> {
        let section = self.prometheus();
        let path = section
            .map(|p| p.handler_path.clone())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| sundial_metrics::HANDLER_PATH.to_owned());
        let address = self.docker.prometheus_endpoint.clone().or_else(|| {
            section
                .map(|p| p.listen_address.clone())
                .filter(|a| !a.trim().is_empty())
        })?;
        // Go's ":8000" (every interface) is not a socket address to Rust.
        let address = match address.trim() {
            a if a.starts_with(':') => format!("0.0.0.0{a}"),
            a => a.to_owned(),
        };
        Some((address, path))
    }

    pub fn db_config(&self) -> anyhow::Result<DbConfig> {
        match self.persistence.driver.as_str() {
            "postgres" => {
                let pg = self
                    .persistence
                    .postgres
                    .as_ref()
                    .context("persistence.postgres is required for driver postgres")?;
                Ok(DbConfig::Postgres(PostgresConfig {
                    host: pg.host.clone(),
                    port: pg.port,
                    user: pg.user.clone(),
                    password: pg.password.clone(),
                    database: pg.database.clone(),
                    max_conns: pg.max_conns,
                }))
            }
            "sqlite" => {
                let file = self
                    .persistence
                    .sqlite
                    .as_ref()
                    .map(|s| s.filename.as_str())
                    .unwrap_or("");
                Ok(DbConfig::Sqlite {
                    path: (!file.is_empty()).then(|| PathBuf::from(file)),
                })
            }
            other => bail!("persistence.driver {other:?} is not supported: use postgres or sqlite"),
        }
    }

    pub fn port(&self, role: Role) -> u16 {
        match role {
            Role::Frontend => self.services.frontend.port,
            Role::History => self.services.history.port,
            Role::Matching => self.services.matching.port,
            Role::Worker => self.services.worker.port,
        }
    }
}

/// Parses `SERVICES` / `--service` values: names separated by ',' or ':'.
pub fn parse_roles(values: &[String]) -> anyhow::Result<Vec<Role>> {
    let mut roles = Vec::new();
    for name in values
        .iter()
        .flat_map(|v| v.split([',', ':']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let role = Role::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .with_context(|| format!("unknown service {name:?}: use frontend, history, matching or worker"))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn env_overrides_win_over_the_file() {
        let mut config: Config = serde_yaml::from_str("persistence:\n  driver: sqlite\n").expect("parse");
        let env: HashMap<&str, &str> = [
            ("DB", "postgres12"),
            ("POSTGRES_SEEDS", "db1,db2"),
            ("DB_PORT", "5433"),
            ("DBNAME", "sundial"),
            ("NUM_HISTORY_SHARDS", "8"),
            ("BIND_ON_IP", "0.0.0.0"),
        ]
        .into();
        config.apply_env(|k| env.get(k).map(|v| v.to_string())).expect("env");
        match config.db_config().expect("db") {
            DbConfig::Postgres(pg) => {
                assert_eq!(
                    (pg.host.as_str(), pg.port, pg.database.as_str()),
                    ("db1", 5433, "sundial")
                );
                assert_eq!(pg.user, "postgres");
            }
            other => panic!("expected postgres, got {other:?}"),
        }
        assert_eq!(config.persistence.num_history_shards, 8);
        assert_eq!(config.bind_on_ip, "0.0.0.0");
        assert_eq!(config.port(Role::Matching), 7235);
    }

    #[test]
    fn tls_env_fills_the_keys_temporal_s_template_fills() {
        let mut config: Config = serde_yaml::from_str("persistence:\n  driver: sqlite\n").expect("parse");
        let env: HashMap<&str, &str> = [
            ("TEMPORAL_TLS_FRONTEND_CERT", "/f.pem"),
            ("TEMPORAL_TLS_FRONTEND_KEY", "/f.key"),
            ("TEMPORAL_TLS_REQUIRE_CLIENT_AUTH", "true"),
            ("TEMPORAL_TLS_CLIENT1_CA_CERT", "/c1.pem"),
            ("TEMPORAL_TLS_CLIENT2_CA_CERT", "/c2.pem"),
            ("TEMPORAL_TLS_SERVER_CA_CERT", "/ca.pem"),
            ("TEMPORAL_TLS_FRONTEND_SERVER_NAME", "temporal"),
            ("TEMPORAL_TLS_REFRESH_INTERVAL", "30s"),
        ]
        .into();
        config.apply_env(|k| env.get(k).map(|v| v.to_string())).expect("env");
        let tls = &config.global.tls;
        let server = tls.frontend_server().expect("frontend TLS on");
        assert_eq!(
            (server.cert_file.as_str(), server.key_file.as_str()),
            ("/f.pem", "/f.key")
        );
        assert!(server.require_client_auth);
        assert_eq!(server.client_ca_files, vec!["/c1.pem".to_owned(), "/c2.pem".to_owned()]);
        let client = tls
            .frontend
            .as_ref()
            .and_then(|g| g.client.as_ref())
            .expect("frontend client");
        assert_eq!(client.root_ca_files, vec!["/ca.pem".to_owned()]);
        assert_eq!(client.server_name, "temporal");
        assert_eq!(tls.refresh().expect("interval"), Some(Duration::from_secs(30)));
        let internode = tls
            .internode
            .as_ref()
            .and_then(|g| g.server.as_ref())
            .expect("internode");
        assert!(
            internode.key_file.is_empty(),
            "no internode TLS unless TEMPORAL_TLS_SERVER_KEY is set"
        );
    }

    #[test]
    fn shipped_config_files_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let mut loaded = 0;
        for entry in std::fs::read_dir(&dir).expect("config dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let config = Config::load(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                assert_eq!(config.bind_on_ip, "127.0.0.1", "{}", path.display());
                loaded += 1;
            }
        }
        assert!(loaded >= 2, "found {loaded} config files in {}", dir.display());
    }

    #[test]
    fn docker_only_variables() {
        let load = |pairs: &[(&str, &str)]| {
            let mut config: Config =
                serde_yaml::from_str("persistence:\n  driver: postgres\n  postgres: {}\n").expect("parse");
            let env: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            config.apply_env(|k| env.get(k).cloned()).map(|_| config)
        };
        let plain = load(&[]).expect("no env");
        assert!(!plain.docker.setup_schema_at_start(), "unset: only check the schema");
        assert_eq!(plain.broadcast_ip().expect("none"), None);
        assert!(plain.notices().is_empty());

        let c = load(&[
            ("BIND_ON_IP", "0.0.0.0"),
            ("TEMPORAL_BROADCAST_ADDRESS", "172.20.0.4"),
            ("SKIP_SCHEMA_SETUP", "false"),
            ("VISIBILITY_DBNAME", "temporal_visibility"),
            ("PROMETHEUS_ENDPOINT", "0.0.0.0:8000"),
        ])
        .expect("env");
        c.validate().expect("valid");
        assert_eq!(c.bind_ip().expect("bind").to_string(), "0.0.0.0");
        assert_eq!(
            c.broadcast_ip().expect("broadcast").map(|i| i.to_string()).as_deref(),
            Some("172.20.0.4")
        );
        assert!(c.docker.setup_schema_at_start());
        let notices = c.notices().join("\n");
        assert!(
            notices.contains("VISIBILITY_DBNAME=temporal_visibility") && notices.contains("(temporal)"),
            "{notices}"
        );
        assert!(!notices.contains("PROMETHEUS_ENDPOINT"), "{notices}");
        assert_eq!(
            c.metrics_endpoint(),
            Some(("0.0.0.0:8000".to_owned(), "/metrics".to_owned()))
        );
        assert_eq!(plain.metrics_endpoint(), None, "off unless configured");

        assert!(
            !load(&[("SKIP_SCHEMA_SETUP", "true")])
                .expect("skip")
                .docker
                .setup_schema_at_start()
        );
        assert!(load(&[("SKIP_SCHEMA_SETUP", "maybe")]).is_err());
        // Same database named twice: nothing to warn about.
        assert!(
            load(&[("DBNAME", "t"), ("VISIBILITY_DBNAME", "t")])
                .expect("same")
                .notices()
                .is_empty()
        );
        for bad in ["0.0.0.0", "history-host"] {
            let c = load(&[("TEMPORAL_BROADCAST_ADDRESS", bad)]).expect("parsed later");
            assert!(c.validate().is_err(), "{bad} must be rejected");
        }
        assert!(
            load(&[("BIND_ON_IP", "not-an-ip")])
                .expect("parsed later")
                .validate()
                .is_err()
        );
    }

    #[test]
    fn docker_image_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker/server/config/docker.yaml");
        let text = std::fs::read_to_string(&path).expect("docker/server/config/docker.yaml");
        let config: Config = serde_yaml::from_str(&text).expect("parse");
        config.validate().expect("valid");
        assert_eq!(config.bind_on_ip, "0.0.0.0");
        assert_eq!(config.port(Role::Frontend), 7233);
        assert!(config.dynamic_config.is_some());
    }

    #[test]
    fn dynamic_config_section_and_env() {
        let yaml = "persistence:\n  driver: sqlite\ndynamicConfigClient:\n  filepath: dc.yaml\n  pollInterval: 60s\n";
        let mut config: Config = serde_yaml::from_str(yaml).expect("parse");
        let dc = config.dynamic_config.as_ref().expect("section");
        assert_eq!(dc.poll_interval().expect("interval"), Duration::from_secs(60));
        config
            .apply_env(|k| (k == "DYNAMIC_CONFIG_FILE_PATH").then(|| "other.yaml".to_string()))
            .expect("env");
        let dc = config.dynamic_config.as_ref().expect("section");
        assert_eq!(dc.filepath, PathBuf::from("other.yaml"));
        assert_eq!(dc.poll_interval().expect("kept"), Duration::from_secs(60));

        let short: Config = serde_yaml::from_str(
            "persistence:\n  driver: sqlite\ndynamicConfig:\n  filepath: dc.yaml\n  pollInterval: 2\n",
        )
        .expect("parse");
        assert!(short.validate().is_err(), "below 5 s");
        let default: Config =
            serde_yaml::from_str("persistence:\n  driver: sqlite\ndynamicConfig: {filepath: dc.yaml}\n")
                .expect("parse");
        assert_eq!(
            default
                .dynamic_config
                .as_ref()
                .expect("section")
                .poll_interval()
                .expect("default"),
            Duration::from_secs(10)
        );
        assert!(
            serde_yaml::from_str::<Config>("persistence:\n  driver: sqlite\ndynamicConfig: {filepath: x, poll: 1}\n")
                .is_err()
        );
        let mut none: Config = serde_yaml::from_str("persistence:\n  driver: sqlite\n").expect("parse");
        none.apply_env(|k| (k == "DYNAMIC_CONFIG_FILE_PATH").then(|| "d.yaml".to_string()))
            .expect("env");
        assert_eq!(none.dynamic_config.expect("from env").filepath, PathBuf::from("d.yaml"));
    }

    #[test]
    fn prometheus_section_and_env() {
        let yaml = "persistence:\n  driver: sqlite\nglobal:\n  metrics:\n    prometheus:\n      framework: tally\n      \
                    timerType: histogram\n      listenAddress: 127.0.0.1:8000\n";
        let mut config: Config = serde_yaml::from_str(yaml).expect("parse");
        assert_eq!(
            config.metrics_endpoint(),
            Some(("127.0.0.1:8000".to_owned(), "/metrics".to_owned()))
        );
        assert!(config.notices().is_empty());
        config
            .apply_env(|k| (k == "PROMETHEUS_ENDPOINT").then(|| "0.0.0.0:9090".to_string()))
            .expect("env");
        assert_eq!(config.metrics_endpoint().map(|e| e.0).as_deref(), Some("0.0.0.0:9090"));
        let otel: Config = serde_yaml::from_str(
            "persistence: {driver: sqlite}\nglobal: {metrics: {prometheus: {framework: opentelemetry, \
             listenAddress: ':8000', handlerPath: /m}}}\n",
        )
        .expect("parse");
        assert_eq!(
            otel.metrics_endpoint(),
            Some(("0.0.0.0:8000".to_owned(), "/m".to_owned()))
        );
        assert!(otel.notices().join("").contains("tally"));
        assert!(
            serde_yaml::from_str::<Config>("persistence: {driver: sqlite}\nglobal: {metrics: {statsd: {}}}\n").is_err(),
            "statsd is not supported and must not be silently ignored"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(serde_yaml::from_str::<Config>("persistence:\n  driver: sqlite\n  typo: 1\n").is_err());
        let mut config: Config = serde_yaml::from_str("persistence:\n  driver: sqlite\n").expect("parse");
        assert!(config.apply_env(|k| (k == "DB").then(|| "mysql".to_string())).is_err());
        assert!(parse_roles(&["frontend,bogus".into()]).is_err());
        assert_eq!(
            parse_roles(&["history:matching".into(), "history".into()]).expect("roles"),
            vec![Role::History, Role::Matching]
        );
    }
}
