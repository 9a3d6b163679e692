//! Conformance suite for the `schedules` table, on every backend (see `common`).

mod common;

use std::sync::Arc;
use sundial_api::sundial::persistence::v1::{ScheduleProgress, ScheduleRecord};
use sundial_persistence::*;

conformance!(
    create_get_and_duplicate,
    updates_are_compare_and_set,
    list_pages_by_id_and_due_finds_the_earliest,
);

fn row(ns: &str, id: &str, next_wake: i64) -> ScheduleRow {
    ScheduleRow {
        namespace_id: ns.into(),
        schedule_id: id.into(),
        version: 1,
        next_wake,
        record: ScheduleRecord {
            create_request_id: format!("req-{id}"),
            ..Default::default()
        },
    }
}

async fn create_get_and_duplicate(store: Arc<SqlStore>) {
    store.create_schedule(&row("ns", "a", 10)).await.expect("create");
    let got = store.get_schedule("ns", "a").await.expect("get").expect("present");
    assert_eq!(got, row("ns", "a", 10));
    assert!(store.get_schedule("other-ns", "a").await.expect("get").is_none());
    assert!(matches!(
        store.create_schedule(&row("ns", "a", 20)).await,
        Err(PersistenceError::AlreadyExists(_))
    ));
    store
        .create_schedule(&row("other-ns", "a", 20))
        .await
        .expect("same id, other namespace");
    assert!(store.delete_schedule("ns", "a").await.expect("delete"));
    assert!(!store.delete_schedule("ns", "a").await.expect("delete again"));
    assert!(store.get_schedule("ns", "a").await.expect("get").is_none());
}

async fn updates_are_compare_and_set(store: Arc<SqlStore>) {
    store.create_schedule(&row("ns", "s", 10)).await.expect("create");
    let mut first = store.get_schedule("ns", "s").await.expect("get").expect("present");
    let stale = first.clone();
    first.next_wake = 99;
    first.record.progress = Some(ScheduleProgress {
        action_count: 3,
        ..Default::default()
    });
    store.update_schedule(&first).await.expect("update at version 1");
    let now = store.get_schedule("ns", "s").await.expect("get").expect("present");
    assert_eq!(now.version, 2);
    assert_eq!(now.next_wake, 99);
    assert_eq!(now.record.progress.as_ref().map(|p| p.action_count), Some(3));
    assert!(matches!(
        store.update_schedule(&stale).await,
        Err(PersistenceError::ConditionFailed(_))
    ));
    let after = store.get_schedule("ns", "s").await.expect("get").expect("present");
    assert_eq!(after, now, "a stale write changes nothing");
}

async fn list_pages_by_id_and_due_finds_the_earliest(store: Arc<SqlStore>) {
    for (id, wake) in [("c", 30), ("a", 50), ("b", 10), ("d", 1000)] {
        store.create_schedule(&row("ns", id, wake)).await.expect("create");
    }
    store.create_schedule(&row("elsewhere", "z", 5)).await.expect("create");
    let page = store.list_schedules("ns", "", 2).await.expect("list");
    assert_eq!(
        page.iter().map(|r| r.schedule_id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let page = store.list_schedules("ns", "b", 10).await.expect("list");
    assert_eq!(
        page.iter().map(|r| r.schedule_id.as_str()).collect::<Vec<_>>(),
        ["c", "d"]
    );

    let due = store.due_schedules(50, 10).await.expect("due");
    let ids: Vec<&str> = due.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["z", "b", "c", "a"],
        "earliest first, every namespace, none in the future"
    );
    assert_eq!(store.due_schedules(50, 1).await.expect("due").len(), 1);
}
