//! Commands from a completed workflow task, each turned into its history event and state.
//! A command that cannot be applied fails the whole task with Temporal's cause.

use crate::command_checks as checks;
use crate::mutation::Mutation;
use crate::retry::{default_retry_policy, fill_retry_policy};
use prost_wkt_types::Duration as PbDuration;
use sundial_api::prost::Message;
use sundial_api::sundial::persistence::v1::{ActivityInfo, TimerInfo, TimerTask, TimerTaskType, TransferTaskType};
use sundial_api::temporal::command::v1::command::Attributes as Cmd;
use sundial_api::temporal::command::v1::{Command, ScheduleActivityTaskCommandAttributes};
use sundial_api::temporal::common::v1::{Memo, SearchAttributes};
use sundial_api::temporal::enums::v1::{TimeoutType, WorkflowExecutionStatus, WorkflowTaskFailedCause};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::*;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::time::{duration_from_pb, timestamp_to_nanos};

#[derive(Debug)]
pub(crate) struct CommandFailure {
    pub cause: WorkflowTaskFailedCause,
    pub message: String,
    /// The run is terminated after the task fails (a payload over `limit.blobSize.error`).
    pub terminate: bool,
}

pub(crate) fn fail(cause: WorkflowTaskFailedCause, message: impl Into<String>) -> CommandFailure {
    CommandFailure {
        cause,
        message: message.into(),
        terminate: false,
    }
}

pub(crate) fn apply_commands(
    m: &mut Mutation<'_>,
    commands: &[Command],
    completed_id: i64,
    new_events_arrived: bool,
) -> Result<(), CommandFailure> {
    for cmd in commands {
        if m.closed.is_some() {
            // Temporal ignores commands after the one that closed the run.
            break;
        }
        let before = m.events.len();
        apply(m, cmd, completed_id, new_events_arrived)?;
        if let Some(meta) = &cmd.user_metadata
            && let Some(e) = m.events.get_mut(before)
        {
            e.user_metadata = Some(meta.clone());
        }
    }
    Ok(())
}

