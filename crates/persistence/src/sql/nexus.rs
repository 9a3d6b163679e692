//! The `nexus_endpoints` table.

use super::{SqlStore, decode_blob, is_unique_violation, limit_param};
use crate::{NexusEndpointRow, NexusEndpointStore, PersistenceError, Result};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use sundial_api::prost::Message;
use sundial_api::sundial::persistence::v1::NexusEndpointRecord;

const COLUMNS: &str = "id, version, data";

fn row_from(row: &AnyRow) -> Result<NexusEndpointRow> {
    Ok(NexusEndpointRow {
        id: row.try_get("id")?,
        version: row.try_get("version")?,
        record: decode_blob("nexus endpoint", &row.try_get::<Vec<u8>, _>("data")?)?,
    })
}

fn name_taken(name: &str) -> PersistenceError {
    PersistenceError::AlreadyExists(format!("Nexus endpoint named {name}"))
}

#[async_trait]
impl NexusEndpointStore for SqlStore {
    async fn create_nexus_endpoint(&self, id: &str, record: &NexusEndpointRecord) -> Result<NexusEndpointRow> {
        with_conn!(self, write, |conn| {
            let inserted = sqlx::query("INSERT INTO nexus_endpoints (id, name, version, data) VALUES ($1, $2, 1, $3)")
                .bind(id)
                .bind(&record.name)
                .bind(record.encode_to_vec())
                .execute(&mut *conn)
                .await;
            match inserted {
                Ok(_) => Ok(NexusEndpointRow {
                    id: id.to_owned(),
                    version: 1,
                    record: record.clone(),
                }),
                Err(e) if is_unique_violation(&e) => Err(name_taken(&record.name)),
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn update_nexus_endpoint(
        &self,
        id: &str,
        expected_version: i64,
        record: &NexusEndpointRecord,
    ) -> Result<NexusEndpointRow> {
        let version = expected_version.saturating_add(1);
        with_conn!(self, write, |conn| {
            let updated = sqlx::query(
                "UPDATE nexus_endpoints SET name = $1, version = $2, data = $3 WHERE id = $4 AND version = $5",
            )
            .bind(&record.name)
            .bind(version)
            .bind(record.encode_to_vec())
            .bind(id)
            .bind(expected_version)
            .execute(&mut *conn)
            .await;
            match updated {
                Ok(done) if done.rows_affected() == 1 => Ok(NexusEndpointRow {
                    id: id.to_owned(),
                    version,
                    record: record.clone(),
                }),
                Ok(_) => Err(PersistenceError::ConditionFailed(format!(
                    "Nexus endpoint {id} is not at version {expected_version}"
                ))),
                Err(e) if is_unique_violation(&e) => Err(name_taken(&record.name)),
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn delete_nexus_endpoint(&self, id: &str) -> Result<bool> {
        with_conn!(self, write, |conn| {
            let deleted = sqlx::query("DELETE FROM nexus_endpoints WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(deleted.rows_affected() > 0)
        })
    }

    async fn get_nexus_endpoint(&self, id: &str) -> Result<Option<NexusEndpointRow>> {
        with_conn!(self, read, |conn| {
            let row = sqlx::query(&format!("SELECT {COLUMNS} FROM nexus_endpoints WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            row.as_ref().map(row_from).transpose()
        })
    }

    async fn get_nexus_endpoint_by_name(&self, name: &str) -> Result<Option<NexusEndpointRow>> {
        with_conn!(self, read, |conn| {
            let row = sqlx::query(&format!("SELECT {COLUMNS} FROM nexus_endpoints WHERE name = $1"))
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
            row.as_ref().map(row_from).transpose()
        })
    }

    async fn list_nexus_endpoints(&self, after_id: &str, limit: usize) -> Result<Vec<NexusEndpointRow>> {
        with_conn!(self, read, |conn| {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM nexus_endpoints WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(after_id)
            .bind(limit_param(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(row_from).collect()
        })
    }
}
