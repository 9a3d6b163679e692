//! Executions: reads of runs, their event batches and outbox tasks, deletes, and the
//! `ExecutionStore` entry points of the state transitions (written in `transition.rs`).

use super::{Dialect, SqlStore, decode_blob};
use crate::{
    CompletedTasks, CurrentCondition, CurrentExecution, ExecutionKey, ExecutionStore, ExecutionWrite, HistoryBatch,
    PersistenceError, Result, StoredExecution, Transition,
};
use async_trait::async_trait;
use sqlx::{AnyConnection, Connection, Row};
use sundial_api::prost::Message;
use sundial_api::sundial::persistence::v1::{TimerTask, TransferTask, VisibilityTask};

impl SqlStore {
    async fn commit_one(&self, range_id: i64, t: Transition) -> Result<()> {
        self.commit_batch(range_id, std::slice::from_ref(&t))
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    /// Fails with `ShardOwnershipLost` unless the shard row still has `range_id`. On
    /// PostgreSQL the row stays share-locked until commit, so a concurrent lease bump waits.
    pub(super) async fn check_shard(&self, tx: &mut AnyConnection, shard_id: i32, range_id: i64) -> Result<()> {
        let sql = match self.dialect {
            Dialect::Postgres => "SELECT range_id FROM shards WHERE shard_id = $1 FOR SHARE",
            Dialect::Sqlite => "SELECT range_id FROM shards WHERE shard_id = $1",
        };
        let actual = sqlx::query(sql)
            .bind(shard_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<i64, _>("range_id"))
            .transpose()?
            .unwrap_or(-1);
        if actual != range_id {
            return Err(PersistenceError::ShardOwnershipLost {
                shard_id,
                expected: range_id,
                actual,
            });
        }
        Ok(())
    }
}

pub(super) async fn read_current(
    conn: &mut AnyConnection,
    shard_id: i32,
    namespace_id: &str,
    workflow_id: &str,
) -> Result<Option<CurrentExecution>> {
    let row = sqlx::query(
        "SELECT run_id, create_request_id, status, start_time FROM current_executions \
         WHERE shard_id = $1 AND namespace_id = $2 AND workflow_id = $3",
    )
    .bind(shard_id)
    .bind(namespace_id)
    .bind(workflow_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(CurrentExecution {
            run_id: r.try_get("run_id")?,
            create_request_id: r.try_get("create_request_id")?,
            status: r.try_get("status")?,
            start_time: r.try_get::<Option<i64>, _>("start_time")?.unwrap_or_default(),
        })
    })
    .transpose()
}

pub(super) fn exists_error(current: CurrentExecution) -> PersistenceError {
    PersistenceError::CurrentExecutionExists {
        run_id: current.run_id,
        create_request_id: current.create_request_id,
        status: current.status,
        start_time: current.start_time,
    }
}

#[async_trait]
impl ExecutionStore for SqlStore {
    async fn create_execution(
        &self,
        range_id: i64,
        write: ExecutionWrite<'_>,
        condition: CurrentCondition,
        current: &CurrentExecution,
    ) -> Result<()> {
        let t = Transition::Create {
            write: write.encode(),
            condition,
            current: current.clone(),
        };
        self.commit_one(range_id, t).await
    }

    async fn update_execution(
        &self,
        range_id: i64,
        write: ExecutionWrite<'_>,
        current_status: Option<i32>,
    ) -> Result<()> {
        let t = Transition::Update {
            write: write.encode(),
            current_status,
        };
        self.commit_one(range_id, t).await
    }

    async fn continue_execution(
        &self,
        range_id: i64,
        old: ExecutionWrite<'_>,
        new: ExecutionWrite<'_>,
        current: &CurrentExecution,
    ) -> Result<()> {
        let t = Transition::Continue {
            old: old.encode(),
            new: new.encode(),
            current: current.clone(),
        };
        self.commit_one(range_id, t).await
    }

    async fn commit_transitions(&self, range_id: i64, batch: &[Transition]) -> Vec<Result<()>> {
        self.commit_batch(range_id, batch).await
    }

