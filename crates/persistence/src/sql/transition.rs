//! State transitions: create, update and continue-as-new of runs, alone or many in one
//! transaction (group commit). Every transaction checks the shard's `range_id` first, so a
//! shard owner that lost its lease cannot commit.

use super::execution::{exists_error, read_current};
use super::{SqlStore, is_unique_violation};
use crate::{
    CurrentCondition, EncodedWrite, ExecutionKey, HistoryBatch, NewTask, PersistenceError, Result, Transition,
};
use sqlx::{AnyConnection, Connection};
use sundial_api::prost::Message;

/// Why one transition of a batch did not apply.
enum OpError {
    /// It cannot apply (a guard failed); the batch goes on without it.
    Rejected(PersistenceError),
    /// A brand-new run met an existing current row; read once the transaction is rolled back.
    CurrentTaken,
    /// Anything else fails the whole batch.
    Fatal(PersistenceError),
}

impl From<PersistenceError> for OpError {
    fn from(e: PersistenceError) -> Self {
        match e {
            PersistenceError::ConditionFailed(_) | PersistenceError::CurrentExecutionExists { .. } => {
                OpError::Rejected(e)
            }
            e => OpError::Fatal(e),
        }
    }
}

impl From<sqlx::Error> for OpError {
    fn from(e: sqlx::Error) -> Self {
        OpError::Fatal(e.into())
    }
}

/// How one pass over (part of) a batch ended.
enum Pass {
    Committed,
    /// The transition at position `pos` of the pass failed; nothing of the pass was written.
    Stopped {
        pos: usize,
        failure: OpError,
    },
    /// The transaction itself failed (fence, connection, commit).
    Failed(PersistenceError),
}

/// `err` for one more caller. Errors carry sqlx values that cannot be cloned; callers only
/// need to know whether to give up on the shard or retry.
fn share(err: &PersistenceError) -> PersistenceError {
    match err {
        PersistenceError::ShardOwnershipLost {
            shard_id,
            expected,
            actual,
        } => PersistenceError::ShardOwnershipLost {
            shard_id: *shard_id,
            expected: *expected,
            actual: *actual,
        },
        other => PersistenceError::Unavailable(other.to_string()),
    }
}

impl SqlStore {
    /// See `ExecutionStore::commit_transitions`. Optimistic: all pending transitions run in one
    /// transaction. When one fails, the transaction is rolled back, the ones before it are
    /// committed on their own, and only then is the failing one judged (alone, first in line),
    /// so every outcome is the one it would have had applied after the transitions before it.
    pub(super) async fn commit_batch(&self, range_id: i64, batch: &[Transition]) -> Vec<Result<()>> {
        let mut outcomes: Vec<Option<Result<()>>> = batch.iter().map(|_| None).collect();
        let shard_id = batch.first().map_or(0, Transition::shard_id);
        if let Some(other) = batch.iter().find(|t| t.shard_id() != shard_id) {
            let err = PersistenceError::ConditionFailed(format!(
                "one batch mixes shards {shard_id} and {}",
                other.shard_id()
            ));
            return batch.iter().map(|_| Err(share(&err))).collect();
        }
        let mut limit = usize::MAX;
        loop {
            let pending: Vec<usize> = (0..batch.len()).filter(|&i| outcomes[i].is_none()).collect();
            if pending.is_empty() {
                break;
            }
            let run = &pending[..pending.len().min(limit)];
            limit = usize::MAX;
            match self.pass(shard_id, range_id, batch, run).await {
                Pass::Committed => {
                    for &i in run {
                        outcomes[i] = Some(Ok(()));
                    }
                }
                Pass::Stopped { pos: 0, failure } => {
                    let i = run[0];
                    outcomes[i] = Some(Err(match failure {
                        OpError::Rejected(e) | OpError::Fatal(e) => e,
                        OpError::CurrentTaken => match self.current_taken(&batch[i]).await {
                            Ok(e) | Err(e) => e,
                        },
                    }));
                }
                Pass::Stopped { pos, .. } => limit = pos,
                Pass::Failed(e) => {
                    for i in pending {
                        outcomes[i] = Some(Err(share(&e)));
                    }
                }
            }
        }
        outcomes.into_iter().map(|o| o.unwrap_or(Ok(()))).collect()
    }

