//! Conformance suite for task-queue leases and the task backlog, on every backend (see `common`).

mod common;

use std::sync::Arc;
use sundial_api::sundial::matchingservice::v1::{TaskInfo, TaskQueueInfo};
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_persistence::*;

conformance!(
    lease_creates_then_bumps_range_id,
    stale_owner_cannot_update_metadata,
    tasks_come_back_in_order_and_complete_by_prefix,
    stale_owner_cannot_write_tasks,
    partitions_are_isolated,
    a_live_owner_is_never_robbed,
);

fn key(name: &str) -> TaskQueueKey {
    TaskQueueKey::new("ns-1", name, TASK_TYPE_WORKFLOW)
}

fn task(workflow_id: &str, scheduled_event_id: i64) -> TaskInfo {
    TaskInfo {
        execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: "run".into(),
        }),
        scheduled_event_id,
        ..Default::default()
    }
}

async fn lease_creates_then_bumps_range_id(store: Arc<SqlStore>) {
    let k = key("orders");
    let first = store
        .lease_task_queue(&k, &LeaseOwner::default())
        .await
        .expect("first lease");
    assert_eq!(first.range_id, 1);
    assert_eq!(first.info.name, "orders");
    assert_eq!(first.info.namespace_id, "ns-1");
    assert_eq!(first.info.task_type, TASK_TYPE_WORKFLOW);
    assert_eq!(first.info.ack_level, 0);

    let second = store
        .lease_task_queue(&k, &LeaseOwner::default())
        .await
        .expect("second lease");
    assert_eq!(second.range_id, 2);

    // Concurrent owners each get a distinct range_id: exactly one of them holds the lease.
    let anyone = LeaseOwner::default();
    let (a, b) = tokio::join!(store.lease_task_queue(&k, &anyone), store.lease_task_queue(&k, &anyone));
    let (a, b) = (a.expect("lease a").range_id, b.expect("lease b").range_id);
    assert_ne!(a, b);
    assert_eq!(a.max(b), 4);
}

async fn stale_owner_cannot_update_metadata(store: Arc<SqlStore>) {
    let k = key("meta");
    let old = store.lease_task_queue(&k, &LeaseOwner::default()).await.expect("lease");
    let info = TaskQueueInfo {
        ack_level: 42,
        ..old.info.clone()
    };
    store
        .update_task_queue(&k, old.range_id, &info)
        .await
        .expect("owner updates");
    let new = store.lease_task_queue(&k, &LeaseOwner::default()).await.expect("steal");
    assert_eq!(new.info.ack_level, 42, "the new owner sees the saved ack level");

    let stale = TaskQueueInfo {
        ack_level: 7,
        ..old.info.clone()
    };
    match store.update_task_queue(&k, old.range_id, &stale).await {
        Err(PersistenceError::TaskQueueOwnershipLost { expected, actual, .. }) => {
            assert_eq!(expected, old.range_id);
            assert_eq!(actual, new.range_id);
        }
        other => panic!("stale owner must be fenced, got {other:?}"),
    }
    let reread = store
        .lease_task_queue(&k, &LeaseOwner::default())
        .await
        .expect("lease again");
    assert_eq!(reread.info.ack_level, 42, "the fenced write left no trace");

    let missing = key("never-leased");
    assert!(matches!(
        store.update_task_queue(&missing, 1, &info).await,
        Err(PersistenceError::TaskQueueOwnershipLost { actual: -1, .. })
    ));
}

async fn tasks_come_back_in_order_and_complete_by_prefix(store: Arc<SqlStore>) {
    let k = key("backlog");
    let lease = store.lease_task_queue(&k, &LeaseOwner::default()).await.expect("lease");
    // Written out of order and in two batches; read back sorted.
    store
        .create_tasks(&k, lease.range_id, &[(5, task("e", 5)), (2, task("b", 2))])
        .await
        .expect("batch 1");
    let many: Vec<_> = (10..260).map(|i| (i, task("bulk", i))).collect();
    store
        .create_tasks(&k, lease.range_id, &many)
        .await
        .expect("batch 2 spans insert chunks");
    store
        .create_tasks(&k, lease.range_id, &[(3, task("c", 3))])
        .await
        .expect("batch 3");

    let first = store.get_tasks(&k, 0, i64::MAX, 4).await.expect("get");
    let ids: Vec<i64> = first.iter().map(|t| t.task_id).collect();
    assert_eq!(ids, vec![2, 3, 5, 10]);
    assert_eq!(first[0].info, task("b", 2));

    let window = store.get_tasks(&k, 3, 11, 100).await.expect("window");
    let ids: Vec<i64> = window.iter().map(|t| t.task_id).collect();
    assert_eq!(ids, vec![5, 10, 11], "after is exclusive, up_to inclusive");

    let all = store.get_tasks(&k, 0, i64::MAX, 1000).await.expect("all");
    assert_eq!(all.len(), 253);

    // Deleting a prefix in bounded batches.
    assert_eq!(store.complete_tasks_up_to(&k, 5, 2).await.expect("gc"), 2);
    assert_eq!(store.complete_tasks_up_to(&k, 5, 2).await.expect("gc"), 1);
    assert_eq!(store.complete_tasks_up_to(&k, 5, 2).await.expect("gc"), 0);
    let left = store.get_tasks(&k, 0, i64::MAX, 2).await.expect("left");
    assert_eq!(left[0].task_id, 10);
    assert_eq!(store.complete_tasks_up_to(&k, 1000, 10_000).await.expect("gc"), 250);
    assert!(store.get_tasks(&k, 0, i64::MAX, 10).await.expect("empty").is_empty());

    // A duplicate task id is a storage error, not a silent overwrite.
    store
        .create_tasks(&k, lease.range_id, &[(300, task("x", 1))])
        .await
        .expect("insert");
    assert!(
        store
            .create_tasks(&k, lease.range_id, &[(300, task("y", 1))])
            .await
            .is_err()
    );
}

