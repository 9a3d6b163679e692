//! Test harness: the matching engine on a real SqlStore, with a scripted history service on
//! 127.0.0.1:0 that records every RecordTaskStarted call.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sundial_api::sundial::historyservice::v1::history_service_server::{HistoryService, HistoryServiceServer};
use sundial_api::sundial::historyservice::v1::{RecordActivityTaskStartedRequest, RecordWorkflowTaskStartedRequest};
use sundial_api::sundial::matchingservice::v1::matching_service_server::MatchingService;
use sundial_api::sundial::matchingservice::v1::*;
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::enums::v1::{TaskQueueKind, TaskQueueType};
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::workflowservice::v1 as wf;
use sundial_matching::{MatchingConfig, MatchingEngine, MatchingHandler};
use sundial_persistence::{DbConfig, SqlStore, TASK_TYPE_WORKFLOW, TaskQueueKey, TaskQueueStore};
use tokio::sync::Notify;
use tonic::{Code, Request, Response, Status};

pub const NS: &str = "ns-id";

/// A recorded RecordTaskStarted call.
#[derive(Clone, Debug)]
pub struct Call {
    pub workflow_id: String,
    pub scheduled_event_id: i64,
    pub request_id: String,
    pub identity: String,
}

/// Scripted history: per workflow id, errors to return (front first) before succeeding, and
/// an optional gate the call waits on.
#[derive(Default)]
pub struct FakeHistory {
    pub calls: Mutex<Vec<Call>>,
    pub errors: Mutex<HashMap<String, Vec<Code>>>,
    pub gates: Mutex<HashMap<String, Arc<Notify>>>,
    pub called: Notify,
}

impl FakeHistory {
    pub fn fail(&self, workflow_id: &str, codes: &[Code]) {
        self.errors
            .lock()
            .expect("lock")
            .insert(workflow_id.into(), codes.to_vec());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    async fn record(
        &self,
        execution: Option<WorkflowExecution>,
        scheduled_event_id: i64,
        request_id: String,
        identity: String,
    ) -> Result<WorkflowExecution, Status> {
        let execution = execution.ok_or_else(|| Status::invalid_argument("no execution"))?;
        self.calls.lock().expect("lock").push(Call {
            workflow_id: execution.workflow_id.clone(),
            scheduled_event_id,
            request_id,
            identity,
        });
        self.called.notify_waiters();
        let gate = self.gates.lock().expect("lock").get(&execution.workflow_id).cloned();
        if let Some(gate) = gate {
            gate.notified().await;
        }
        let next_error = {
            let mut errors = self.errors.lock().expect("lock");
            errors
                .get_mut(&execution.workflow_id)
                .and_then(|codes| (!codes.is_empty()).then(|| codes.remove(0)))
        };
        match next_error {
            Some(code) => Err(Status::new(code, "scripted failure")),
            None => Ok(execution),
        }
    }
}

pub struct SharedHistory(pub Arc<FakeHistory>);

#[tonic::async_trait]
impl HistoryService for SharedHistory {
    async fn record_workflow_task_started(
        &self,
        request: Request<RecordWorkflowTaskStartedRequest>,
    ) -> Result<Response<wf::PollWorkflowTaskQueueResponse>, Status> {
        let req = request.into_inner();
        let identity = req.poll_request.map(|p| p.identity).unwrap_or_default();
        let execution = self
            .0
            .record(req.execution, req.scheduled_event_id, req.request_id, identity)
            .await?;
        Ok(Response::new(wf::PollWorkflowTaskQueueResponse {
            task_token: format!("wft:{}:{}", execution.workflow_id, req.scheduled_event_id).into_bytes(),
            workflow_execution: Some(execution),
            started_event_id: req.scheduled_event_id + 1,
            ..Default::default()
        }))
    }

