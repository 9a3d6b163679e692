//! The `UpdateWorkflowExecution` and `PollWorkflowExecutionUpdate` entry points: admitting
//! updates, waiting for their outcomes, and rebuilding the registry from history.

use crate::HistoryEngine;
use crate::shard::{RunKey, Shard};
use crate::updates::{
    Abort, State, Status, accepted_update_completed_workflow_failure, end_all, find_or_admit, forget_admission, lookup,
};
use std::collections::HashMap;
use std::time::Duration;
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::enums::v1::{UpdateWorkflowExecutionLifecycleStage as Stage, WorkflowExecutionStatus};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::update::v1::{Outcome, UpdateRef};
use sundial_api::workflowservice::v1::{
    PollWorkflowExecutionUpdateRequest, PollWorkflowExecutionUpdateResponse, UpdateWorkflowExecutionRequest,
    UpdateWorkflowExecutionResponse,
};
use sundial_common::ServiceError;
use tokio::sync::watch;

/// A workflow task failing this many times makes new updates fail fast.
const FAIL_UPDATE_WORKFLOW_TASK_ATTEMPT: i32 = 3;

fn reached(st: &Status, want: i32) -> bool {
    st.stage == Stage::Completed as i32
        || (want == Stage::Accepted as i32 && st.stage >= Stage::Accepted as i32)
        || want == Stage::Admitted as i32
        || want == Stage::Unspecified as i32
}

fn update_ref(run: &RunKey, id: &str) -> UpdateRef {
    UpdateRef {
        workflow_execution: Some(WorkflowExecution {
            workflow_id: run.workflow_id.clone(),
            run_id: run.run_id.clone(),
        }),
        update_id: id.to_owned(),
    }
}