    async fn delete_execution(&self, key: &ExecutionKey) -> Result<()> {
        with_conn!(self, write, |conn| {
            let mut tx = conn.begin().await?;
            // Both rows are addressed by the full execution key.
            for table in ["executions", "current_executions"] {
                let sql = format!(
                    "DELETE FROM {table} WHERE shard_id = $1 AND namespace_id = $2 AND workflow_id = $3 AND run_id = $4"
                );
                sqlx::query(&sql)
                    .bind(key.shard_id)
                    .bind(&key.namespace_id)
                    .bind(&key.workflow_id)
                    .bind(&key.run_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM history_node WHERE shard_id = $1 AND tree_id = $2 AND branch_id = $2")
                .bind(key.shard_id)
                .bind(&key.run_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM executions_visibility WHERE namespace_id = $1 AND run_id = $2")
                .bind(&key.namespace_id)
                .bind(&key.run_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn get_execution(&self, key: &ExecutionKey) -> Result<Option<StoredExecution>> {
        let row = with_conn!(self, read, |conn| {
            Ok(sqlx::query(
                "SELECT db_record_version, data FROM executions \
                 WHERE shard_id = $1 AND namespace_id = $2 AND workflow_id = $3 AND run_id = $4",
            )
            .bind(key.shard_id)
            .bind(&key.namespace_id)
            .bind(&key.workflow_id)
            .bind(&key.run_id)
            .fetch_optional(&mut *conn)
            .await?)
        })?;
        row.map(|r| {
            Ok(StoredExecution {
                db_record_version: r.try_get("db_record_version")?,
                state: decode_blob("mutable state", &r.try_get::<Vec<u8>, _>("data")?)?,
            })
        })
        .transpose()
    }

    async fn get_current_execution(
        &self,
        shard_id: i32,
        namespace_id: &str,
        workflow_id: &str,
    ) -> Result<Option<CurrentExecution>> {
        with_conn!(self, read, |conn| read_current(
            conn,
            shard_id,
            namespace_id,
            workflow_id
        )
        .await)
    }

    async fn read_history(
        &self,
        shard_id: i32,
        run_id: &str,
        from_event_id: i64,
        max_batches: usize,
    ) -> Result<Vec<HistoryBatch>> {
        // Only the newest write of each node (txn_id is stored negated: the smallest is the
        // newest), so a node rewritten many times never shortens a page.
        let rows = with_conn!(self, read, |conn| {
            Ok(sqlx::query(
                "SELECT node_id, txn_id, data FROM history_node h \
                 WHERE shard_id = $1 AND tree_id = $2 AND branch_id = $2 AND node_id >= $3 \
                 AND txn_id = (SELECT MIN(txn_id) FROM history_node n \
                               WHERE n.shard_id = h.shard_id AND n.tree_id = h.tree_id \
                               AND n.branch_id = h.branch_id AND n.node_id = h.node_id) \
                 ORDER BY node_id LIMIT $4",
            )
            .bind(shard_id)
            .bind(run_id)
            .bind(from_event_id)
            .bind(i64::try_from(max_batches.max(1)).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?)
        })?;
        let mut batches: Vec<HistoryBatch> = Vec::with_capacity(rows.len());
        for r in rows.iter().take(max_batches) {
            batches.push(HistoryBatch {
                first_event_id: r.try_get("node_id")?,
                txn_id: -r.try_get::<i64, _>("txn_id")?,
                history: decode_blob("history batch", &r.try_get::<Vec<u8>, _>("data")?)?,
            });
        }
        Ok(batches)
    }

    async fn load_transfer_tasks(
        &self,
        shard_id: i32,
        range: (i64, i64),
        limit: usize,
    ) -> Result<Vec<(i64, TransferTask)>> {
        load_immediate(self, "transfer_tasks", shard_id, range, limit).await
    }

    async fn load_timer_tasks(
        &self,
        shard_id: i32,
        after: (i64, i64),
        until: i64,
        limit: usize,
    ) -> Result<Vec<(i64, i64, TimerTask)>> {
        // Row-value comparison `(a, b) > (x, y)` works on both PostgreSQL and SQLite.
        let rows = with_conn!(self, read, |conn| {
            Ok(sqlx::query(
                "SELECT visibility_timestamp, task_id, data FROM timer_tasks \
                 WHERE shard_id = $1 AND (visibility_timestamp, task_id) > ($2, $3) AND visibility_timestamp <= $4 \
                 ORDER BY visibility_timestamp, task_id LIMIT $5",
            )
            .bind(shard_id)
            .bind(after.0)
            .bind(after.1)
            .bind(until)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?)
        })?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("visibility_timestamp")?,
                    r.try_get("task_id")?,
                    decode_blob("timer task", &r.try_get::<Vec<u8>, _>("data")?)?,
                ))
            })
            .collect()
    }

    async fn load_visibility_tasks(
        &self,
        shard_id: i32,
        range: (i64, i64),
        limit: usize,
    ) -> Result<Vec<(i64, VisibilityTask)>> {
        load_immediate(self, "visibility_tasks", shard_id, range, limit).await
    }

    async fn delete_tasks(&self, shard_id: i32, range_id: i64, done: &CompletedTasks) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        with_conn!(self, write, |conn| {
            let mut tx = conn.begin().await?;
            self.check_shard(&mut tx, shard_id, range_id).await?;
            for (table, ids) in [
                ("transfer_tasks", &done.transfer),
                ("visibility_tasks", &done.visibility),
            ] {
                let sql = format!("DELETE FROM {table} WHERE shard_id = $1 AND task_id = $2");
                for id in ids {
                    sqlx::query(&sql).bind(shard_id).bind(*id).execute(&mut *tx).await?;
                }
            }
            for (ts, id) in &done.timer {
                sqlx::query(
                    "DELETE FROM timer_tasks WHERE shard_id = $1 AND visibility_timestamp = $2 AND task_id = $3",
                )
                .bind(shard_id)
                .bind(*ts)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

/// Transfer and visibility tasks share a shape: (shard_id, task_id) -> data.
async fn load_immediate<M: Message + Default>(
    store: &SqlStore,
    table: &'static str,
    shard_id: i32,
    range: (i64, i64),
    limit: usize,
) -> Result<Vec<(i64, M)>> {
    let sql = format!(
        "SELECT task_id, data FROM {table} WHERE shard_id = $1 AND task_id > $2 AND task_id < $3 \
         ORDER BY task_id LIMIT $4"
    );
    let rows = with_conn!(store, read, |conn| {
        Ok(sqlx::query(&sql)
            .bind(shard_id)
            .bind(range.0)
            .bind(range.1)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?)
    })?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("task_id")?,
                decode_blob(table, &r.try_get::<Vec<u8>, _>("data")?)?,
            ))
        })
        .collect()
}
