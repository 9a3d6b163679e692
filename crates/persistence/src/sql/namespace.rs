//! Namespaces and the global namespace notification version.

use super::{SqlStore, decode_blob, is_unique_violation};
use crate::{NamespacePage, NamespaceRecord, NamespaceStore, PersistenceError, Result};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Connection, Row};
use sundial_api::prost::Message;
use sundial_api::sundial::persistence::v1::NamespaceDetail;

const METADATA_PARTITION: i32 = 54321;
const COLUMNS: &str = "id, name, notification_version, is_global, data";

fn record_from_row(row: &AnyRow) -> Result<NamespaceRecord> {
    let data: Vec<u8> = row.try_get("data")?;
    Ok(NamespaceRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        notification_version: row.try_get("notification_version")?,
        is_global: row.try_get::<i32, _>("is_global")? != 0,
        detail: decode_blob("namespace detail", &data)?,
    })
}

/// Bumps the global version inside `tx` and returns the new value.
async fn bump_metadata_version(tx: &mut sqlx::AnyConnection) -> Result<i64> {
    let row = sqlx::query(
        "UPDATE namespace_metadata SET notification_version = notification_version + 1 \
         WHERE partition_id = $1 RETURNING notification_version",
    )
    .bind(METADATA_PARTITION)
    .fetch_one(&mut *tx)
    .await?;
    Ok(row.try_get("notification_version")?)
}

impl SqlStore {
    /// The compare-and-set write of a namespace (and, with `new_name`, its rename): applied only
    /// if its version is still `expected_version`, under a new global version.
    async fn write_namespace(
        &self,
        id: &str,
        expected_version: i64,
        new_name: Option<&str>,
        detail: &NamespaceDetail,
    ) -> Result<NamespaceRecord> {
        let data = detail.encode_to_vec();
        with_conn!(self, write, |conn| {
            let mut tx = conn.begin().await?;
            let version = bump_metadata_version(&mut tx).await?;
            let row = sqlx::query(
                "UPDATE namespaces SET name = COALESCE($1, name), data = $2, notification_version = $3 \
                 WHERE id = $4 AND notification_version = $5 RETURNING id, name, notification_version, is_global, data",
            )
            .bind(new_name)
            .bind(&data)
            .bind(version)
            .bind(id)
            .bind(expected_version)
            .fetch_optional(&mut *tx)
            .await;
            let row = match row {
                Ok(row) => row,
                Err(e) if is_unique_violation(&e) => {
                    return Err(PersistenceError::AlreadyExists(format!(
                        "namespace {}",
                        new_name.unwrap_or(id)
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            let Some(row) = row else {
                // Dropping the transaction rolls back the version bump.
                return Err(PersistenceError::ConditionFailed(format!(
                    "namespace {id} changed since version {expected_version}"
                )));
            };
            let record = record_from_row(&row)?;
            tx.commit().await?;
            Ok(record)
        })
    }
}

#[async_trait]
impl NamespaceStore for SqlStore {
    async fn create_namespace(&self, id: &str, name: &str, detail: &NamespaceDetail) -> Result<NamespaceRecord> {
        let data = detail.encode_to_vec();
        let version = with_conn!(self, write, |conn| {
            let mut tx = conn.begin().await?;
            let version = bump_metadata_version(&mut tx).await?;
            let inserted = sqlx::query(
                "INSERT INTO namespaces (id, name, notification_version, is_global, data) VALUES ($1, $2, $3, 0, $4)",
            )
            .bind(id)
            .bind(name)
            .bind(version)
            .bind(&data)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(PersistenceError::AlreadyExists(format!("namespace {name}")));
                }
                Err(e) => return Err(e.into()),
            }
            tx.commit().await?;
            Ok(version)
        })?;
        Ok(NamespaceRecord {
            id: id.to_owned(),
            name: name.to_owned(),
            notification_version: version,
            is_global: false,
            detail: detail.clone(),
        })
    }

    async fn get_namespace_by_name(&self, name: &str) -> Result<Option<NamespaceRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM namespaces WHERE name = $1");
        with_conn!(self, read, |conn| {
            let row = sqlx::query(&sql).bind(name).fetch_optional(&mut *conn).await?;
            row.as_ref().map(record_from_row).transpose()
        })
    }

    async fn get_namespace_by_id(&self, id: &str) -> Result<Option<NamespaceRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM namespaces WHERE id = $1");
        with_conn!(self, read, |conn| {
            let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await?;
            row.as_ref().map(record_from_row).transpose()
        })
    }

    async fn update_namespace(
        &self,
        id: &str,
        expected_version: i64,
        detail: &NamespaceDetail,
    ) -> Result<NamespaceRecord> {
        self.write_namespace(id, expected_version, None, detail).await
    }

    async fn rename_namespace(
        &self,
        id: &str,
        expected_version: i64,
        new_name: &str,
        detail: &NamespaceDetail,
    ) -> Result<NamespaceRecord> {
        self.write_namespace(id, expected_version, Some(new_name), detail).await
    }

    async fn delete_namespace(&self, id: &str) -> Result<()> {
        with_conn!(self, write, |conn| {
            let mut tx = conn.begin().await?;
            bump_metadata_version(&mut tx).await?;
            sqlx::query("DELETE FROM namespaces WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn list_namespaces(&self, page_size: usize, token: &[u8]) -> Result<NamespacePage> {
        let after =
            std::str::from_utf8(token).map_err(|_| PersistenceError::ConditionFailed("malformed page token".into()))?;
        let limit = i64::try_from(page_size.max(1)).unwrap_or(i64::MAX);
        let sql = format!("SELECT {COLUMNS} FROM namespaces WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = with_conn!(self, read, |conn| Ok(sqlx::query(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?))?;
        let namespaces = rows.iter().map(record_from_row).collect::<Result<Vec<_>>>()?;
        // Like Temporal: a full page always carries a token, even if nothing follows it.
        let next_page_token = if namespaces.len() as i64 == limit {
            namespaces.last().map(|n| n.id.clone().into_bytes()).unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(NamespacePage {
            namespaces,
            next_page_token,
        })
    }

    async fn namespace_notification_version(&self) -> Result<i64> {
        with_conn!(self, read, |conn| {
            let row = sqlx::query("SELECT notification_version FROM namespace_metadata WHERE partition_id = $1")
                .bind(METADATA_PARTITION)
                .fetch_one(&mut *conn)
                .await?;
            Ok(row.try_get("notification_version")?)
        })
    }
}
