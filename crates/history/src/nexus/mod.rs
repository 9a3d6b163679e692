//! Nexus operations a workflow calls (Temporal's `nexusoperations` component). The
//! ScheduleNexusOperation command writes NexusOperationScheduled and queues the start request;
//! the queue executor (`invoke`) sends it to the endpoint's worker through matching and hands
//! the outcome back here: a synchronous result, an asynchronous start (the result then comes
//! through a completion callback), a failure, or an attempt to retry after a backoff. Timeouts
//! are durable timers. Everything here is a pure transition on the run's mutable state.

pub(crate) mod callbacks;
pub(crate) mod describe;
mod invoke;
pub(crate) mod links;
pub(crate) mod standalone;

use crate::commands::{CommandFailure, fail};
use crate::mutation::{Mutation, PendingTask};
use std::collections::HashMap;
use std::time::Duration;
use sundial_api::sundial::persistence::v1::{
    NexusOperationInfo, TimerTask, TimerTaskType, TransferTask, TransferTaskType,
};
use sundial_api::temporal::command::v1::{
    RequestCancelNexusOperationCommandAttributes, ScheduleNexusOperationCommandAttributes,
};
use sundial_api::temporal::common::v1::{Link, Payload};
use sundial_api::temporal::enums::v1::{
    NexusOperationCancellationState as CancelState, PendingNexusOperationState as State, TimeoutType,
    WorkflowTaskFailedCause as C,
};
use sundial_api::temporal::failure::v1::failure::FailureInfo;
use sundial_api::temporal::failure::v1::{Failure, NexusOperationFailureInfo, TimeoutFailureInfo};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::*;
use sundial_common::time::{
    deadline_after, deadline_after_std, nanos_to_timestamp, pb_duration_nanos, timestamp_to_nanos,
};

/// The endpoint of operations the server runs itself (Temporal's system Nexus operations).
pub(crate) const SYSTEM_ENDPOINT: &str = "__temporal_system";
/// Where a worker-target operation's completion goes: this cluster, not a URL.
pub(crate) const SYSTEM_CALLBACK_URL: &str = "temporal://system";
/// The callback header that names the caller's operation (opaque to handlers).
pub(crate) const CALLBACK_TOKEN_HEADER: &str = "temporal-callback-token";
/// Temporal's `component.nexusoperations.*` defaults.
const MAX_PENDING: usize = 30;
const MAX_NAME_LENGTH: usize = 1000;
const MAX_HEADER_SIZE: usize = 8192;
const DISALLOWED_HEADERS: [&str; 9] = [
    "request-timeout",
    "xdc-redirection-api",
    "xdc-redirection-source-cell",
    "xdc-redirection",
    "caller-name",
    "caller-type",
    "call-initiation",
    "temporal-principal-type",
    "temporal-principal-name",
];
const RETRY_INITIAL: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(3600);
const UNSUCCESSFUL: &str = "nexus operation completed unsuccessfully";

/// Endpoint ids by name, looked up before the transition for the commands that name them (a
/// name absent here is not registered).
pub(crate) type Endpoints = HashMap<String, String>;

fn nanos(d: &Option<prost_wkt_types::Duration>) -> i64 {
    d.as_ref().map_or(0, pb_duration_nanos)
}

pub(crate) fn nexus_timer(scheduled: i64, kind: TimeoutType, stamp: i64) -> TimerTask {
    TimerTask {
        r#type: TimerTaskType::NexusTimeout as i32,
        event_id: scheduled,
        timeout_type: kind as i32,
        stamp,
        ..Default::default()
    }
}

pub(crate) fn transfer(m: &Mutation<'_>, kind: TransferTaskType, scheduled: i64, stamp: i64) -> PendingTask {
    PendingTask::Transfer(TransferTask {
        stamp,
        ..m.transfer(kind, scheduled)
    })
}

