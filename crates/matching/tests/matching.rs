//! The matching engine end to end on a real SqlStore (one partition per queue; see
//! partitions.rs for partitioned queues).

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use sundial_api::prost::Message;
use sundial_api::sundial::matchingservice::v1::matching_service_server::MatchingService;
use sundial_api::sundial::matchingservice::v1::*;
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::temporal::common::v1::Payloads;
use sundial_api::temporal::enums::v1::QueryResultType;
use sundial_api::temporal::query::v1::WorkflowQuery;
use sundial_api::workflowservice::v1 as wf;
use sundial_persistence::{DbConfig, SqlStore, TASK_TYPE_WORKFLOW, TaskQueueKey, TaskQueueStore};
use tokio::sync::Notify;
use tonic::{Code, Request};

#[tokio::test]
async fn sync_match_hands_task_to_waiting_poller_without_writing() {
    let h = Harness::memory(Duration::from_secs(20)).await;
    let h = &h;
    let poll = h.poll_workflow(normal("q"), "worker-1");
    h.wait_for_poller("q", "worker-1").await;

    h.add_workflow_task(normal("q"), "wf-1", 2).await.expect("add");
    let resp = poll.await.expect("join").expect("poll");
    assert_eq!(workflow_id_of(&resp), "wf-1");
    assert_eq!(resp.started_event_id, 3);
    assert_eq!(resp.task_token, b"wft:wf-1:2".to_vec());

    let calls = h.history.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].scheduled_event_id, 2);
    assert_eq!(calls[0].identity, "worker-1");
    assert!(calls[0].request_id.starts_with("poller-worker-1:"));
    assert!(h.backlog("q").await.is_empty(), "a sync match writes nothing");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn backlog_is_delivered_in_order_and_then_deleted() {
    let h = Harness::memory(Duration::from_secs(5)).await;
    let h = &h;
    for event in [2, 5, 8] {
        h.add_workflow_task(normal("q"), &format!("wf-{event}"), event)
            .await
            .expect("add");
    }
    assert_eq!(h.backlog("q").await, vec![2, 5, 8], "no poller: persisted");

    for expected in ["wf-2", "wf-5", "wf-8"] {
        let resp = h.poll_workflow(normal("q"), "w").await.expect("join").expect("poll");
        assert_eq!(workflow_id_of(&resp), expected);
    }
    let request_ids: Vec<String> = h.history.calls().into_iter().map(|c| c.request_id).collect();
    assert!(request_ids.iter().all(|r| r.starts_with("poller-w:")));
    // Backlog task ids are in the request ids: distinct per task.
    assert_eq!(request_ids.iter().collect::<std::collections::HashSet<_>>().len(), 3);
    wait_until(|| async move { h.backlog("q").await.is_empty() }).await;
    h.engine.shutdown().await;
}