    async fn record_activity_task_started(
        &self,
        request: Request<RecordActivityTaskStartedRequest>,
    ) -> Result<Response<wf::PollActivityTaskQueueResponse>, Status> {
        let req = request.into_inner();
        let identity = req.poll_request.map(|p| p.identity).unwrap_or_default();
        let execution = self
            .0
            .record(req.execution, req.scheduled_event_id, req.request_id, identity)
            .await?;
        Ok(Response::new(wf::PollActivityTaskQueueResponse {
            task_token: format!("act:{}:{}", execution.workflow_id, req.scheduled_event_id).into_bytes(),
            workflow_execution: Some(execution),
            ..Default::default()
        }))
    }
}

pub struct Harness {
    pub history: Arc<FakeHistory>,
    pub history_addr: String,
    pub store: Arc<SqlStore>,
    pub engine: Arc<MatchingEngine>,
    pub handler: Arc<MatchingHandler>,
    pub _server: tokio::task::JoinHandle<()>,
    /// (read, write) partitions, which the harness picks among as the frontend and history do.
    pub counts: (u32, u32),
}

/// (read, write) partitions per queue; `None` leaves Temporal's default of 4.
pub type Partitions = Option<(i64, i64)>;

/// One partition per queue: ordering and backlog checks look at a single partition.
pub const ONE: Partitions = Some((1, 1));

pub fn config(poll: Duration, partitions: Partitions) -> MatchingConfig {
    let dynamic_config = partitions.map(|(read, write)| {
        sundial_dynconfig::DynamicConfig::from_values(vec![
            ("matching.numTaskqueueReadPartitions".into(), read.into()),
            ("matching.numTaskqueueWritePartitions".into(), write.into()),
        ])
        .expect("dynamic config")
    });
    MatchingConfig {
        long_poll_timeout: poll,
        sticky_poller_window: Duration::from_secs(10),
        dynamic_config,
        host_address: "127.0.0.1:7235".into(),
        ..MatchingConfig::default()
    }
}

impl Harness {
    pub async fn start(db: DbConfig, poll: Duration) -> Harness {
        Self::start_with(db, poll, ONE).await
    }

    pub async fn start_with(db: DbConfig, poll: Duration, partitions: Partitions) -> Harness {
        let history = Arc::new(FakeHistory::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let history_addr = listener.local_addr().expect("addr").to_string();
        let service = HistoryServiceServer::new(SharedHistory(history.clone()));
        let server = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .expect("history server");
        });
        let store = Arc::new(SqlStore::open(&db).await.expect("store"));
        let (engine, handler) = Self::engine_with(&store, &history_addr, poll, partitions);
        Harness {
            history,
            history_addr,
            store,
            engine,
            handler,
            _server: server,
            counts: partitions.map_or((4, 4), |(r, w)| (r as u32, w as u32)),
        }
    }

    pub fn engine(
        store: &Arc<SqlStore>,
        history_addr: &str,
        poll: Duration,
    ) -> (Arc<MatchingEngine>, Arc<MatchingHandler>) {
        Self::engine_with(store, history_addr, poll, ONE)
    }

    pub fn engine_with(
        store: &Arc<SqlStore>,
        history_addr: &str,
        poll: Duration,
        partitions: Partitions,
    ) -> (Arc<MatchingEngine>, Arc<MatchingHandler>) {
        let client = sundial_rpc::HistoryRouter::fixed(history_addr, 1);
        let engine = MatchingEngine::new(store.clone(), client, config(poll, partitions));
        (engine.clone(), Arc::new(MatchingHandler::new(engine)))
    }

    pub async fn memory(poll: Duration) -> Harness {
        Self::start(DbConfig::Sqlite { path: None }, poll).await
    }

    /// Adds a task to a partition picked at random among the write partitions, as history does.
    pub async fn add_workflow_task(&self, queue: TaskQueue, workflow_id: &str, event: i64) -> Result<(), Status> {
        let partition = if queue.kind == TaskQueueKind::Sticky as i32 {
            0
        } else {
            sundial_common::partition::pick(self.counts.1) as i32
        };
        self.handler
            .add_workflow_task(Request::new(AddWorkflowTaskRequest {
                namespace_id: NS.into(),
                execution: Some(execution(workflow_id)),
                task_queue: Some(queue),
                scheduled_event_id: event,
                schedule_to_start_timeout: None,
                namespace: "default".into(),
                partition,
                ..Default::default()
            }))
            .await
            .map(|_| ())
    }