/// The ScheduleNexusOperation command, checked as Temporal checks it.
pub(crate) fn schedule(
    m: &mut Mutation<'_>,
    a: &ScheduleNexusOperationCommandAttributes,
    completed_id: i64,
    max_blob: i64,
) -> Result<(), CommandFailure> {
    let bad = |message: String| fail(C::BadScheduleNexusOperationAttributes, message);
    let system = a.endpoint == SYSTEM_ENDPOINT;
    let endpoint_id = if system {
        if !a.nexus_header.is_empty() {
            return Err(bad(format!(
                "ScheduleNexusOperationCommandAttributes.NexusHeader must be empty when using {SYSTEM_ENDPOINT} endpoint"
            )));
        }
        String::new()
    } else {
        match m.nexus_endpoints.get(&a.endpoint) {
            Some(id) => id.clone(),
            None => return Err(bad(format!("endpoint {:?} not found", a.endpoint))),
        }
    };
    if a.service.len() > MAX_NAME_LENGTH {
        return Err(bad(format!(
            "ScheduleNexusOperationCommandAttributes.Service exceeds length limit of {MAX_NAME_LENGTH}"
        )));
    }
    if a.operation.len() > MAX_NAME_LENGTH {
        return Err(bad(format!(
            "ScheduleNexusOperationCommandAttributes.Operation exceeds length limit of {MAX_NAME_LENGTH}"
        )));
    }
    let mut a = a.clone();
    for (field, name) in [
        (&mut a.schedule_to_close_timeout, "ScheduleToCloseTimeout"),
        (&mut a.schedule_to_start_timeout, "ScheduleToStartTimeout"),
        (&mut a.start_to_close_timeout, "StartToCloseTimeout"),
    ] {
        sundial_common::time::validate_and_cap_opt(field).map_err(|e| {
            bad(format!(
                "ScheduleNexusOperationCommandAttributes.{name} is invalid: {e}"
            ))
        })?;
    }
    let input_size = a
        .input
        .as_ref()
        .map_or(0, |p| sundial_api::prost::Message::encoded_len(p) as i64);
    if !system && max_blob > 0 && input_size > max_blob {
        return Err(CommandFailure {
            cause: C::BadScheduleNexusOperationAttributes,
            message: "ScheduleNexusOperationCommandAttributes.Input exceeds size limit".into(),
            terminate: true,
        });
    }
    let mut header = HashMap::with_capacity(a.nexus_header.len());
    let mut header_size = 0;
    for (key, value) in &a.nexus_header {
        let lower = key.to_ascii_lowercase();
        if DISALLOWED_HEADERS.contains(&lower.as_str()) {
            return Err(bad(format!(
                "ScheduleNexusOperationCommandAttributes.NexusHeader contains a disallowed header key: {key:?}"
            )));
        }
        header_size += lower.len() + value.len();
        header.insert(lower, value.clone());
    }
    if header_size > MAX_HEADER_SIZE {
        return Err(bad(
            "ScheduleNexusOperationCommandAttributes.NexusHeader exceeds size limit".into(),
        ));
    }
    if m.ms.nexus_operations.len() >= MAX_PENDING {
        return Err(fail(
            C::PendingNexusOperationsLimitExceeded,
            format!("workflow has reached the pending nexus operation limit of {MAX_PENDING} for this namespace"),
        ));
    }
    // The operation cannot outlive the run.
    let run_timeout = nanos(&m.info_ref().run_timeout);
    if run_timeout > 0
        && (nanos(&a.schedule_to_close_timeout) == 0 || nanos(&a.schedule_to_close_timeout) > run_timeout)
    {
        a.schedule_to_close_timeout = m.info_ref().run_timeout;
    }
    let s2c = nanos(&a.schedule_to_close_timeout);
    if s2c > 0 {
        for field in [&mut a.schedule_to_start_timeout, &mut a.start_to_close_timeout] {
            if nanos(field) > s2c {
                *field = a.schedule_to_close_timeout;
            }
        }
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let scheduled = m.add_event(Attributes::NexusOperationScheduledEventAttributes(
        NexusOperationScheduledEventAttributes {
            endpoint: a.endpoint.clone(),
            service: a.service.clone(),
            operation: a.operation.clone(),
            input: a.input.clone(),
            schedule_to_close_timeout: a.schedule_to_close_timeout,
            nexus_header: header,
            workflow_task_completed_event_id: completed_id,
            request_id: request_id.clone(),
            endpoint_id: endpoint_id.clone(),
            schedule_to_start_timeout: a.schedule_to_start_timeout,
            start_to_close_timeout: a.start_to_close_timeout,
        },
    ));
    let op = NexusOperationInfo {
        scheduled_event_id: scheduled,
        endpoint: a.endpoint.clone(),
        endpoint_id: endpoint_id.clone(),
        service: a.service.clone(),
        operation: a.operation.clone(),
        request_id,
        scheduled_time: Some(m.now),
        schedule_to_close_timeout: a.schedule_to_close_timeout,
        schedule_to_start_timeout: a.schedule_to_start_timeout,
        start_to_close_timeout: a.start_to_close_timeout,
        state: State::Scheduled as i32,
        stamp: 1,
        ..Default::default()
    };
    let task = transfer(m, TransferTaskType::NexusStart, scheduled, op.stamp);
    m.tasks.push(task);
    if let Some(d) = a.schedule_to_close_timeout.filter(|d| pb_duration_nanos(d) > 0) {
        m.timer_at(
            deadline_after(m.now_nanos, &d),
            nexus_timer(scheduled, TimeoutType::ScheduleToClose, 0),
        );
    }
    if let Some(d) = a.schedule_to_start_timeout.filter(|d| pb_duration_nanos(d) > 0) {
        m.timer_at(
            deadline_after(m.now_nanos, &d),
            nexus_timer(scheduled, TimeoutType::ScheduleToStart, 0),
        );
    }
    m.ms.nexus_operations.insert(scheduled, op);
    Ok(())
}

/// Whether a closing event of operation `scheduled` waits in the buffer.
fn close_buffered(m: &Mutation<'_>, scheduled: i64) -> bool {
    m.ms.buffered_events.iter().any(|e| {
        let closes = match &e.attributes {
            Some(Attributes::NexusOperationCompletedEventAttributes(a)) => a.scheduled_event_id,
            Some(Attributes::NexusOperationFailedEventAttributes(a)) => a.scheduled_event_id,
            Some(Attributes::NexusOperationCanceledEventAttributes(a)) => a.scheduled_event_id,
            Some(Attributes::NexusOperationTimedOutEventAttributes(a)) => a.scheduled_event_id,
            _ => return false,
        };
        closes == scheduled
    })
}

/// The RequestCancelNexusOperation command. The cancel request goes out once the operation has
/// started (an operation not started yet has nothing to cancel at the handler).
pub(crate) fn request_cancel(
    m: &mut Mutation<'_>,
    a: &RequestCancelNexusOperationCommandAttributes,
    completed_id: i64,
) -> Result<(), CommandFailure> {
    let scheduled = a.scheduled_event_id;
    let bad = |message: String| fail(C::BadRequestCancelNexusOperationAttributes, message);
    let op = m.ms.nexus_operations.get(&scheduled).cloned();
    if op.is_none() && !close_buffered(m, scheduled) {
        return Err(bad(format!(
            "requested cancelation for a non-existing or already completed operation with scheduled event ID of {scheduled}"
        )));
    }
    if op.as_ref().is_some_and(|op| op.cancel_requested_event_id != 0) {
        return Err(bad(format!(
            "cancelation was already requested for an operation with scheduled event ID {scheduled}"
        )));
    }
    let requested = m.add_event(Attributes::NexusOperationCancelRequestedEventAttributes(
        NexusOperationCancelRequestedEventAttributes {
            scheduled_event_id: scheduled,
            workflow_task_completed_event_id: completed_id,
        },
    ));
    if let Some(mut op) = op {
        op.cancel_requested_event_id = requested;
        op.cancel_requested_time = Some(m.now);
        if op.state == State::Started as i32 {
            schedule_cancel(m, &mut op);
        }
        m.ms.nexus_operations.insert(scheduled, op);
    }
    Ok(())
}

pub(crate) fn schedule_cancel(m: &mut Mutation<'_>, op: &mut NexusOperationInfo) {
    op.cancel_state = CancelState::Scheduled as i32;
    op.cancel_stamp += 1;
    let task = transfer(m, TransferTaskType::NexusCancel, op.scheduled_event_id, op.cancel_stamp);
    m.tasks.push(task);
}

/// What an attempt to start an operation came to.
#[derive(Clone, Debug)]
pub(crate) enum StartOutcome {
    /// The handler answered with the result.
    Sync {
        result: Option<Payload>,
        links: Vec<Link>,
    },
    /// The handler started the operation; its completion comes later.
    Async {
        token: String,
        links: Vec<Link>,
    },
    /// The operation failed (the handler's failure, kept as sent) or the handler refused it
    /// for good.
    Failed(Failure),
    Canceled(Failure),
    /// This attempt failed; another follows after a backoff.
    Retry(Failure),
    /// No time is left for another attempt.
    TimedOut(TimeoutType),
}

/// The failure a Failed, Canceled or TimedOut event carries: Temporal's wrapper around the
/// cause.
fn unsuccessful(op: &NexusOperationInfo, cause: Failure) -> Failure {
    #[allow(deprecated)]
    let info = NexusOperationFailureInfo {
        scheduled_event_id: op.scheduled_event_id,
        endpoint: op.endpoint.clone(),
        service: op.service.clone(),
        operation: op.operation.clone(),
        operation_id: op.operation_token.clone(),
        operation_token: op.operation_token.clone(),
    };
    Failure {
        message: UNSUCCESSFUL.to_owned(),
        failure_info: Some(FailureInfo::NexusOperationExecutionFailureInfo(info)),
        cause: Some(Box::new(cause)),
        ..Default::default()
    }
}

/// Closes the operation with `attrs` (and `links`) and wakes the workflow; a standalone
/// operation's run closes with the outcome instead.
fn close(m: &mut Mutation<'_>, scheduled: i64, attrs: Attributes, links: Vec<Link>) {
    m.ms.nexus_operations.remove(&scheduled);
    if standalone::is_standalone(m) {
        standalone::finish(m, &attrs);
        return;
    }
    m.add_or_buffer_linked(attrs, links);
    m.schedule_workflow_task(1);
}

fn fail_op(m: &mut Mutation<'_>, op: &NexusOperationInfo, cause: Failure) {
    let failure = unsuccessful(op, cause);
    let attrs = Attributes::NexusOperationFailedEventAttributes(NexusOperationFailedEventAttributes {
        scheduled_event_id: op.scheduled_event_id,
        failure: Some(failure),
        request_id: op.request_id.clone(),
    });
    close(m, op.scheduled_event_id, attrs, Vec::new());
}

fn cancel_op(m: &mut Mutation<'_>, op: &NexusOperationInfo, mut cause: Failure) {
    if !matches!(cause.failure_info, Some(FailureInfo::CanceledFailureInfo(_))) {
        cause.failure_info = Some(FailureInfo::CanceledFailureInfo(Default::default()));
    }
    let failure = unsuccessful(op, cause);
    let attrs = Attributes::NexusOperationCanceledEventAttributes(NexusOperationCanceledEventAttributes {
        scheduled_event_id: op.scheduled_event_id,
        failure: Some(failure),
        request_id: op.request_id.clone(),
    });
    close(m, op.scheduled_event_id, attrs, Vec::new());
}

fn time_out(m: &mut Mutation<'_>, op: &NexusOperationInfo, kind: TimeoutType) {
    let cause = Failure {
        message: "operation timed out".into(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: kind as i32,
            last_heartbeat_details: None,
        })),
        ..Default::default()
    };
    let failure = unsuccessful(op, cause);
    let attrs = Attributes::NexusOperationTimedOutEventAttributes(NexusOperationTimedOutEventAttributes {
        scheduled_event_id: op.scheduled_event_id,
        failure: Some(failure),
        request_id: op.request_id.clone(),
    });
    close(m, op.scheduled_event_id, attrs, Vec::new());
}

