//! The `batch_operations` table.

use super::{SqlStore, decode_blob, is_unique_violation, limit_param};
use crate::{BatchRow, BatchStore, PersistenceError, Result};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use sundial_api::prost::Message;

const COLUMNS: &str = "namespace_id, job_id, version, next_run_time, start_time, data";

fn row_from(row: &AnyRow) -> Result<BatchRow> {
    Ok(BatchRow {
        namespace_id: row.try_get("namespace_id")?,
        job_id: row.try_get("job_id")?,
        version: row.try_get("version")?,
        next_wake: row.try_get("next_run_time")?,
        start_time: row.try_get("start_time")?,
        record: decode_blob("batch operation", &row.try_get::<Vec<u8>, _>("data")?)?,
    })
}

#[async_trait]
impl BatchStore for SqlStore {
    async fn create_batch(&self, row: &BatchRow) -> Result<()> {
        with_conn!(self, write, |conn| {
            let inserted = sqlx::query(
                "INSERT INTO batch_operations (namespace_id, job_id, version, next_run_time, start_time, data) \
                 VALUES ($1, $2, 1, $3, $4, $5)",
            )
            .bind(&row.namespace_id)
            .bind(&row.job_id)
            .bind(row.next_wake)
            .bind(row.start_time)
            .bind(row.record.encode_to_vec())
            .execute(&mut *conn)
            .await;
            match inserted {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(PersistenceError::AlreadyExists(format!(
                    "batch operation {}",
                    row.job_id
                ))),
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn get_batch(&self, namespace_id: &str, job_id: &str) -> Result<Option<BatchRow>> {
        with_conn!(self, write, |conn| {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM batch_operations WHERE namespace_id = $1 AND job_id = $2"
            ))
            .bind(namespace_id)
            .bind(job_id)
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref().map(row_from).transpose()
        })
    }

    async fn update_batch(&self, row: &BatchRow) -> Result<()> {
        with_conn!(self, write, |conn| {
            let updated = sqlx::query(
                "UPDATE batch_operations SET version = $1, next_run_time = $2, data = $3 \
                 WHERE namespace_id = $4 AND job_id = $5 AND version = $6",
            )
            .bind(row.version.saturating_add(1))
            .bind(row.next_wake)
            .bind(row.record.encode_to_vec())
            .bind(&row.namespace_id)
            .bind(&row.job_id)
            .bind(row.version)
            .execute(&mut *conn)
            .await?;
            if updated.rows_affected() == 1 {
                Ok(())
            } else {
                Err(PersistenceError::ConditionFailed(format!(
                    "batch operation {} changed since version {}",
                    row.job_id, row.version
                )))
            }
        })
    }

    async fn list_batches(
        &self,
        namespace_id: &str,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<BatchRow>> {
        with_conn!(self, read, |conn| {
            let (start, job) = after.unwrap_or((i64::MAX, ""));
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM batch_operations WHERE namespace_id = $1 \
                 AND (start_time < $2 OR (start_time = $2 AND job_id > $3)) \
                 ORDER BY start_time DESC, job_id LIMIT $4"
            ))
            .bind(namespace_id)
            .bind(start)
            .bind(job)
            .bind(limit_param(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(row_from).collect()
        })
    }

    async fn due_batches(&self, now: i64, limit: usize) -> Result<Vec<(String, String)>> {
        with_conn!(self, read, |conn| {
            let rows = sqlx::query(
                "SELECT namespace_id, job_id FROM batch_operations WHERE next_run_time <= $1 \
                 ORDER BY next_run_time LIMIT $2",
            )
            .bind(now)
            .bind(limit_param(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("namespace_id")?, r.try_get("job_id")?)))
                .collect()
        })
    }
}
