//! Static configuration for `sundial start`: a YAML file, then the environment variables of
//! Temporal's docker image on top (DB, POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, POSTGRES_PWD,
//! DBNAME, NUM_HISTORY_SHARDS, SERVICES, BIND_ON_IP, DYNAMIC_CONFIG_FILE_PATH).

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
    #[serde(default)]
    pub log: LogConfig,
    pub persistence: PersistenceConfig,
    #[serde(default)]
    pub services: ServicesConfig,
    /// Dynamic config file, hot-reloaded (Temporal calls the section `dynamicConfigClient`).
    #[serde(default, alias = "dynamicConfigClient")]
    pub dynamic_config: Option<DynamicConfigSection>,
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
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_log_level(),
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
        if let Some(ip) = get("BIND_ON_IP") {
            self.bind_on_ip = ip;
        }
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

    fn validate(&self) -> anyhow::Result<()> {
        if self.persistence.num_history_shards < 1 {
            bail!("persistence.numHistoryShards must be at least 1");
        }
        if let Some(dc) = &self.dynamic_config {
            dc.poll_interval()?;
        }
        self.db_config().map(|_| ())
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
