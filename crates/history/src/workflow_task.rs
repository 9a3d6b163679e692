//! Workflow tasks: started (a poller took it), completed (commands), failed, and the response
//! a worker receives with the history it needs.

use crate::HistoryEngine;
use crate::commands::{CommandFailure, apply_commands};
use crate::mutation::{Mutation, scheduled_attributes, started_attributes};
use crate::shard::{RunKey, Shard};
use crate::token;
use crate::update::Completion;
use crate::updates::Effect;
use std::sync::Arc;
use sundial_api::sundial::historyservice::v1::{
    RecordWorkflowTaskStartedRequest, RespondWorkflowTaskCompletedRequest, RespondWorkflowTaskFailedRequest,
};
use sundial_api::sundial::persistence::v1::{TimerTask, TimerTaskType, WorkflowMutableState, WorkflowTaskInfo};
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::temporal::common::v1::WorkerVersionStamp;
use sundial_api::temporal::common::v1::{WorkflowExecution, WorkflowType};
use sundial_api::temporal::enums::v1::{TaskQueueKind, TimeoutType, WorkflowTaskFailedCause};
use sundial_api::temporal::failure::v1::Failure;
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{
    History, HistoryEvent, WorkflowTaskCompletedEventAttributes, WorkflowTaskFailedEventAttributes,
    WorkflowTaskStartedEventAttributes,
};
use sundial_api::temporal::protocol::v1::Message;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::workflowservice::v1::{
    PollWorkflowTaskQueueResponse, RespondWorkflowTaskCompletedResponse, RespondWorkflowTaskFailedResponse,
};
use sundial_common::ServiceError;
use sundial_common::time::duration_from_pb;

/// What a started workflow task needs to become a poll response.
pub(crate) struct StartedTask {
    pub wt: WorkflowTaskInfo,
    pub workflow_type: String,
    pub task_queue: String,
    pub previous_started_event_id: i64,
    /// Whether the worker has the run cached (sticky): it gets only the new events.
    pub partial_history: bool,
    /// Update requests delivered with the task.
    pub messages: Vec<Message>,
}

fn task_not_found() -> ServiceError {
    ServiceError::NotFound("Workflow task not found.".into())
}

fn completed_error() -> ServiceError {
    ServiceError::NotFound("Workflow execution already completed.".into())
}

/// Marks the scheduled workflow task started in `m`; returns what the response needs.
pub(crate) fn start_task(
    m: &mut Mutation<'_>,
    identity: &str,
    request_id: &str,
    partial_history: bool,
    worker_version: Option<WorkerVersionStamp>,
) -> Option<StartedTask> {
    let mut wt = m.ms.workflow_task.clone()?;
    wt.identity = identity.to_owned();
    wt.request_id = request_id.to_owned();
    wt.started_time = Some(m.now);
    wt.started_event_id = if wt.transient {
        wt.scheduled_event_id + 1
    } else {
        let history_size_bytes = m.info_ref().history_size_bytes;
        let suggest_continue_as_new = crate::limits::suggest_continue_as_new(m);
        m.add_event(Attributes::WorkflowTaskStartedEventAttributes(
            WorkflowTaskStartedEventAttributes {
                scheduled_event_id: wt.scheduled_event_id,
                identity: identity.to_owned(),
                request_id: request_id.to_owned(),
                history_size_bytes,
                suggest_continue_as_new,
                worker_version,
                ..Default::default()
            },
        ))
    };
    m.ms.workflow_task = Some(wt.clone());
    if let Some(t) = wt.start_to_close_timeout.as_ref().and_then(duration_from_pb) {
        m.timer_after(
            t,
            TimerTask {
                r#type: TimerTaskType::WorkflowTaskTimeout as i32,
                event_id: wt.scheduled_event_id,
                timeout_type: TimeoutType::StartToClose as i32,
                attempt: wt.attempt,
                stamp: wt.stamp,
                ..Default::default()
            },
        );
    }
    let info = m.info_ref();
    Some(StartedTask {
        wt,
        workflow_type: info.workflow_type.clone(),
        task_queue: info.task_queue.clone(),
        previous_started_event_id: info.last_completed_workflow_task_started_event_id,
        partial_history,
        messages: Vec::new(),
    })
}