async fn stale_owner_cannot_write_tasks(store: Arc<SqlStore>) {
    let k = key("fenced");
    let old = store.lease_task_queue(&k, &LeaseOwner::default()).await.expect("lease");
    store
        .create_tasks(&k, old.range_id, &[(1, task("a", 1))])
        .await
        .expect("owner writes");
    let new = store.lease_task_queue(&k, &LeaseOwner::default()).await.expect("steal");

    match store
        .create_tasks(&k, old.range_id, &[(2, task("late", 2)), (3, task("late", 3))])
        .await
    {
        Err(PersistenceError::TaskQueueOwnershipLost { expected, actual, .. }) => {
            assert_eq!(expected, old.range_id);
            assert_eq!(actual, new.range_id);
        }
        other => panic!("stale owner must be fenced, got {other:?}"),
    }
    let ids: Vec<i64> = store
        .get_tasks(&k, 0, i64::MAX, 10)
        .await
        .expect("get")
        .iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(ids, vec![1], "nothing from the fenced batch was written");

    store
        .create_tasks(&k, new.range_id, &[(100_001, task("b", 2))])
        .await
        .expect("new owner writes");
    assert_eq!(store.get_tasks(&k, 0, i64::MAX, 10).await.expect("get").len(), 2);
}

async fn partitions_are_isolated(store: Arc<SqlStore>) {
    let wf = key("shared-name");
    let act = TaskQueueKey::new("ns-1", "shared-name", TASK_TYPE_ACTIVITY);
    let other_ns = TaskQueueKey::new("ns-2", "shared-name", TASK_TYPE_WORKFLOW);
    for k in [&wf, &act, &other_ns] {
        let lease = store.lease_task_queue(k, &LeaseOwner::default()).await.expect("lease");
        assert_eq!(lease.range_id, 1, "each partition has its own lease");
        store
            .create_tasks(k, 1, &[(1, task(&k.to_string(), 1))])
            .await
            .expect("write");
    }
    store.complete_tasks_up_to(&act, 10, 10).await.expect("gc");
    assert!(store.get_tasks(&act, 0, i64::MAX, 10).await.expect("get").is_empty());
    for k in [&wf, &other_ns] {
        let tasks = store.get_tasks(k, 0, i64::MAX, 10).await.expect("get");
        assert_eq!(tasks.len(), 1);
        assert_eq!(
            tasks[0].info.execution.as_ref().map(|e| e.workflow_id.clone()),
            Some(k.to_string())
        );
    }
}

async fn a_live_owner_is_never_robbed(store: Arc<SqlStore>) {
    let now = sundial_common::time::now_nanos();
    let member = |host_id: &str, port: i32, heartbeat: i64| MemberRecord {
        host_id: host_id.into(),
        rpc_address: "10.0.0.1".into(),
        rpc_port: port,
        role: Role::Matching,
        session_start: heartbeat,
        last_heartbeat: heartbeat,
        record_expiry: heartbeat + 3_600_000_000_000,
    };
    let timeout = std::time::Duration::from_secs(10);
    let owner = |host_id: &str| LeaseOwner {
        host_id: host_id.into(),
        member_timeout: timeout,
    };
    store
        .upsert_member(&member("live-a", 7235, now))
        .await
        .expect("member a");
    store
        .upsert_member(&member("live-b", 7236, now))
        .await
        .expect("member b");
    // Heartbeated a minute ago: dead by the timeout.
    store
        .upsert_member(&member("dead-c", 7237, now - 60_000_000_000))
        .await
        .expect("member c");
    let k = key("guarded");

    let a = store.lease_task_queue(&k, &owner("live-a")).await.expect("a leases");
    let renewed = store
        .lease_task_queue(&k, &owner("live-a"))
        .await
        .expect("a renews its own lease");
    assert_eq!(renewed.range_id, a.range_id + 1);
    for thief in [owner("live-b"), owner("")] {
        match store.lease_task_queue(&k, &thief).await {
            Err(PersistenceError::TaskQueueOwned { owner, .. }) => assert_eq!(owner, "10.0.0.1:7235"),
            other => panic!("a live owner's partition must not be leased, got {other:?}"),
        }
    }

    // A stale release (an older range_id) changes nothing; the current one frees the partition.
    store
        .release_task_queue(&k, a.range_id, &owner("live-a"))
        .await
        .expect("stale release");
    assert!(store.lease_task_queue(&k, &owner("live-b")).await.is_err());
    store
        .release_task_queue(&k, renewed.range_id, &owner("live-a"))
        .await
        .expect("release");
    let b = store
        .lease_task_queue(&k, &owner("live-b"))
        .await
        .expect("b leases a released partition");
    assert_eq!(b.range_id, renewed.range_id + 1);

    // An owner whose heartbeat stopped (or who never had a row) is robbed.
    let k2 = key("orphaned");
    store.lease_task_queue(&k2, &owner("dead-c")).await.expect("c leases");
    store
        .lease_task_queue(&k2, &owner("live-a"))
        .await
        .expect("a takes a dead owner's partition");
    let k3 = key("unknown-owner");
    store
        .lease_task_queue(&k3, &owner("never-a-member"))
        .await
        .expect("lease");
    store.lease_task_queue(&k3, &owner("live-b")).await.expect("b takes it");
}