/// Exponential backoff from 1 s doubling to 1 h, with Temporal's jitter (-20 % … 0).
fn backoff(attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = RETRY_INITIAL.saturating_mul(2u32.saturating_pow(exp)).min(RETRY_MAX);
    let cut = sundial_common::random::jitter(base / 5);
    base.saturating_sub(cut)
}

/// Applies an attempt's outcome, if the attempt is still the current one.
pub(crate) fn start_attempt_done(m: &mut Mutation<'_>, scheduled: i64, stamp: i64, outcome: StartOutcome) {
    if !m.is_running() {
        return;
    }
    let Some(mut op) = m.ms.nexus_operations.get(&scheduled).cloned() else {
        return;
    };
    if op.state != State::Scheduled as i32 || op.stamp != stamp {
        return;
    }
    match outcome {
        StartOutcome::Sync { result, links } => {
            let attrs = Attributes::NexusOperationCompletedEventAttributes(NexusOperationCompletedEventAttributes {
                scheduled_event_id: scheduled,
                result,
                request_id: op.request_id.clone(),
            });
            close(m, scheduled, attrs, links);
        }
        StartOutcome::Async { token, links } => {
            op.attempt += 1;
            op.last_attempt_complete_time = Some(m.now);
            op.last_attempt_failure = None;
            started(m, op, token, links, None);
        }
        StartOutcome::Failed(cause) => fail_op(m, &op, cause),
        StartOutcome::Canceled(cause) => cancel_op(m, &op, cause),
        StartOutcome::TimedOut(kind) => time_out(m, &op, kind),
        StartOutcome::Retry(failure) => {
            op.attempt += 1;
            op.last_attempt_complete_time = Some(m.now);
            op.last_attempt_failure = Some(failure);
            op.state = State::BackingOff as i32;
            let at = deadline_after_std(m.now_nanos, backoff(op.attempt));
            op.next_attempt_schedule_time = Some(nanos_to_timestamp(at));
            m.timer_at(
                at,
                TimerTask {
                    r#type: TimerTaskType::NexusRetry as i32,
                    event_id: scheduled,
                    stamp: op.stamp,
                    ..Default::default()
                },
            );
            m.ms.nexus_operations.insert(scheduled, op);
        }
    }
}