    pub fn poll_workflow(
        &self,
        queue: TaskQueue,
        identity: &str,
    ) -> tokio::task::JoinHandle<Result<wf::PollWorkflowTaskQueueResponse, Status>> {
        let handler = self.handler.clone();
        let identity = identity.to_owned();
        let partition = if queue.kind == TaskQueueKind::Sticky as i32 {
            0
        } else {
            sundial_common::partition::pick(self.counts.0) as i32
        };
        tokio::spawn(async move { poll_partition(&handler, queue, &identity, partition).await })
    }

    /// Pollers of every read partition of `queue` (each is described alone).
    pub async fn pollers(&self, queue: &str) -> Vec<String> {
        let mut out = Vec::new();
        for n in 0..self.counts.0 {
            let described = self
                .handler
                .describe_task_queue(Request::new(DescribeTaskQueueRequest {
                    namespace_id: NS.into(),
                    request: Some(wf::DescribeTaskQueueRequest {
                        namespace: "default".into(),
                        task_queue: Some(normal(&sundial_common::partition::rpc_name(queue, n))),
                        task_queue_type: TaskQueueType::Workflow as i32,
                        ..Default::default()
                    }),
                }))
                .await
                .expect("describe")
                .into_inner();
            out.extend(described.pollers.into_iter().map(|p| p.identity));
        }
        out
    }

    /// Waits until `identity` has polled `queue` (it is then queued: the queue is empty).
    pub async fn wait_for_poller(&self, queue: &str, identity: &str) {
        wait_until(|| async move { self.pollers(queue).await.iter().any(|p| p == identity) }).await;
    }

    pub async fn backlog(&self, queue: &str) -> Vec<i64> {
        self.partition_backlog(queue, 0).await
    }

    /// Scheduled event ids of the tasks persisted in one partition of `queue`.
    pub async fn partition_backlog(&self, queue: &str, partition: i32) -> Vec<i64> {
        let key = TaskQueueKey {
            partition,
            ..TaskQueueKey::new(NS, queue, TASK_TYPE_WORKFLOW)
        };
        self.store
            .get_tasks(&key, 0, i64::MAX, 1000)
            .await
            .expect("get tasks")
            .iter()
            .map(|t| t.info.scheduled_event_id)
            .collect()
    }
}

/// One workflow-task poll of partition 0 through `handler`, as the frontend sends it.
pub async fn poll_once(
    handler: &MatchingHandler,
    queue: TaskQueue,
    identity: &str,
) -> Result<wf::PollWorkflowTaskQueueResponse, Status> {
    poll_partition(handler, queue, identity, 0).await
}

/// One workflow-task poll of partition `partition`.
pub async fn poll_partition(
    handler: &MatchingHandler,
    queue: TaskQueue,
    identity: &str,
    partition: i32,
) -> Result<wf::PollWorkflowTaskQueueResponse, Status> {
    handler
        .poll_workflow_task_queue(Request::new(PollWorkflowTaskQueueRequest {
            namespace_id: NS.into(),
            poller_id: format!("poller-{identity}"),
            request: Some(wf::PollWorkflowTaskQueueRequest {
                namespace: "default".into(),
                task_queue: Some(queue),
                identity: identity.to_owned(),
                ..Default::default()
            }),
            partition,
            forwarded: false,
        }))
        .await
        .map(Response::into_inner)
}

pub fn execution(workflow_id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: format!("run-{workflow_id}"),
    }
}

pub fn normal(name: &str) -> TaskQueue {
    TaskQueue {
        name: name.into(),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    }
}

pub fn sticky(name: &str) -> TaskQueue {
    TaskQueue {
        name: name.into(),
        kind: TaskQueueKind::Sticky as i32,
        normal_name: "normal".into(),
    }
}

/// Polls `check` until it holds, failing after 10 s.
pub async fn wait_until<F, Fut>(check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "condition not reached in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn workflow_id_of(resp: &wf::PollWorkflowTaskQueueResponse) -> String {
    resp.workflow_execution
        .as_ref()
        .map(|e| e.workflow_id.clone())
        .unwrap_or_default()
}
