//! Scavenger reads and guarded deletes.

use super::{SqlStore, decode_blob, limit_param};
use crate::{Result, ScavengeStore, TaskQueueRow, TaskRow};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl ScavengeStore for SqlStore {
    async fn task_queue_page(&self, after: Option<(i64, Vec<u8>)>, limit: usize) -> Result<Vec<TaskQueueRow>> {
        with_conn!(self, read, |conn| {
            let (hash, id) = after.unwrap_or((i64::MIN, Vec::new()));
            let rows = sqlx::query(
                "SELECT range_hash, task_queue_id, range_id, owner, data FROM task_queues \
                 WHERE range_hash > $1 OR (range_hash = $1 AND task_queue_id > $2) \
                 ORDER BY range_hash, task_queue_id LIMIT $3",
            )
            .bind(hash)
            .bind(id)
            .bind(limit_param(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(TaskQueueRow {
                        range_hash: r.try_get("range_hash")?,
                        task_queue_id: r.try_get("task_queue_id")?,
                        range_id: r.try_get("range_id")?,
                        owner: r.try_get("owner")?,
                        info: decode_blob("task queue info", &r.try_get::<Vec<u8>, _>("data")?)?,
                    })
                })
                .collect()
        })
    }

    async fn delete_idle_task_queue(&self, row: &TaskQueueRow) -> Result<bool> {
        with_conn!(self, write, |conn| {
            let deleted = sqlx::query(
                "DELETE FROM task_queues WHERE range_hash = $1 AND task_queue_id = $2 AND range_id = $3 AND owner = $4 \
                 AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.range_hash = $1 AND t.task_queue_id = $2)",
            )
            .bind(row.range_hash)
            .bind(&row.task_queue_id)
            .bind(row.range_id)
            .bind(&row.owner)
            .execute(&mut *conn)
            .await?;
            Ok(deleted.rows_affected() > 0)
        })
    }

    async fn task_page(&self, after: Option<(i64, Vec<u8>, i64)>, limit: usize) -> Result<Vec<TaskRow>> {
        with_conn!(self, read, |conn| {
            let (hash, id, task) = after.unwrap_or((i64::MIN, Vec::new(), i64::MIN));
            let rows = sqlx::query(
                "SELECT range_hash, task_queue_id, task_id, data FROM tasks \
                 WHERE range_hash > $1 OR (range_hash = $1 AND task_queue_id > $2) \
                    OR (range_hash = $1 AND task_queue_id = $2 AND task_id > $3) \
                 ORDER BY range_hash, task_queue_id, task_id LIMIT $4",
            )
            .bind(hash)
            .bind(id)
            .bind(task)
            .bind(limit_param(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(TaskRow {
                        range_hash: r.try_get("range_hash")?,
                        task_queue_id: r.try_get("task_queue_id")?,
                        task_id: r.try_get("task_id")?,
                        info: decode_blob("task info", &r.try_get::<Vec<u8>, _>("data")?)?,
                    })
                })
                .collect()
        })
    }

    async fn delete_task(&self, range_hash: i64, task_queue_id: &[u8], task_id: i64) -> Result<()> {
        with_conn!(self, write, |conn| {
            sqlx::query("DELETE FROM tasks WHERE range_hash = $1 AND task_queue_id = $2 AND task_id = $3")
                .bind(range_hash)
                .bind(task_queue_id)
                .bind(task_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    async fn delete_orphan_history(&self, limit: usize) -> Result<u64> {
        with_conn!(self, write, |conn| {
            // A run's history and its execution row are written and deleted in the same
            // transactions, so history with no execution row is left over for good.
            let deleted = sqlx::query(
                "DELETE FROM history_node WHERE (shard_id, tree_id) IN ( \
                   SELECT DISTINCT h.shard_id, h.tree_id FROM history_node h \
                   WHERE NOT EXISTS (SELECT 1 FROM executions e WHERE e.shard_id = h.shard_id AND e.run_id = h.tree_id) \
                   LIMIT $1)",
            )
            .bind(limit_param(limit))
            .execute(&mut *conn)
            .await?;
            Ok(deleted.rows_affected())
        })
    }

    async fn prune_members(&self, now: i64) -> Result<u64> {
        with_conn!(self, write, |conn| {
            let deleted = sqlx::query("DELETE FROM cluster_membership WHERE record_expiry < $1")
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(deleted.rows_affected())
        })
    }
}
