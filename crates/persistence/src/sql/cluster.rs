//! Cluster metadata (written once at first start) and membership heartbeats.

use super::{SqlStore, decode_blob};
use crate::{ClusterStore, MemberRecord, PersistenceError, Result, Role};
use async_trait::async_trait;
use sqlx::{Connection, Row};
use sundial_api::prost::Message;
use sundial_api::sundial::persistence::v1::ClusterMetadata;

#[async_trait]
impl ClusterStore for SqlStore {
    async fn init_cluster_metadata(&self, proposed: &ClusterMetadata) -> Result<ClusterMetadata> {
        with_conn!(self, write, |conn| {
            sqlx::query(
                "INSERT INTO cluster_metadata (cluster_name, data, version) VALUES ($1, $2, 1) \
                 ON CONFLICT (cluster_name) DO NOTHING",
            )
            .bind(&proposed.cluster_name)
            .bind(proposed.encode_to_vec())
            .execute(&mut *conn)
            .await?;
            // Read back from the writer: the stored row wins over what we proposed.
            let row = sqlx::query("SELECT data FROM cluster_metadata WHERE cluster_name = $1")
                .bind(&proposed.cluster_name)
                .fetch_one(&mut *conn)
                .await?;
            decode_blob("cluster metadata", &row.try_get::<Vec<u8>, _>("data")?)
        })
    }

    async fn cluster_secret(&self, name: &str, proposed: &str) -> Result<String> {
        with_conn!(self, write, |conn| {
            sqlx::query("INSERT INTO cluster_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(proposed)
                .execute(&mut *conn)
                .await?;
            let row = sqlx::query("SELECT value FROM cluster_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *conn)
                .await?;
            Ok(row.try_get::<String, _>("value")?)
        })
    }

    async fn get_cluster_metadata(&self, cluster_name: &str) -> Result<Option<ClusterMetadata>> {
        with_conn!(self, read, |conn| {
            let row = sqlx::query("SELECT data FROM cluster_metadata WHERE cluster_name = $1")
                .bind(cluster_name)
                .fetch_optional(&mut *conn)
                .await?;
            row.map(|r| decode_blob("cluster metadata", &r.try_get::<Vec<u8>, _>("data")?))
                .transpose()
        })
    }

    async fn upsert_member(&self, m: &MemberRecord) -> Result<()> {
        with_conn!(self, write, |conn| {
            let mut tx = conn.begin().await?;
            sqlx::query("DELETE FROM cluster_membership WHERE record_expiry < $1")
                .bind(m.last_heartbeat)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO cluster_membership (host_id, rpc_address, rpc_port, role, session_start, last_heartbeat, record_expiry) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (host_id) DO UPDATE SET rpc_address = excluded.rpc_address, rpc_port = excluded.rpc_port, \
                 role = excluded.role, session_start = excluded.session_start, \
                 last_heartbeat = excluded.last_heartbeat, record_expiry = excluded.record_expiry",
            )
            .bind(&m.host_id)
            .bind(&m.rpc_address)
            .bind(m.rpc_port)
            .bind(m.role as i16)
            .bind(m.session_start)
            .bind(m.last_heartbeat)
            .bind(m.record_expiry)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn remove_member(&self, host_id: &str) -> Result<()> {
        with_conn!(self, write, |conn| {
            sqlx::query("DELETE FROM cluster_membership WHERE host_id = $1")
                .bind(host_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    async fn list_members(&self, role: Option<Role>, since: i64) -> Result<Vec<MemberRecord>> {
        let rows = with_conn!(self, read, |conn| {
            Ok(sqlx::query(
                "SELECT host_id, rpc_address, rpc_port, role, session_start, last_heartbeat, record_expiry \
                 FROM cluster_membership WHERE last_heartbeat >= $1 AND ($2 = 0 OR role = $2) ORDER BY host_id",
            )
            .bind(since)
            .bind(role.map_or(0i16, |r| r as i16))
            .fetch_all(&mut *conn)
            .await?)
        })?;
        rows.iter()
            .map(|r| {
                let role_num: i32 = r.try_get("role")?;
                Ok(MemberRecord {
                    host_id: r.try_get("host_id")?,
                    rpc_address: r.try_get("rpc_address")?,
                    rpc_port: r.try_get("rpc_port")?,
                    role: Role::from_i32(role_num)
                        .ok_or_else(|| PersistenceError::corrupt("membership role", role_num))?,
                    session_start: r.try_get("session_start")?,
                    last_heartbeat: r.try_get("last_heartbeat")?,
                    record_expiry: r.try_get("record_expiry")?,
                })
            })
            .collect()
    }
}