fn apply(
    m: &mut Mutation<'_>,
    cmd: &Command,
    completed_id: i64,
    new_events_arrived: bool,
) -> Result<(), CommandFailure> {
    use WorkflowTaskFailedCause as C;
    let Some(attrs) = &cmd.attributes else {
        return Err(fail(C::UnhandledCommand, "command has no attributes"));
    };
    let closing = matches!(
        attrs,
        Cmd::CompleteWorkflowExecutionCommandAttributes(_)
            | Cmd::FailWorkflowExecutionCommandAttributes(_)
            | Cmd::CancelWorkflowExecutionCommandAttributes(_)
    );
    if closing && new_events_arrived {
        // The workflow has not seen events that arrived meanwhile; it must get another task.
        return Err(fail(C::UnhandledCommand, "UnhandledCommand"));
    }
    let limits = checks::Limits::of(m);
    match attrs {
        Cmd::ScheduleActivityTaskCommandAttributes(a) => {
            let mut a = a.clone();
            checks::schedule_activity(&mut a, limits)?;
            schedule_activity(m, &a, completed_id)
        }
        Cmd::ScheduleNexusOperationCommandAttributes(a) => crate::nexus::schedule(m, a, completed_id, limits.max_blob),
        Cmd::RequestCancelNexusOperationCommandAttributes(a) => crate::nexus::request_cancel(m, a, completed_id),
        Cmd::RequestCancelActivityTaskCommandAttributes(a) => {
            let Some(mut act) = m.ms.activities.get(&a.scheduled_event_id).cloned() else {
                return Err(fail(
                    C::BadRequestCancelActivityAttributes,
                    format!(
                        "invalid history builder state for action: cancel activity {}",
                        a.scheduled_event_id
                    ),
                ));
            };
            let requested = m.add_event(Attributes::ActivityTaskCancelRequestedEventAttributes(
                ActivityTaskCancelRequestedEventAttributes {
                    scheduled_event_id: a.scheduled_event_id,
                    workflow_task_completed_event_id: completed_id,
                },
            ));
            if act.started_time.is_none() {
                // Not running anywhere: canceled at once.
                m.add_event(Attributes::ActivityTaskCanceledEventAttributes(
                    ActivityTaskCanceledEventAttributes {
                        latest_cancel_requested_event_id: requested,
                        scheduled_event_id: a.scheduled_event_id,
                        ..Default::default()
                    },
                ));
                m.ms.activities.remove(&a.scheduled_event_id);
            } else {
                act.cancel_requested = true;
                act.cancel_request_event_id = requested;
                m.ms.activities.insert(a.scheduled_event_id, act);
            }
            Ok(())
        }
        Cmd::StartTimerCommandAttributes(a) => {
            let mut a = a.clone();
            checks::start_timer(&mut a, limits)?;
            let a = &a;
            if a.timer_id.is_empty() {
                return Err(fail(C::BadStartTimerAttributes, "TimerId is not set on command."));
            }
            if m.ms.timers.contains_key(&a.timer_id) {
                return Err(fail(
                    C::StartTimerDuplicateId,
                    format!("duplicate timer id {}", a.timer_id),
                ));
            }
            let Some(after) = a
                .start_to_fire_timeout
                .as_ref()
                // Zero is a valid timer (it fires at once), as in Temporal.
                .and_then(duration_from_pb)
            else {
                return Err(fail(
                    C::BadStartTimerAttributes,
                    "A valid StartToFireTimeout is not set on command.",
                ));
            };
            let started = m.add_event(Attributes::TimerStartedEventAttributes(TimerStartedEventAttributes {
                timer_id: a.timer_id.clone(),
                start_to_fire_timeout: a.start_to_fire_timeout,
                workflow_task_completed_event_id: completed_id,
            }));
            let fire_at = m
                .now_nanos
                .saturating_add(i64::try_from(after.as_nanos()).unwrap_or(i64::MAX));
            m.ms.timers.insert(
                a.timer_id.clone(),
                TimerInfo {
                    timer_id: a.timer_id.clone(),
                    started_event_id: started,
                    expiry_time: Some(sundial_common::time::nanos_to_timestamp(fire_at)),
                },
            );
            m.timer_at(
                fire_at,
                TimerTask {
                    r#type: TimerTaskType::UserTimer as i32,
                    event_id: started,
                    timer_id: a.timer_id.clone(),
                    ..Default::default()
                },
            );
            Ok(())
        }
        Cmd::CancelTimerCommandAttributes(a) => {
            let Some(timer) = m.ms.timers.remove(&a.timer_id) else {
                return Err(fail(
                    C::BadCancelTimerAttributes,
                    format!("invalid timer id {}", a.timer_id),
                ));
            };
            m.add_event(Attributes::TimerCanceledEventAttributes(TimerCanceledEventAttributes {
                timer_id: a.timer_id.clone(),
                started_event_id: timer.started_event_id,
                workflow_task_completed_event_id: completed_id,
                identity: String::new(),
            }));
            Ok(())
        }
        Cmd::CompleteWorkflowExecutionCommandAttributes(a) => {
            // Temporal reports an oversized result under this cause.
            checks::close_payload(
                C::BadScheduleActivityAttributes,
                "CompleteWorkflowExecutionCommandAttributes.Result",
                a.result.as_ref(),
                limits,
            )?;
            crate::chain::complete(m, a.result.clone(), completed_id);
            Ok(())
        }
        Cmd::FailWorkflowExecutionCommandAttributes(a) => {
            checks::close_payload(
                C::BadFailWorkflowExecutionAttributes,
                "FailWorkflowExecutionCommandAttributes.Failure",
                a.failure.as_ref(),
                limits,
            )?;
            crate::chain::fail(m, a.failure.clone(), completed_id);
            Ok(())
        }
        Cmd::ContinueAsNewWorkflowExecutionCommandAttributes(a) => {
            let mut a = a.clone();
            checks::continue_as_new(&mut a, limits)?;
            crate::chain::continue_as_new(m, &a, completed_id);
            Ok(())
        }
        Cmd::CancelWorkflowExecutionCommandAttributes(a) => {
            m.close(
                WorkflowExecutionStatus::Canceled,
                Attributes::WorkflowExecutionCanceledEventAttributes(WorkflowExecutionCanceledEventAttributes {
                    workflow_task_completed_event_id: completed_id,
                    details: a.details.clone(),
                }),
            );
            Ok(())
        }
        Cmd::RecordMarkerCommandAttributes(a) => {
            if a.marker_name.is_empty() {
                return Err(fail(C::BadRecordMarkerAttributes, "MarkerName is not set on command."));
            }
            let details_size: i64 = a.details.values().map(|p| p.encoded_len() as i64).sum();
            checks::marker(&a.marker_name, details_size, limits)?;
            m.add_event(Attributes::MarkerRecordedEventAttributes(
                MarkerRecordedEventAttributes {
                    marker_name: a.marker_name.clone(),
                    details: a.details.clone(),
                    workflow_task_completed_event_id: completed_id,
                    header: a.header.clone(),
                    failure: a.failure.clone(),
                },
            ));
            Ok(())
        }
        Cmd::UpsertWorkflowSearchAttributesCommandAttributes(a) => {
            let upsert = a.search_attributes.clone().unwrap_or_default();
            let info = m.info();
            let current = info.search_attributes.get_or_insert_with(SearchAttributes::default);
            crate::mutation::merge_payloads(&mut current.indexed_fields, &upsert.indexed_fields);
            m.add_event(Attributes::UpsertWorkflowSearchAttributesEventAttributes(
                UpsertWorkflowSearchAttributesEventAttributes {
                    workflow_task_completed_event_id: completed_id,
                    search_attributes: Some(upsert),
                },
            ));
            m.visibility();
            Ok(())
        }
        Cmd::ModifyWorkflowPropertiesCommandAttributes(a) => {
            let upsert = a.upserted_memo.clone().unwrap_or_default();
            let info = m.info();
            let memo = info.memo.get_or_insert_with(Memo::default);
            crate::mutation::merge_payloads(&mut memo.fields, &upsert.fields);
            m.add_event(Attributes::WorkflowPropertiesModifiedEventAttributes(
                WorkflowPropertiesModifiedEventAttributes {
                    workflow_task_completed_event_id: completed_id,
                    upserted_memo: Some(upsert),
                },
            ));
            m.visibility();
            Ok(())
        }
        Cmd::StartChildWorkflowExecutionCommandAttributes(a) => {
            let mut a = a.clone();
            checks::start_child(&mut a, limits)?;
            crate::children::start_child(m, &a, completed_id);
            Ok(())
        }
        Cmd::SignalExternalWorkflowExecutionCommandAttributes(a) => {
            checks::signal_external(a, limits)?;
            crate::children::signal_external(m, a, completed_id);
            Ok(())
        }
        Cmd::RequestCancelExternalWorkflowExecutionCommandAttributes(a) => {
            checks::cancel_external(a, limits)?;
            crate::children::cancel_external(m, a, completed_id);
            Ok(())
        }
        other => Err(fail(
            C::UnhandledCommand,
            format!("command {} is not supported by this server yet", command_name(other)),
        )),
    }
}