    async fn pass(&self, shard_id: i32, range_id: i64, batch: &[Transition], run: &[usize]) -> Pass {
        let mut conn = match self.checkout(&self.write).await {
            Ok(conn) => conn,
            Err(e) => return Pass::Failed(e),
        };
        let outcome = self
            .bounded(async {
                let mut tx = match conn.begin().await {
                    Ok(tx) => tx,
                    Err(e) => return Pass::Failed(e.into()),
                };
                if let Err(e) = self.check_shard(&mut tx, shard_id, range_id).await {
                    return Pass::Failed(e);
                }
                for (pos, &i) in run.iter().enumerate() {
                    if let Err(failure) = apply(&mut tx, &batch[i]).await {
                        return match tx.rollback().await {
                            Ok(()) => Pass::Stopped { pos, failure },
                            Err(e) => Pass::Failed(e.into()),
                        };
                    }
                }
                match tx.commit().await {
                    Ok(()) => Pass::Committed,
                    Err(e) => Pass::Failed(e.into()),
                }
            })
            .await;
        match outcome {
            Some(pass) => {
                conn.finished();
                pass
            }
            // Whether it committed is unknown, as after any lost connection.
            None => Pass::Failed(PersistenceError::Timeout(super::OPERATION_TIMEOUT)),
        }
    }

    /// The error for a brand-new run whose workflow id has a current run.
    async fn current_taken(&self, t: &Transition) -> Result<PersistenceError> {
        let key = match t {
            Transition::Create { write, .. } | Transition::Update { write, .. } => &write.key,
            Transition::Continue { old, .. } => &old.key,
        };
        let current = with_conn!(self, write, |conn| {
            read_current(conn, key.shard_id, &key.namespace_id, &key.workflow_id).await
        })?;
        Ok(match current {
            Some(existing) => exists_error(existing),
            None => PersistenceError::ConditionFailed("current execution changed concurrently".into()),
        })
    }
}

async fn apply(tx: &mut AnyConnection, t: &Transition) -> std::result::Result<(), OpError> {
    match t {
        Transition::Create {
            write,
            condition,
            current,
        } => {
            let key = &write.key;
            match condition {
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
                        Err(e) if is_unique_violation(&e) => return Err(OpError::CurrentTaken),
                        Err(e) => return Err(e.into()),
                    }
                }
                CurrentCondition::Replace { previous_run_id } => {
                    if !move_current(tx, key, previous_run_id, current).await? {
                        let existing = read_current(tx, key.shard_id, &key.namespace_id, &key.workflow_id).await?;
                        return Err(OpError::Rejected(match existing {
                            Some(existing) => exists_error(existing),
                            None => PersistenceError::ConditionFailed("current execution disappeared".into()),
                        }));
                    }
                }
            }
            write_new_run(tx, write).await?;
        }
        Transition::Update { write, current_status } => {
            let key = &write.key;
            update_row(tx, write).await?;
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
            write_events_and_tasks(tx, write).await?;
        }
        Transition::Continue { old, new, current } => {
            update_row(tx, old).await?;
            if !move_current(tx, &old.key, &old.key.run_id, current).await? {
                return Err(OpError::Rejected(PersistenceError::ConditionFailed(format!(
                    "run {} is no longer the current run of {}",
                    old.key.run_id, old.key.workflow_id
                ))));
            }
            write_events_and_tasks(tx, old).await?;
            write_new_run(tx, new).await?;
        }
    }
    Ok(())
}

/// Points the workflow id's current row at `current` if it points at `previous_run_id`.
async fn move_current(
    tx: &mut AnyConnection,
    key: &ExecutionKey,
    previous_run_id: &str,
    current: &crate::CurrentExecution,
) -> Result<bool> {
    let moved = sqlx::query(
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
    Ok(moved.rows_affected() == 1)
}

async fn write_new_run(tx: &mut AnyConnection, write: &EncodedWrite) -> Result<()> {
    insert_row(tx, write).await?;
    write_events_and_tasks(tx, write).await
}

async fn write_events_and_tasks(tx: &mut AnyConnection, write: &EncodedWrite) -> Result<()> {
    if let Some(batch) = &write.history {
        insert_history(tx, &write.key, batch).await?;
    }
    insert_tasks(tx, write.key.shard_id, &write.tasks).await
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

async fn insert_row(tx: &mut AnyConnection, write: &EncodedWrite) -> Result<()> {
    let key = &write.key;
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
    .bind(&write.state)
    .bind(Vec::<u8>::new())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The compare-and-set update of an execution row: expects `db_record_version - 1`.
async fn update_row(tx: &mut AnyConnection, write: &EncodedWrite) -> Result<()> {
    let key = &write.key;
    let updated = sqlx::query(
        "UPDATE executions SET next_event_id = $1, db_record_version = $2, data = $3 \
         WHERE shard_id = $4 AND namespace_id = $5 AND workflow_id = $6 AND run_id = $7 AND db_record_version = $8",
    )
    .bind(write.next_event_id)
    .bind(write.db_record_version)
    .bind(&write.state)
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
