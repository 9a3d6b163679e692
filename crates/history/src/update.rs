//! Workflow updates, as Temporal implements them (`service/history/workflow/update`).
//!
//! An update is *admitted* into an in-memory registry of its run (lost on restart, like
//! Temporal's admitted updates), *sent* to the worker as a protocol `Message` on the next
//! workflow task — a speculative one when none is pending — and then *accepted* or
//! *rejected* by the worker's validator. Acceptance writes `WorkflowExecutionUpdateAccepted`,
//! the handler's result `WorkflowExecutionUpdateCompleted`; a rejection writes nothing.
//! Registry changes made while completing a workflow task are effects applied only after the
//! transition commits. Accepted and completed updates are rebuilt from history the first time
//! a run is touched by an update after a restart.

use crate::HistoryEngine;
use crate::commands::CommandFailure;
use crate::mutation::Mutation;
use crate::shard::{RunKey, Shard};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use sundial_api::prost::Message as _;
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::enums::v1::{
    ResourceExhaustedCause, ResourceExhaustedScope, UpdateWorkflowExecutionLifecycleStage as Stage,
    WorkflowExecutionStatus, WorkflowTaskFailedCause,
};
use sundial_api::temporal::failure::v1::{ApplicationFailureInfo, Failure, failure::FailureInfo};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{
    WorkflowExecutionUpdateAcceptedEventAttributes, WorkflowExecutionUpdateCompletedEventAttributes,
};
use sundial_api::temporal::protocol::v1::{Message, message::SequencingId};
use sundial_api::temporal::update::v1::{Acceptance, Outcome, Rejection, Request, Response, UpdateRef, outcome};
use sundial_api::workflowservice::v1::{
    PollWorkflowExecutionUpdateRequest, PollWorkflowExecutionUpdateResponse, UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
};
use sundial_common::ServiceError;
use tokio::sync::watch;

const TYPE_PREFIX: &str = "type.googleapis.com/";
const REQUEST_TYPE: &str = "temporal.api.update.v1.Request";
const ACCEPTANCE_TYPE: &str = "temporal.api.update.v1.Acceptance";
const REJECTION_TYPE: &str = "temporal.api.update.v1.Rejection";
const RESPONSE_TYPE: &str = "temporal.api.update.v1.Response";

/// `history.maxInFlightUpdates` and `history.maxTotalUpdates` (Temporal's defaults).
const MAX_IN_FLIGHT: usize = 10;
const MAX_TOTAL: usize = 2000;
/// A workflow task failing this many times makes new updates fail fast.
const FAIL_UPDATE_WORKFLOW_TASK_ATTEMPT: i32 = 3;
/// `history.discardSpeculativeWorkflowTaskMaximumEventsCount`.
pub(crate) const DISCARD_SPECULATIVE_MAX_EVENTS: i64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Admitted,
    Sent,
    Accepted,
    Completed,
}

/// Why an update ended without an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Abort {
    /// The run closed before the update was accepted (not retryable).
    WorkflowClosed,
    /// The run continued as new: retry against the new run.
    WorkflowContinuing,
}

impl Abort {
    fn error(self) -> ServiceError {
        match self {
            Abort::WorkflowClosed => ServiceError::NotFound("workflow update was aborted by closing workflow".into()),
            Abort::WorkflowContinuing => ServiceError::ResourceExhausted {
                message: "workflow operation can not be applied because workflow is closing".into(),
                cause: ResourceExhaustedCause::BusyWorkflow as i32,
                scope: ResourceExhaustedScope::Namespace as i32,
            },
        }
    }
}

/// What waiters see.
#[derive(Clone, Debug, Default)]
struct Status {
    stage: i32,
    outcome: Option<Outcome>,
    abort: Option<Abort>,
}

struct Update {
    state: State,
    /// The request, until it has been accepted.
    request: Option<Request>,
    accepted_event_id: i64,
    /// Admission order (updates are sent in it).
    seq: u64,
    /// The admission call that created it, so that a retried transition knows its own update.
    nonce: u64,
    status: watch::Sender<Status>,
}

impl Update {
    fn new(state: State, request: Option<Request>, nonce: u64) -> Self {
        let stage = match state {
            State::Admitted | State::Sent => Stage::Admitted,
            State::Accepted => Stage::Accepted,
            State::Completed => Stage::Completed,
        };
        Update {
            state,
            request,
            accepted_event_id: 0,
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            nonce,
            status: watch::channel(Status {
                stage: stage as i32,
                ..Default::default()
            })
            .0,
        }
    }