/// The operation runs asynchronously from now on: NexusOperationStarted, the start-to-close
/// timer, and a cancel requested meanwhile goes out.
fn started(m: &mut Mutation<'_>, mut op: NexusOperationInfo, token: String, links: Vec<Link>, at: Option<i64>) {
    let scheduled = op.scheduled_event_id;
    let standalone = standalone::is_standalone(m);
    if let Some(record) = m.info().standalone_nexus.as_mut() {
        record.links = links.clone();
    }
    if !standalone {
        #[allow(deprecated)]
        let attrs = Attributes::NexusOperationStartedEventAttributes(NexusOperationStartedEventAttributes {
            scheduled_event_id: scheduled,
            operation_id: token.clone(),
            request_id: op.request_id.clone(),
            operation_token: token.clone(),
        });
        m.add_or_buffer_linked(attrs, links);
    }
    op.state = State::Started as i32;
    op.operation_token = token;
    let started_at = at.unwrap_or(m.now_nanos);
    op.started_time = Some(nanos_to_timestamp(started_at));
    op.next_attempt_schedule_time = None;
    if let Some(d) = op.start_to_close_timeout.filter(|d| pb_duration_nanos(d) > 0) {
        m.timer_at(
            deadline_after(started_at, &d),
            nexus_timer(scheduled, TimeoutType::StartToClose, 0),
        );
    }
    if op.cancel_requested_event_id != 0 && op.cancel_state == CancelState::Unspecified as i32 {
        schedule_cancel(m, &mut op);
    }
    m.ms.nexus_operations.insert(scheduled, op);
    if !standalone {
        m.schedule_workflow_task(1);
    }
}

