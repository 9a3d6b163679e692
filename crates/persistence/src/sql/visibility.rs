//! `executions_visibility`: one row per run, upserted by history's visibility queue and read by
//! the frontend's list and count.

use super::SqlStore;
use crate::{PersistenceError, Result, VisibilityPage, VisibilityRecord, VisibilityStore};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Sort key of the default order: open runs (no close time) first, then newest start first.
const OPEN_SORT: i64 = i64::MAX;

fn record_from_row(r: &AnyRow) -> Result<VisibilityRecord> {
    Ok(VisibilityRecord {
        namespace_id: r.try_get("namespace_id")?,
        run_id: r.try_get("run_id")?,
        workflow_id: r.try_get("workflow_id")?,
        workflow_type: r.try_get("workflow_type_name")?,
        status: r.try_get("status")?,
        start_time: r.try_get("start_time")?,
        execution_time: r.try_get("execution_time")?,
        close_time: r.try_get("close_time")?,
        history_length: r.try_get::<Option<i64>, _>("history_length")?.unwrap_or_default(),
        history_size_bytes: r.try_get::<Option<i64>, _>("history_size_bytes")?.unwrap_or_default(),
        state_transition_count: r
            .try_get::<Option<i64>, _>("state_transition_count")?
            .unwrap_or_default(),
        task_queue: r.try_get("task_queue")?,
        memo: r.try_get("memo")?,
        version: r.try_get("_version")?,
    })
}

/// Page tokens carry the sort key of the last row: (close sort key, start time, run id).
fn encode_token(r: &VisibilityRecord) -> Vec<u8> {
    format!("{}|{}|{}", r.close_time.unwrap_or(OPEN_SORT), r.start_time, r.run_id).into_bytes()
}

fn decode_token(token: &[u8]) -> Result<Option<(i64, i64, String)>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || PersistenceError::ConditionFailed("malformed page token".into());
    let text = std::str::from_utf8(token).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let close = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let start = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let run = parts.next().ok_or_else(bad)?.to_owned();
    Ok(Some((close, start, run)))
}

const COLUMNS: &str = "namespace_id, run_id, workflow_id, workflow_type_name, status, start_time, execution_time, \
     close_time, history_length, history_size_bytes, state_transition_count, task_queue, memo, _version";

#[async_trait]
impl VisibilityStore for SqlStore {
    async fn upsert_visibility(&self, r: &VisibilityRecord) -> Result<()> {
        let duration = r.close_time.map(|c| c - r.execution_time);
        sqlx::query(
            "INSERT INTO executions_visibility (namespace_id, run_id, workflow_id, workflow_type_name, status, start_time, \
             execution_time, close_time, history_length, history_size_bytes, execution_duration, state_transition_count, \
             task_queue, memo, _version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (namespace_id, run_id) DO UPDATE SET status = excluded.status, close_time = excluded.close_time, \
             history_length = excluded.history_length, history_size_bytes = excluded.history_size_bytes, \
             execution_duration = excluded.execution_duration, state_transition_count = excluded.state_transition_count, \
             memo = excluded.memo, _version = excluded._version \
             WHERE executions_visibility._version < excluded._version",
        )
        .bind(&r.namespace_id)
        .bind(&r.run_id)
        .bind(&r.workflow_id)
        .bind(&r.workflow_type)
        .bind(r.status)
        .bind(r.start_time)
        .bind(r.execution_time)
        .bind(r.close_time)
        .bind(r.history_length)
        .bind(r.history_size_bytes)
        .bind(duration)
        .bind(r.state_transition_count)
        .bind(&r.task_queue)
        .bind(r.memo.as_deref())
        .bind(r.version)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn list_visibility(&self, namespace_id: &str, page_size: usize, token: &[u8]) -> Result<VisibilityPage> {
        let limit = i64::try_from(page_size.max(1)).unwrap_or(i64::MAX);
        let sort = format!("COALESCE(close_time, {OPEN_SORT})");
        let rows = match decode_token(token)? {
            None => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM executions_visibility WHERE namespace_id = $1 \
                     ORDER BY {sort} DESC, start_time DESC, run_id LIMIT $2"
                );
                sqlx::query(&sql)
                    .bind(namespace_id)
                    .bind(limit)
                    .fetch_all(&self.read)
                    .await?
            }
            Some((close, start, run)) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM executions_visibility WHERE namespace_id = $1 AND \
                     ({sort} < $2 OR ({sort} = $2 AND (start_time < $3 OR (start_time = $3 AND run_id > $4)))) \
                     ORDER BY {sort} DESC, start_time DESC, run_id LIMIT $5"
                );
                sqlx::query(&sql)
                    .bind(namespace_id)
                    .bind(close)
                    .bind(start)
                    .bind(run)
                    .bind(limit)
                    .fetch_all(&self.read)
                    .await?
            }
        };
        let records = rows.iter().map(record_from_row).collect::<Result<Vec<_>>>()?;
        let next_page_token = if records.len() as i64 == limit {
            records.last().map(encode_token).unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(VisibilityPage {
            records,
            next_page_token,
        })
    }

    async fn count_visibility(&self, namespace_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM executions_visibility WHERE namespace_id = $1")
            .bind(namespace_id)
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get("n")?)
    }
}
