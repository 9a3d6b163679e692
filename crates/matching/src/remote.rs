//! Partitions of one queue on different matching hosts. Each partition has its own place on
//! the membership ring, so a busy queue's partitions spread over the hosts; a partition whose
//! parent lives elsewhere reaches it through that host:
//! * an add no local poller takes is offered to the parent's pollers (`sync_only`: the parent
//!   never writes it) before it is written here;
//! * backlog nobody polls here is offered the same way, one task at a time, acked here only
//!   once the parent's poller had it recorded with history;
//! * a poll waits here and, at once, at the parent (a forwarded poll). When the local wait
//!   wins, the forwarded poll is cancelled and its answer awaited: if the parent had already
//!   started a task for it, that task is the one returned and the local one goes back.

use crate::engine::{MatchingEngine, Poll, PollRequest, Polled};
use crate::error::MatchingError;
use crate::partition::{Offer, Partition};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use sundial_api::sundial::matchingservice::v1 as ms;
use sundial_api::sundial::matchingservice::v1::TaskInfo;
use sundial_api::temporal::enums::v1::TaskQueueKind;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::time::{now_nanos, timestamp_to_nanos};
use sundial_persistence::{TASK_TYPE_ACTIVITY, TaskQueueKey};
use sundial_rpc::MatchingClient;

/// A forwarded add waits this long for the parent (its poller records the task with history).
const FORWARD_ADD_TIMEOUT: Duration = Duration::from_secs(10);
/// After cancelling a forwarded poll, how long its answer is awaited before giving up on it.
const CANCEL_ANSWER_WAIT: Duration = Duration::from_secs(5);
/// A child's backlog task offered to the parent waits there this long for a poller.
const BACKLOG_OFFER_WAIT: Duration = Duration::from_secs(1);
/// A child whose parent's host failed to answer offers its backlog again after this long.
const BACKLOG_FORWARD_BACKOFF: Duration = Duration::from_secs(1);

/// A forwarded poll in flight: resolves to the task the parent started for it, if any.
pub(crate) type RemotePoll = Pin<Box<dyn Future<Output = Option<Polled>> + Send>>;

/// An offer taken from a partition but not yet handed to history: goes back if dropped, so a
/// poll abandoned while its forwarded twin is being cancelled loses nothing.
pub(crate) struct HeldOffer {
    partition: Arc<Partition>,
    offer: Option<Offer>,
}

impl HeldOffer {
    pub(crate) fn new(partition: Arc<Partition>, offer: Offer) -> Self {
        Self {
            partition,
            offer: Some(offer),
        }
    }

    pub(crate) fn take(mut self) -> Offer {
        self.offer.take().expect("a held offer is taken once")
    }
}

impl Drop for HeldOffer {
    fn drop(&mut self) {
        if let Some(offer) = self.offer.take() {
            self.partition.give_back(offer);
        }
    }
}

fn queue(name: &str) -> Option<TaskQueue> {
    Some(TaskQueue {
        name: name.to_owned(),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    })
}

impl MatchingEngine {
    /// Whether the ring gives partition `key` to this host (always, without rings).
    pub(crate) fn owns(&self, key: &TaskQueueKey) -> bool {
        self.check_owner(key).is_ok()
    }