/// Fails the running workflow task: records why (first attempt only; later attempts are
/// transient), writes what was buffered, and schedules the next attempt.
pub(crate) fn fail_task(
    m: &mut Mutation<'_>,
    cause: WorkflowTaskFailedCause,
    failure: Option<Failure>,
    identity: &str,
    binary_checksum: &str,
) {
    let Some(mut wt) = m.ms.workflow_task.clone() else {
        return;
    };
    if m.speculative_task() && wt.started_event_id != 0 {
        // A failing speculative task must be visible: its events are written first, then
        // the failure (Temporal's rule).
        m.materialize_transient_task();
        wt.transient = false;
    }
    if !wt.transient {
        m.add_event(Attributes::WorkflowTaskFailedEventAttributes(
            WorkflowTaskFailedEventAttributes {
                scheduled_event_id: wt.scheduled_event_id,
                started_event_id: wt.started_event_id,
                cause: cause as i32,
                failure,
                identity: identity.to_owned(),
                binary_checksum: binary_checksum.to_owned(),
                ..Default::default()
            },
        ));
    }
    m.ms.workflow_task = None;
    clear_sticky(m);
    let flushed = m.flush_buffered();
    m.schedule_workflow_task(if flushed { 1 } else { wt.attempt + 1 });
}

pub(crate) fn clear_sticky(m: &mut Mutation<'_>) {
    let info = m.info();
    info.sticky_task_queue.clear();
    info.sticky_schedule_to_start_timeout = None;
}

/// Checks that `token` names the workflow task that is running now.
pub(crate) fn check_token(m: &Mutation<'_>, token: &TaskToken) -> Result<WorkflowTaskInfo, ServiceError> {
    if !m.is_running() {
        return Err(completed_error());
    }
    let wt = m.ms.workflow_task.clone().ok_or_else(task_not_found)?;
    if wt.scheduled_event_id != token.scheduled_event_id
        || wt.started_event_id == 0
        || wt.started_event_id != token.started_event_id
        || (token.workflow_task_stamp != 0 && wt.stamp != token.workflow_task_stamp)
    {
        return Err(task_not_found());
    }
    Ok(wt)
}

impl HistoryEngine {
    pub(crate) async fn record_workflow_task_started(
        &self,
        req: RecordWorkflowTaskStartedRequest,
    ) -> Result<PollWorkflowTaskQueueResponse, ServiceError> {
        let exec = req.execution.clone().unwrap_or_default();
        let run = RunKey::new(req.namespace_id.clone(), exec.workflow_id.clone(), exec.run_id.clone());
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        let poll = req.poll_request.clone().unwrap_or_default();
        let partial = poll
            .task_queue
            .as_ref()
            .is_some_and(|q| q.kind == TaskQueueKind::Sticky as i32);
        let entry = shard.entry(&run);
        let started = shard
            .update(&run, |m| record_started(m, &entry.updates, &req, &poll, partial))
            .await?;
        self.workflow_task_response(&shard, &run, started).await
    }

    /// Builds the poll response for a started workflow task, reading the events it needs.
    pub(crate) async fn workflow_task_response(
        &self,
        shard: &Arc<Shard>,
        run: &RunKey,
        t: StartedTask,
    ) -> Result<PollWorkflowTaskQueueResponse, ServiceError> {
        let from = if t.partial_history {
            t.previous_started_event_id + 1
        } else {
            1
        };
        let mut events = self.read_events(shard, run, from, t.wt.started_event_id).await?;
        if t.wt.transient {
            let mut scheduled = crate::events::new_event(
                t.wt.scheduled_event_id,
                t.wt.scheduled_time.unwrap_or_default(),
                scheduled_attributes(&t.wt, &t.task_queue),
            );
            scheduled.task_id = 0;
            events.push(scheduled);
            events.push(crate::events::new_event(
                t.wt.started_event_id,
                t.wt.started_time.unwrap_or_default(),
                started_attributes(&t.wt),
            ));
        }
        let token = TaskToken {
            namespace_id: run.namespace_id.clone(),
            workflow_id: run.workflow_id.clone(),
            run_id: run.run_id.clone(),
            scheduled_event_id: t.wt.scheduled_event_id,
            started_event_id: t.wt.started_event_id,
            attempt: t.wt.attempt,
            workflow_task_stamp: t.wt.stamp,
            ..Default::default()
        };
        Ok(PollWorkflowTaskQueueResponse {
            task_token: token::encode(&token),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: run.workflow_id.clone(),
                run_id: run.run_id.clone(),
            }),
            workflow_type: Some(WorkflowType { name: t.workflow_type }),
            previous_started_event_id: t.previous_started_event_id,
            started_event_id: t.wt.started_event_id,
            attempt: t.wt.attempt,
            history: Some(History { events }),
            workflow_execution_task_queue: Some(TaskQueue {
                name: t.task_queue,
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            scheduled_time: t.wt.scheduled_time,
            started_time: t.wt.started_time,
            messages: t.messages,
            ..Default::default()
        })
    }