    fn in_flight(&self) -> bool {
        self.state != State::Completed
    }

    fn finish(&mut self, outcome: Outcome) {
        self.state = State::Completed;
        self.request = None;
        self.status.send_replace(Status {
            stage: Stage::Completed as i32,
            outcome: Some(outcome),
            abort: None,
        });
    }
}

#[derive(Default)]
struct RunUpdates {
    updates: HashMap<String, Update>,
    /// Accepted and completed updates of this run have been read back from history.
    loaded: bool,
}

static REGISTRY: LazyLock<Mutex<HashMap<RunKey, RunUpdates>>> = LazyLock::new(Default::default);
static SEQ: AtomicU64 = AtomicU64::new(1);

fn registry() -> std::sync::MutexGuard<'static, HashMap<RunKey, RunUpdates>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

fn pack<M: sundial_api::prost::Message>(type_name: &str, msg: &M) -> prost_wkt_types::Any {
    prost_wkt_types::Any {
        type_url: format!("{TYPE_PREFIX}{type_name}"),
        value: msg.encode_to_vec(),
    }
}

fn failure(message: &str, kind: &str) -> Failure {
    Failure {
        message: message.to_owned(),
        source: "Server".into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
            r#type: kind.to_owned(),
            non_retryable: true,
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn unprocessed_update_failure() -> Failure {
    failure(
        "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow Update is not supported by the worker.",
        "UnprocessedUpdate",
    )
}

fn accepted_update_completed_workflow_failure() -> Outcome {
    Outcome {
        value: Some(outcome::Value::Failure(failure(
            "Workflow Update failed because the Workflow completed before the Update completed.",
            "AcceptedUpdateCompletedWorkflow",
        ))),
    }
}

/// The update's messages for a workflow task that started with `started_event_id`: every
/// admitted update (and, unless the task is a heartbeat, those sent before but not answered),
/// in admission order. They become "sent".
pub(crate) fn outgoing(run: &RunKey, started_event_id: i64, include_already_sent: bool) -> Vec<Message> {
    let mut reg = registry();
    let Some(r) = reg.get_mut(run) else {
        return Vec::new();
    };
    let mut ups: Vec<(&String, &mut Update)> = r
        .updates
        .iter_mut()
        .filter(|(_, u)| u.state == State::Admitted || (include_already_sent && u.state == State::Sent))
        .collect();
    ups.sort_by_key(|(_, u)| u.seq);
    ups.into_iter()
        .filter_map(|(id, u)| {
            u.state = State::Sent;
            let request = u.request.as_ref()?;
            Some(Message {
                id: format!("{id}/request"),
                protocol_instance_id: id.clone(),
                sequencing_id: Some(SequencingId::EventId(started_event_id - 1)),
                body: Some(pack(REQUEST_TYPE, request)),
            })
        })
        .collect()
}

/// Whether admitted updates wait for a workflow task.
pub(crate) fn has_outgoing(run: &RunKey) -> bool {
    registry()
        .get(run)
        .is_some_and(|r| r.updates.values().any(|u| u.state == State::Admitted))
}

/// A registry change made by a workflow task completion; applied once it commits.
#[derive(Debug)]
pub(crate) enum Effect {
    Accepted {
        id: String,
        event_id: i64,
    },
    Completed {
        id: String,
        outcome: Outcome,
    },
    Rejected {
        id: String,
        failure: Failure,
    },
    /// The run closed: pending updates end (`continuing`: a new run follows).
    RunClosed {
        continuing: bool,
    },
}

/// The update messages of one workflow task completion being applied.
#[derive(Default)]
pub(crate) struct Completion {
    pub effects: Vec<Effect>,
    /// Updates this completion answered, with the event id of their acceptance if written now.
    handled: HashMap<String, i64>,
}

fn bad_message(message: impl Into<String>) -> CommandFailure {
    CommandFailure {
        cause: WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage,
        message: message.into(),
    }
}

/// A decoded protocol message body.
pub(crate) enum Body {
    Acceptance(Acceptance),
    Rejection(Rejection),
    Response(Response),
}

pub(crate) fn decode(msg: &Message) -> Result<Body, CommandFailure> {
    let body = msg
        .body
        .as_ref()
        .ok_or_else(|| bad_message(format!("message {} has no body", msg.id)))?;
    let name = body.type_url.rsplit('/').next().unwrap_or_default();
    let bad = |e: sundial_api::prost::DecodeError| bad_message(format!("unable to decode message {}: {e}", msg.id));
    Ok(match name {
        ACCEPTANCE_TYPE => Body::Acceptance(Acceptance::decode(body.value.as_slice()).map_err(bad)?),
        REJECTION_TYPE => Body::Rejection(Rejection::decode(body.value.as_slice()).map_err(bad)?),
        RESPONSE_TYPE => Body::Response(Response::decode(body.value.as_slice()).map_err(bad)?),
        other => return Err(bad_message(format!("unsupported protocol message type {other}"))),
    })
}

/// Whether every message of a completion is a rejection (a speculative task answered only
/// with rejections can be discarded).
pub(crate) fn only_rejections(messages: &[Message]) -> bool {
    messages
        .iter()
        .all(|m| m.body.as_ref().is_some_and(|b| b.type_url.ends_with(REJECTION_TYPE)))
}

impl Completion {
    /// Applies one protocol message from the worker: acceptance and response write their
    /// events, a rejection writes nothing.
    pub(crate) fn handle(&mut self, m: &mut Mutation<'_>, run: &RunKey, msg: &Message) -> Result<(), CommandFailure> {
        let id = msg.protocol_instance_id.clone();
        let known = {
            let reg = registry();
            reg.get(run)
                .and_then(|r| r.updates.get(&id))
                .map(|u| (u.state, u.request.clone(), u.accepted_event_id))
        };
        match decode(msg)? {
            Body::Acceptance(a) => {
                let request = match known {
                    Some((State::Admitted | State::Sent, request, _)) if !self.handled.contains_key(&id) => {
                        request.or(a.accepted_request.clone())
                    }
                    // Not in the registry (lost on restart): resurrect it from the message.
                    None if a.accepted_request.is_some() && !self.handled.contains_key(&id) => {
                        a.accepted_request.clone()
                    }
                    _ => {
                        return Err(bad_message(format!(
                            "invalid state transition attempted for Update {id}: received Acceptance message"
                        )));
                    }
                };
                let event_id = m.add_event(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(
                    WorkflowExecutionUpdateAcceptedEventAttributes {
                        protocol_instance_id: id.clone(),
                        accepted_request_message_id: format!("{id}/request"),
                        accepted_request_sequencing_event_id: a.accepted_request_sequencing_event_id,
                        accepted_request: request,
                    },
                ));
                self.handled.insert(id.clone(), event_id);
                self.effects.push(Effect::Accepted { id, event_id });
            }
            Body::Rejection(r) => {
                match known {
                    Some((State::Admitted | State::Sent, ..)) | None if !self.handled.contains_key(&id) => {}
                    _ => {
                        return Err(bad_message(format!(
                            "invalid state transition attempted for Update {id}: received Rejection message"
                        )));
                    }
                }
                self.handled.insert(id.clone(), 0);
                self.effects.push(Effect::Rejected {
                    id,
                    failure: r.failure.unwrap_or_default(),
                });
            }
            Body::Response(r) => {
                let accepted_event_id = match (self.handled.get(&id), known) {
                    (Some(&event_id), _) if event_id != 0 => event_id,
                    (None, Some((State::Accepted, _, event_id))) => event_id,
                    _ => {
                        return Err(bad_message(format!(
                            "invalid state transition attempted for Update {id}: received Response message"
                        )));
                    }
                };
                let outcome = r.outcome.clone().unwrap_or_default();
                m.add_event(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(
                    WorkflowExecutionUpdateCompletedEventAttributes {
                        meta: r.meta.clone(),
                        accepted_event_id,
                        outcome: Some(outcome.clone()),
                    },
                ));
                self.handled.insert(id.clone(), -1);
                self.effects.push(Effect::Completed { id, outcome });
            }
        }
        Ok(())
    }

    /// Updates sent to the worker that it did not answer are rejected by the server, so they
    /// are not delivered again and again (an old SDK or a bug).
    pub(crate) fn reject_unprocessed(&mut self, run: &RunKey) {
        let reg = registry();
        let Some(r) = reg.get(run) else { return };
        for (id, u) in &r.updates {
            if u.state == State::Sent && !self.handled.contains_key(id) {
                tracing::warn!(update_id = %id, "workflow task completed without processing an update; rejecting it");
                self.effects.push(Effect::Rejected {
                    id: id.clone(),
                    failure: unprocessed_update_failure(),
                });
            }
        }
    }
}

/// Applies committed effects to the registry and wakes waiters.
pub(crate) fn apply(run: &RunKey, effects: Vec<Effect>) {
    if effects.is_empty() {
        return;
    }
    let mut reg = registry();
    let mut close = None;
    {
        let r = reg.entry(run.clone()).or_default();
        for effect in effects {
            match effect {
                Effect::Accepted { id, event_id } => {
                    let u = r
                        .updates
                        .entry(id)
                        .or_insert_with(|| Update::new(State::Admitted, None, 0));
                    u.state = State::Accepted;
                    u.request = None;
                    u.accepted_event_id = event_id;
                    u.status.send_replace(Status {
                        stage: Stage::Accepted as i32,
                        ..Default::default()
                    });
                }
                Effect::Completed { id, outcome } => {
                    if let Some(u) = r.updates.get_mut(&id) {
                        u.finish(outcome);
                    } else {
                        let mut u = Update::new(State::Completed, None, 0);
                        u.finish(outcome);
                        r.updates.insert(id, u);
                    }
                }
                Effect::Rejected { id, failure } => {
                    // Nothing of a rejected update is kept (as in Temporal): its id may be reused.
                    if let Some(mut u) = r.updates.remove(&id) {
                        u.finish(Outcome {
                            value: Some(outcome::Value::Failure(failure)),
                        });
                    }
                }
                Effect::RunClosed { continuing } => close = Some(continuing),
            }
        }
    }
    if let Some(continuing) = close
        && let Some(r) = reg.remove(run)
    {
        end_all(r, continuing);
    }
}

/// Ends every pending update of a run that closed.
fn end_all(r: RunUpdates, continuing: bool) {
    for (_, u) in r.updates {
        match u.state {
            State::Admitted | State::Sent => {
                let current = u.status.borrow().clone();
                u.status.send_replace(Status {
                    abort: Some(if continuing {
                        Abort::WorkflowContinuing
                    } else {
                        Abort::WorkflowClosed
                    }),
                    ..current
                });
            }
            State::Accepted => {
                let mut u = u;
                u.finish(accepted_update_completed_workflow_failure());
            }
            State::Completed => {}
        }
    }
}

/// Drops an update admitted by a transition that then failed to commit.
fn forget_admission(run: &RunKey, id: &str, nonce: u64) {
    let mut reg = registry();
    if let Some(r) = reg.get_mut(run)
        && r.updates
            .get(id)
            .is_some_and(|u| u.nonce == nonce && u.state == State::Admitted)
    {
        r.updates.remove(id);
    }
}

fn lookup(run: &RunKey, id: &str) -> Option<watch::Receiver<Status>> {
    registry()
        .get(run)
        .and_then(|r| r.updates.get(id))
        .map(|u| u.status.subscribe())
}

/// Finds the update or admits it; returns its status and whether it was there before.
fn find_or_admit(run: &RunKey, request: &Request, nonce: u64) -> Result<(watch::Receiver<Status>, bool), ServiceError> {
    let id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
    let mut reg = registry();
    let r = reg.entry(run.clone()).or_default();
    if let Some(u) = r.updates.get(&id) {
        return Ok((u.status.subscribe(), u.nonce != nonce));
    }
    let in_flight = r.updates.values().filter(|u| u.in_flight()).count();
    if in_flight >= MAX_IN_FLIGHT {
        return Err(ServiceError::ResourceExhausted {
            message: format!("limit on number of concurrent in-flight updates has been reached ({MAX_IN_FLIGHT})"),
            cause: ResourceExhaustedCause::ConcurrentLimit as i32,
            scope: ResourceExhaustedScope::Namespace as i32,
        });
    }
    if r.updates.len() >= MAX_TOTAL {
        return Err(ServiceError::FailedPrecondition(format!(
            "limit on number of total updates has been reached ({MAX_TOTAL})"
        )));
    }
    let u = Update::new(State::Admitted, Some(request.clone()), nonce);
    let rx = u.status.subscribe();
    r.updates.insert(id, u);
    Ok((rx, false))
}

fn reached(st: &Status, want: i32) -> bool {
    st.stage == Stage::Completed as i32
        || (want == Stage::Accepted as i32 && st.stage >= Stage::Accepted as i32)
        || want == Stage::Admitted as i32
        || want == Stage::Unspecified as i32
}

fn update_ref(run: &RunKey, id: &str) -> UpdateRef {
    UpdateRef {
        workflow_execution: Some(WorkflowExecution {
            workflow_id: run.1.clone(),
            run_id: run.2.clone(),
        }),
        update_id: id.to_owned(),
    }
}

impl HistoryEngine {
    /// Reads the accepted and completed updates of a run back from its history, once per run
    /// and process (the registry is in memory only).
    async fn load_updates(&self, shard: &Shard, run: &RunKey) -> Result<(), ServiceError> {
        if registry().get(run).is_some_and(|r| r.loaded) {
            return Ok(());
        }
        let ms = shard.snapshot(run).await?;
        let closed = ms
            .info
            .as_ref()
            .is_some_and(|i| i.status != WorkflowExecutionStatus::Running as i32);
        let events = self.read_events(shard, run, 1, i64::MAX).await?;
        let mut accepted: HashMap<i64, String> = HashMap::new();
        let mut found: Vec<(String, i64, Option<Outcome>)> = Vec::new();
        for e in events {
            match e.attributes {
                Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) => {
                    accepted.insert(e.event_id, a.protocol_instance_id.clone());
                    found.push((a.protocol_instance_id, e.event_id, None));
                }
                Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(c)) => {
                    let id = c
                        .meta
                        .map(|m| m.update_id)
                        .or_else(|| accepted.get(&c.accepted_event_id).cloned())
                        .unwrap_or_default();
                    if let Some(f) = found.iter_mut().find(|f| f.0 == id) {
                        f.2 = Some(c.outcome.unwrap_or_default());
                    }
                }
                _ => {}
            }
        }
        let mut reg = registry();
        let r = reg.entry(run.clone()).or_default();
        if r.loaded {
            return Ok(());
        }
        r.loaded = true;
        for (id, event_id, outcome) in found {
            if r.updates.get(&id).is_some_and(|u| u.state == State::Completed) {
                continue;
            }
            let outcome = outcome.or_else(|| closed.then(accepted_update_completed_workflow_failure));
            let mut u = r
                .updates
                .remove(&id)
                .unwrap_or_else(|| Update::new(State::Accepted, None, 0));
            u.state = State::Accepted;
            u.request = None;
            u.accepted_event_id = event_id;
            match outcome {
                Some(o) => u.finish(o),
                None => {
                    u.status.send_replace(Status {
                        stage: Stage::Accepted as i32,
                        ..Default::default()
                    });
                }
            }
            r.updates.insert(id, u);
        }
        Ok(())
    }

    fn long_poll(&self, namespace: &str, wait: Duration) -> Duration {
        let limit = self.config().dynamic_config.get(
            &sundial_dynconfig::keys::HISTORY_LONG_POLL_EXPIRATION_INTERVAL,
            &sundial_dynconfig::Scope::namespace(namespace),
        );
        if wait.is_zero() { limit } else { limit.min(wait) }
    }

    pub(crate) async fn update_workflow(
        &self,
        namespace_id: &str,
        req: UpdateWorkflowExecutionRequest,
        wait: Duration,
    ) -> Result<UpdateWorkflowExecutionResponse, ServiceError> {
        let exec = req.workflow_execution.clone().unwrap_or_default();
        let request = req.request.clone().unwrap_or_default();
        let id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
        let want = req.wait_policy.as_ref().map_or(0, |w| w.lifecycle_stage);
        let run = self.resolve_run(namespace_id, &exec.workflow_id, &exec.run_id).await?;
        let shard = self.shard(namespace_id, &exec.workflow_id).clone();
        self.load_updates(&shard, &run).await?;
        let nonce = SEQ.fetch_add(1, Ordering::Relaxed);
        let admitted = shard
            .update(&run, |m| {
                if !req.first_execution_run_id.is_empty()
                    && m.info_ref().first_execution_run_id != req.first_execution_run_id
                {
                    return Err(ServiceError::NotFound("workflow execution not found".into()));
                }
                if !m.is_running() {
                    return lookup(&run, &id)
                        .ok_or_else(|| ServiceError::NotFound("workflow execution already completed".into()));
                }
                if m.ms
                    .workflow_task
                    .as_ref()
                    .is_some_and(|w| w.attempt >= FAIL_UPDATE_WORKFLOW_TASK_ATTEMPT)
                {
                    return Err(ServiceError::FailedPrecondition(
                        "Unable to perform workflow execution update due to Workflow Task in failed state.".into(),
                    ));
                }
                let (rx, existed) = find_or_admit(&run, &request, nonce)?;
                if !existed && m.ms.workflow_task.is_none() {
                    m.schedule_speculative_workflow_task();
                }
                Ok(rx)
            })
            .await;
        let rx = match admitted {
            Ok(rx) => rx,
            Err(e) => {
                forget_admission(&run, &id, nonce);
                return Err(e);
            }
        };
        let budget = self.long_poll(&req.namespace, wait);
        let st = self.wait_for_update(&shard, &run, &id, rx, want, budget).await?;
        Ok(UpdateWorkflowExecutionResponse {
            update_ref: Some(update_ref(&run, &id)),
            outcome: st.outcome,
            stage: st.stage,
            ..Default::default()
        })
    }

    pub(crate) async fn poll_update(
        &self,
        namespace_id: &str,
        req: PollWorkflowExecutionUpdateRequest,
        wait: Duration,
    ) -> Result<PollWorkflowExecutionUpdateResponse, ServiceError> {
        let r = req.update_ref.clone().unwrap_or_default();
        let exec = r.workflow_execution.unwrap_or_default();
        let want = req.wait_policy.as_ref().map_or(0, |w| w.lifecycle_stage);
        let run = self.resolve_run(namespace_id, &exec.workflow_id, &exec.run_id).await?;
        let shard = self.shard(namespace_id, &exec.workflow_id).clone();
        self.load_updates(&shard, &run).await?;
        let rx = lookup(&run, &r.update_id)
            .ok_or_else(|| ServiceError::NotFound(format!("update {:?} not found", r.update_id)))?;
        let budget = self.long_poll(&req.namespace, wait);
        let st = self
            .wait_for_update(&shard, &run, &r.update_id, rx, want, budget)
            .await?;
        Ok(PollWorkflowExecutionUpdateResponse {
            outcome: st.outcome,
            stage: st.stage,
            update_ref: Some(update_ref(&run, &r.update_id)),
        })
    }

    /// Waits until the update reaches `want` (or completes), the run closes, or `budget`
    /// passes; then answers with the stage reached.
    async fn wait_for_update(
        &self,
        shard: &Shard,
        run: &RunKey,
        id: &str,
        mut rx: watch::Receiver<Status>,
        want: i32,
        budget: Duration,
    ) -> Result<Status, ServiceError> {
        let deadline = tokio::time::Instant::now() + budget;
        let mut progress = shard.entry(run).progress.subscribe();
        let mut sender_gone = false;
        loop {
            let st = rx.borrow_and_update().clone();
            if let Some(abort) = st.abort {
                return Err(abort.error());
            }
            if reached(&st, want) {
                return Ok(st);
            }
            if progress.borrow_and_update().closed || sender_gone {
                return self.closed_outcome(shard, run, id, rx).await;
            }
            tokio::select! {
                changed = rx.changed() => sender_gone = changed.is_err(),
                _ = progress.changed() => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(st),
            }
        }
    }

    /// The run closed while an update was pending: its outcome, if history has one.
    async fn closed_outcome(
        &self,
        shard: &Shard,
        run: &RunKey,
        id: &str,
        mut rx: watch::Receiver<Status>,
    ) -> Result<Status, ServiceError> {
        // The transition that closed the run applies its registry effects right after it
        // commits; give it a moment.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            loop {
                {
                    let st = rx.borrow_and_update();
                    if st.abort.is_some() || st.stage == Stage::Completed as i32 {
                        return;
                    }
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        let st = rx.borrow().clone();
        if let Some(abort) = st.abort {
            return Err(abort.error());
        }
        if st.stage == Stage::Completed as i32 {
            return Ok(st);
        }
        // Closed by something other than a workflow task (terminate, timeout, cancel): the
        // registry of the run is dropped, and what history says is the answer.
        let ms = shard.snapshot(run).await?;
        let status = ms.info.as_ref().map_or(0, |i| i.status);
        if status == WorkflowExecutionStatus::Running as i32 {
            return Ok(st);
        }
        if let Some(r) = registry().remove(run) {
            end_all(r, status == WorkflowExecutionStatus::ContinuedAsNew as i32);
        }
        self.load_updates(shard, run).await?;
        match lookup(run, id) {
            Some(rx) => {
                let st = rx.borrow().clone();
                if st.stage == Stage::Completed as i32 {
                    return Ok(st);
                }
                Err(Abort::WorkflowClosed.error())
            }
            None if status == WorkflowExecutionStatus::ContinuedAsNew as i32 => Err(Abort::WorkflowContinuing.error()),
            None => Err(Abort::WorkflowClosed.error()),
        }
    }

    /// Reads the run's updates back from history before a completion that carries messages.
    pub(crate) async fn prepare_update_messages(&self, shard: &Shard, run: &RunKey) -> Result<(), ServiceError> {
        self.load_updates(shard, run).await
    }
}