    fn peer(&self, key: &TaskQueueKey) -> Option<MatchingClient> {
        let peers = self.config.peers.as_ref()?;
        let number = u32::try_from(key.partition).ok()?;
        match peers.for_partition(&key.namespace_id, &key.name, number) {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::debug!(task_queue = %key, partition = number, error = %e, "no matching host for a partition");
                None
            }
        }
    }

    /// Offers `info` to pollers of `parent` (another host's partition) without writing it
    /// there; true once a poller had it recorded with history (or history called it stale).
    /// `wait`: how long the task may wait there for a poller to arrive.
    pub(crate) async fn forward_add(
        &self,
        parent: &TaskQueueKey,
        namespace: &str,
        info: &TaskInfo,
        wait: Duration,
    ) -> bool {
        let Some(mut client) = self.peer(parent) else {
            return false;
        };
        let forward_wait = (!wait.is_zero()).then(|| sundial_common::time::duration_to_pb(wait));
        let schedule_to_start_timeout = info.expiry_time.as_ref().map(|expiry| {
            let left = timestamp_to_nanos(expiry).saturating_sub(now_nanos()).max(1_000_000);
            sundial_common::time::duration_to_pb(Duration::from_nanos(left as u64))
        });
        let sent = if parent.task_type == TASK_TYPE_ACTIVITY {
            let mut request = tonic::Request::new(ms::AddActivityTaskRequest {
                namespace_id: parent.namespace_id.clone(),
                execution: info.execution.clone(),
                task_queue: queue(&parent.name),
                scheduled_event_id: info.scheduled_event_id,
                schedule_to_start_timeout,
                namespace: namespace.to_owned(),
                partition: parent.partition,
                sync_only: true,
                forward_wait,
            });
            request.set_timeout(FORWARD_ADD_TIMEOUT + wait);
            client.add_activity_task(request).await.map(|r| r.into_inner().matched)
        } else {
            let mut request = tonic::Request::new(ms::AddWorkflowTaskRequest {
                namespace_id: parent.namespace_id.clone(),
                execution: info.execution.clone(),
                task_queue: queue(&parent.name),
                scheduled_event_id: info.scheduled_event_id,
                schedule_to_start_timeout,
                namespace: namespace.to_owned(),
                partition: parent.partition,
                sync_only: true,
                forward_wait,
            });
            request.set_timeout(FORWARD_ADD_TIMEOUT + wait);
            client.add_workflow_task(request).await.map(|r| r.into_inner().matched)
        };
        sent.unwrap_or_else(|status| {
            tracing::debug!(task_queue = %parent, error = %status, "forwarding a task to the parent partition failed");
            false
        })
    }

    /// Sends `poll` on to `parent` (another host's partition), to wait there until `deadline`.
    pub(crate) fn forward_poll(
        &self,
        parent: &TaskQueueKey,
        poll: &Poll,
        deadline: tokio::time::Instant,
    ) -> Option<RemotePoll> {
        let mut client = self.peer(parent)?;
        let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
        let (namespace_id, poller_id, partition) =
            (poll.namespace_id.clone(), poll.poller_id.clone(), parent.partition);
        let request = poll.request.clone();
        let key = parent.to_string();
        Some(Box::pin(async move {
            let answer = match request {
                PollRequest::Workflow(request) => {
                    let mut request = tonic::Request::new(ms::PollWorkflowTaskQueueRequest {
                        namespace_id,
                        poller_id,
                        request: Some(request),
                        partition,
                        forwarded: true,
                    });
                    request.set_timeout(timeout);
                    client.poll_workflow_task_queue(request).await.map(|r| {
                        Some(r.into_inner())
                            .filter(|r| !r.task_token.is_empty())
                            .map(Polled::Workflow)
                    })
                }
                PollRequest::Activity(request) => {
                    let mut request = tonic::Request::new(ms::PollActivityTaskQueueRequest {
                        namespace_id,
                        poller_id,
                        request: Some(request),
                        partition,
                        forwarded: true,
                    });
                    request.set_timeout(timeout);
                    client.poll_activity_task_queue(request).await.map(|r| {
                        Some(r.into_inner())
                            .filter(|r| !r.task_token.is_empty())
                            .map(Polled::Activity)
                    })
                }
                // Nexus queues have one partition: their polls have no parent to forward to.
                PollRequest::Nexus(_) => Ok(None),
            };
            answer.unwrap_or_else(|status| {
                tracing::debug!(task_queue = %key, error = %status, "forwarded poll failed");
                None
            })
        }))
    }

    /// Ends a forwarded poll still waiting at `parent` and returns what it brings back: a task
    /// the parent had already started for it, or nothing.
    pub(crate) async fn settle_forwarded(
        &self,
        parent: &TaskQueueKey,
        poller_id: &str,
        pending: RemotePoll,
    ) -> Option<Polled> {
        if let Some(mut client) = self.peer(parent) {
            let mut request = tonic::Request::new(ms::CancelOutstandingPollRequest {
                poller_id: poller_id.to_owned(),
            });
            request.set_timeout(CANCEL_ANSWER_WAIT);
            if let Err(status) = client.cancel_outstanding_poll(request).await {
                tracing::debug!(task_queue = %parent, error = %status, "cancelling a forwarded poll failed");
            }
        }
        match tokio::time::timeout(CANCEL_ANSWER_WAIT, pending).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!(task_queue = %parent, poller_id,
                    "a cancelled forwarded poll did not answer; a task it may have started times out and is retried");
                None
            }
        }
    }

    /// Has the owner of `key` (another host) load it, raising a root's partition count to
    /// `min_partition_count`.
    pub(crate) async fn load_remote(&self, key: &TaskQueueKey, min_partition_count: u32) -> Result<(), MatchingError> {
        let Some(mut client) = self.peer(key) else {
            return Err(MatchingError::NotOwner {
                task_queue: key.to_string(),
                owner: "(none live)".into(),
            });
        };
        client
            .load_partition(ms::LoadPartitionRequest {
                namespace_id: key.namespace_id.clone(),
                task_queue: key.name.clone(),
                task_type: key.task_type,
                partition: key.partition,
                min_partition_count: i32::try_from(min_partition_count).unwrap_or(i32::MAX),
            })
            .await
            .map(|_| ())
            .map_err(MatchingError::Peer)
    }

    /// Offers `partition`'s backlog to pollers of its parent on another host while nobody
    /// polls here, one task at a time; a task is acked here only once the parent took it.
    pub(crate) fn forward_backlog_remote(self: &Arc<Self>, partition: Arc<Partition>, parent: TaskQueueKey) {
        if partition.remote_forwarding.swap(true, Ordering::SeqCst) {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                while let Some(offer) = partition.take_for_forward() {
                    let Offer::Backlog { task_id, info, owner } = offer else {
                        partition.give_back(offer);
                        break;
                    };
                    let began = tokio::time::Instant::now();
                    if engine.forward_add(&parent, "", &info, BACKLOG_OFFER_WAIT).await {
                        owner.ack(task_id);
                        continue;
                    }
                    partition.give_back(Offer::Backlog { task_id, info, owner });
                    // The parent waited for a poller and none came: offer again at once. An
                    // answer much sooner means the parent's host failed: back off.
                    if began.elapsed() < BACKLOG_OFFER_WAIT / 2 {
                        tokio::time::sleep(BACKLOG_FORWARD_BACKOFF).await;
                    }
                }
                partition.remote_forwarding.store(false, Ordering::SeqCst);
                // Backlog that arrived while this loop was finishing would find the flag set.
                if !partition.has_forwardable() || partition.remote_forwarding.swap(true, Ordering::SeqCst) {
                    return;
                }
            }
        });
    }
}
