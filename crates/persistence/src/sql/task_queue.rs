//! Task-queue rows (the partition lease) and the `tasks` backlog. Every backlog write is fenced
//! by the partition's `range_id` inside its transaction, so an owner that lost its lease can
//! never add tasks behind the new owner's back.

use super::{Dialect, SqlStore, decode_blob, limit_param};
use crate::{LeaseOwner, PersistenceError, Result, TaskQueueKey, TaskQueueLease, TaskQueueStore, TaskRecord};
use async_trait::async_trait;
use sqlx::{Connection, Row};
use sundial_api::prost::Message;
use sundial_api::sundial::matchingservice::v1::{TaskInfo, TaskQueueInfo};

/// Lease races are rare (two owners loading the same partition at once); a few tries settle them.
const LEASE_ATTEMPTS: usize = 5;
/// Rows per multi-row INSERT: 4 binds each keeps well under every dialect's bind limit.
const INSERT_CHUNK: usize = 200;

/// Reads the stored `range_id` (inside `conn`'s transaction), -1 when the row is missing.
async fn stored_range_id(conn: &mut sqlx::AnyConnection, key: &TaskQueueKey, lock: bool) -> Result<i64> {
    let sql = if lock {
        "SELECT range_id FROM task_queues WHERE range_hash = $1 AND task_queue_id = $2 FOR UPDATE"
    } else {
        "SELECT range_id FROM task_queues WHERE range_hash = $1 AND task_queue_id = $2"
    };
    let row = sqlx::query(sql)
        .bind(key.range_hash())
        .bind(key.task_queue_id())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.try_get::<i64, _>("range_id")).transpose()?.unwrap_or(-1))
}

fn ownership_lost(key: &TaskQueueKey, expected: i64, actual: i64) -> PersistenceError {
    PersistenceError::TaskQueueOwnershipLost {
        task_queue: key.to_string(),
        expected,
        actual,
    }
}

/// The address of `host_id` if its membership row heartbeated within `timeout`.
async fn live_member_address(
    conn: &mut sqlx::AnyConnection,
    host_id: &str,
    timeout: std::time::Duration,
) -> Result<Option<String>> {
    let timeout = i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX);
    let since = sundial_common::time::now_nanos().saturating_sub(timeout);
    let row =
        sqlx::query("SELECT rpc_address, rpc_port FROM cluster_membership WHERE host_id = $1 AND last_heartbeat >= $2")
            .bind(host_id)
            .bind(since)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| -> Result<String> {
        let address: String = r.try_get("rpc_address")?;
        let port: i32 = r.try_get("rpc_port")?;
        Ok(format!("{address}:{port}"))
    })
    .transpose()
}

#[async_trait]
impl TaskQueueStore for SqlStore {
    async fn lease_task_queue(&self, key: &TaskQueueKey, owner: &LeaseOwner) -> Result<TaskQueueLease> {
        with_conn!(self, write, |conn| {
            let range_hash = key.range_hash();
            let id = key.task_queue_id();
            for _ in 0..LEASE_ATTEMPTS {
                let row = sqlx::query(
                    "SELECT range_id, data, owner FROM task_queues WHERE range_hash = $1 AND task_queue_id = $2",
                )
                .bind(range_hash)
                .bind(&id)
                .fetch_optional(&mut *conn)
                .await?;
                match row {
                    None => {
                        let info = TaskQueueInfo {
                            namespace_id: key.namespace_id.clone(),
                            name: key.name.clone(),
                            task_type: key.task_type,
                            last_update_time: Some(sundial_common::time::now_timestamp()),
                            ..Default::default()
                        };
                        let inserted = sqlx::query(
                            "INSERT INTO task_queues (range_hash, task_queue_id, range_id, data, owner) \
                             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (range_hash, task_queue_id) DO NOTHING",
                        )
                        .bind(range_hash)
                        .bind(&id)
                        .bind(info.encode_to_vec())
                        .bind(&owner.host_id)
                        .execute(&mut *conn)
                        .await?;
                        if inserted.rows_affected() == 1 {
                            return Ok(TaskQueueLease { range_id: 1, info });
                        }
                    }
                    Some(row) => {
                        let range_id: i64 = row.try_get("range_id")?;
                        let holder: String = row.try_get("owner")?;
                        if !holder.is_empty()
                            && holder != owner.host_id
                            && let Some(address) =
                                live_member_address(&mut *conn, &holder, owner.member_timeout).await?
                        {
                            return Err(PersistenceError::TaskQueueOwned {
                                task_queue: key.to_string(),
                                owner: address,
                            });
                        }
                        let info: TaskQueueInfo = decode_blob("task queue info", &row.try_get::<Vec<u8>, _>("data")?)?;
                        let bumped = sqlx::query(
                            "UPDATE task_queues SET range_id = $1, owner = $2 \
                             WHERE range_hash = $3 AND task_queue_id = $4 AND range_id = $5",
                        )
                        .bind(range_id + 1)
                        .bind(&owner.host_id)
                        .bind(range_hash)
                        .bind(&id)
                        .bind(range_id)
                        .execute(&mut *conn)
                        .await?;
                        if bumped.rows_affected() == 1 {
                            return Ok(TaskQueueLease {
                                range_id: range_id + 1,
                                info,
                            });
                        }
                    }
                }
            }
            Err(PersistenceError::ConditionFailed(format!(
                "task queue {key}: lease contended {LEASE_ATTEMPTS} times"
            )))
        })
    }

