//! Workflow queries: a query task is handed only to a workflow-task poller (never persisted),
//! and the QueryWorkflow call waits for the worker's RespondQueryTaskCompleted.

use crate::engine::MatchingEngine;
use crate::error::MatchingError;
use crate::partition::{QueryTask, Withdraw, lock};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use sundial_api::prost::Message;
use sundial_api::sundial::matchingservice::v1::{QueryWorkflowRequest, QueryWorkflowResponse};
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::temporal::enums::v1::TaskQueueKind;
use sundial_api::workflowservice::v1::RespondQueryTaskCompletedRequest;
use sundial_persistence::{TASK_TYPE_WORKFLOW, TaskQueueKey};
use tokio::sync::oneshot;

/// Tasks handed to a poller directly (queries, Nexus tasks) whose caller waits for the
/// worker's answer: each id with the channel its answer goes to.
pub(crate) struct Waiters<T> {
    waiting: Mutex<HashMap<String, oneshot::Sender<T>>>,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> Waiters<T> {
    pub fn clear(&self) {
        lock(&self.waiting).clear();
    }

    /// Waits for the answer to task `id`; the guard forgets the task however the wait ends
    /// (answer, timeout, or a dropped call).
    pub fn register(&self, id: &str) -> (Waiting<'_, T>, oneshot::Receiver<T>) {
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(id.to_owned(), tx);
        (
            Waiting {
                waiters: self,
                id: id.to_owned(),
            },
            rx,
        )
    }

    /// Hands `answer` to whoever waits for task `id`; false when nobody does (answered
    /// already, given up, or never issued).
    pub fn deliver(&self, id: &str, answer: T) -> bool {
        let waiter = lock(&self.waiting).remove(id);
        waiter.is_some_and(|tx| tx.send(answer).is_ok())
    }
}

pub(crate) struct Waiting<'a, T> {
    waiters: &'a Waiters<T>,
    id: String,
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        lock(&self.waiters.waiting).remove(&self.id);
    }
}

impl MatchingEngine {
    /// Dispatches a query task to a workflow-task poller of the request's queue and waits up
    /// to `timeout` for the worker's answer.
    pub(crate) async fn query_workflow(
        self: &Arc<Self>,
        request: QueryWorkflowRequest,
        timeout: Duration,
    ) -> Result<QueryWorkflowResponse, MatchingError> {
        let task_queue = request
            .task_queue
            .ok_or_else(|| MatchingError::InvalidArgument("task_queue is required".into()))?;
        if task_queue.name.is_empty() {
            return Err(MatchingError::InvalidArgument("task_queue name is required".into()));
        }
        let mut response = request
            .query_task
            .ok_or_else(|| MatchingError::InvalidArgument("query_task is required".into()))?;
        let execution = response.workflow_execution.clone().unwrap_or_default();
        let key = TaskQueueKey::new(&request.namespace_id, &task_queue.name, TASK_TYPE_WORKFLOW);
        let sticky = task_queue.kind == TaskQueueKind::Sticky as i32;
        let partition = if sticky {
            self.loaded(&key)
                .filter(|p| p.has_recent_poller(self.config.sticky_poller_window))
                .ok_or_else(|| MatchingError::StickyWorkerUnavailable {
                    task_queue: task_queue.name.clone(),
                })?
        } else {
            self.partition(&key, false).await?
        };

        let id = uuid::Uuid::new_v4().to_string();
        response.task_token = TaskToken {
            namespace_id: request.namespace_id.clone(),
            workflow_id: execution.workflow_id,
            run_id: execution.run_id,
            query_task_id: id.clone(),
            task_queue: task_queue.name.clone(),
            ..Default::default()
        }
        .encode_to_vec();
        let (_registration, rx) = self.queries.register(&id);
        let started = Instant::now();
        if !partition.offer_query(QueryTask {
            id: id.clone(),
            response: Box::new(crate::engine::Polled::Workflow(response)),
        }) {
            // Unloaded under us (lease moved): UNAVAILABLE, so the caller retries.
            return Err(MatchingError::Persistence(
                sundial_persistence::PersistenceError::TaskQueueOwnershipLost {
                    task_queue: key.to_string(),
                    expected: 0,
                    actual: -1,
                },
            ));
        }
        // Take the query back if this call is dropped before a poller got it.
        let _withdraw = Withdraw(&partition, &id);

        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => Ok(QueryWorkflowResponse {
                completed_type: answer.completed_type,
                query_result: answer.query_result,
                error_message: answer.error_message,
                failure: answer.failure,
            }),
            Ok(Err(_)) => Err(MatchingError::ShuttingDown),
            Err(_) => {
                let waited_ms = started.elapsed().as_millis();
                if partition.withdraw_query(&id) {
                    Err(MatchingError::QueryNotPickedUp {
                        task_queue: task_queue.name,
                        waited_ms,
                    })
                } else {
                    Err(MatchingError::QueryNotAnswered {
                        query_task_id: id.clone(),
                        waited_ms,
                    })
                }
            }
        }
    }

    /// Delivers a worker's answer to the waiting QueryWorkflow call.
    pub(crate) fn respond_query_task_completed(
        &self,
        query_task_id: &str,
        answer: RespondQueryTaskCompletedRequest,
    ) -> Result<(), MatchingError> {
        if self.queries.deliver(query_task_id, answer) {
            Ok(())
        } else {
            Err(MatchingError::QueryNotFound(query_task_id.to_owned()))
        }
    }
}