fn command_name(attrs: &Cmd) -> &'static str {
    match attrs {
        Cmd::ScheduleNexusOperationCommandAttributes(_) => "ScheduleNexusOperation",
        Cmd::RequestCancelNexusOperationCommandAttributes(_) => "RequestCancelNexusOperation",
        _ => "this command",
    }
}

/// The namespace's default activity retry policy (`workflow.defaultActivityRetryPolicy`).
fn namespace_retry_policy(m: &Mutation<'_>) -> sundial_api::temporal::common::v1::RetryPolicy {
    let p =
        m.dc.get(&sundial_dynconfig::keys::DEFAULT_ACTIVITY_RETRY_POLICY, &m.scope());
    if p == sundial_dynconfig::RetryPolicy::DEFAULT {
        return default_retry_policy();
    }
    let to_pb = sundial_common::time::duration_to_pb;
    sundial_api::temporal::common::v1::RetryPolicy {
        initial_interval: Some(to_pb(p.initial_interval)),
        backoff_coefficient: p.backoff_coefficient,
        maximum_interval: Some(to_pb(p.effective_maximum_interval())),
        maximum_attempts: p.maximum_attempts,
        non_retryable_error_types: Vec::new(),
    }
}

use sundial_common::time::pb_duration_nanos as nanos;

