//! Conformance suite for the `batch_operations` table, on every backend (see `common`).

mod common;

use std::sync::Arc;
use sundial_api::sundial::persistence::v1::BatchRecord;
use sundial_persistence::*;

conformance!(batches_are_unique_cas_updated_and_listed_newest_first,);

fn row(ns: &str, job: &str, start: i64, wake: i64) -> BatchRow {
    BatchRow {
        namespace_id: ns.into(),
        job_id: job.into(),
        version: 1,
        next_wake: wake,
        start_time: start,
        record: BatchRecord {
            state: 1,
            ..Default::default()
        },
    }
}

async fn batches_are_unique_cas_updated_and_listed_newest_first(store: Arc<SqlStore>) {
    for (job, start, wake) in [("a", 10, 5), ("b", 30, i64::MAX), ("c", 20, 7), ("d", 30, 100)] {
        store.create_batch(&row("ns", job, start, wake)).await.expect("create");
    }
    assert!(matches!(
        store.create_batch(&row("ns", "a", 1, 1)).await,
        Err(PersistenceError::AlreadyExists(_))
    ));
    let mut a = store.get_batch("ns", "a").await.expect("get").expect("present");
    let stale = a.clone();
    a.record.completed = 4;
    a.next_wake = i64::MAX;
    store.update_batch(&a).await.expect("update");
    assert!(matches!(
        store.update_batch(&stale).await,
        Err(PersistenceError::ConditionFailed(_))
    ));
    let a = store.get_batch("ns", "a").await.expect("get").expect("present");
    assert_eq!((a.version, a.record.completed), (2, 4));

    let first = store.list_batches("ns", None, 2).await.expect("list");
    assert_eq!(first.iter().map(|r| r.job_id.as_str()).collect::<Vec<_>>(), ["b", "d"]);
    let last = first.last().expect("a page");
    let rest = store
        .list_batches("ns", Some((last.start_time, &last.job_id)), 10)
        .await
        .expect("list");
    assert_eq!(rest.iter().map(|r| r.job_id.as_str()).collect::<Vec<_>>(), ["c", "a"]);

    let due = store.due_batches(100, 10).await.expect("due");
    assert_eq!(due.iter().map(|(_, j)| j.as_str()).collect::<Vec<_>>(), ["c", "d"]);
}