    /// Events `from..=to` of a run. Reads from the batch that starts at `from` when there is
    /// one (the usual sticky case), else the whole history.
    pub(crate) async fn read_events(
        &self,
        shard: &Shard,
        run: &RunKey,
        from: i64,
        to: i64,
    ) -> Result<Vec<HistoryEvent>, ServiceError> {
        let mut start = from;
        loop {
            let mut events = Vec::new();
            let mut cursor = start;
            loop {
                let batches = shard.store.read_history(shard.id, &run.run_id, cursor, 256).await?;
                let Some(last) = batches.last() else { break };
                cursor = last.history.events.last().map_or(cursor + 1, |e| e.event_id + 1);
                let done = batches.len() < 256;
                for b in batches {
                    events.extend(
                        b.history
                            .events
                            .into_iter()
                            .filter(|e| e.event_id >= from && e.event_id <= to),
                    );
                }
                if done || cursor > to {
                    break;
                }
            }
            if events.first().is_some_and(|e| e.event_id == from) || start == 1 || from > to {
                return Ok(events);
            }
            start = 1;
        }
    }

    /// The ids of the Nexus endpoints that ScheduleNexusOperation commands name (by name).
    async fn nexus_endpoints_of(
        &self,
        shard: &Shard,
        commands: &[sundial_api::temporal::command::v1::Command],
    ) -> Result<crate::nexus::Endpoints, ServiceError> {
        use sundial_api::temporal::command::v1::command::Attributes as Cmd;
        let mut endpoints = crate::nexus::Endpoints::new();
        for command in commands {
            if let Some(Cmd::ScheduleNexusOperationCommandAttributes(a)) = &command.attributes
                && !endpoints.contains_key(&a.endpoint)
                && let Some(row) = shard.store.get_nexus_endpoint_by_name(&a.endpoint).await?
            {
                endpoints.insert(a.endpoint.clone(), row.id);
            }
        }
        Ok(endpoints)
    }

    pub(crate) async fn respond_workflow_task_completed(
        &self,
        req: RespondWorkflowTaskCompletedRequest,
    ) -> Result<RespondWorkflowTaskCompletedResponse, ServiceError> {
        let request = req.request.unwrap_or_default();
        let tok = token::decode(&request.task_token)?;
        let run = RunKey::new(req.namespace_id.clone(), tok.workflow_id.clone(), tok.run_id.clone());
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        if !request.messages.is_empty() {
            self.prepare_update_messages(&shard, &run).await?;
        }
        let endpoints = self.nexus_endpoints_of(&shard, &request.commands).await?;
        let entry = shard.entry(&run);
        let registry = &entry.updates;
        let (inline, reset_history_event_id) = shard
            .update(&run, |m| {
                m.nexus_endpoints = endpoints.clone();
                complete_task(m, registry, &tok, &request)
            })
            .await?;
        let workflow_task = match inline {
            Some(t) => Some(self.workflow_task_response(&shard, &run, t).await?),
            None => None,
        };
        Ok(RespondWorkflowTaskCompletedResponse {
            workflow_task,
            reset_history_event_id,
            ..Default::default()
        })
    }

    pub(crate) async fn respond_workflow_task_failed(
        &self,
        req: RespondWorkflowTaskFailedRequest,
    ) -> Result<RespondWorkflowTaskFailedResponse, ServiceError> {
        let request = req.request.unwrap_or_default();
        let tok = token::decode(&request.task_token)?;
        let run = RunKey::new(req.namespace_id.clone(), tok.workflow_id.clone(), tok.run_id.clone());
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        shard
            .update(&run, |m| {
                check_token(m, &tok)?;
                let cause =
                    WorkflowTaskFailedCause::try_from(request.cause).unwrap_or(WorkflowTaskFailedCause::Unspecified);
                fail_task(
                    m,
                    cause,
                    request.failure.clone(),
                    &request.identity,
                    &request.binary_checksum,
                );
                Ok(())
            })
            .await?;
        Ok(RespondWorkflowTaskFailedResponse::default())
    }
}

