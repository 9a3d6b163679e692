//! One queue's partitions on two matching hosts (two engines with their own gRPC servers and
//! a ring that splits the partitions): adds and polls meet across hosts without writing,
//! backlog of a partition nobody polls reaches the parent's pollers on the other host, and a
//! forwarded poll that lost the race to a local task is cancelled, not left to take (and
//! lose) the next task.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use sundial_api::sundial::matchingservice::v1::matching_service_server::{MatchingService, MatchingServiceServer};
use sundial_api::sundial::matchingservice::v1::*;
use sundial_api::temporal::enums::v1::TaskQueueType;
use sundial_api::workflowservice::v1 as wf;
use sundial_matching::{MatchingConfig, MatchingEngine, MatchingHandler};
use sundial_membership::{Host, Rings};
use sundial_persistence::{DbConfig, Role, SqlStore, TASK_TYPE_WORKFLOW, TaskQueueKey, TaskQueueStore};
use tonic::Request;

struct Node {
    address: String,
    engine: Arc<MatchingEngine>,
    handler: MatchingHandler,
    _server: tokio::task::JoinHandle<()>,
}

struct Pair {
    history: Arc<FakeHistory>,
    store: Arc<SqlStore>,
    nodes: Vec<Node>,
    _history_server: tokio::task::JoinHandle<()>,
}

async fn listener() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = l.local_addr().expect("addr").to_string();
    (l, address)
}

/// Two matching hosts on one store, two partitions per queue, 5 s polls.
async fn pair() -> Pair {
    let history = Arc::new(FakeHistory::default());
    let (history_listener, history_addr) = listener().await;
    let service = sundial_api::sundial::historyservice::v1::history_service_server::HistoryServiceServer::new(
        SharedHistory(history.clone()),
    );
    let history_server = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(history_listener))
            .await
            .expect("history server");
    });
    let store = Arc::new(SqlStore::open(&DbConfig::Sqlite { path: None }).await.expect("store"));
    let (a, b) = (listener().await, listener().await);
    let hosts = [&a.1, &b.1]
        .iter()
        .map(|address| Host {
            address: (*address).clone(),
            host_id: format!("host-{address}"),
        })
        .collect();
    let (_tx, rings) = tokio::sync::watch::channel(Rings::of(Role::Matching, hosts));
    // The sender must outlive the engines' receivers; leak it for the test's life.
    std::mem::forget(_tx);
    let mut nodes = Vec::new();
    for (l, address) in [a, b] {
        let config = MatchingConfig {
            host_address: address.clone(),
            rings: Some(rings.clone()),
            peers: Some(sundial_rpc::MatchingRouter::new(rings.clone())),
            ..config(Duration::from_secs(5), Some((2, 2)))
        };
        let engine = MatchingEngine::new(
            store.clone(),
            sundial_rpc::HistoryRouter::fixed(&history_addr, 1),
            config,
        );
        let service = MatchingServiceServer::new(MatchingHandler::new(engine.clone()));
        let server = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(l))
                .await
                .expect("matching server");
        });
        nodes.push(Node {
            address,
            handler: MatchingHandler::new(engine.clone()),
            engine,
            _server: server,
        });
    }
    Pair {
        history,
        store,
        nodes,
        _history_server: history_server,
    }
}

impl Pair {
    /// A queue whose partition 1 (the child) and partition 0 (its parent) are on different
    /// hosts: (name, child's node, root's node).
    fn split_queue(&self) -> (String, &Node, &Node) {
        let router = sundial_rpc::MatchingRouter::new({
            let hosts = self
                .nodes
                .iter()
                .map(|n| Host {
                    address: n.address.clone(),
                    host_id: format!("host-{}", n.address),
                })
                .collect();
            let (tx, rx) = tokio::sync::watch::channel(Rings::of(Role::Matching, hosts));
            std::mem::forget(tx);
            rx
        });
        for i in 0.. {
            let name = format!("q{i}");
            let root = router.owner_of(NS, &name, 0).expect("owner");
            let child = router.owner_of(NS, &name, 1).expect("owner");
            if root != child {
                let node = |a: &str| self.nodes.iter().find(|n| n.address == a).expect("node");
                return (name, node(&child), node(&root));
            }
        }
        unreachable!()
    }

