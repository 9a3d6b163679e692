//! Requests from outside the run: signal, cancel request, terminate, reset sticky queue.

use crate::HistoryEngine;
use crate::mutation::Mutation;
use crate::workflow_task::clear_sticky;
use sundial_api::temporal::common::v1::{Header, Payloads};
use sundial_api::temporal::enums::v1::{WorkflowExecutionStatus, WorkflowTaskFailedCause};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{
    WorkflowExecutionCancelRequestedEventAttributes, WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionTerminatedEventAttributes, WorkflowTaskFailedEventAttributes,
};
use sundial_common::ServiceError;

/// Temporal keeps this many signal request ids for de-duplication.
const MAX_SIGNAL_REQUEST_IDS: usize = 1000;

fn completed_error() -> ServiceError {
    ServiceError::NotFound("workflow execution already completed".into())
}

pub(crate) struct Signal {
    pub name: String,
    pub input: Option<Payloads>,
    pub header: Option<Header>,
    pub identity: String,
    pub request_id: String,
    /// The workflow that sent it, for signals from `SignalExternalWorkflowExecution`.
    pub external: Option<sundial_api::temporal::common::v1::WorkflowExecution>,
    /// What caused it (a Nexus operation), shown on the signaled event.
    pub links: Vec<sundial_api::temporal::common::v1::Link>,
}

/// The identity of what the server itself writes to a run (Temporal's `history-service`).
pub(crate) const HISTORY_SERVICE: &str = "history-service";

/// Closes the run as terminated. A running workflow task is failed first, as Temporal does,
/// so the history shows it never completed.
pub(crate) fn terminate_in(m: &mut Mutation<'_>, reason: &str, details: Option<Payloads>, identity: &str) {
    fail_started_task_for_close(m);
    m.close(
        WorkflowExecutionStatus::Terminated,
        Attributes::WorkflowExecutionTerminatedEventAttributes(WorkflowExecutionTerminatedEventAttributes {
            reason: reason.to_owned(),
            details,
            identity: identity.to_owned(),
        }),
    );
}

/// Before a run is closed from outside (terminated, timed out), a workflow task a worker is
/// running is failed with `ForceCloseCommand` (a transient or speculative one gets its events
/// written first), as Temporal's `failWorkflowTask` does, so history never shows a task that
/// started and did not end. Like Temporal, the server (`history-service`) is the one failing it.
pub(crate) fn fail_started_task_for_close(m: &mut Mutation<'_>) {
    if let Some(wt) = m.ms.workflow_task.clone()
        && wt.started_event_id != 0
    {
        m.materialize_transient_task();
        m.add_event(Attributes::WorkflowTaskFailedEventAttributes(
            WorkflowTaskFailedEventAttributes {
                scheduled_event_id: wt.scheduled_event_id,
                started_event_id: wt.started_event_id,
                cause: WorkflowTaskFailedCause::ForceCloseCommand as i32,
                identity: HISTORY_SERVICE.to_owned(),
                ..Default::default()
            },
        ));
        m.ms.workflow_task = None;
    }
}

/// Records a signal (buffered while a workflow task runs; de-duplicated by request id) and
/// schedules a workflow task: the body of `signal`'s transition.
pub(crate) fn signal_in(m: &mut Mutation<'_>, signal: &Signal) -> Result<(), ServiceError> {
    // A repeat of a delivered signal succeeds even once the run has closed, as in Temporal: a
    // workflow's signal task that ran again after its host died must not turn into a failure.
    if !signal.request_id.is_empty() && m.ms.signal_request_ids.contains(&signal.request_id) {
        return Ok(());
    }
    if !m.is_running() {
        return Err(completed_error());
    }
    if !signal.request_id.is_empty() {
        m.ms.signal_request_ids.push(signal.request_id.clone());
        if m.ms.signal_request_ids.len() > MAX_SIGNAL_REQUEST_IDS {
            m.ms.signal_request_ids.remove(0);
        }
    }
    m.add_or_buffer_linked(
        Attributes::WorkflowExecutionSignaledEventAttributes(WorkflowExecutionSignaledEventAttributes {
            signal_name: signal.name.clone(),
            input: signal.input.clone(),
            identity: signal.identity.clone(),
            header: signal.header.clone(),
            request_id: signal.request_id.clone(),
            external_workflow_execution: signal.external.clone(),
            ..Default::default()
        }),
        signal.links.clone(),
    );
    m.schedule_workflow_task(1);
    Ok(())
}

/// Records a cancel request (once) and schedules a workflow task: the body of
/// `request_cancel`'s transition.
pub(crate) fn request_cancel_in(m: &mut Mutation<'_>, reason: &str, identity: &str) -> Result<(), ServiceError> {
    // Like Temporal: cancelling a closed run, or one already asked, changes nothing.
    if !m.is_running() || m.info_ref().cancel_requested {
        return Ok(());
    }
    m.info().cancel_requested = true;
    m.add_or_buffer(Attributes::WorkflowExecutionCancelRequestedEventAttributes(
        WorkflowExecutionCancelRequestedEventAttributes {
            cause: reason.to_owned(),
            identity: identity.to_owned(),
            ..Default::default()
        },
    ));
    m.schedule_workflow_task(1);
    Ok(())
}

impl HistoryEngine {
    pub(crate) async fn signal(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
        signal: Signal,
    ) -> Result<(), ServiceError> {
        let run = self.resolve_run(namespace_id, workflow_id, run_id).await?;
        let shard = self.shard(namespace_id, workflow_id)?;
        shard.update(&run, |m| signal_in(m, &signal)).await
    }

    pub(crate) async fn request_cancel(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
        reason: &str,
        identity: &str,
    ) -> Result<(), ServiceError> {
        let run = self.resolve_run(namespace_id, workflow_id, run_id).await?;
        let shard = self.shard(namespace_id, workflow_id)?;
        shard.update(&run, |m| request_cancel_in(m, reason, identity)).await
    }

    pub(crate) async fn terminate(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
        reason: &str,
        details: Option<Payloads>,
        identity: &str,
    ) -> Result<(), ServiceError> {
        let run = self.resolve_run(namespace_id, workflow_id, run_id).await?;
        let shard = self.shard(namespace_id, workflow_id)?;
        shard
            .update(&run, |m| {
                if !m.is_running() {
                    return Err(completed_error());
                }
                terminate_in(m, reason, details.clone(), identity);
                Ok(())
            })
            .await
    }

    pub(crate) async fn reset_sticky(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<(), ServiceError> {
        let run = self.resolve_run(namespace_id, workflow_id, run_id).await?;
        let shard = self.shard(namespace_id, workflow_id)?;
        shard
            .update(&run, |m| {
                if !m.info_ref().sticky_task_queue.is_empty() {
                    clear_sticky(m);
                }
                Ok(())
            })
            .await
    }
}