/// Marks the workflow task a poller took started (or returns it again to the same request):
/// the body of `record_workflow_task_started`'s transition.
pub(crate) fn record_started(
    m: &mut Mutation<'_>,
    registry: &crate::updates::Registry,
    req: &RecordWorkflowTaskStartedRequest,
    poll: &sundial_api::workflowservice::v1::PollWorkflowTaskQueueRequest,
    partial: bool,
) -> Result<StartedTask, ServiceError> {
    if !m.is_running() {
        return Err(completed_error());
    }
    let wt = m.ms.workflow_task.clone().ok_or_else(task_not_found)?;
    if wt.scheduled_event_id != req.scheduled_event_id {
        return Err(task_not_found());
    }
    if wt.started_event_id != 0 {
        if wt.request_id == req.request_id {
            let info = m.info_ref();
            let messages = crate::update::outgoing(registry, wt.started_event_id, true);
            return Ok(StartedTask {
                wt,
                workflow_type: info.workflow_type.clone(),
                task_queue: info.task_queue.clone(),
                previous_started_event_id: info.last_completed_workflow_task_started_event_id,
                partial_history: partial,
                messages,
            });
        }
        return Err(ServiceError::FailedPrecondition(
            "Workflow task already started.".into(),
        ));
    }
    let version = poller_version(poll);
    let mut t = start_task(m, &poll.identity, &req.request_id, partial, version).ok_or_else(task_not_found)?;
    t.messages = crate::update::outgoing(registry, t.wt.started_event_id, true);
    Ok(t)
}

/// Applies a workflow task's completion (its commands and update messages): the body of
/// `respond_workflow_task_completed`'s transition. Returns the next task when it is handed
/// straight back, and the event id a discarded speculative task resets the worker to.
pub(crate) fn complete_task(
    m: &mut Mutation<'_>,
    registry: &crate::updates::Registry,
    tok: &TaskToken,
    request: &sundial_api::workflowservice::v1::RespondWorkflowTaskCompletedRequest,
) -> Result<(Option<StartedTask>, i64), ServiceError> {
    let wt = check_token(m, tok)?;
    if m.speculative_task() && discardable(m, request) {
        // Only rejections: the speculative task disappears as if it never ran.
        let mut updates = Completion::default();
        if request
            .messages
            .iter()
            .all(|msg| updates.handle(m, registry, msg).is_ok())
        {
            updates.reject_unprocessed(registry);
            m.update_effects = updates.effects;
            m.ms.workflow_task = None;
            apply_sticky(m, request);
            let reset = m.info_ref().last_completed_workflow_task_started_event_id;
            return Ok((next_task(m, registry, request), reset));
        }
    }
    let snapshot: WorkflowMutableState = m.ms.clone();
    let events_before = m.events.len();
    m.materialize_transient_task();
    let completed_id = m.add_event(Attributes::WorkflowTaskCompletedEventAttributes(
        WorkflowTaskCompletedEventAttributes {
            scheduled_event_id: wt.scheduled_event_id,
            started_event_id: wt.started_event_id,
            identity: request.identity.clone(),
            // The checksum becomes the worker's build id (as Temporal records it).
            worker_version: completer_version(request),
            sdk_metadata: request.sdk_metadata.clone(),
            metering_metadata: request.metering_metadata,
            ..Default::default()
        },
    ));
    m.info().last_completed_workflow_task_started_event_id = wt.started_event_id;
    m.ms.workflow_task = None;
    apply_sticky(m, request);
    let new_events_arrived = !m.ms.buffered_events.is_empty();
    let mut updates = Completion::default();
    if let Err(failure) =
        apply_commands_and_messages(m, registry, request, completed_id, new_events_arrived, &mut updates)
    {
        // A bad command fails the whole task: nothing it did is kept.
        *m.ms = snapshot;
        m.events.truncate(events_before);
        m.tasks.clear();
        m.closed = None;
        m.new_run = None;
        return Ok((
            failed_by_command(m, failure, &request.identity, &request.binary_checksum),
            0,
        ));
    }
    if m.closed.is_none() && !request.force_create_new_workflow_task {
        updates.reject_unprocessed(registry);
    }
    if m.closed.is_some() {
        // After this task's own update outcomes, not before them.
        updates.effects.push(Effect::RunClosed {
            continuing: m.new_run.is_some(),
        });
    }
    m.update_effects = updates.effects;
    let flushed = m.flush_buffered();
    if m.closed.is_some() {
        return Ok((None, 0));
    }
    if flushed || request.force_create_new_workflow_task {
        m.schedule_workflow_task(1);
    }
    Ok((next_task(m, registry, request), 0))
}