/// A timeout timer of an operation fired.
pub(crate) fn timeout_fired(m: &mut Mutation<'_>, task: &TimerTask) {
    let Some(op) = m.ms.nexus_operations.get(&task.event_id).cloned() else {
        return;
    };
    let kind = TimeoutType::try_from(task.timeout_type).unwrap_or(TimeoutType::Unspecified);
    let applies = match kind {
        TimeoutType::ScheduleToClose => true,
        TimeoutType::ScheduleToStart => op.state != State::Started as i32,
        TimeoutType::StartToClose => op.state == State::Started as i32,
        _ => false,
    };
    if applies {
        time_out(m, &op, kind);
    }
}

/// A start attempt's backoff is over.
pub(crate) fn retry_fired(m: &mut Mutation<'_>, task: &TimerTask) {
    let Some(mut op) = m.ms.nexus_operations.get(&task.event_id).cloned() else {
        return;
    };
    if op.state != State::BackingOff as i32 || op.stamp != task.stamp {
        return;
    }
    op.state = State::Scheduled as i32;
    op.stamp += 1;
    op.next_attempt_schedule_time = None;
    let t = transfer(m, TransferTaskType::NexusStart, op.scheduled_event_id, op.stamp);
    m.tasks.push(t);
    m.ms.nexus_operations.insert(op.scheduled_event_id, op);
}

