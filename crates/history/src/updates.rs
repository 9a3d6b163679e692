//! A run's registry of workflow updates: the outstanding ones, their waiters' status
//! channels, and how admissions and committed effects change it. Each cached run owns one
//! (in memory only, like Temporal's admitted updates); the shard applies a transition's
//! effects after its commit and before the run's lock is released, so whoever sees the
//! transition's progress sees its effects too.

use std::collections::HashMap;
use std::sync::Mutex;
use sundial_api::temporal::enums::v1::{
    ResourceExhaustedCause, ResourceExhaustedScope, UpdateWorkflowExecutionLifecycleStage as Stage,
};
use sundial_api::temporal::failure::v1::{ApplicationFailureInfo, Failure, failure::FailureInfo};
use sundial_api::temporal::update::v1::{Outcome, Request, outcome};
use sundial_common::ServiceError;
use tokio::sync::watch;

/// `history.maxInFlightUpdates` and `history.maxTotalUpdates` (Temporal's defaults).
const MAX_IN_FLIGHT: usize = 10;
const MAX_TOTAL: usize = 2000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Admitted,
    Sent,
    Accepted,
    Completed,
}

/// Why an update ended without an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Abort {
    /// The run closed before the update was accepted (not retryable).
    WorkflowClosed,
    /// The run continued as new: retry against the new run.
    WorkflowContinuing,
}

impl Abort {
    pub(crate) fn error(self) -> ServiceError {
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
pub(crate) struct Status {
    pub(crate) stage: i32,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) abort: Option<Abort>,
}

pub(crate) struct Update {
    pub(crate) state: State,
    /// The request, until it has been accepted.
    pub(crate) request: Option<Request>,
    pub(crate) accepted_event_id: i64,
    /// Admission order (updates are sent in it).
    pub(crate) seq: u64,
    /// The admission call that created it, so that a retried transition knows its own update.
    nonce: u64,
    /// Later requests for the same update id that carry completion callbacks (Nexus operations
    /// backed by this update), attached when it is accepted.
    pub(crate) attached: Vec<Request>,
    pub(crate) status: watch::Sender<Status>,
}

impl Update {
    fn new(state: State, request: Option<Request>, nonce: u64, seq: u64) -> Self {
        let stage = match state {
            State::Admitted | State::Sent => Stage::Admitted,
            State::Accepted => Stage::Accepted,
            State::Completed => Stage::Completed,
        };
        Update {
            state,
            request,
            accepted_event_id: 0,
            seq,
            nonce,
            attached: Vec::new(),
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

    pub(crate) fn finish(&mut self, outcome: Outcome) {
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
pub(crate) struct RunUpdates {
    pub(crate) updates: HashMap<String, Update>,
    /// Accepted and completed updates of this run have been read back from history.
    pub(crate) loaded: bool,
    /// Numbers admissions (their order) and admission calls (nonces).
    counter: u64,
}

impl RunUpdates {
    /// A new update, numbered after every update admitted before it.
    pub(crate) fn new_update(&mut self, state: State, request: Option<Request>, nonce: u64) -> Update {
        self.counter += 1;
        Update::new(state, request, nonce, self.counter)
    }
}

/// The registry of one run.
#[derive(Default)]
pub(crate) struct Registry(Mutex<RunUpdates>);

impl Registry {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, RunUpdates> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A number that tells one admission call from another.
    pub(crate) fn nonce(&self) -> u64 {
        let mut r = self.lock();
        r.counter += 1;
        r.counter
    }
}

/// A registry change made by a transition; applied once it commits.
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

pub(crate) fn failure(message: &str, kind: &str) -> Failure {
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

pub(crate) fn accepted_update_completed_workflow_failure() -> Outcome {
    Outcome {
        value: Some(outcome::Value::Failure(failure(
            "Workflow Update failed because the Workflow completed before the Update completed.",
            "AcceptedUpdateCompletedWorkflow",
        ))),
    }
}

/// Applies committed effects to a run's registry and wakes waiters.
pub(crate) fn apply(reg: &Registry, effects: Vec<Effect>) {
    if effects.is_empty() {
        return;
    }
    let mut r = reg.lock();
    let mut close = None;
    {
        for effect in effects {
            match effect {
                Effect::Accepted { id, event_id } => {
                    if !r.updates.contains_key(&id) {
                        let u = r.new_update(State::Admitted, None, 0);
                        r.updates.insert(id.clone(), u);
                    }
                    let Some(u) = r.updates.get_mut(&id) else { continue };
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
                        let mut u = r.new_update(State::Completed, None, 0);
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
    if let Some(continuing) = close {
        end_all(&mut r, continuing);
    }
}

/// Ends every pending update of a run that closed, and empties its registry (a later update
/// call reads the run's history again).
pub(crate) fn end_all(r: &mut RunUpdates, continuing: bool) {
    r.loaded = false;
    for (_, u) in r.updates.drain() {
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
pub(crate) fn forget_admission(reg: &Registry, id: &str, nonce: u64) {
    let mut r = reg.lock();
    if r.updates
        .get(id)
        .is_some_and(|u| u.nonce == nonce && u.state == State::Admitted)
    {
        r.updates.remove(id);
    }
}

pub(crate) fn lookup(reg: &Registry, id: &str) -> Option<watch::Receiver<Status>> {
    reg.lock().updates.get(id).map(|u| u.status.subscribe())
}

/// Finds the update or admits it; returns its status and whether it was there before.
pub(crate) fn find_or_admit(
    reg: &Registry,
    request: &Request,
    nonce: u64,
) -> Result<(watch::Receiver<Status>, bool), ServiceError> {
    let id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
    let mut r = reg.lock();
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
    let u = r.new_update(State::Admitted, Some(request.clone()), nonce);
    let rx = u.status.subscribe();
    r.updates.insert(id, u);
    Ok((rx, false))
}
