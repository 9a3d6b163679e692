//! Executions, their event batches and outbox tasks. Every write checks the shard's
//! `range_id` inside its transaction, so a shard owner that lost its lease cannot commit.

use super::{Dialect, SqlStore, decode_blob, is_unique_violation};
use crate::{
    CompletedTasks, CurrentCondition, CurrentExecution, ExecutionKey, ExecutionStore, ExecutionWrite, HistoryBatch,
    NewTask, PersistenceError, Result, StoredExecution,
};
use async_trait::async_trait;
use sqlx::{AnyConnection, Row};
use sundial_api::prost::Message;
use sundial_api::sundial::persistence::v1::{TimerTask, TransferTask, VisibilityTask};

impl SqlStore {
    /// Fails with `ShardOwnershipLost` unless the shard row still has `range_id`. On
    /// PostgreSQL the row stays share-locked until commit, so a concurrent lease bump waits.
    async fn check_shard(&self, tx: &mut AnyConnection, shard_id: i32, range_id: i64) -> Result<()> {
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

async fn insert_history(tx: &mut AnyConnection, key: &ExecutionKey, batch: &HistoryBatch) -> Result<()> {
    sqlx::query(
        "INSERT INTO history_node (shard_id, tree_id, branch_id, node_id, txn_id, prev_txn_id, data) \
         VALUES ($1, $2, $2, $3, $4, 0, $5)",
    )
    .bind(key.shard_id)
    .bind(&key.run_id)
    .bind(batch.first_event_id)
    .bind(-batch.txn_id)
    .bind(batch.history.encode_to_vec())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn insert_tasks(tx: &mut AnyConnection, shard_id: i32, tasks: &[NewTask]) -> Result<()> {
    for task in tasks {
        match task {
            NewTask::Transfer { task_id, task } => {
                sqlx::query("INSERT INTO transfer_tasks (shard_id, task_id, data) VALUES ($1, $2, $3)")
                    .bind(shard_id)
                    .bind(*task_id)
                    .bind(task.encode_to_vec())
                    .execute(&mut *tx)
                    .await?;
            }
            NewTask::Timer { fire_at, task_id, task } => {
                sqlx::query(
                    "INSERT INTO timer_tasks (shard_id, visibility_timestamp, task_id, data) VALUES ($1, $2, $3, $4)",
                )
                .bind(shard_id)
                .bind(*fire_at)
                .bind(*task_id)
                .bind(task.encode_to_vec())
                .execute(&mut *tx)
                .await?;
            }
            NewTask::Visibility { task_id, task } => {
                sqlx::query("INSERT INTO visibility_tasks (shard_id, task_id, data) VALUES ($1, $2, $3)")
                    .bind(shard_id)
                    .bind(*task_id)
                    .bind(task.encode_to_vec())
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    Ok(())
}

async fn insert_row(tx: &mut AnyConnection, write: &ExecutionWrite<'_>) -> Result<()> {
    let key = write.key;
    sqlx::query(
        "INSERT INTO executions (shard_id, namespace_id, workflow_id, run_id, next_event_id, db_record_version, data, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key.shard_id)
    .bind(&key.namespace_id)
    .bind(&key.workflow_id)
    .bind(&key.run_id)
    .bind(write.next_event_id)
    .bind(write.db_record_version)
    .bind(write.state.encode_to_vec())
    .bind(Vec::<u8>::new())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The compare-and-set update of an execution row: expects `db_record_version - 1`.
async fn update_row(tx: &mut AnyConnection, write: &ExecutionWrite<'_>) -> Result<()> {
    let key = write.key;
    let updated = sqlx::query(
        "UPDATE executions SET next_event_id = $1, db_record_version = $2, data = $3 \
         WHERE shard_id = $4 AND namespace_id = $5 AND workflow_id = $6 AND run_id = $7 AND db_record_version = $8",
    )
    .bind(write.next_event_id)
    .bind(write.db_record_version)
    .bind(write.state.encode_to_vec())
    .bind(key.shard_id)
    .bind(&key.namespace_id)
    .bind(&key.workflow_id)
    .bind(&key.run_id)
    .bind(write.db_record_version - 1)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(PersistenceError::ConditionFailed(format!(
            "execution {}/{} is not at version {}",
            key.workflow_id,
            key.run_id,
            write.db_record_version - 1
        )));
    }
    Ok(())
}

async fn read_current(
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

fn exists_error(current: CurrentExecution) -> PersistenceError {
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
        let key = write.key;
        let mut tx = self.write.begin().await?;
        self.check_shard(&mut tx, key.shard_id, range_id).await?;
        match &condition {
            CurrentCondition::BrandNew => {
                let inserted = sqlx::query(
                    "INSERT INTO current_executions (shard_id, namespace_id, workflow_id, run_id, create_request_id, state, status, start_time) \
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
                )
                .bind(key.shard_id)
                .bind(&key.namespace_id)
                .bind(&key.workflow_id)
                .bind(&current.run_id)
                .bind(&current.create_request_id)
                .bind(current.status)
                .bind(current.start_time)
                .execute(&mut *tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        drop(tx);
                        let mut conn = self.write.acquire().await?;
                        return match read_current(&mut conn, key.shard_id, &key.namespace_id, &key.workflow_id).await? {
                            Some(existing) => Err(exists_error(existing)),
                            None => Err(PersistenceError::ConditionFailed(
                                "current execution changed concurrently".into(),
                            )),
                        };
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            CurrentCondition::Replace { previous_run_id } => {
                let updated = sqlx::query(
                    "UPDATE current_executions SET run_id = $1, create_request_id = $2, status = $3, start_time = $4 \
                     WHERE shard_id = $5 AND namespace_id = $6 AND workflow_id = $7 AND run_id = $8",
                )
                .bind(&current.run_id)
                .bind(&current.create_request_id)
                .bind(current.status)
                .bind(current.start_time)
                .bind(key.shard_id)
                .bind(&key.namespace_id)
                .bind(&key.workflow_id)
                .bind(previous_run_id)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() != 1 {
                    let existing = read_current(&mut tx, key.shard_id, &key.namespace_id, &key.workflow_id).await?;
                    return Err(match existing {
                        Some(existing) => exists_error(existing),
                        None => PersistenceError::ConditionFailed("current execution disappeared".into()),
                    });
                }
            }
        }
        insert_row(&mut tx, &write).await?;
        if let Some(batch) = &write.history {
            insert_history(&mut tx, key, batch).await?;
        }
        insert_tasks(&mut tx, key.shard_id, &write.tasks).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn continue_execution(
        &self,
        range_id: i64,
        old: ExecutionWrite<'_>,
        new: ExecutionWrite<'_>,
        current: &CurrentExecution,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        self.check_shard(&mut tx, old.key.shard_id, range_id).await?;
        update_row(&mut tx, &old).await?;
        let moved = sqlx::query(
            "UPDATE current_executions SET run_id = $1, create_request_id = $2, status = $3, start_time = $4 \
             WHERE shard_id = $5 AND namespace_id = $6 AND workflow_id = $7 AND run_id = $8",
        )
        .bind(&current.run_id)
        .bind(&current.create_request_id)
        .bind(current.status)
        .bind(current.start_time)
        .bind(old.key.shard_id)
        .bind(&old.key.namespace_id)
        .bind(&old.key.workflow_id)
        .bind(&old.key.run_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Err(PersistenceError::ConditionFailed(format!(
                "run {} is no longer the current run of {}",
                old.key.run_id, old.key.workflow_id
            )));
        }
        if let Some(batch) = &old.history {
            insert_history(&mut tx, old.key, batch).await?;
        }
        insert_tasks(&mut tx, old.key.shard_id, &old.tasks).await?;
        insert_row(&mut tx, &new).await?;
        if let Some(batch) = &new.history {
            insert_history(&mut tx, new.key, batch).await?;
        }
        insert_tasks(&mut tx, new.key.shard_id, &new.tasks).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_execution(&self, key: &ExecutionKey) -> Result<()> {
        let mut tx = self.write.begin().await?;
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
    }

    async fn update_execution(
        &self,
        range_id: i64,
        write: ExecutionWrite<'_>,
        current_status: Option<i32>,
    ) -> Result<()> {
        let key = write.key;
        let mut tx = self.write.begin().await?;
        self.check_shard(&mut tx, key.shard_id, range_id).await?;
        update_row(&mut tx, &write).await?;
        if let Some(status) = current_status {
            sqlx::query(
                "UPDATE current_executions SET status = $1 \
                 WHERE shard_id = $2 AND namespace_id = $3 AND workflow_id = $4 AND run_id = $5",
            )
            .bind(status)
            .bind(key.shard_id)
            .bind(&key.namespace_id)
            .bind(&key.workflow_id)
            .bind(&key.run_id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(batch) = &write.history {
            insert_history(&mut tx, key, batch).await?;
        }
        insert_tasks(&mut tx, key.shard_id, &write.tasks).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_execution(&self, key: &ExecutionKey) -> Result<Option<StoredExecution>> {
        let row = sqlx::query(
            "SELECT db_record_version, data FROM executions \
             WHERE shard_id = $1 AND namespace_id = $2 AND workflow_id = $3 AND run_id = $4",
        )
        .bind(key.shard_id)
        .bind(&key.namespace_id)
        .bind(&key.workflow_id)
        .bind(&key.run_id)
        .fetch_optional(&self.read)
        .await?;
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
        let mut conn = self.read.acquire().await?;
        read_current(&mut conn, shard_id, namespace_id, workflow_id).await
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
        let rows = sqlx::query(
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
        .fetch_all(&self.read)
        .await?;
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

    async fn load_transfer_tasks(&self, shard_id: i32, limit: usize) -> Result<Vec<(i64, TransferTask)>> {
        load_immediate(self, "transfer_tasks", shard_id, limit).await
    }

    async fn load_timer_tasks(&self, shard_id: i32, until: i64, limit: usize) -> Result<Vec<(i64, i64, TimerTask)>> {
        let rows = sqlx::query(
            "SELECT visibility_timestamp, task_id, data FROM timer_tasks \
             WHERE shard_id = $1 AND visibility_timestamp <= $2 ORDER BY visibility_timestamp, task_id LIMIT $3",
        )
        .bind(shard_id)
        .bind(until)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.read)
        .await?;
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

    async fn load_visibility_tasks(&self, shard_id: i32, limit: usize) -> Result<Vec<(i64, VisibilityTask)>> {
        load_immediate(self, "visibility_tasks", shard_id, limit).await
    }

    async fn delete_tasks(&self, shard_id: i32, done: &CompletedTasks) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
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
            sqlx::query("DELETE FROM timer_tasks WHERE shard_id = $1 AND visibility_timestamp = $2 AND task_id = $3")
                .bind(shard_id)
                .bind(*ts)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Transfer and visibility tasks share a shape: (shard_id, task_id) -> data.
async fn load_immediate<M: Message + Default>(
    store: &SqlStore,
    table: &'static str,
    shard_id: i32,
    limit: usize,
) -> Result<Vec<(i64, M)>> {
    let sql = format!("SELECT task_id, data FROM {table} WHERE shard_id = $1 ORDER BY task_id LIMIT $2");
    let rows = sqlx::query(&sql)
        .bind(shard_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&store.read)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("task_id")?,
                decode_blob(table, &r.try_get::<Vec<u8>, _>("data")?)?,
            ))
        })
        .collect()
}