/// What an attempt to cancel a started operation came to.
#[derive(Clone, Debug)]
pub(crate) enum CancelOutcome {
    Done,
    Failed(Failure),
    Retry(Failure),
}

pub(crate) fn cancel_attempt_done(m: &mut Mutation<'_>, scheduled: i64, stamp: i64, outcome: CancelOutcome) {
    if !m.is_running() {
        return;
    }
    let Some(mut op) = m.ms.nexus_operations.get(&scheduled).cloned() else {
        return;
    };
    if op.cancel_state != CancelState::Scheduled as i32 || op.cancel_stamp != stamp {
        return;
    }
    op.cancel_attempt += 1;
    op.cancel_last_attempt_complete_time = Some(m.now);
    match outcome {
        CancelOutcome::Done if standalone::is_standalone(m) => {
            op.cancel_state = CancelState::Succeeded as i32;
            op.cancel_last_attempt_failure = None;
        }
        CancelOutcome::Failed(failure) if standalone::is_standalone(m) => {
            op.cancel_state = CancelState::Failed as i32;
            op.cancel_last_attempt_failure = Some(failure);
        }
        CancelOutcome::Done => {
            op.cancel_state = CancelState::Succeeded as i32;
            op.cancel_last_attempt_failure = None;
            m.add_or_buffer_ignorable(Attributes::NexusOperationCancelRequestCompletedEventAttributes(
                NexusOperationCancelRequestCompletedEventAttributes {
                    requested_event_id: op.cancel_requested_event_id,
                    workflow_task_completed_event_id: 0,
                    scheduled_event_id: scheduled,
                },
            ));
            m.schedule_workflow_task(1);
        }
        CancelOutcome::Failed(failure) => {
            op.cancel_state = CancelState::Failed as i32;
            op.cancel_last_attempt_failure = Some(failure.clone());
            m.add_or_buffer_ignorable(Attributes::NexusOperationCancelRequestFailedEventAttributes(
                NexusOperationCancelRequestFailedEventAttributes {
                    requested_event_id: op.cancel_requested_event_id,
                    workflow_task_completed_event_id: 0,
                    failure: Some(failure),
                    scheduled_event_id: scheduled,
                },
            ));
            m.schedule_workflow_task(1);
        }
        CancelOutcome::Retry(failure) => {
            op.cancel_state = CancelState::BackingOff as i32;
            op.cancel_last_attempt_failure = Some(failure);
            let at = deadline_after_std(m.now_nanos, backoff(op.cancel_attempt));
            op.cancel_next_attempt_schedule_time = Some(nanos_to_timestamp(at));
            m.timer_at(
                at,
                TimerTask {
                    r#type: TimerTaskType::NexusCancelRetry as i32,
                    event_id: scheduled,
                    stamp: op.cancel_stamp,
                    ..Default::default()
                },
            );
        }
    }
    m.ms.nexus_operations.insert(scheduled, op);
}

