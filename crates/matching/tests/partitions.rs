//! Partitioned task queues: adds spread over the write partitions, polls find tasks in any
//! partition (forwarding to the root), and backlog in partitions nobody polls still drains.

mod common;

use common::*;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use sundial_api::sundial::matchingservice::v1::matching_service_server::MatchingService;
use sundial_api::sundial::matchingservice::v1::*;
use sundial_api::temporal::enums::v1::TaskQueueType;
use sundial_api::workflowservice::v1 as wf;
use sundial_persistence::{DbConfig, SqlStore};
use tonic::{Code, Request};

/// Polls `n` tasks one after another and returns their workflow ids; each poll must find a
/// task although the poller lands on a partition picked at random.
async fn drain(h: &Harness, queue: &str, n: usize) -> HashSet<String> {
    let mut seen = HashSet::new();
    for _ in 0..n {
        let resp = h.poll_workflow(normal(queue), "w").await.expect("join").expect("poll");
        let id = workflow_id_of(&resp);
        assert!(!id.is_empty(), "a poll came back empty with tasks left: got {seen:?}");
        assert!(seen.insert(id.clone()), "{id} delivered twice");
    }
    seen
}

async fn persisted_per_partition(h: &Harness, queue: &str, partitions: i32) -> Vec<usize> {
    let mut counts = Vec::new();
    for p in 0..partitions {
        counts.push(h.partition_backlog(queue, p).await.len());
    }
    counts
}

fn expected_ids(n: usize) -> HashSet<String> {
    (0..n).map(|i| format!("wf-{i}")).collect()
}

#[tokio::test]
async fn adds_spread_over_write_partitions_and_every_task_is_polled() {
    let h = Harness::start_with(DbConfig::Sqlite { path: None }, Duration::from_secs(5), Some((4, 4))).await;
    for i in 0..40 {
        h.add_workflow_task(normal("q"), &format!("wf-{i}"), 2)
            .await
            .expect("add");
    }
    let counts = persisted_per_partition(&h, "q", 4).await;
    assert_eq!(counts.iter().sum::<usize>(), 40, "{counts:?}");
    assert!(
        counts.iter().all(|&c| c > 0),
        "every write partition got tasks: {counts:?}"
    );

    assert_eq!(drain(&h, "q", 40).await, expected_ids(40));
    let h = &h;
    wait_until(|| async move { persisted_per_partition(h, "q", 4).await.iter().all(|&c| c == 0) }).await;
    h.engine.shutdown().await;
}

#[tokio::test]
async fn backlog_of_partitions_nobody_polls_is_forwarded_to_the_root() {
    // Writes go to three partitions, every poll goes to the root.
    let h = Harness::start_with(DbConfig::Sqlite { path: None }, Duration::from_secs(5), Some((1, 3))).await;
    for i in 0..30 {
        h.add_workflow_task(normal("q"), &format!("wf-{i}"), 2)
            .await
            .expect("add");
    }
    let counts = persisted_per_partition(&h, "q", 3).await;
    assert!(counts[1] > 0 && counts[2] > 0, "{counts:?}");
    assert_eq!(drain(&h, "q", 30).await, expected_ids(30));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_waiting_poller_gets_tasks_added_to_any_partition_without_a_write() {
    let h = Harness::start_with(DbConfig::Sqlite { path: None }, Duration::from_secs(10), Some((4, 4))).await;
    let h = &h;
    for i in 0..12 {
        let poll = h.poll_workflow(normal("q"), "w");
        // The poller waits at its own partition and at the root; the add lands anywhere.
        // (Earlier polls already listed "w", so give this one time to be queued.)
        h.wait_for_poller("q", "w").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.add_workflow_task(normal("q"), &format!("wf-{i}"), 2)
            .await
            .expect("add");
        let resp = poll.await.expect("join").expect("poll");
        assert_eq!(workflow_id_of(&resp), format!("wf-{i}"));
    }
    assert_eq!(
        persisted_per_partition(h, "q", 4).await,
        vec![0, 0, 0, 0],
        "all sync matches"
    );
    h.engine.shutdown().await;
}

#[tokio::test]
async fn partitions_used_before_a_restart_are_drained_after_the_count_shrinks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbConfig::Sqlite {
        path: Some(dir.path().join("matching.db")),
    };
    let h = Harness::start_with(db.clone(), Duration::from_secs(5), Some((4, 4))).await;
    for i in 0..20 {
        h.add_workflow_task(normal("q"), &format!("wf-{i}"), 2)
            .await
            .expect("add");
    }
    assert!(persisted_per_partition(&h, "q", 4).await[1..].iter().any(|&c| c > 0));
    h.engine.shutdown().await;
    h.store.close().await;

    // Back with one partition configured: partitions 1-3 still hold backlog.
    let store = Arc::new(SqlStore::open(&db).await.expect("reopen"));
    let (engine, handler) = Harness::engine_with(&store, &h.history_addr, Duration::from_secs(5), Some((1, 1)));
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let resp = poll_once(&handler, normal("q"), "w2").await.expect("poll");
        let id = workflow_id_of(&resp);
        assert!(!id.is_empty(), "empty poll with backlog left: got {seen:?}");
        seen.insert(id);
    }
    assert_eq!(seen, expected_ids(20));
    engine.shutdown().await;
}