/// Admits an update to a running run (or finds it), scheduling a speculative workflow task
/// when none is pending: the body of `update_workflow`'s transition.
pub(crate) fn admit(
    m: &mut crate::mutation::Mutation<'_>,
    registry: &crate::updates::Registry,
    req: &UpdateWorkflowExecutionRequest,
    request: &sundial_api::temporal::update::v1::Request,
    nonce: u64,
) -> Result<watch::Receiver<Status>, ServiceError> {
    let id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
    if !req.first_execution_run_id.is_empty() && m.info_ref().first_execution_run_id != req.first_execution_run_id {
        return Err(ServiceError::NotFound("workflow execution not found".into()));
    }
    if !m.is_running() {
        return lookup(registry, &id)
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
    let (rx, existed) = find_or_admit(registry, request, nonce)?;
    if !existed && m.ms.workflow_task.is_none() {
        m.schedule_speculative_workflow_task();
    }
    if existed && !request.completion_callbacks.is_empty() {
        // Another caller of the same update: its callbacks wait for the same outcome.
        let state = registry.lock().updates.get(&id).map(|u| u.state);
        match state {
            Some(State::Admitted | State::Sent) => {
                if let Some(u) = registry.lock().updates.get_mut(&id) {
                    u.attached.push(request.clone());
                }
            }
            Some(State::Accepted) => crate::nexus::callbacks::register_update(m, &id, request),
            // Completed: the caller gets the outcome in the answer.
            _ => {}
        }
    }
    Ok(rx)
}

impl HistoryEngine {
    /// Reads the accepted and completed updates of a run back from its history, once per run
    /// and process (the registry is in memory only).
    async fn load_updates(&self, shard: &Shard, run: &RunKey) -> Result<(), ServiceError> {
        let entry = shard.entry(run);
        if entry.updates.lock().loaded {
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
        let mut r = entry.updates.lock();
        if r.loaded {
            return Ok(());
        }
        r.loaded = true;
        for (id, event_id, outcome) in found {
            if r.updates.get(&id).is_some_and(|u| u.state == State::Completed) {
                continue;
            }
            let outcome = outcome.or_else(|| closed.then(accepted_update_completed_workflow_failure));
            let mut u = match r.updates.remove(&id) {
                Some(u) => u,
                None => r.new_update(State::Accepted, None, 0),
            };
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
        let shard = self.shard(namespace_id, &exec.workflow_id)?;
        self.load_updates(&shard, &run).await?;
        let entry = shard.entry(&run);
        let nonce = entry.updates.nonce();
        let admitted = shard
            .update(&run, |m| admit(m, &entry.updates, &req, &request, nonce))
            .await;
        let rx = match admitted {
            Ok(rx) => rx,
            Err(e) => {
                forget_admission(&entry.updates, &id, nonce);
                return Err(e);
            }
        };
        let budget = self.long_poll(&req.namespace, wait);
        let st = self.wait_for_update(&shard, &run, &id, rx, want, budget).await?;
        // Where the update is in history, for a caller that links to it (a Nexus operation).
        let link = (st.stage >= Stage::Accepted as i32 && !request.request_id.is_empty()).then(|| {
            crate::nexus::links::request_id_event(
                &req.namespace,
                &run.workflow_id,
                &run.run_id,
                &request.request_id,
                sundial_api::temporal::enums::v1::EventType::WorkflowExecutionUpdateAccepted,
            )
        });
        Ok(UpdateWorkflowExecutionResponse {
            update_ref: Some(update_ref(&run, &id)),
            outcome: st.outcome,
            stage: st.stage,
            link,
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
        let shard = self.shard(namespace_id, &exec.workflow_id)?;
        self.load_updates(&shard, &run).await?;
        let rx = lookup(&shard.entry(&run).updates, &r.update_id)
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

    /// Update-with-start: the start (with the update admitted to a new run in its creation),
    /// then the update's answer. An error of the start fails both; the update's own error
    /// comes back beside the start's success.
    pub(crate) async fn start_workflow_with_update(
        &self,
        namespace_id: &str,
        start: sundial_api::workflowservice::v1::StartWorkflowExecutionRequest,
        mut update: UpdateWorkflowExecutionRequest,
        wait: Duration,
    ) -> Result<
        (
            sundial_api::workflowservice::v1::StartWorkflowExecutionResponse,
            Result<UpdateWorkflowExecutionResponse, ServiceError>,
        ),
        ServiceError,
    > {
        let request = update.request.clone().unwrap_or_default();
        let id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();
        let want = update.wait_policy.as_ref().map_or(0, |w| w.lifecycle_stage);
        let workflow_id = start.workflow_id.clone();
        let (started, admitted) = self.start_with_update(namespace_id, start, &request).await?;
        let run = RunKey::new(namespace_id, workflow_id.clone(), started.run_id.clone());
        update.workflow_execution = Some(WorkflowExecution {
            workflow_id,
            run_id: started.run_id.clone(),
        });
        let answer = match admitted {
            None => self.update_workflow(namespace_id, update, wait).await,
            Some(rx) => {
                let shard = self.shard(namespace_id, &run.workflow_id)?;
                let budget = self.long_poll(&update.namespace, wait);
                self.wait_for_update(&shard, &run, &id, rx, want, budget)
                    .await
                    .map(|st| UpdateWorkflowExecutionResponse {
                        update_ref: Some(update_ref(&run, &id)),
                        outcome: st.outcome,
                        stage: st.stage,
                        ..Default::default()
                    })
            }
        };
        Ok((started, answer))
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
        rx: watch::Receiver<Status>,
    ) -> Result<Status, ServiceError> {
        // The transition that closed the run applied its update effects before anyone could
        // see it closed, so the status is final if the workflow task closed the run.
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
        let entry = shard.entry(run);
        end_all(
            &mut entry.updates.lock(),
            status == WorkflowExecutionStatus::ContinuedAsNew as i32,
        );
        self.load_updates(shard, run).await?;
        match lookup(&entry.updates, id) {
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