    async fn backlog(&self, queue: &str, partition: i32) -> usize {
        let key = TaskQueueKey {
            partition,
            ..TaskQueueKey::new(NS, queue, TASK_TYPE_WORKFLOW)
        };
        self.store.get_tasks(&key, 0, i64::MAX, 100).await.expect("tasks").len()
    }

    async fn shutdown(self) {
        for n in &self.nodes {
            n.engine.shutdown().await;
        }
    }
}

/// An add of `workflow_id` to `partition`, through `node`, running in the background.
fn spawn_add(
    node: &Node,
    queue: &str,
    partition: i32,
    workflow_id: &str,
) -> tokio::task::JoinHandle<Result<bool, tonic::Status>> {
    let handler = MatchingHandler::new(node.engine.clone());
    let (queue, workflow_id) = (queue.to_owned(), workflow_id.to_owned());
    tokio::spawn(async move {
        handler
            .add_workflow_task(Request::new(AddWorkflowTaskRequest {
                namespace_id: NS.into(),
                execution: Some(execution(&workflow_id)),
                task_queue: Some(normal(&queue)),
                scheduled_event_id: 2,
                namespace: "default".into(),
                partition,
                ..Default::default()
            }))
            .await
            .map(|r| r.into_inner().matched)
    })
}

async fn add(node: &Node, queue: &str, partition: i32, workflow_id: &str) {
    let placed = spawn_add(node, queue, partition, workflow_id)
        .await
        .expect("join")
        .expect("add");
    assert!(placed, "a normal add is always placed");
}

/// Starts a poll of `partition` through `node`, and returns once the node lists the poller.
async fn poll(
    node: &Node,
    queue: &str,
    partition: i32,
    identity: &str,
) -> tokio::task::JoinHandle<wf::PollWorkflowTaskQueueResponse> {
    let handler = MatchingHandler::new(node.engine.clone());
    let (q, id) = (queue.to_owned(), identity.to_owned());
    let handle = tokio::spawn(async move {
        poll_partition(&handler, normal(&q), &id, partition)
            .await
            .expect("poll")
    });
    let name = sundial_common::partition::rpc_name(queue, partition as u32);
    wait_until(|| {
        let name = name.clone();
        async move {
            #[allow(deprecated)]
            let described = node
                .handler
                .describe_task_queue(Request::new(DescribeTaskQueueRequest {
                    namespace_id: NS.into(),
                    request: Some(wf::DescribeTaskQueueRequest {
                        namespace: "default".into(),
                        task_queue: Some(normal(&name)),
                        task_queue_type: TaskQueueType::Workflow as i32,
                        ..Default::default()
                    }),
                }))
                .await
                .expect("describe")
                .into_inner();
            described.pollers.iter().any(|p| p.identity == identity)
        }
    })
    .await;
    // The forwarded twin of a child's poll reaches the parent's host a moment later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle
}

#[tokio::test]
async fn an_add_at_the_root_reaches_a_poller_of_the_child_on_the_other_host() {
    let p = pair().await;
    let (queue, child, root) = p.split_queue();
    let polled = poll(child, &queue, 1, "w1").await;
    add(root, &queue, 0, "wf-1").await;
    let resp = tokio::time::timeout(Duration::from_secs(5), polled)
        .await
        .expect("poll answered")
        .expect("join");
    assert_eq!(workflow_id_of(&resp), "wf-1");
    assert_eq!(
        (p.backlog(&queue, 0).await, p.backlog(&queue, 1).await),
        (0, 0),
        "sync match, nothing written"
    );
    assert_eq!(p.history.calls().len(), 1);
    p.shutdown().await;
}