#[tokio::test]
async fn partitions_are_listed_and_described_one_by_one() {
    let h = Harness::start_with(DbConfig::Sqlite { path: None }, Duration::from_secs(5), Some((3, 3))).await;
    let list = h
        .handler
        .list_task_queue_partitions(Request::new(ListTaskQueuePartitionsRequest {
            namespace_id: NS.into(),
            request: Some(wf::ListTaskQueuePartitionsRequest {
                namespace: "default".into(),
                task_queue: Some(normal("q")),
            }),
        }))
        .await
        .expect("list")
        .into_inner();
    let keys: Vec<&str> = list
        .workflow_task_queue_partitions
        .iter()
        .map(|p| p.key.as_str())
        .collect();
    assert_eq!(keys, ["q", "/_sys/q/1", "/_sys/q/2"]);
    assert_eq!(list.activity_task_queue_partitions.len(), 3);
    assert!(
        list.workflow_task_queue_partitions
            .iter()
            .all(|p| p.owner_host_name == "127.0.0.1:7235")
    );

    for i in 0..30 {
        h.add_workflow_task(normal("q"), &format!("wf-{i}"), 2)
            .await
            .expect("add");
    }
    let backlog_of = |name: &str| {
        let handler = h.handler.clone();
        let name = name.to_owned();
        async move {
            #[allow(deprecated)]
            handler
                .describe_task_queue(Request::new(DescribeTaskQueueRequest {
                    namespace_id: NS.into(),
                    request: Some(wf::DescribeTaskQueueRequest {
                        namespace: "default".into(),
                        task_queue: Some(normal(&name)),
                        task_queue_type: TaskQueueType::Workflow as i32,
                        include_task_queue_status: true,
                        report_stats: true,
                        ..Default::default()
                    }),
                }))
                .await
                .map(|r| r.into_inner())
        }
    };
    let mut sum = 0;
    for name in ["q", "/_sys/q/1", "/_sys/q/2"] {
        #[allow(deprecated)]
        let status = backlog_of(name)
            .await
            .expect("describe")
            .task_queue_status
            .expect("status");
        assert!(status.backlog_count_hint > 0, "{name}: {status:?}");
        assert!(status.task_id_block.is_some_and(|b| b.start_id == 1), "{name}");
        // Each partition alone: the frontend merges a whole queue.
        let stats = backlog_of(name).await.expect("describe").stats.expect("stats");
        assert_eq!(stats.approximate_backlog_count, status.backlog_count_hint, "{name}");
        sum += status.backlog_count_hint;
    }
    assert_eq!(sum, 30);
    let bad = backlog_of("/_sys/q/zero").await.expect_err("bad partition name");
    assert_eq!(bad.code(), Code::InvalidArgument);
    h.engine.shutdown().await;
}