fn failed_by_command(
    m: &mut Mutation<'_>,
    failure: CommandFailure,
    identity: &str,
    binary_checksum: &str,
) -> Option<StartedTask> {
    tracing::info!(cause = ?failure.cause, message = %failure.message, "workflow task failed by a bad command");
    let f = Failure {
        message: failure.message.clone(),
        ..Default::default()
    };
    if failure.terminate {
        // Like Temporal: the task is failed with its cause, then the run is terminated (a
        // payload over the blob size limit would fail every retry of the task the same way).
        let wt = m.ms.workflow_task.clone()?;
        m.materialize_transient_task();
        m.add_event(Attributes::WorkflowTaskFailedEventAttributes(
            WorkflowTaskFailedEventAttributes {
                scheduled_event_id: wt.scheduled_event_id,
                started_event_id: wt.started_event_id,
                cause: failure.cause as i32,
                failure: Some(f),
                identity: identity.to_owned(),
                binary_checksum: binary_checksum.to_owned(),
                ..Default::default()
            },
        ));
        m.ms.workflow_task = None;
        m.flush_buffered();
        crate::signals::terminate_in(
            m,
            &format!("{}: {}", cause_name(failure.cause), failure.message),
            None,
            "history-service",
        );
        return None;
    }
    fail_task(m, failure.cause, Some(f), identity, binary_checksum);
    None
}

/// The cause as Temporal's Go API prints it in a termination reason (e.g. `BadStartTimerAttributes`).
fn cause_name(cause: WorkflowTaskFailedCause) -> String {
    crate::events::pascal_case(cause.as_str_name().trim_start_matches("WORKFLOW_TASK_FAILED_CAUSE_"))
}

/// Records (or clears) the worker's sticky queue as the completion asks.
fn apply_sticky(m: &mut Mutation<'_>, request: &sundial_api::workflowservice::v1::RespondWorkflowTaskCompletedRequest) {
    match &request.sticky_attributes {
        Some(s) if s.worker_task_queue.as_ref().is_some_and(|q| !q.name.is_empty()) => {
            let info = m.info();
            info.sticky_task_queue = s.worker_task_queue.as_ref().map(|q| q.name.clone()).unwrap_or_default();
            info.sticky_schedule_to_start_timeout = s.schedule_to_start_timeout;
        }
        _ => clear_sticky(m),
    }
}

/// Whether a speculative task's completion can be dropped without a trace (Temporal's
/// `skipWorkflowTaskCompletedEvent`): no commands, no heartbeat, nothing buffered meanwhile,
/// only update rejections, and few enough events shipped with it.
fn discardable(
    m: &Mutation<'_>,
    request: &sundial_api::workflowservice::v1::RespondWorkflowTaskCompletedRequest,
) -> bool {
    if !request.commands.is_empty() || request.force_create_new_workflow_task || !m.ms.buffered_events.is_empty() {
        return false;
    }
    let info = m.info_ref();
    let shipped = info.next_event_id - info.last_completed_workflow_task_started_event_id - 2;
    let may_reship = request
        .capabilities
        .as_ref()
        .is_some_and(|c| c.discard_speculative_workflow_task_with_events);
    if shipped > 0 && (!may_reship || shipped > crate::update::DISCARD_SPECULATIVE_MAX_EVENTS) {
        return false;
    }
    crate::update::only_rejections(&request.messages)
}