#[tokio::test]
async fn an_add_at_the_child_is_forwarded_to_a_poller_of_the_root_on_the_other_host() {
    let p = pair().await;
    let (queue, child, root) = p.split_queue();
    let polled = poll(root, &queue, 0, "w0").await;
    add(child, &queue, 1, "wf-2").await;
    let resp = tokio::time::timeout(Duration::from_secs(5), polled)
        .await
        .expect("poll answered")
        .expect("join");
    assert_eq!(workflow_id_of(&resp), "wf-2");
    assert_eq!(
        (p.backlog(&queue, 0).await, p.backlog(&queue, 1).await),
        (0, 0),
        "sync match, nothing written"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn backlog_of_a_child_nobody_polls_drains_to_the_root_on_the_other_host() {
    let p = pair().await;
    let (queue, child, root) = p.split_queue();
    add(child, &queue, 1, "wf-3").await;
    assert_eq!(
        p.backlog(&queue, 1).await,
        1,
        "no poller anywhere: written at the child"
    );
    let polled = poll(root, &queue, 0, "w0").await;
    let resp = tokio::time::timeout(Duration::from_secs(10), polled)
        .await
        .expect("poll answered")
        .expect("join");
    assert_eq!(workflow_id_of(&resp), "wf-3");
    // Acked at the child once the root's poller had it recorded, then deleted.
    let p = &p;
    let queue = &queue;
    wait_until(|| async move { p.backlog(queue, 1).await == 0 }).await;
}

#[tokio::test]
async fn a_forwarded_poll_that_lost_to_a_local_task_is_cancelled() {
    let p = pair().await;
    let (queue, child, root) = p.split_queue();
    // The poll waits at the child and, forwarded, at the root.
    let polled = poll(child, &queue, 1, "w1").await;
    let started = std::time::Instant::now();
    add(child, &queue, 1, "wf-local").await;
    let resp = polled.await.expect("join");
    assert_eq!(workflow_id_of(&resp), "wf-local");
    // At once: the forwarded twin was ended by the cancel, not by its deadline (4.5 s).
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // Nobody waits at the root any more: a new task there is written, not handed to a
    // forwarded poll whose answer nobody would read.
    add(root, &queue, 0, "wf-next").await;
    assert_eq!(p.backlog(&queue, 0).await, 1);
    let calls: Vec<String> = p.history.calls().into_iter().map(|c| c.workflow_id).collect();
    assert_eq!(calls, ["wf-local"]);
    p.shutdown().await;
}

#[tokio::test]
async fn partitions_list_the_host_that_owns_each() {
    let p = pair().await;
    let (queue, child, root) = p.split_queue();
    let list = root
        .handler
        .list_task_queue_partitions(Request::new(ListTaskQueuePartitionsRequest {
            namespace_id: NS.into(),
            request: Some(wf::ListTaskQueuePartitionsRequest {
                namespace: "default".into(),
                task_queue: Some(normal(&queue)),
            }),
        }))
        .await
        .expect("list")
        .into_inner();
    let owners: Vec<(&str, &str)> = list
        .workflow_task_queue_partitions
        .iter()
        .map(|p| (p.key.as_str(), p.owner_host_name.as_str()))
        .collect();
    let child_name = format!("/_sys/{queue}/1");
    assert_eq!(
        owners,
        [
            (queue.as_str(), root.address.as_str()),
            (child_name.as_str(), child.address.as_str())
        ]
    );
    // A host refuses a partition the ring gives to the other.
    let err = root
        .handler
        .add_workflow_task(Request::new(AddWorkflowTaskRequest {
            namespace_id: NS.into(),
            execution: Some(execution("wf-x")),
            task_queue: Some(normal(&queue)),
            scheduled_event_id: 2,
            partition: 1,
            ..Default::default()
        }))
        .await
        .expect_err("not the owner");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    p.shutdown().await;
}

#[tokio::test]
async fn a_task_the_parent_started_for_a_forwarded_poll_wins_and_the_local_one_goes_back() {
    let p = pair().await;
    let (queue, child, root) = p.split_queue();
    let gate = Arc::new(tokio::sync::Notify::new());
    p.history
        .gates
        .lock()
        .expect("lock")
        .insert("wf-root".into(), gate.clone());
    let polled = poll(child, &queue, 1, "w1").await;
    // The root hands its task to the forwarded poll, whose recording waits at the gate.
    let root_add = spawn_add(root, &queue, 0, "wf-root");
    let history = p.history.clone();
    wait_until(|| {
        let history = history.clone();
        async move { !history.calls().is_empty() }
    })
    .await;
    // Meanwhile a task reaches the same poll here; it must not win over the started one.
    let child_add = spawn_add(child, &queue, 1, "wf-child");
    tokio::time::sleep(Duration::from_millis(300)).await;
    gate.notify_one();
    let resp = polled.await.expect("join");
    assert_eq!(workflow_id_of(&resp), "wf-root");
    root_add.await.expect("join").expect("root add");
    child_add.await.expect("join").expect("child add");
    // The local task went back and, with nobody polling, was written: nothing lost.
    assert_eq!(p.backlog(&queue, 1).await, 1);
    let calls: Vec<String> = p.history.calls().into_iter().map(|c| c.workflow_id).collect();
    assert_eq!(calls, ["wf-root"]);
    p.shutdown().await;
}