pub(crate) fn cancel_retry_fired(m: &mut Mutation<'_>, task: &TimerTask) {
    let Some(mut op) = m.ms.nexus_operations.get(&task.event_id).cloned() else {
        return;
    };
    if op.cancel_state != CancelState::BackingOff as i32 || op.cancel_stamp != task.stamp {
        return;
    }
    op.cancel_next_attempt_schedule_time = None;
    schedule_cancel(m, &mut op);
    m.ms.nexus_operations.insert(op.scheduled_event_id, op);
}

/// How an asynchronous operation ended, as its handler's completion callback says.
#[derive(Clone, Debug)]
pub(crate) enum Completion {
    Succeeded(Option<Payload>),
    Failed(Failure),
    Canceled(Failure),
}

/// Applies a completion delivered for operation `scheduled` (request `request_id`). A
/// completion that overtakes the start response records the start first. Returns false when
/// there is no such open operation (finished already, or another request's).
pub(crate) fn complete(
    m: &mut Mutation<'_>,
    scheduled: i64,
    request_id: &str,
    token: &str,
    links: Vec<Link>,
    start_time: Option<i64>,
    completion: Completion,
) -> bool {
    if !m.is_running() {
        return false;
    }
    let Some(mut op) = m.ms.nexus_operations.get(&scheduled).cloned() else {
        return false;
    };
    if op.request_id != request_id {
        return false;
    }
    if op.state != State::Started as i32 {
        op.attempt += 1;
        op.last_attempt_complete_time = Some(m.now);
        op.last_attempt_failure = None;
        // A stale start task of this attempt now finds the operation started and does nothing.
        started(m, op, token.to_owned(), links, start_time);
        let Some(now_started) = m.ms.nexus_operations.get(&scheduled).cloned() else {
            return false;
        };
        op = now_started;
    }
    match completion {
        Completion::Succeeded(result) => {
            let attrs = Attributes::NexusOperationCompletedEventAttributes(NexusOperationCompletedEventAttributes {
                scheduled_event_id: scheduled,
                result,
                request_id: op.request_id.clone(),
            });
            close(m, scheduled, attrs, Vec::new());
        }
        Completion::Failed(cause) => fail_op(m, &op, cause),
        Completion::Canceled(cause) => cancel_op(m, &op, cause),
    }
    true
}

/// The deadline a start attempt made now must meet, and which timeout it would break: the
/// per-request timeout, cut by what is left of schedule-to-start (or else schedule-to-close).
pub(crate) fn start_budget(
    op: &NexusOperationInfo,
    now: i64,
    request_timeout: Duration,
) -> (Duration, Option<TimeoutType>) {
    let scheduled = op.scheduled_time.as_ref().map_or(now, timestamp_to_nanos);
    let elapsed = now.saturating_sub(scheduled);
    let left = |d: &Option<prost_wkt_types::Duration>| {
        Duration::from_nanos(u64::try_from(nanos(d).saturating_sub(elapsed)).unwrap_or(0))
    };
    let (bound, kind) = if nanos(&op.schedule_to_start_timeout) > 0 {
        (left(&op.schedule_to_start_timeout), TimeoutType::ScheduleToStart)
    } else if nanos(&op.schedule_to_close_timeout) > 0 {
        (left(&op.schedule_to_close_timeout), TimeoutType::ScheduleToClose)
    } else {
        return (request_timeout, None);
    };
    if bound < request_timeout {
        (bound, Some(kind))
    } else {
        (request_timeout, None)
    }
}

#[cfg(test)]
mod tests;