#[tokio::test]
async fn poll_times_out_with_an_empty_response() {
    let h = Harness::memory(Duration::from_millis(200)).await;
    let h = &h;
    let started = std::time::Instant::now();
    let resp = h.poll_workflow(normal("idle"), "w").await.expect("join").expect("poll");
    assert!(resp.task_token.is_empty());
    assert_eq!(resp, wf::PollWorkflowTaskQueueResponse::default());
    assert!(started.elapsed() >= Duration::from_millis(190));

    // A caller deadline shorter than the configured poll wins.
    let (_, handler) = Harness::engine(&h.store, &h.history_addr, Duration::from_secs(60));
    let mut request = Request::new(PollActivityTaskQueueRequest {
        namespace_id: NS.into(),
        poller_id: "p".into(),
        request: Some(wf::PollActivityTaskQueueRequest {
            task_queue: Some(normal("idle")),
            identity: "w".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("grpc-timeout", "300m".parse().expect("ascii"));
    let started = std::time::Instant::now();
    let resp = handler
        .poll_activity_task_queue(request)
        .await
        .expect("poll")
        .into_inner();
    assert!(resp.task_token.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn stale_task_is_dropped_and_the_poll_continues() {
    let h = Harness::memory(Duration::from_secs(5)).await;
    let h = &h;
    h.history.fail("gone", &[Code::NotFound]);
    h.add_workflow_task(normal("q"), "gone", 2).await.expect("add");
    h.add_workflow_task(normal("q"), "alive", 3).await.expect("add");

    let resp = h.poll_workflow(normal("q"), "w").await.expect("join").expect("poll");
    assert_eq!(workflow_id_of(&resp), "alive", "the stale task was skipped");
    let calls: Vec<String> = h.history.calls().into_iter().map(|c| c.workflow_id).collect();
    assert_eq!(calls, vec!["gone", "alive"]);
    wait_until(|| async move { h.backlog("q").await.is_empty() }).await;

    // A stale sync-matched task is dropped too, and the poll keeps waiting.
    h.history.fail("gone-too", &[Code::FailedPrecondition]);
    let poll = h.poll_workflow(normal("q"), "w2");
    h.wait_for_poller("q", "w2").await;
    h.add_workflow_task(normal("q"), "gone-too", 4).await.expect("add");
    wait_until(|| async move { h.history.calls().len() == 3 }).await;
    h.add_workflow_task(normal("q"), "next", 5).await.expect("add");
    let resp = poll.await.expect("join").expect("poll");
    assert_eq!(workflow_id_of(&resp), "next");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn retryable_history_error_keeps_the_task() {
    let h = Harness::memory(Duration::from_secs(5)).await;
    let h = &h;
    // Backlog path.
    h.history.fail("flaky", &[Code::Unavailable]);
    h.add_workflow_task(normal("q"), "flaky", 2).await.expect("add");
    let err = h
        .poll_workflow(normal("q"), "w")
        .await
        .expect("join")
        .expect_err("history unavailable");
    assert_eq!(err.code(), Code::Unavailable);
    let resp = h.poll_workflow(normal("q"), "w").await.expect("join").expect("poll");
    assert_eq!(workflow_id_of(&resp), "flaky");

    // Sync-match path: the task goes back and the next poller gets it.
    h.history.fail("flaky-sync", &[Code::Unavailable]);
    let poll = h.poll_workflow(normal("q"), "w3");
    h.wait_for_poller("q", "w3").await;
    h.add_workflow_task(normal("q"), "flaky-sync", 3).await.expect("add");
    let err = poll.await.expect("join").expect_err("unavailable");
    assert_eq!(err.code(), Code::Unavailable);
    let resp = h.poll_workflow(normal("q"), "w4").await.expect("join").expect("poll");
    assert_eq!(workflow_id_of(&resp), "flaky-sync");
    assert_eq!(h.history.calls().len(), 4);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn sticky_queue_needs_a_recent_poller() {
    let h = Harness::memory(Duration::from_millis(200)).await;
    let h = &h;
    let err = h
        .add_workflow_task(sticky("sticky-1"), "wf", 2)
        .await
        .expect_err("no sticky poller yet");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("StickyWorkerUnavailable"), "{}", err.message());
    assert!(h.backlog("sticky-1").await.is_empty(), "nothing stored");

    // A waiting sticky poller gets the task by sync match.
    let poll = h.poll_workflow(sticky("sticky-1"), "sticky-worker");
    h.wait_for_poller("sticky-1", "sticky-worker").await;
    h.add_workflow_task(sticky("sticky-1"), "wf", 2).await.expect("sync");
    assert_eq!(workflow_id_of(&poll.await.expect("join").expect("poll")), "wf");

    // A poller seen recently (but not waiting now) lets the task into the backlog.
    h.add_workflow_task(sticky("sticky-1"), "wf", 3).await.expect("backlog");
    assert_eq!(h.backlog("sticky-1").await, vec![3]);
    let resp = h
        .poll_workflow(sticky("sticky-1"), "sticky-worker")
        .await
        .expect("join")
        .expect("poll");
    assert_eq!(resp.started_event_id, 4);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn query_round_trip_through_a_workflow_poller() {
    let h = Harness::memory(Duration::from_secs(10)).await;
    let h = &h;
    // A backlog task is queued too: the query must come first.
    h.add_workflow_task(normal("q"), "wf-task", 2).await.expect("add");
    let handler = h.handler.clone();
    let query = tokio::spawn(async move {
        handler
            .query_workflow(Request::new(QueryWorkflowRequest {
                namespace_id: NS.into(),
                task_queue: Some(normal("q")),
                query_task: Some(wf::PollWorkflowTaskQueueResponse {
                    workflow_execution: Some(execution("wf-q")),
                    query: Some(WorkflowQuery {
                        query_type: "state".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }))
            .await
    });
    // Wait until the query is queued, then poll.
    let resp = loop {
        let resp = h.poll_workflow(normal("q"), "w").await.expect("join").expect("poll");
        if resp.query.is_some() {
            break resp;
        }
        // The normal task came first because the query was not queued yet: retry.
        assert_eq!(workflow_id_of(&resp), "wf-task");
    };
    assert_eq!(resp.query.as_ref().map(|q| q.query_type.as_str()), Some("state"));
    let token = TaskToken::decode(resp.task_token.as_slice()).expect("token");
    assert_eq!(token.workflow_id, "wf-q");
    assert_eq!(token.run_id, "run-wf-q");
    assert_eq!(token.namespace_id, NS);
    assert_eq!(token.task_queue, "q");
    assert!(!token.query_task_id.is_empty());
    assert!(
        !h.history.calls().iter().any(|c| c.workflow_id == "wf-q"),
        "query tasks do not go through history"
    );

    let answer = wf::RespondQueryTaskCompletedRequest {
        task_token: resp.task_token.clone(),
        completed_type: QueryResultType::Answered as i32,
        query_result: Some(Payloads::default()),
        ..Default::default()
    };
    h.handler
        .respond_query_task_completed(Request::new(RespondQueryTaskCompletedRequest {
            namespace_id: NS.into(),
            task_queue: Some(normal("q")),
            query_task_id: token.query_task_id.clone(),
            request: Some(answer.clone()),
        }))
        .await
        .expect("respond");
    let result = query.await.expect("join").expect("query").into_inner();
    assert_eq!(result.completed_type, QueryResultType::Answered as i32);
    assert_eq!(result.query_result, Some(Payloads::default()));

    let again = h
        .handler
        .respond_query_task_completed(Request::new(RespondQueryTaskCompletedRequest {
            namespace_id: NS.into(),
            task_queue: Some(normal("q")),
            query_task_id: token.query_task_id,
            request: Some(answer),
        }))
        .await
        .expect_err("answered already");
    assert_eq!(again.code(), Code::NotFound);

    // No poller: the query fails with DEADLINE_EXCEEDED at the caller's deadline.
    let mut request = Request::new(QueryWorkflowRequest {
        namespace_id: NS.into(),
        task_queue: Some(normal("nobody-polls")),
        query_task: Some(wf::PollWorkflowTaskQueueResponse::default()),
    });
    request
        .metadata_mut()
        .insert("grpc-timeout", "300m".parse().expect("ascii"));
    let err = h.handler.query_workflow(request).await.expect_err("no poller");
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(err.message().contains("not picked up"), "{}", err.message());
    h.engine.shutdown().await;
}

#[tokio::test]
async fn dropped_poll_does_not_lose_the_task() {
    let h = Harness::memory(Duration::from_secs(10)).await;
    let h = &h;
    // A poller that leaves before any task arrives: the add persists instead.
    let gone = h.poll_workflow(normal("q"), "leaver");
    h.wait_for_poller("q", "leaver").await;
    gone.abort();
    let _ = gone.await;
    h.add_workflow_task(normal("q"), "wf-1", 2).await.expect("add");

    // A poller dropped while history records the start: history fails retryably, and the
    // task goes back to the queue for the next poller.
    let gate = Arc::new(Notify::new());
    h.history
        .gates
        .lock()
        .expect("lock")
        .insert("wf-1".into(), gate.clone());
    h.history.fail("wf-1", &[Code::Unavailable]);
    let dropped = h.poll_workflow(normal("q"), "dropper");
    wait_until(|| async move { !h.history.calls().is_empty() }).await;
    dropped.abort();
    let _ = dropped.await;
    h.history.gates.lock().expect("lock").clear();
    gate.notify_one();

    let resp = h
        .poll_workflow(normal("q"), "keeper")
        .await
        .expect("join")
        .expect("poll");
    assert_eq!(workflow_id_of(&resp), "wf-1");
    let calls = h.history.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].identity, "keeper");

    // The same for a sync-matched task: the poller vanishes mid-record, the record still
    // runs to its end, and the add returns only then; history failed, so the adder wrote the
    // task to the backlog.
    let gate = Arc::new(Notify::new());
    h.history
        .gates
        .lock()
        .expect("lock")
        .insert("wf-2".into(), gate.clone());
    h.history.fail("wf-2", &[Code::Unavailable]);
    let dropped = h.poll_workflow(normal("q"), "dropper-2");
    h.wait_for_poller("q", "dropper-2").await;
    let add = spawn_add(h, "wf-2", 3);
    wait_until(|| async move { h.history.calls().len() == 3 }).await;
    dropped.abort();
    let _ = dropped.await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!add.is_finished(), "the add waits for history's answer");
    h.history.gates.lock().expect("lock").clear();
    gate.notify_one();
    add.await.expect("join").expect("sync add");
    // (wf-1's acked row may linger until the next batched delete.)
    assert!(
        h.backlog("q").await.contains(&3),
        "the adder wrote the task to the backlog"
    );
    wait_until(|| async move { h.backlog("q").await == vec![3] }).await;
    let resp = h
        .poll_workflow(normal("q"), "keeper")
        .await
        .expect("join")
        .expect("poll");
    assert_eq!(workflow_id_of(&resp), "wf-2");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn backlog_survives_an_engine_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = DbConfig::Sqlite {
        path: Some(dir.path().join("matching.db")),
    };
    let h = Harness::start(db.clone(), Duration::from_secs(5)).await;
    let h = &h;
    for event in [2, 3, 4] {
        h.add_workflow_task(normal("q"), &format!("wf-{event}"), event)
            .await
            .expect("add");
    }
    // One is delivered before the restart; its ack is flushed at shutdown.
    let first = h.poll_workflow(normal("q"), "w").await.expect("join").expect("poll");
    assert_eq!(workflow_id_of(&first), "wf-2");
    h.engine.shutdown().await;
    h.engine.shutdown().await;
    h.store.close().await;

    let store = Arc::new(SqlStore::open(&db).await.expect("reopen"));
    let (engine, handler) = Harness::engine(&store, &h.history_addr, Duration::from_secs(5));
    let mut seen = Vec::new();
    for _ in 0..2 {
        let resp = poll_once(&handler, normal("q"), "w2").await.expect("poll");
        seen.push(workflow_id_of(&resp));
    }
    assert_eq!(seen, vec!["wf-3", "wf-4"]);
    // New tasks after the restart get ids from the new lease's block, after the old ones.
    handler
        .add_workflow_task(Request::new(AddWorkflowTaskRequest {
            namespace_id: NS.into(),
            execution: Some(execution("wf-new")),
            task_queue: Some(normal("q")),
            scheduled_event_id: 9,
            schedule_to_start_timeout: None,
            namespace: String::new(),
            ..Default::default()
        }))
        .await
        .expect("add");
    let key = TaskQueueKey::new(NS, "q", TASK_TYPE_WORKFLOW);
    let rows = store.get_tasks(&key, 0, i64::MAX, 10).await.expect("rows");
    assert!(rows.iter().any(|t| t.task_id > 100_000), "{rows:?}");
    engine.shutdown().await;
}

/// An AddWorkflowTask of `workflow_id` on queue "q", running in the background.
fn spawn_add(h: &Harness, workflow_id: &str, event: i64) -> tokio::task::JoinHandle<Result<(), tonic::Status>> {
    let handler = h.handler.clone();
    let workflow_id = workflow_id.to_owned();
    tokio::spawn(async move {
        handler
            .add_workflow_task(Request::new(AddWorkflowTaskRequest {
                namespace_id: NS.into(),
                execution: Some(execution(&workflow_id)),
                task_queue: Some(normal("q")),
                scheduled_event_id: event,
                schedule_to_start_timeout: None,
                namespace: "default".into(),
                ..Default::default()
            }))
            .await
            .map(|_| ())
    })
}

/// History's transfer task is the only durable copy of a sync-matched task until history has
/// recorded it started: the add must not succeed before that.
#[tokio::test]
async fn sync_add_is_acknowledged_only_after_history_recorded_the_start() {
    let h = Harness::memory(Duration::from_secs(10)).await;
    let h = &h;

    // Slow success: the add waits for the record, and nothing is written.
    let gate = Arc::new(Notify::new());
    h.history
        .gates
        .lock()
        .expect("lock")
        .insert("wf-slow".into(), gate.clone());
    let poll = h.poll_workflow(normal("q"), "w1");
    h.wait_for_poller("q", "w1").await;
    let add = spawn_add(h, "wf-slow", 2);
    wait_until(|| async move { h.history.calls().len() == 1 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!add.is_finished(), "acknowledged before history recorded the start");
    gate.notify_one();
    add.await.expect("join").expect("add");
    assert_eq!(workflow_id_of(&poll.await.expect("join").expect("poll")), "wf-slow");
    assert!(h.backlog("q").await.is_empty());

    // Failure: the add waits, then keeps the task in the backlog for a later poll.
    let gate = Arc::new(Notify::new());
    h.history
        .gates
        .lock()
        .expect("lock")
        .insert("wf-fail".into(), gate.clone());
    h.history.fail("wf-fail", &[Code::Internal]);
    let poll = h.poll_workflow(normal("q"), "w2");
    h.wait_for_poller("q", "w2").await;
    let add = spawn_add(h, "wf-fail", 5);
    wait_until(|| async move { h.history.calls().len() == 2 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!add.is_finished(), "acknowledged before history answered");
    h.history.gates.lock().expect("lock").clear();
    gate.notify_one();
    add.await.expect("join").expect("add keeps the task");
    let err = poll.await.expect("join").expect_err("history failed");
    assert_eq!(err.code(), Code::Internal);
    assert_eq!(h.backlog("q").await, vec![5], "the adder wrote the task to the backlog");
    let resp = h.poll_workflow(normal("q"), "w3").await.expect("join").expect("poll");
    assert_eq!(workflow_id_of(&resp), "wf-fail");
    assert_eq!(resp.started_event_id, 6);
    wait_until(|| async move { h.backlog("q").await.is_empty() }).await;

    // Stale (history says it is started already): done, nothing written.
    h.history.fail("wf-stale", &[Code::FailedPrecondition]);
    let poll = h.poll_workflow(normal("q"), "w4");
    h.wait_for_poller("q", "w4").await;
    spawn_add(h, "wf-stale", 7).await.expect("join").expect("stale add");
    assert!(h.backlog("q").await.is_empty());
    poll.abort();
    let _ = poll.await;
    h.engine.shutdown().await;
}

/// A poll of worker instance `key` on "q", running in the background.
fn poll_as_instance(
    h: &Harness,
    identity: &str,
    key: &str,
) -> tokio::task::JoinHandle<wf::PollWorkflowTaskQueueResponse> {
    let handler = h.handler.clone();
    let (identity, key) = (identity.to_owned(), key.to_owned());
    tokio::spawn(async move {
        handler
            .poll_workflow_task_queue(Request::new(PollWorkflowTaskQueueRequest {
                namespace_id: NS.into(),
                poller_id: format!("poller-{identity}"),
                request: Some(wf::PollWorkflowTaskQueueRequest {
                    namespace: "default".into(),
                    task_queue: Some(normal("q")),
                    identity: identity.clone(),
                    worker_instance_key: key,
                    ..Default::default()
                }),
                ..Default::default()
            }))
            .await
            .expect("poll")
            .into_inner()
    })
}

#[tokio::test]
async fn a_shutting_down_workers_polls_end_at_once_and_nobody_elses() {
    let h = Harness::memory(Duration::from_secs(30)).await;
    let h = &h;
    let leaving = poll_as_instance(h, "leaving", "instance-1");
    h.wait_for_poller("q", "leaving").await;
    let staying = poll_as_instance(h, "staying", "instance-2");
    h.wait_for_poller("q", "staying").await;

    let started = std::time::Instant::now();
    let cancelled = h
        .handler
        .cancel_outstanding_worker_polls(Request::new(CancelOutstandingWorkerPollsRequest {
            namespace_id: NS.into(),
            task_queue: "q".into(),
            task_types: vec![TASK_TYPE_WORKFLOW],
            worker_instance_key: "instance-1".into(),
        }))
        .await
        .expect("cancel")
        .into_inner()
        .cancelled_count;
    assert_eq!(cancelled, 1);
    let resp = leaving.await.expect("join");
    assert!(resp.task_token.is_empty(), "an empty answer");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "at once, not at the poll's timeout"
    );

    // The task goes to the worker that stays, not to the one that left.
    h.add_workflow_task(normal("q"), "wf-1", 2).await.expect("add");
    let resp = staying.await.expect("join");
    assert_eq!(workflow_id_of(&resp), "wf-1");
    h.engine.shutdown().await;
}