fn is_set(d: &Option<PbDuration>) -> bool {
    d.as_ref().is_some_and(|d| nanos(d) > 0)
}

fn min_duration(a: PbDuration, b: PbDuration) -> PbDuration {
    if nanos(&a) <= nanos(&b) { a } else { b }
}

/// Fills in the activity's timeouts the way Temporal does, or says which is missing.
pub(crate) fn activity_timeouts(
    m: &Mutation<'_>,
    a: &mut ScheduleActivityTaskCommandAttributes,
) -> Result<(), CommandFailure> {
    let bad = |msg: &str| fail(WorkflowTaskFailedCause::BadScheduleActivityAttributes, msg);
    for d in [
        &a.schedule_to_close_timeout,
        &a.schedule_to_start_timeout,
        &a.start_to_close_timeout,
        &a.heartbeat_timeout,
    ] {
        if d.as_ref().is_some_and(|d| nanos(d) < 0) {
            return Err(bad("A valid timeout may not be negative."));
        }
    }
    let run_timeout = m.info_ref().run_timeout.filter(|d| nanos(d) > 0);
    if is_set(&a.schedule_to_close_timeout) {
        if !is_set(&a.schedule_to_start_timeout) {
            a.schedule_to_start_timeout = a.schedule_to_close_timeout;
        }
        if !is_set(&a.start_to_close_timeout) {
            a.start_to_close_timeout = a.schedule_to_close_timeout;
        }
    } else if is_set(&a.start_to_close_timeout) {
        a.schedule_to_close_timeout = run_timeout;
        if !is_set(&a.schedule_to_start_timeout) {
            a.schedule_to_start_timeout = run_timeout;
        }
    } else {
        return Err(bad(
            "A valid StartToClose or ScheduleToCloseTimeout is not set on ScheduleActivityTaskCommand.",
        ));
    }
    if let Some(run) = run_timeout {
        for d in [
            &mut a.schedule_to_close_timeout,
            &mut a.schedule_to_start_timeout,
            &mut a.start_to_close_timeout,
        ] {
            *d = Some(d.map_or(run, |v| min_duration(v, run)));
        }
    }
    if let (Some(s2c), Some(s2s)) = (a.schedule_to_close_timeout, a.schedule_to_start_timeout) {
        a.schedule_to_start_timeout = Some(min_duration(s2s, s2c));
    }
    if let (Some(s2c), Some(st)) = (a.schedule_to_close_timeout, a.start_to_close_timeout) {
        a.start_to_close_timeout = Some(min_duration(st, s2c));
    }
    if let (Some(hb), Some(st)) = (a.heartbeat_timeout, a.start_to_close_timeout)
        && nanos(&hb) > 0
    {
        a.heartbeat_timeout = Some(min_duration(hb, st));
    }
    Ok(())
}