    async fn release_task_queue(&self, key: &TaskQueueKey, range_id: i64, owner: &LeaseOwner) -> Result<()> {
        with_conn!(self, write, |conn| {
            if owner.host_id.is_empty() {
                return Ok(());
            }
            sqlx::query(
                "UPDATE task_queues SET owner = '' \
                 WHERE range_hash = $1 AND task_queue_id = $2 AND range_id = $3 AND owner = $4",
            )
            .bind(key.range_hash())
            .bind(key.task_queue_id())
            .bind(range_id)
            .bind(&owner.host_id)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    async fn update_task_queue(&self, key: &TaskQueueKey, range_id: i64, info: &TaskQueueInfo) -> Result<()> {
        with_conn!(self, write, |conn| {
            let mut tx = conn.begin().await?;
            let updated = sqlx::query(
                "UPDATE task_queues SET data = $1 \
                 WHERE range_hash = $2 AND task_queue_id = $3 AND range_id = $4",
            )
            .bind(info.encode_to_vec())
            .bind(key.range_hash())
            .bind(key.task_queue_id())
            .bind(range_id)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 1 {
                tx.commit().await?;
                return Ok(());
            }
            let actual = stored_range_id(&mut tx, key, false).await?;
            Err(ownership_lost(key, range_id, actual))
        })
    }

    async fn create_tasks(&self, key: &TaskQueueKey, range_id: i64, tasks: &[(i64, TaskInfo)]) -> Result<()> {
        with_conn!(self, write, |conn| {
            if tasks.is_empty() {
                return Ok(());
            }
            let range_hash = key.range_hash();
            let id = key.task_queue_id();
            let mut tx = conn.begin().await?;
            // PostgreSQL: the row lock makes a concurrent lease bump wait for this commit (or this
            // check wait for the bump). SQLite serialises all writes on one connection already.
            let actual = stored_range_id(&mut tx, key, self.dialect == Dialect::Postgres).await?;
            if actual != range_id {
                return Err(ownership_lost(key, range_id, actual));
            }
            for chunk in tasks.chunks(INSERT_CHUNK) {
                let mut sql = String::from("INSERT INTO tasks (range_hash, task_queue_id, task_id, data) VALUES ");
                for i in 0..chunk.len() {
                    let p = i * 4;
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4));
                }
                let mut query = sqlx::query(&sql);
                for (task_id, info) in chunk {
                    query = query
                        .bind(range_hash)
                        .bind(id.clone())
                        .bind(*task_id)
                        .bind(info.encode_to_vec());
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn get_tasks(
        &self,
        key: &TaskQueueKey,
        after_task_id: i64,
        up_to_task_id: i64,
        limit: usize,
    ) -> Result<Vec<TaskRecord>> {
        with_conn!(self, read, |conn| {
            let rows = sqlx::query(
                "SELECT task_id, data FROM tasks \
                 WHERE range_hash = $1 AND task_queue_id = $2 AND task_id > $3 AND task_id <= $4 \
                 ORDER BY task_id LIMIT $5",
            )
            .bind(key.range_hash())
            .bind(key.task_queue_id())
            .bind(after_task_id)
            .bind(up_to_task_id)
            .bind(limit_param(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(TaskRecord {
                        task_id: row.try_get("task_id")?,
                        info: decode_blob("task info", &row.try_get::<Vec<u8>, _>("data")?)?,
                    })
                })
                .collect()
        })
    }

    async fn complete_tasks_up_to(&self, key: &TaskQueueKey, up_to_task_id: i64, limit: usize) -> Result<u64> {
        with_conn!(self, write, |conn| {
            // Neither dialect has DELETE … LIMIT by default; a bounded sub-select does the same.
            let deleted = sqlx::query(
                "DELETE FROM tasks WHERE range_hash = $1 AND task_queue_id = $2 AND task_id IN \
                 (SELECT task_id FROM tasks WHERE range_hash = $1 AND task_queue_id = $2 \
                  AND task_id <= $3 ORDER BY task_id LIMIT $4)",
            )
            .bind(key.range_hash())
            .bind(key.task_queue_id())
            .bind(up_to_task_id)
            .bind(limit_param(limit))
            .execute(&mut *conn)
            .await?;
            Ok(deleted.rows_affected())
        })
    }
}
