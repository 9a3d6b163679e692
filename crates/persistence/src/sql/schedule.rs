//! The `schedules` table (created with the main schema; `next_run_time` is when the system
//! worker should next look at a schedule).

use super::{SqlStore, decode_blob, is_unique_violation, limit_param};
use crate::{PersistenceError, Result, ScheduleRow, ScheduleStore};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use sundial_api::prost::Message;

fn row_from(row: &AnyRow) -> Result<ScheduleRow> {
    Ok(ScheduleRow {
        namespace_id: row.try_get("namespace_id")?,
        schedule_id: row.try_get("schedule_id")?,
        version: row.try_get("version")?,
        next_wake: row.try_get("next_run_time")?,
        record: decode_blob("schedule", &row.try_get::<Vec<u8>, _>("data")?)?,
    })
}

const COLUMNS: &str = "namespace_id, schedule_id, version, next_run_time, data";

#[async_trait]
impl ScheduleStore for SqlStore {
    async fn create_schedule(&self, row: &ScheduleRow) -> Result<()> {
        with_conn!(self, write, |conn| {
            let inserted = sqlx::query(
                "INSERT INTO schedules (namespace_id, schedule_id, version, next_run_time, data) VALUES ($1, $2, 1, $3, $4)",
            )
            .bind(&row.namespace_id)
            .bind(&row.schedule_id)
            .bind(row.next_wake)
            .bind(row.record.encode_to_vec())
            .execute(&mut *conn)
            .await;
            match inserted {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => {
                    Err(PersistenceError::AlreadyExists(format!("schedule {}", row.schedule_id)))
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn get_schedule(&self, namespace_id: &str, schedule_id: &str) -> Result<Option<ScheduleRow>> {
        with_conn!(self, write, |conn| {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM schedules WHERE namespace_id = $1 AND schedule_id = $2"
            ))
            .bind(namespace_id)
            .bind(schedule_id)
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref().map(row_from).transpose()
        })
    }

    async fn update_schedule(&self, row: &ScheduleRow) -> Result<()> {
        with_conn!(self, write, |conn| {
            let updated = sqlx::query(
                "UPDATE schedules SET version = $1, next_run_time = $2, data = $3 \
                 WHERE namespace_id = $4 AND schedule_id = $5 AND version = $6",
            )
            .bind(row.version.saturating_add(1))
            .bind(row.next_wake)
            .bind(row.record.encode_to_vec())
            .bind(&row.namespace_id)
            .bind(&row.schedule_id)
            .bind(row.version)
            .execute(&mut *conn)
            .await?;
            if updated.rows_affected() == 1 {
                Ok(())
            } else {
                Err(PersistenceError::ConditionFailed(format!(
                    "schedule {} changed since version {}",
                    row.schedule_id, row.version
                )))
            }
        })
    }

    async fn delete_schedule(&self, namespace_id: &str, schedule_id: &str) -> Result<bool> {
        with_conn!(self, write, |conn| {
            let deleted = sqlx::query("DELETE FROM schedules WHERE namespace_id = $1 AND schedule_id = $2")
                .bind(namespace_id)
                .bind(schedule_id)
                .execute(&mut *conn)
                .await?;
            Ok(deleted.rows_affected() > 0)
        })
    }

    async fn list_schedules(&self, namespace_id: &str, after_id: &str, limit: usize) -> Result<Vec<ScheduleRow>> {
        with_conn!(self, read, |conn| {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM schedules WHERE namespace_id = $1 AND schedule_id > $2 \
                 ORDER BY schedule_id LIMIT $3"
            ))
            .bind(namespace_id)
            .bind(after_id)
            .bind(limit_param(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(row_from).collect()
        })
    }

    async fn due_schedules(&self, now: i64, limit: usize) -> Result<Vec<(String, String)>> {
        with_conn!(self, read, |conn| {
            let rows = sqlx::query(
                "SELECT namespace_id, schedule_id FROM schedules WHERE next_run_time <= $1 ORDER BY next_run_time LIMIT $2",
            )
            .bind(now)
            .bind(limit_param(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("namespace_id")?, r.try_get("schedule_id")?)))
                .collect()
        })
    }
}
