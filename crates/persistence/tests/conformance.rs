//! The persistence conformance suite for namespaces, cluster metadata, membership and shards:
//! every test runs on in-memory SQLite, file SQLite and PostgreSQL (see `common`).

mod common;

use std::sync::Arc;
use sundial_api::sundial::persistence::v1::{ClusterMetadata, NamespaceDetail, ShardInfo};
use sundial_api::temporal::namespace::v1::NamespaceInfo;
use sundial_persistence::*;

conformance!(
    schema_setup_is_idempotent,
    namespace_lifecycle,
    namespace_update_is_compare_and_set,
    namespace_rename_is_compare_and_set_and_keeps_names_unique,
    namespace_listing_pages_through_everything,
    concurrent_registration_has_one_winner,
    cluster_metadata_first_writer_wins,
    membership_heartbeats,
    shard_range_id_fences_owners,
);

fn detail(description: &str) -> NamespaceDetail {
    NamespaceDetail {
        info: Some(NamespaceInfo {
            description: description.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn schema_setup_is_idempotent(store: Arc<SqlStore>) {
    assert_eq!(
        store.setup_schema().await.expect("second setup"),
        0,
        "nothing left to apply"
    );
    match store.schema_status().await.expect("status") {
        sql::SchemaStatus::UpToDate { version } => assert!(version >= 2),
        other => panic!("unexpected schema status {other:?}"),
    }
}

async fn namespace_lifecycle(store: Arc<SqlStore>) {
    let v0 = store.namespace_notification_version().await.expect("version");
    let created = store
        .create_namespace("id-1", "orders", &detail("first"))
        .await
        .expect("create");
    assert_eq!(created.name, "orders");
    assert!(created.notification_version > v0);
    assert!(store.namespace_notification_version().await.expect("version") > v0);

    let dup = store.create_namespace("id-2", "orders", &detail("again")).await;
    assert!(matches!(dup, Err(PersistenceError::AlreadyExists(_))), "{dup:?}");
    let dup_id = store.create_namespace("id-1", "other", &detail("again")).await;
    assert!(matches!(dup_id, Err(PersistenceError::AlreadyExists(_))), "{dup_id:?}");

    let by_name = store
        .get_namespace_by_name("orders")
        .await
        .expect("get")
        .expect("present");
    let by_id = store.get_namespace_by_id("id-1").await.expect("get").expect("present");
    assert_eq!(by_name, by_id);
    assert_eq!(by_name.detail, detail("first"));
    assert!(store.get_namespace_by_name("missing").await.expect("get").is_none());
    assert!(
        store.get_namespace_by_id("id-2").await.expect("get").is_none(),
        "failed insert left a row"
    );
}

async fn namespace_update_is_compare_and_set(store: Arc<SqlStore>) {
    let created = store
        .create_namespace("id-1", "billing", &detail("v1"))
        .await
        .expect("create");
    let updated = store
        .update_namespace("id-1", created.notification_version, &detail("v2"))
        .await
        .expect("update");
    assert!(updated.notification_version > created.notification_version);
    assert_eq!(updated.detail, detail("v2"));

    let stale = store
        .update_namespace("id-1", created.notification_version, &detail("v3"))
        .await;
    assert!(matches!(stale, Err(PersistenceError::ConditionFailed(_))), "{stale:?}");
    let version_after_failure = store.namespace_notification_version().await.expect("version");
    assert_eq!(
        version_after_failure, updated.notification_version,
        "failed update must roll back the bump"
    );
    let stored = store.get_namespace_by_id("id-1").await.expect("get").expect("present");
    assert_eq!(stored.detail, detail("v2"), "stale writer must not win");
}

async fn namespace_rename_is_compare_and_set_and_keeps_names_unique(store: Arc<SqlStore>) {
    let a = store
        .create_namespace("id-a", "alpha", &detail("a"))
        .await
        .expect("create a");
    store
        .create_namespace("id-b", "beta", &detail("b"))
        .await
        .expect("create b");
    let taken = store
        .rename_namespace("id-a", a.notification_version, "beta", &detail("a2"))
        .await;
    assert!(matches!(taken, Err(PersistenceError::AlreadyExists(_))), "{taken:?}");
    let renamed = store
        .rename_namespace("id-a", a.notification_version, "gamma", &detail("a2"))
        .await
        .expect("rename");
    assert_eq!((renamed.name.as_str(), renamed.detail.clone()), ("gamma", detail("a2")));
    let stale = store
        .rename_namespace("id-a", a.notification_version, "delta", &detail("a3"))
        .await;
    assert!(matches!(stale, Err(PersistenceError::ConditionFailed(_))), "{stale:?}");
    let stored = store.get_namespace_by_id("id-a").await.expect("get").expect("present");
    assert_eq!(stored.name, "gamma", "an update keeps the name");
    let kept = store
        .update_namespace("id-a", stored.notification_version, &detail("a4"))
        .await
        .expect("update");
    assert_eq!(kept.name, "gamma");
}

async fn namespace_listing_pages_through_everything(store: Arc<SqlStore>) {
    for i in 0..5 {
        store
            .create_namespace(&format!("id-{i}"), &format!("ns-{i}"), &detail(""))
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut token = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.list_namespaces(2, &token).await.expect("list");
        pages += 1;
        assert!(page.namespaces.len() <= 2);
        seen.extend(page.namespaces.iter().map(|n| n.name.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(pages < 10, "paging does not terminate");
    }
    assert_eq!(seen, vec!["ns-0", "ns-1", "ns-2", "ns-3", "ns-4"]);
    assert_eq!(pages, 3);
    let all = store.list_namespaces(100, &[]).await.expect("list");
    assert_eq!(all.namespaces.len(), 5);
    assert!(all.next_page_token.is_empty());
}

async fn concurrent_registration_has_one_winner(store: Arc<SqlStore>) {
    let mut handles = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .create_namespace(&format!("id-{i}"), "contended", &detail(""))
                .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.expect("join") {
            Ok(_) => ok += 1,
            Err(PersistenceError::AlreadyExists(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(ok, 1);
}

async fn cluster_metadata_first_writer_wins(store: Arc<SqlStore>) {
    let first = ClusterMetadata {
        cluster_name: "active".into(),
        cluster_id: "c1".into(),
        history_shard_count: 4,
        created_time: None,
    };
    assert_eq!(store.init_cluster_metadata(&first).await.expect("init"), first);
    let second = ClusterMetadata {
        cluster_id: "c2".into(),
        history_shard_count: 16,
        ..first.clone()
    };
    assert_eq!(
        store.init_cluster_metadata(&second).await.expect("init"),
        first,
        "stored values win"
    );
    assert_eq!(store.get_cluster_metadata("active").await.expect("get"), Some(first));
    assert_eq!(store.get_cluster_metadata("other").await.expect("get"), None);
    assert_eq!(store.cluster_secret("system", "s1").await.expect("secret"), "s1");
    assert_eq!(
        store.cluster_secret("system", "s2").await.expect("secret"),
        "s1",
        "the first secret stays"
    );
    assert_eq!(store.cluster_secret("other", "o1").await.expect("secret"), "o1");
}

async fn membership_heartbeats(store: Arc<SqlStore>) {
    let member = |host: &str, role: Role, beat: i64| MemberRecord {
        host_id: host.into(),
        rpc_address: "127.0.0.1".into(),
        rpc_port: 7234,
        role,
        session_start: 1,
        last_heartbeat: beat,
        record_expiry: beat + 1000,
    };
    store
        .upsert_member(&member("h1", Role::History, 100))
        .await
        .expect("upsert");
    store
        .upsert_member(&member("m1", Role::Matching, 100))
        .await
        .expect("upsert");
    store
        .upsert_member(&member("h2", Role::History, 50))
        .await
        .expect("upsert");
    let history = store.list_members(Some(Role::History), 60).await.expect("list");
    assert_eq!(
        history.iter().map(|m| m.host_id.as_str()).collect::<Vec<_>>(),
        vec!["h1"]
    );
    assert_eq!(store.list_members(None, 0).await.expect("list").len(), 3);
    // A heartbeat refreshes the row; expired rows are pruned by the next upsert.
    store
        .upsert_member(&member("h1", Role::History, 2000))
        .await
        .expect("upsert");
    let all = store.list_members(None, 0).await.expect("list");
    assert_eq!(all.len(), 1, "expired members must be pruned: {all:?}");
    assert_eq!(all[0].last_heartbeat, 2000);
}

async fn shard_range_id_fences_owners(store: Arc<SqlStore>) {
    assert_eq!(
        store.list_shard_range_ids().await.expect("list"),
        [],
        "no rows before first use"
    );
    let shard = store.get_or_create_shard(3).await.expect("create");
    assert_eq!(shard.range_id, 0);
    store.get_or_create_shard(1).await.expect("create another");
    assert_eq!(store.list_shard_range_ids().await.expect("list"), [(1, 0), (3, 0)]);
    assert_eq!(
        store.get_or_create_shard(3).await.expect("get"),
        shard,
        "second call reads, not resets"
    );

    let owner_a = ShardRecord {
        range_id: 1,
        info: ShardInfo {
            shard_id: 3,
            owner: "a".into(),
            ..Default::default()
        },
        ..shard.clone()
    };
    store.update_shard(&owner_a, 0).await.expect("a acquires");
    let owner_b = ShardRecord {
        range_id: 2,
        info: ShardInfo {
            shard_id: 3,
            owner: "b".into(),
            ..Default::default()
        },
        ..shard.clone()
    };
    store.update_shard(&owner_b, 1).await.expect("b steals");

    let late = ShardRecord {
        range_id: 2,
        ..owner_a.clone()
    };
    match store.update_shard(&late, 1).await {
        Err(PersistenceError::ShardOwnershipLost {
            shard_id: 3,
            expected: 1,
            actual: 2,
        }) => {}
        other => panic!("stale owner must be fenced, got {other:?}"),
    }
    let stored = store.get_or_create_shard(3).await.expect("get");
    assert_eq!(stored.range_id, 2);
    assert_eq!(stored.info.owner, "b");
    assert_eq!(store.list_shard_range_ids().await.expect("list"), [(1, 0), (3, 2)]);
}

/// The previous owner of a shard went silent inside a transaction (its network was cut right
/// after its commit had share-locked the shard row): PostgreSQL waits for such a client
/// forever unless told otherwise. The store's sessions tell it, so the session is ended and the
/// next owner's lease bump goes through within seconds.
#[tokio::test]
async fn postgres_ends_a_silent_transaction_that_holds_a_shard_row() {
    use sqlx::Connection;
    let backend = common::Backend::postgres().await;
    let store = backend.store.clone();
    let cfg = backend.postgres_config().expect("a postgres backend").clone();
    let shard = store.get_or_create_shard(5).await.expect("create");

    let mut silent = sqlx::PgConnection::connect(&cfg.session_url())
        .await
        .expect("connect with the store's session settings");
    sqlx::query("BEGIN").execute(&mut silent).await.expect("begin");
    sqlx::query("SELECT range_id FROM shards WHERE shard_id = 5 FOR SHARE")
        .execute(&mut silent)
        .await
        .expect("share-lock the row");

    let started = std::time::Instant::now();
    let next = ShardRecord {
        range_id: shard.range_id + 1,
        ..shard.clone()
    };
    let mut waited_for_the_lock = false;
    loop {
        match store.update_shard(&next, shard.range_id).await {
            Ok(()) => break,
            // The bump gives up on the lock after a while (and the owner tries again).
            Err(PersistenceError::Database(sqlx::Error::Database(e))) if e.code().as_deref() == Some("55P03") => {
                waited_for_the_lock = true;
            }
            Err(e) => panic!("unexpected error bumping the lease: {e}"),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the silent session still holds the shard row after {:?}",
            started.elapsed()
        );
    }
    assert!(waited_for_the_lock, "the silent session never held the row");
    assert_eq!(
        store.get_or_create_shard(5).await.expect("read").range_id,
        shard.range_id + 1
    );
    assert!(
        sqlx::query("SELECT 1").execute(&mut silent).await.is_err(),
        "the server ended the silent session"
    );
    backend.finish().await;
}

#[tokio::test]
async fn sqlite_file_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = DbConfig::Sqlite {
        path: Some(dir.path().join("reopen.db")),
    };
    let store = SqlStore::open(&cfg).await.expect("open");
    store
        .create_namespace("id-1", "kept", &detail("d"))
        .await
        .expect("create");
    store.close().await;
    let reopened = SqlStore::open(&cfg).await.expect("reopen");
    let ns = reopened
        .get_namespace_by_name("kept")
        .await
        .expect("get")
        .expect("still there");
    assert_eq!(ns.detail, detail("d"));
}