fn schedule_activity(
    m: &mut Mutation<'_>,
    a: &ScheduleActivityTaskCommandAttributes,
    completed_id: i64,
) -> Result<(), CommandFailure> {
    use WorkflowTaskFailedCause as C;
    if a.activity_id.is_empty() {
        return Err(fail(
            C::BadScheduleActivityAttributes,
            "ActivityId is not set on command.",
        ));
    }
    if a.activity_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return Err(fail(
            C::BadScheduleActivityAttributes,
            "ActivityType is not set on command.",
        ));
    }
    if m.ms.activities.values().any(|x| x.activity_id == a.activity_id) {
        return Err(fail(
            C::ScheduleActivityDuplicateId,
            format!("Activity with id {} already exists.", a.activity_id),
        ));
    }
    let mut a = a.clone();
    activity_timeouts(m, &mut a)?;
    let queue = match a.task_queue.as_ref().map(|q| q.name.clone()).filter(|n| !n.is_empty()) {
        Some(name) => name,
        None => m.info_ref().task_queue.clone(),
    };
    let retry_policy = Some(fill_retry_policy(
        a.retry_policy.clone().unwrap_or_else(|| namespace_retry_policy(m)),
    ));
    let scheduled = m.add_event(Attributes::ActivityTaskScheduledEventAttributes(
        ActivityTaskScheduledEventAttributes {
            activity_id: a.activity_id.clone(),
            activity_type: a.activity_type.clone(),
            task_queue: Some(TaskQueue {
                name: queue.clone(),
                kind: sundial_api::temporal::enums::v1::TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            header: a.header.clone(),
            input: a.input.clone(),
            schedule_to_close_timeout: a.schedule_to_close_timeout,
            schedule_to_start_timeout: a.schedule_to_start_timeout,
            start_to_close_timeout: a.start_to_close_timeout,
            heartbeat_timeout: a.heartbeat_timeout,
            workflow_task_completed_event_id: completed_id,
            retry_policy: retry_policy.clone(),
            use_workflow_build_id: a.use_workflow_build_id,
            priority: a.priority.clone(),
        },
    ));
    let expiration = a
        .schedule_to_close_timeout
        .filter(|d| nanos(d) > 0)
        .map(|d| sundial_common::time::nanos_to_timestamp(sundial_common::time::deadline_after(m.now_nanos, &d)));
    let info = ActivityInfo {
        scheduled_event_id: scheduled,
        activity_id: a.activity_id.clone(),
        activity_type: a.activity_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
        task_queue: queue,
        scheduled_time: Some(m.now),
        current_attempt_scheduled_time: Some(m.now),
        attempt: 1,
        schedule_to_close_timeout: a.schedule_to_close_timeout,
        schedule_to_start_timeout: a.schedule_to_start_timeout,
        start_to_close_timeout: a.start_to_close_timeout,
        heartbeat_timeout: a.heartbeat_timeout,
        retry_policy,
        header: a.header.clone(),
        input: a.input.clone(),
        expiration_time: expiration,
        stamp: 1,
        priority: a.priority.clone(),
        ..Default::default()
    };
    dispatch_activity_attempt(m, &info);
    if let Some(exp) = expiration {
        m.timer_at(
            timestamp_to_nanos(&exp),
            crate::activity::schedule_to_close_timer(scheduled),
        );
    }
    m.ms.activities.insert(scheduled, info);
    Ok(())
}

/// Sends the activity's current attempt to matching and arms its schedule-to-start timeout.
pub(crate) fn dispatch_activity_attempt(m: &mut Mutation<'_>, info: &ActivityInfo) {
    let task = m.transfer(TransferTaskType::ActivityTask, info.scheduled_event_id);
    m.tasks.push(crate::mutation::PendingTask::Transfer(
        sundial_api::sundial::persistence::v1::TransferTask {
            task_queue: info.task_queue.clone(),
            stamp: info.stamp,
            ..task
        },
    ));
    let s2s = info.schedule_to_start_timeout.filter(|d| nanos(d) > 0);
    let s2c = info.schedule_to_close_timeout.filter(|d| nanos(d) > 0);
    // A schedule-to-start as long as schedule-to-close would only duplicate that timer.
    if let Some(s2s) = s2s
        && s2c.is_none_or(|c| nanos(&s2s) < nanos(&c))
    {
        m.timer_at(
            sundial_common::time::deadline_after(m.now_nanos, &s2s),
            TimerTask {
                r#type: TimerTaskType::ActivityTimeout as i32,
                event_id: info.scheduled_event_id,
                timeout_type: TimeoutType::ScheduleToStart as i32,
                attempt: info.attempt,
                stamp: info.stamp,
                ..Default::default()
            },
        );
    }
}
