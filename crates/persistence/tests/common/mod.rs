//! Shared harness for the conformance suites: a fresh store per test on in-memory SQLite,
//! file SQLite and PostgreSQL (a fresh database at PGHOST/PGPORT/PGUSER, default
//! 127.0.0.1:5432 `postgres`). A PostgreSQL that cannot be reached fails; it never skips.
#![allow(dead_code)]

use std::sync::Arc;
use sundial_persistence::sql::PostgresConfig;
use sundial_persistence::*;

pub fn pg_config(database: &str) -> PostgresConfig {
    PostgresConfig {
        host: std::env::var("PGHOST").unwrap_or_else(|_| "127.0.0.1".into()),
        port: std::env::var("PGPORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(5432),
        user: std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into()),
        password: std::env::var("PGPASSWORD").unwrap_or_default(),
        database: database.into(),
        max_conns: 8,
    }
}

/// A store plus whatever must be cleaned up after the test.
pub struct Backend {
    pub store: Arc<SqlStore>,
    pg_database: Option<PostgresConfig>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    pub async fn sqlite_memory() -> Backend {
        let store = SqlStore::open(&DbConfig::Sqlite { path: None })
            .await
            .expect("open sqlite");
        Backend {
            store: Arc::new(store),
            pg_database: None,
            _dir: None,
        }
    }

    pub async fn sqlite_file() -> Backend {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("conformance.db");
        let store = SqlStore::open(&DbConfig::Sqlite { path: Some(path) })
            .await
            .expect("open sqlite file");
        Backend {
            store: Arc::new(store),
            pg_database: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Backend {
        let name = format!("sundial_conf_{}", uuid::Uuid::new_v4().simple());
        let cfg = pg_config(&name);
        sundial_persistence::sql::create_postgres_database(&cfg)
            .await
            .expect("PostgreSQL must be reachable for the conformance suite (PGHOST/PGPORT/PGUSER)");
        let store = SqlStore::open(&DbConfig::Postgres(cfg.clone()))
            .await
            .expect("open postgres");
        Backend {
            store: Arc::new(store),
            pg_database: Some(cfg),
            _dir: None,
        }
    }

    /// The database of a PostgreSQL backend.
    pub fn postgres_config(&self) -> Option<&PostgresConfig> {
        self.pg_database.as_ref()
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some(cfg) = self.pg_database {
            sundial_persistence::sql::drop_postgres_database(&cfg)
                .await
                .expect("drop test database");
        }
    }
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn(Arc<SqlStore>)`.
#[macro_export]
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite_memory { $(
            #[tokio::test]
            async fn $test() {
                let b = $crate::common::Backend::sqlite_memory().await;
                super::$test(b.store.clone()).await;
                b.finish().await;
            }
        )* }
        mod sqlite_file { $(
            #[tokio::test]
            async fn $test() {
                let b = $crate::common::Backend::sqlite_file().await;
                super::$test(b.store.clone()).await;
                b.finish().await;
            }
        )* }
        mod postgres { $(
            #[tokio::test]
            async fn $test() {
                let b = $crate::common::Backend::postgres().await;
                super::$test(b.store.clone()).await;
                b.finish().await;
            }
        )* }
    };
}
