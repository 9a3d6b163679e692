//! Schema migrations: ordered SQL files per dialect, embedded in the binary, applied once each
//! and recorded in `schema_version`. On PostgreSQL an advisory lock keeps concurrent
//! `schema setup` runs (several containers starting at once) from racing.

use super::{Dialect, PostgresConfig, SqlStore, install_drivers};
use crate::{PersistenceError, Result};
use sqlx::any::AnyConnectOptions;
use sqlx::{Connection, Row};
use std::str::FromStr;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "main",
        sql: include_str!("../../../../migrations/postgres/0001_main.sql"),
    },
    Migration {
        version: 2,
        name: "visibility",
        sql: include_str!("../../../../migrations/postgres/0002_visibility.sql"),
    },
    Migration {
        version: 3,
        name: "visibility_queries",
        sql: include_str!("../../../../migrations/postgres/0003_visibility_queries.sql"),
    },
    Migration {
        version: 4,
        name: "task_queue_owner",
        sql: include_str!("../../../../migrations/postgres/0004_task_queue_owner.sql"),
    },
    Migration {
        version: 5,
        name: "batch_operations",
        sql: include_str!("../../../../migrations/postgres/0005_batch_operations.sql"),
    },
    Migration {
        version: 6,
        name: "executions_by_run",
        sql: include_str!("../../../../migrations/postgres/0006_executions_by_run.sql"),
    },
    Migration {
        version: 7,
        name: "cluster_secrets",
        sql: include_str!("../../../../migrations/postgres/0007_cluster_secrets.sql"),
    },
    Migration {
        version: 8,
        name: "visibility_division",
        sql: include_str!("../../../../migrations/postgres/0008_visibility_division.sql"),
    },
    Migration {
        version: 9,
        name: "nexus_endpoints",
        sql: include_str!("../../../../migrations/postgres/0009_nexus_endpoints.sql"),
    },
];

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "main",
        sql: include_str!("../../../../migrations/sqlite/0001_main.sql"),
    },
    Migration {
        version: 2,
        name: "visibility",
        sql: include_str!("../../../../migrations/sqlite/0002_visibility.sql"),
    },
    Migration {
        version: 3,
        name: "visibility_queries",
        sql: include_str!("../../../../migrations/sqlite/0003_visibility_queries.sql"),
    },
    Migration {
        version: 4,
        name: "task_queue_owner",
        sql: include_str!("../../../../migrations/sqlite/0004_task_queue_owner.sql"),
    },
    Migration {
        version: 5,
        name: "batch_operations",
        sql: include_str!("../../../../migrations/sqlite/0005_batch_operations.sql"),
    },
    Migration {
        version: 6,
        name: "executions_by_run",
        sql: include_str!("../../../../migrations/sqlite/0006_executions_by_run.sql"),
    },
    Migration {
        version: 7,
        name: "cluster_secrets",
        sql: include_str!("../../../../migrations/sqlite/0007_cluster_secrets.sql"),
    },
    Migration {
        version: 8,
        name: "visibility_division",
        sql: include_str!("../../../../migrations/sqlite/0008_visibility_division.sql"),
    },
    Migration {
        version: 9,
        name: "nexus_endpoints",
        sql: include_str!("../../../../migrations/sqlite/0009_nexus_endpoints.sql"),
    },
];

/// Arbitrary but fixed: the advisory-lock key every Sundial process uses for migrations.
const MIGRATION_LOCK_KEY: i64 = 0x5D1A_7233;

/// How the database's schema compares with what this binary expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaStatus {
    UpToDate {
        version: i64,
    },
    Behind {
        current: i64,
        expected: i64,
    },
    /// The database was set up by a newer Sundial.
    Ahead {
        current: i64,
        expected: i64,
    },
}

impl SqlStore {
    fn migrations(&self) -> &'static [Migration] {
        match self.dialect {
            Dialect::Postgres => POSTGRES,
            Dialect::Sqlite => SQLITE,
        }
    }

    /// Applies every migration not yet recorded. Idempotent; returns how many ran.
    pub async fn setup_schema(&self) -> Result<usize> {
        let mut conn = self.write.acquire().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK_KEY)
                .execute(&mut *conn)
                .await?;
        }
        let result = self.apply_missing(&mut conn).await;
        if self.dialect == Dialect::Postgres {
            // Release even after a failure; the connection goes back to the pool.
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATION_LOCK_KEY)
                .execute(&mut *conn)
                .await;
        }
        result
    }

    async fn apply_missing(&self, conn: &mut sqlx::AnyConnection) -> Result<usize> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
        let current = current_version(conn).await?;
        let mut applied = 0;
        for m in self.migrations().iter().filter(|m| m.version > current) {
            let mut tx = conn.begin().await?;
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| PersistenceError::Migration {
                    version: m.version,
                    reason: e.to_string(),
                })?;
            sqlx::query("INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(sundial_common::time::now_nanos())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version = m.version, name = m.name, "applied schema migration");
            applied += 1;
        }
        Ok(applied)
    }

    /// Compares the database's schema version with this binary's.
    pub async fn schema_status(&self) -> Result<SchemaStatus> {
        let expected = self.migrations().last().map_or(0, |m| m.version);
        let mut conn = self.read.acquire().await?;
        let exists = match self.dialect {
            Dialect::Postgres => {
                sqlx::query("SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_version'")
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_some()
            }
            Dialect::Sqlite => {
                sqlx::query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_some()
            }
        };
        let current = if exists { current_version(&mut conn).await? } else { 0 };
        Ok(match current.cmp(&expected) {
            std::cmp::Ordering::Equal => SchemaStatus::UpToDate { version: current },
            std::cmp::Ordering::Less => SchemaStatus::Behind { current, expected },
            std::cmp::Ordering::Greater => SchemaStatus::Ahead { current, expected },
        })
    }
}

async fn current_version(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>("v")?)
}

/// Creates the configured PostgreSQL database if it does not exist (connecting to the server's
/// `postgres` database to do so). Returns whether it was created.
pub async fn create_postgres_database(pg: &PostgresConfig) -> Result<bool> {
    install_drivers();
    if pg.database.is_empty()
        || !pg
            .database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(PersistenceError::Migration {
            version: 0,
            reason: format!(
                "invalid database name {:?}: use letters, digits, '_' or '-'",
                pg.database
            ),
        });
    }
    let opts = AnyConnectOptions::from_str(&pg.url_for_database("postgres"))?;
    let mut conn = sqlx::AnyConnection::connect_with(&opts).await?;
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&pg.database)
        .fetch_optional(&mut conn)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    match sqlx::raw_sql(&format!("CREATE DATABASE \"{}\"", pg.database))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Ok(true),
        // Another process created it between our check and our create.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Drops a PostgreSQL database, disconnecting its sessions (used by tests for cleanup).
pub async fn drop_postgres_database(pg: &PostgresConfig) -> Result<()> {
    install_drivers();
    let opts = AnyConnectOptions::from_str(&pg.url_for_database("postgres"))?;
    let mut conn = sqlx::AnyConnection::connect_with(&opts).await?;
    let sql = format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        pg.database.replace('"', "")
    );
    sqlx::raw_sql(&sql).execute(&mut conn).await?;
    Ok(())
}
