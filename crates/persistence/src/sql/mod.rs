//! `SqlStore`: the store traits on sqlx's `Any` driver, so one set of statements serves
//! PostgreSQL and SQLite. The few places where the dialects differ ask `Dialect`.

/// Runs `$body` as one store operation on a connection from `$store.$pool` (`read` or
/// `write`), with `$conn` bound to it as `&mut AnyConnection`. `$body` is a `Result`
/// expression and may use `?`; on PostgreSQL it is bounded by `OPERATION_TIMEOUT`, and a
/// connection left mid-conversation (timed out, or the caller gave up) is closed, never pooled
/// again (see `Checkout`).
macro_rules! with_conn {
    ($store:expr, $pool:ident, |$conn:ident| $body:expr) => {{
        let store: &$crate::sql::SqlStore = $store;
        let mut checkout = store.checkout(&store.$pool).await?;
        let outcome = store
            .bounded(async {
                let $conn: &mut sqlx::AnyConnection = &mut checkout;
                let result: $crate::Result<_> = $body;
                result
            })
            .await;
        checkout.settle(outcome)
    }};
}

mod batch;
mod cluster;
mod execution;
mod migrate;
mod namespace;
mod nexus;
mod scavenge;
mod schedule;
mod shard;
mod task_queue;
mod transition;
mod visibility;

use crate::{PersistenceError, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

pub use migrate::{SchemaStatus, create_postgres_database, drop_postgres_database};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// Where the data lives.
#[derive(Clone, Debug)]
pub enum DbConfig {
    /// `None`: in memory, gone when the process exits.
    Sqlite {
        path: Option<PathBuf>,
    },
    Postgres(PostgresConfig),
}

#[derive(Clone, Debug, PartialEq)]
pub struct PostgresConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub max_conns: u32,
}

/// What every PostgreSQL session of the store sets when it connects (startup options, no
/// extra round trip). They bound how long the server waits for a client that is gone: across
/// a network cut the server sees no FIN and no RST, only silence, and by default waits for
/// such a client for hours, holding whatever its open transaction locked.
const SESSION_SETTINGS: &[(&str, &str)] = &[
    // A transaction of ours sends each statement as soon as the previous one answers and never
    // waits on anything else in between, so a session idle inside a transaction for ten seconds
    // has lost its client. Ending it rolls the transaction back and frees its locks: among them
    // the share lock on a shard row that the next owner's lease bump waits for, which would
    // otherwise keep a cut-off host's shards from ever being taken over. Ten seconds is far
    // above any pause of a live client and about the membership timeout, after which another
    // host goes for the shards anyway. (Not `statement_timeout`: a running statement is the
    // server's work, not a vanished client, and schema migrations may rightly run long.)
    ("idle_in_transaction_session_timeout", "10s"),
    // A client that vanished while the server was sending to it (the session is then active,
    // not idle) or while its session sat idle: unacknowledged data or unanswered keepalives end
    // the session within about half a minute, not after the kernel's defaults (a quarter of an
    // hour of retransmissions; two hours before the first keepalive).
    ("tcp_user_timeout", "30s"),
    ("tcp_keepalives_idle", "10s"),
    ("tcp_keepalives_interval", "5s"),
    ("tcp_keepalives_count", "3"),
];

/// Longest a store operation may take on PostgreSQL. It ends a call stuck on a connection
/// whose packets vanish (a network cut that the kernel would sit out for a quarter of an hour
/// of retransmissions), so the process recovers once the network does, without a restart.
/// Our statements are point reads and writes of milliseconds; visibility queries, the slowest,
/// answer requests whose own deadlines are shorter than this.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

impl PostgresConfig {
    pub fn url(&self) -> String {
        self.url_for_database(&self.database)
    }

    /// `url()` with `SESSION_SETTINGS` as startup options: what the store connects with.
    pub fn session_url(&self) -> String {
        let options: Vec<String> = SESSION_SETTINGS
            .iter()
            .map(|(key, value)| format!("options[{key}]={}", percent_encode(value)))
            .collect();
        format!("{}?{}", self.url(), options.join("&"))
    }

    pub(crate) fn url_for_database(&self, database: &str) -> String {
        let auth = if self.password.is_empty() {
            percent_encode(&self.user)
        } else {
            format!("{}:{}", percent_encode(&self.user), percent_encode(&self.password))
        };
        format!(
            "postgres://{auth}@{}:{}/{}",
            self.host,
            self.port,
            percent_encode(database)
        )
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl DbConfig {
    pub fn describe(&self) -> String {
        match self {
            DbConfig::Sqlite { path: None } => "sqlite (in memory; state is lost on exit)".into(),
            DbConfig::Sqlite { path: Some(p) } => format!("sqlite {} (persistent)", p.display()),
            DbConfig::Postgres(pg) => format!("postgres {}:{}/{} (persistent)", pg.host, pg.port, pg.database),
        }
    }
}

/// One store for every table. Writes on SQLite go through a single connection, which is how
/// SQLite serialises writers anyway, and avoids lock-upgrade deadlocks between connections.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    pub(crate) dialect: Dialect,
}

fn install_drivers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(sqlx::any::install_default_drivers);
}

