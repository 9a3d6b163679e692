//! The in-memory registry of outstanding updates per run, their waiters' status channels,
//! and how committed completion effects and admissions change it.

use super::Effect;
use crate::shard::RunKey;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
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
pub(super) enum State {
    Admitted,
    Sent,
    Accepted,
    Completed,
}

/// Why an update ended without an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Abort {
    /// The run closed before the update was accepted (not retryable).
    WorkflowClosed,
    /// The run continued as new: retry against the new run.
    WorkflowContinuing,
}

impl Abort {
    pub(super) fn error(self) -> ServiceError {
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
pub(super) struct Status {
    pub(super) stage: i32,
    pub(super) outcome: Option<Outcome>,
    pub(super) abort: Option<Abort>,
}

pub(super) struct Update {
    pub(super) state: State,
    /// The request, until it has been accepted.
    pub(super) request: Option<Request>,
    pub(super) accepted_event_id: i64,
    /// Admission order (updates are sent in it).
    pub(super) seq: u64,
    /// The admission call that created it, so that a retried transition knows its own update.
    nonce: u64,
    pub(super) status: watch::Sender<Status>,
}

impl Update {
    pub(super) fn new(state: State, request: Option<Request>, nonce: u64) -> Self {
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

    pub(super) fn finish(&mut self, outcome: Outcome) {
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
pub(super) struct RunUpdates {
    pub(super) updates: HashMap<String, Update>,
    /// Accepted and completed updates of this run have been read back from history.
    pub(super) loaded: bool,
}

static REGISTRY: LazyLock<Mutex<HashMap<RunKey, RunUpdates>>> = LazyLock::new(Default::default);
pub(super) static SEQ: AtomicU64 = AtomicU64::new(1);

pub(super) fn registry() -> std::sync::MutexGuard<'static, HashMap<RunKey, RunUpdates>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn failure(message: &str, kind: &str) -> Failure {
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

pub(super) fn accepted_update_completed_workflow_failure() -> Outcome {
    Outcome {
        value: Some(outcome::Value::Failure(failure(
            "Workflow Update failed because the Workflow completed before the Update completed.",
            "AcceptedUpdateCompletedWorkflow",
        ))),
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
pub(super) fn end_all(r: RunUpdates, continuing: bool) {
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
pub(super) fn forget_admission(run: &RunKey, id: &str, nonce: u64) {
    let mut reg = registry();
    if let Some(r) = reg.get_mut(run)
        && r.updates
            .get(id)
            .is_some_and(|u| u.nonce == nonce && u.state == State::Admitted)
    {
        r.updates.remove(id);
    }
}

pub(super) fn lookup(run: &RunKey, id: &str) -> Option<watch::Receiver<Status>> {
    registry()
        .get(run)
        .and_then(|r| r.updates.get(id))
        .map(|u| u.status.subscribe())
}

/// Finds the update or admits it; returns its status and whether it was there before.
pub(super) fn find_or_admit(
    run: &RunKey,
    request: &Request,
    nonce: u64,
) -> Result<(watch::Receiver<Status>, bool), ServiceError> {
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