/// After a completion: a task for updates admitted meanwhile (speculative when it can be
/// handed straight back), and the inline start of the next task when the worker asked for it.
fn next_task(
    m: &mut Mutation<'_>,
    registry: &crate::updates::Registry,
    request: &sundial_api::workflowservice::v1::RespondWorkflowTaskCompletedRequest,
) -> Option<StartedTask> {
    if m.ms.workflow_task.is_none() && m.is_running() && crate::update::has_outgoing(registry) {
        if request.return_new_workflow_task {
            m.schedule_speculative_workflow_task();
        } else {
            m.schedule_workflow_task(1);
        }
    }
    if request.return_new_workflow_task && m.ms.workflow_task.as_ref().is_some_and(|w| w.started_event_id == 0) {
        // Hand the new task straight back: no trip through matching.
        let scheduled = m.ms.workflow_task.as_ref().map_or(0, |w| w.scheduled_event_id);
        m.tasks
            .retain(|t| !matches!(t, crate::mutation::PendingTask::Transfer(tt) if tt.scheduled_event_id == scheduled));
        let sticky = !m.info_ref().sticky_task_queue.is_empty();
        let request_id = uuid::Uuid::new_v4().to_string();
        let version = completer_version(request);
        let mut t = start_task(m, &request.identity, &request_id, sticky, version)?;
        t.messages = crate::update::outgoing(registry, t.wt.started_event_id, !request.force_create_new_workflow_task);
        return Some(t);
    }
    None
}

/// Applies the commands in order; a `ProtocolMessage` command applies the update message it
/// names at its place, and messages no command names follow all commands (Temporal's order).
fn apply_commands_and_messages(
    m: &mut Mutation<'_>,
    registry: &crate::updates::Registry,
    request: &sundial_api::workflowservice::v1::RespondWorkflowTaskCompletedRequest,
    completed_id: i64,
    new_events_arrived: bool,
    updates: &mut Completion,
) -> Result<(), CommandFailure> {
    use sundial_api::temporal::command::v1::command::Attributes as Cmd;
    let mut pending: Vec<Option<&Message>> = request.messages.iter().map(Some).collect();
    let commands = &request.commands;
    let mut start = 0;
    for (i, cmd) in commands.iter().enumerate() {
        let Some(Cmd::ProtocolMessageCommandAttributes(a)) = &cmd.attributes else {
            continue;
        };
        apply_commands(m, &commands[start..i], completed_id, new_events_arrived)?;
        start = i + 1;
        let Some(msg) = pending
            .iter_mut()
            .find(|p| p.is_some_and(|msg| msg.id == a.message_id))
            .and_then(Option::take)
        else {
            return Err(CommandFailure {
                cause: WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage,
                message: format!("ProtocolMessageCommand referenced absent message ID {}", a.message_id),
                terminate: false,
            });
        };
        if m.closed.is_none() {
            updates.handle(m, registry, msg)?;
        }
    }
    apply_commands(m, &commands[start..], completed_id, new_events_arrived)?;
    for msg in pending.into_iter().flatten() {
        if m.closed.is_none() {
            updates.handle(m, registry, msg)?;
        }
    }
    Ok(())
}

/// A worker's build id as Temporal derives it: from its deployment options, its versioning
/// capabilities or stamp, or else its binary checksum (what unversioned SDK workers send).
fn worker_version(candidates: [Option<&str>; 3]) -> Option<WorkerVersionStamp> {
    let build_id = candidates.into_iter().flatten().find(|b| !b.is_empty())?;
    Some(WorkerVersionStamp {
        build_id: build_id.to_owned(),
        ..Default::default()
    })
}

/// The started event's worker version, from the poll.
fn poller_version(poll: &sundial_api::workflowservice::v1::PollWorkflowTaskQueueRequest) -> Option<WorkerVersionStamp> {
    worker_version([
        poll.deployment_options.as_ref().map(|d| d.build_id.as_str()),
        poll.worker_version_capabilities.as_ref().map(|c| c.build_id.as_str()),
        Some(poll.binary_checksum.as_str()),
    ])
}

/// The completed event's worker version, from the completion.
fn completer_version(
    request: &sundial_api::workflowservice::v1::RespondWorkflowTaskCompletedRequest,
) -> Option<WorkerVersionStamp> {
    worker_version([
        request.deployment_options.as_ref().map(|d| d.build_id.as_str()),
        request.worker_version_stamp.as_ref().map(|s| s.build_id.as_str()),
        Some(request.binary_checksum.as_str()),
    ])
}