impl SqlStore {
    /// Connects without touching the schema.
    pub async fn connect(config: &DbConfig) -> Result<SqlStore> {
        install_drivers();
        match config {
            DbConfig::Postgres(pg) => {
                let opts = AnyConnectOptions::from_str(&pg.session_url())?;
                // No ping before every acquire: it doubled the round trips of short
                // transactions. A connection that died is found by its next query, which fails
                // (and is retried by the caller) and drops the connection from the pool.
                let pool = AnyPoolOptions::new()
                    .max_connections(pg.max_conns.max(2))
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                Ok(SqlStore {
                    write: pool.clone(),
                    read: pool,
                    dialect: Dialect::Postgres,
                })
            }
            DbConfig::Sqlite { path: None } => {
                // An in-memory database lives and dies with its one connection: never recycle it.
                let pool = sqlite_pool(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(AnyConnectOptions::from_str("sqlite::memory:")?)
                    .await?;
                Ok(SqlStore {
                    write: pool.clone(),
                    read: pool,
                    dialect: Dialect::Sqlite,
                })
            }
            DbConfig::Sqlite { path: Some(path) } => {
                let abs = std::path::absolute(path).map_err(|e| sqlx::Error::Configuration(Box::new(e)))?;
                let url = format!("sqlite://{}?mode=rwc", abs.display());
                let write = sqlite_pool(1).connect_with(AnyConnectOptions::from_str(&url)?).await?;
                let read = sqlite_pool(4).connect_with(AnyConnectOptions::from_str(&url)?).await?;
                Ok(SqlStore {
                    write,
                    read,
                    dialect: Dialect::Sqlite,
                })
            }
        }
    }

    /// Connects and applies any missing migrations (what `start-dev` and tests do).
    pub async fn open(config: &DbConfig) -> Result<SqlStore> {
        let store = Self::connect(config).await?;
        store.setup_schema().await?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// A connection of `pool` for one operation (see `with_conn!`).
    pub(crate) async fn checkout(&self, pool: &AnyPool) -> Result<Checkout> {
        Ok(Checkout {
            conn: pool.acquire().await?,
            dialect: self.dialect,
            settled: false,
        })
    }

    /// `op`'s output, or `None` if it took longer than `OPERATION_TIMEOUT` on PostgreSQL.
    /// SQLite is a local file: nothing to cut, and its busy timeout bounds lock waits.
    pub(crate) async fn bounded<T>(&self, op: impl Future<Output = T>) -> Option<T> {
        match self.dialect {
            Dialect::Postgres => tokio::time::timeout(OPERATION_TIMEOUT, op).await.ok(),
            Dialect::Sqlite => Some(op.await),
        }
    }
}

/// A pooled connection lent to one operation. If the operation does not finish (it timed out,
/// or its caller dropped it), the connection is closed instead of going back to the pool: it
/// is mid-conversation (a statement sent and its answer unread, perhaps a transaction open),
/// maybe with a server it can no longer reach. sqlx would ping such a connection before
/// pooling it again, and across a network cut that ping waits as long as the kernel keeps
/// retransmitting, holding a pool slot all the while; closing costs a reconnect. SQLite's
/// connections are never closed here (an in-memory database dies with its connection).
pub(crate) struct Checkout {
    conn: PoolConnection<Any>,
    dialect: Dialect,
    settled: bool,
}

impl Checkout {
    /// The operation's result once `bounded` returned: the connection goes back to the pool
    /// if the operation finished, and is closed if it timed out.
    pub(crate) fn settle<T>(mut self, outcome: Option<Result<T>>) -> Result<T> {
        match outcome {
            Some(result) => {
                self.settled = true;
                result
            }
            None => Err(PersistenceError::Timeout(OPERATION_TIMEOUT)),
        }
    }

    /// Marks the operation finished (for callers that use `bounded` without `settle`).
    pub(crate) fn finished(&mut self) {
        self.settled = true;
    }
}

impl std::ops::Deref for Checkout {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Checkout {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if !self.settled && self.dialect == Dialect::Postgres {
            self.conn.close_on_drop();
        }
    }
}

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; NORMAL sync is durable across process
                // crashes (only an OS crash can lose the last commits).
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                Ok(())
            })
        })
}

/// Decodes a protobuf blob column.
pub(crate) fn decode_blob<M: sundial_api::prost::Message + Default>(what: &'static str, bytes: &[u8]) -> Result<M> {
    M::decode(bytes).map_err(|e| crate::PersistenceError::corrupt(what, e))
}

/// Whether a database error is a unique-key violation (both dialects report SQLSTATE-like codes).
/// A row limit as a bind parameter: at least 1, saturating.
pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit.max(1)).unwrap_or(i64::MAX)
}

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
                || db.code().is_some_and(|c| c == "23505" || c == "1555" || c == "2067")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgConnectOptions;

    fn config(password: &str) -> PostgresConfig {
        PostgresConfig {
            host: "db.example".into(),
            port: 5433,
            user: "temporal user".into(),
            password: password.into(),
            database: "sundial".into(),
            max_conns: 4,
        }
    }

    #[test]
    fn every_session_sets_the_server_side_timeouts() {
        for password in ["", "p@ss/word"] {
            let cfg = config(password);
            let opts = PgConnectOptions::from_str(&cfg.session_url()).expect("the session url parses");
            assert_eq!(opts.get_host(), "db.example");
            assert_eq!(opts.get_port(), 5433);
            assert_eq!(opts.get_username(), "temporal user");
            assert_eq!(opts.get_database(), Some("sundial"));
            let options = opts.get_options().expect("startup options");
            for (key, value) in SESSION_SETTINGS {
                assert!(
                    options.contains(&format!("-c {key}={value}")),
                    "{key} missing from {options:?}"
                );
            }
        }
    }
}
