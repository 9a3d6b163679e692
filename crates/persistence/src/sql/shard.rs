//! Shard rows: the `range_id` lease that fences every history write.

use super::{Dialect, SqlStore, decode_blob};
use crate::{PersistenceError, Result, ShardRecord, ShardStore};
use async_trait::async_trait;
use sqlx::{Connection, Row};
use sundial_api::prost::Message;
use sundial_api::sundial::persistence::v1::ShardInfo;

/// How long a lease bump waits for the shard row's locks on PostgreSQL. The previous owner's
/// commits hold the row's share lock for milliseconds; a session whose client vanished holds it
/// until the server ends the session (`idle_in_transaction_session_timeout`). Waiting longer
/// only holds up the caller (the history controller acquires shard after shard), which tries
/// again at its next round anyway.
const LEASE_LOCK_TIMEOUT: &str = "2s";

#[async_trait]
impl ShardStore for SqlStore {
    async fn get_or_create_shard(&self, shard_id: i32) -> Result<ShardRecord> {
        let initial = ShardInfo {
            shard_id,
            ..Default::default()
        };
        with_conn!(self, write, |conn| {
            sqlx::query(
                "INSERT INTO shards (shard_id, range_id, data) VALUES ($1, 0, $2) ON CONFLICT (shard_id) DO NOTHING",
            )
            .bind(shard_id)
            .bind(initial.encode_to_vec())
            .execute(&mut *conn)
            .await?;
            let row = sqlx::query("SELECT range_id, data FROM shards WHERE shard_id = $1")
                .bind(shard_id)
                .fetch_one(&mut *conn)
                .await?;
            Ok(ShardRecord {
                shard_id,
                range_id: row.try_get("range_id")?,
                info: decode_blob("shard info", &row.try_get::<Vec<u8>, _>("data")?)?,
            })
        })
    }

    async fn list_shard_range_ids(&self) -> Result<Vec<(i32, i64)>> {
        let rows = with_conn!(self, write, |conn| {
            Ok(sqlx::query("SELECT shard_id, range_id FROM shards ORDER BY shard_id")
                .fetch_all(&mut *conn)
                .await?)
        })?;
        rows.iter()
            .map(|r| Ok((r.try_get("shard_id")?, r.try_get("range_id")?)))
            .collect()
    }

    async fn update_shard(&self, record: &ShardRecord, previous_range_id: i64) -> Result<()> {
        with_conn!(self, write, |conn| {
            let mut tx = conn.begin().await?;
            if self.dialect == Dialect::Postgres {
                sqlx::query(&format!("SET LOCAL lock_timeout = '{LEASE_LOCK_TIMEOUT}'"))
                    .execute(&mut *tx)
                    .await?;
            }
            let updated =
                sqlx::query("UPDATE shards SET range_id = $1, data = $2 WHERE shard_id = $3 AND range_id = $4")
                    .bind(record.range_id)
                    .bind(record.info.encode_to_vec())
                    .bind(record.shard_id)
                    .bind(previous_range_id)
                    .execute(&mut *tx)
                    .await?;
            if updated.rows_affected() == 1 {
                tx.commit().await?;
                return Ok(());
            }
            let actual = sqlx::query("SELECT range_id FROM shards WHERE shard_id = $1")
                .bind(record.shard_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get::<i64, _>("range_id"))
                .transpose()?
                .unwrap_or(-1);
            Err(PersistenceError::ShardOwnershipLost {
                shard_id: record.shard_id,
                expected: previous_range_id,
                actual,
            })
        })
    }
}
