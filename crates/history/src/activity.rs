//! Activity tasks: started, heartbeats, and the four ways an attempt ends (completed, failed,
//! canceled, timed out). Attempts that will be retried write no events; the final attempt
//! writes `ActivityTaskStarted` (with its attempt and last failure) and the result together.

use crate::HistoryEngine;
use crate::commands::dispatch_activity_attempt;
use crate::mutation::{BUFFERED_STARTED_ID, Mutation};
use crate::retry::{RetryDecision, decide};
use crate::shard::RunKey;
use crate::token;
use sundial_api::sundial::historyservice::v1::RecordActivityTaskStartedRequest;
use sundial_api::sundial::persistence::v1::{ActivityInfo, TimerTask, TimerTaskType};
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::temporal::common::v1::{ActivityType, Payloads, WorkflowExecution, WorkflowType};
use sundial_api::temporal::enums::v1::{RetryState, TimeoutType};
use sundial_api::temporal::failure::v1::Failure;
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::*;
use sundial_api::workflowservice::v1::PollActivityTaskQueueResponse;
use sundial_common::ServiceError;
use sundial_common::time::{duration_from_pb, timestamp_to_nanos};

fn activity_not_found() -> ServiceError {
    ServiceError::NotFound("invalid activityID or activity already timed out or invoking workflow is completed".into())
}

fn completed_error() -> ServiceError {
    ServiceError::NotFound("workflow execution already completed".into())
}

/// How an attempt ended, as reported by a worker or a timer.
#[derive(Clone)]
pub(crate) enum Outcome {
    Completed(Option<Payloads>),
    Failed {
        failure: Box<Failure>,
        details: Option<Payloads>,
    },
    Canceled(Option<Payloads>),
    TimedOut(TimeoutType),
}

/// Finds the activity a token names: by scheduled event id, or by activity id (`*ById`).
pub(crate) fn find(m: &Mutation<'_>, tok: &TaskToken) -> Result<ActivityInfo, ServiceError> {
    if !m.is_running() {
        return Err(completed_error());
    }
    let act = if tok.scheduled_event_id != 0 {
        m.ms.activities.get(&tok.scheduled_event_id).cloned()
    } else {
        m.ms.activities
            .values()
            .find(|a| a.activity_id == tok.activity_id)
            .cloned()
    }
    .ok_or_else(activity_not_found)?;
    let attempt_matches = tok.scheduled_event_id == 0 || tok.attempt == act.attempt;
    if !attempt_matches || act.started_time.is_none() {
        return Err(activity_not_found());
    }
    Ok(act)
}

fn timeout_failure(kind: TimeoutType, details: Option<Payloads>) -> Failure {
    let name = match kind {
        TimeoutType::StartToClose => "StartToClose",
        TimeoutType::ScheduleToStart => "ScheduleToStart",
        TimeoutType::ScheduleToClose => "ScheduleToClose",
        TimeoutType::Heartbeat => "Heartbeat",
        TimeoutType::Unspecified => "Unspecified",
    };
    Failure {
        message: format!("activity {name} timeout"),
        source: "Server".into(),
        failure_info: Some(
            sundial_api::temporal::failure::v1::failure::FailureInfo::TimeoutFailureInfo(
                sundial_api::temporal::failure::v1::TimeoutFailureInfo {
                    timeout_type: kind as i32,
                    last_heartbeat_details: details,
                },
            ),
        ),
        ..Default::default()
    }
}

/// Applies the end of an attempt. Returns whether the activity is finished (not retried).
pub(crate) fn finish_attempt(m: &mut Mutation<'_>, mut act: ActivityInfo, outcome: Outcome, identity: &str) -> bool {
    let scheduled = act.scheduled_event_id;
    // Failures and retryable timeouts may be retried; the decision needs the deadline.
    let retry_failure = match &outcome {
        Outcome::Failed { failure, .. } => Some((**failure).clone()),
        Outcome::TimedOut(kind) => {
            let mut f = timeout_failure(*kind, act.heartbeat_details.clone());
            // Like Temporal: a timeout after earlier failed attempts carries the last one as cause.
            f.cause = act.last_failure.clone().map(Box::new);
            Some(f)
        }
        _ => None,
    };
    let mut retry_state = RetryState::Unspecified;
    if let Some(failure) = &retry_failure {
        let policy = act.retry_policy.clone().unwrap_or_default();
        let time_left = act
            .expiration_time
            .as_ref()
            .map(|e| sundial_common::time::until(timestamp_to_nanos(e), m.now_nanos));
        // A reset asked for while this attempt ran counts it as the first.
        let attempt = if act.reset_requested { 1 } else { act.attempt };
        match decide(&policy, attempt, failure, time_left) {
            RetryDecision::Retry(backoff) => {
                if let Outcome::Failed { details: Some(d), .. } = &outcome {
                    act.heartbeat_details = Some(d.clone());
                }
                if act.reset_requested && act.reset_heartbeats {
                    act.heartbeat_details = None;
                    act.last_heartbeat_time = None;
                }
                act.reset_requested = false;
                act.reset_heartbeats = false;
                act.last_failure = Some(failure.clone());
                act.last_worker_identity = identity.to_owned();
                act.attempt = attempt + 1;
                act.stamp += 1;
                act.started_time = None;
                act.started_request_id.clear();
                act.last_attempt_complete_time = Some(m.now);
                if act.paused {
                    // No retry while paused: unpausing dispatches the next attempt.
                    act.current_attempt_scheduled_time = None;
                    m.ms.activities.insert(scheduled, act);
                    return false;
                }
                let at = m
                    .now_nanos
                    .saturating_add(i64::try_from(backoff.as_nanos()).unwrap_or(i64::MAX));
                act.current_attempt_scheduled_time = Some(sundial_common::time::nanos_to_timestamp(at));
                m.timer_at(at, retry_timer(&act));
                m.ms.activities.insert(scheduled, act);
                return false;
            }
            RetryDecision::Stop(state) => retry_state = state,
        }
    }
    if crate::standalone::is_standalone(m) {
        let timeout = match &outcome {
            Outcome::TimedOut(kind) => deadline_failure(*kind, retry_state, retry_failure),
            _ => None,
        };
        crate::standalone::close(m, act, outcome, retry_state, timeout, identity);
        return true;
    }
    let started_event_id = if act.started_time.is_some() {
        let id = m.add_or_buffer(Attributes::ActivityTaskStartedEventAttributes(
            ActivityTaskStartedEventAttributes {
                scheduled_event_id: scheduled,
                identity: act.last_worker_identity.clone(),
                request_id: act.started_request_id.clone(),
                attempt: act.attempt,
                last_failure: act.last_failure.clone(),
                ..Default::default()
            },
        ));
        id.unwrap_or(BUFFERED_STARTED_ID)
    } else {
        0
    };
    let attrs = match outcome {
        Outcome::Completed(result) => {
            Attributes::ActivityTaskCompletedEventAttributes(ActivityTaskCompletedEventAttributes {
                result,
                scheduled_event_id: scheduled,
                started_event_id,
                identity: identity.to_owned(),
                ..Default::default()
            })
        }
        Outcome::Failed { failure, .. } => {
            Attributes::ActivityTaskFailedEventAttributes(ActivityTaskFailedEventAttributes {
                failure: Some(*failure),
                scheduled_event_id: scheduled,
                started_event_id,
                identity: identity.to_owned(),
                retry_state: retry_state as i32,
                ..Default::default()
            })
        }
        Outcome::Canceled(details) => {
            Attributes::ActivityTaskCanceledEventAttributes(ActivityTaskCanceledEventAttributes {
                details,
                latest_cancel_requested_event_id: act.cancel_request_event_id,
                scheduled_event_id: scheduled,
                started_event_id,
                identity: identity.to_owned(),
                ..Default::default()
            })
        }
        Outcome::TimedOut(kind) => {
            Attributes::ActivityTaskTimedOutEventAttributes(ActivityTaskTimedOutEventAttributes {
                failure: deadline_failure(kind, retry_state, retry_failure),
                scheduled_event_id: scheduled,
                started_event_id,
                retry_state: retry_state as i32,
            })
        }
    };
    m.add_or_buffer(attrs);
    m.ms.activities.remove(&scheduled);
    m.schedule_workflow_task(1);
    true
}

impl HistoryEngine {
    pub(crate) async fn record_activity_task_started(
        &self,
        req: RecordActivityTaskStartedRequest,
    ) -> Result<PollActivityTaskQueueResponse, ServiceError> {
        let exec = req.execution.clone().unwrap_or_default();
        let run = RunKey::new(req.namespace_id.clone(), exec.workflow_id.clone(), exec.run_id.clone());
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        let poll = req.poll_request.clone().unwrap_or_default();
        let (act, workflow_type, standalone) = shard
            .update(&run, |m| {
                let (act, workflow_type) = start_attempt(m, req.scheduled_event_id, &req.request_id, &poll.identity)?;
                Ok((act, workflow_type, crate::standalone::is_standalone(m)))
            })
            .await?;
        let tok = TaskToken {
            namespace_id: run.namespace_id.clone(),
            workflow_id: run.workflow_id.clone(),
            run_id: run.run_id.clone(),
            scheduled_event_id: act.scheduled_event_id,
            attempt: act.attempt,
            activity_id: act.activity_id.clone(),
            activity_type: act.activity_type.clone(),
            ..Default::default()
        };
        // A standalone activity's task names no workflow, and its run as the activity's run.
        let (workflow_type, workflow_execution, activity_run_id) = if standalone {
            (None, WorkflowExecution::default(), run.run_id.clone())
        } else {
            (
                Some(WorkflowType { name: workflow_type }),
                WorkflowExecution {
                    workflow_id: run.workflow_id.clone(),
                    run_id: run.run_id.clone(),
                },
                String::new(),
            )
        };
        Ok(PollActivityTaskQueueResponse {
            task_token: token::encode(&tok),
            workflow_namespace: poll.namespace.clone(),
            workflow_type,
            workflow_execution: Some(workflow_execution),
            activity_run_id,
            activity_type: Some(ActivityType {
                name: act.activity_type.clone(),
            }),
            activity_id: act.activity_id.clone(),
            header: act.header.clone(),
            input: act.input.clone(),
            heartbeat_details: act.heartbeat_details.clone(),
            scheduled_time: act.scheduled_time,
            current_attempt_scheduled_time: act.current_attempt_scheduled_time,
            started_time: act.started_time,
            attempt: act.attempt,
            schedule_to_close_timeout: act.schedule_to_close_timeout,
            start_to_close_timeout: act.start_to_close_timeout,
            heartbeat_timeout: act.heartbeat_timeout,
            retry_policy: act.retry_policy.clone(),
            ..Default::default()
        })
    }

    /// Records a heartbeat.
    pub(crate) async fn heartbeat_activity(
        &self,
        namespace_id: &str,
        token_bytes: &[u8],
        details: Option<Payloads>,
    ) -> Result<HeartbeatAnswer, ServiceError> {
        let tok = token::decode_activity(token_bytes)?;
        let run = self.resolve_run(namespace_id, &tok.workflow_id, &tok.run_id).await?;
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        shard.update(&run, |m| heartbeat(m, &tok, details.clone())).await
    }

    pub(crate) async fn finish_activity(
        &self,
        namespace_id: &str,
        token_bytes: &[u8],
        outcome: Outcome,
        identity: &str,
    ) -> Result<(), ServiceError> {
        let tok = token::decode_activity(token_bytes)?;
        let run = self.resolve_run(namespace_id, &tok.workflow_id, &tok.run_id).await?;
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        shard
            .update(&run, |m| {
                // Like Temporal, a standalone activity may be completed by id before any worker
                // started it.
                let force = crate::standalone::is_standalone(m)
                    && m.is_running()
                    && tok.scheduled_event_id == 0
                    && matches!(outcome, Outcome::Completed(_));
                let act = match m.ms.activities.get(&crate::standalone::SCHEDULED_ID) {
                    Some(a) if force => a.clone(),
                    _ => find(m, &tok)?,
                };
                if crate::standalone::is_standalone(m)
                    && matches!(outcome, Outcome::Canceled(_))
                    && !act.cancel_requested
                {
                    // Temporal's state machine: only a requested cancellation can be reported.
                    return Err(ServiceError::FailedPrecondition(
                        "invalid transition from Started".into(),
                    ));
                }
                finish_attempt(m, act, outcome.clone(), identity);
                Ok(())
            })
            .await
    }
}

/// Marks the activity's current attempt started by a poller (or returns it again to the same
/// request), arming its start-to-close and heartbeat timeouts: the body of
/// `record_activity_task_started`'s transition. Returns the activity and the workflow type.
pub(crate) fn start_attempt(
    m: &mut Mutation<'_>,
    scheduled_event_id: i64,
    request_id: &str,
    identity: &str,
) -> Result<(ActivityInfo, String), ServiceError> {
    if !m.is_running() {
        return Err(completed_error());
    }
    let mut act =
        m.ms.activities
            .get(&scheduled_event_id)
            .cloned()
            .ok_or_else(activity_not_found)?;
    if act.paused && act.started_time.is_none() {
        // A task matching still held from before the pause: stale (matching drops it).
        return Err(ServiceError::NotFound("Activity is paused.".into()));
    }
    let workflow_type = m.info_ref().workflow_type.clone();
    if act.started_time.is_some() {
        if act.started_request_id == request_id {
            return Ok((act, workflow_type));
        }
        return Err(ServiceError::FailedPrecondition(
            "Activity task already started.".into(),
        ));
    }
    act.started_time = Some(m.now);
    let now = m.now;
    if let Some(s) = m.info().standalone_activity.as_mut() {
        s.last_started_time = Some(now);
    }
    act.started_request_id = request_id.to_owned();
    act.last_worker_identity = identity.to_owned();
    if let Some(t) = act
        .start_to_close_timeout
        .as_ref()
        .and_then(duration_from_pb)
        .filter(|d| !d.is_zero())
    {
        m.timer_after(t, activity_timer(&act, TimeoutType::StartToClose));
    }
    if let Some(t) = act
        .heartbeat_timeout
        .as_ref()
        .and_then(duration_from_pb)
        .filter(|d| !d.is_zero())
    {
        m.timer_after(t, activity_timer(&act, TimeoutType::Heartbeat));
    }
    m.ms.activities.insert(act.scheduled_event_id, act.clone());
    Ok((act, workflow_type))
}

/// What a heartbeat tells the worker of the running attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeartbeatAnswer {
    pub cancel_requested: bool,
    pub paused: bool,
    pub reset: bool,
}

/// Records a heartbeat of the running attempt.
pub(crate) fn heartbeat(
    m: &mut Mutation<'_>,
    tok: &TaskToken,
    details: Option<Payloads>,
) -> Result<HeartbeatAnswer, ServiceError> {
    let mut act = find(m, tok)?;
    act.heartbeat_details = details;
    act.last_heartbeat_time = Some(m.now);
    if let Some(s) = m.info().standalone_activity.as_mut() {
        s.total_heartbeat_count = s.total_heartbeat_count.saturating_add(1);
    }
    let answer = HeartbeatAnswer {
        cancel_requested: act.cancel_requested,
        paused: act.paused,
        reset: act.reset_requested,
    };
    m.ms.activities.insert(act.scheduled_event_id, act);
    Ok(answer)
}

/// Like Temporal: a retryable timeout that cannot be retried because the schedule-to-close
/// deadline has no room left is reported as that deadline's timeout, with the original as cause.
fn deadline_failure(kind: TimeoutType, state: RetryState, failure: Option<Failure>) -> Option<Failure> {
    let retryable = matches!(kind, TimeoutType::StartToClose | TimeoutType::Heartbeat);
    if !retryable || state != RetryState::Timeout {
        return failure;
    }
    let mut outer = timeout_failure(TimeoutType::ScheduleToClose, None);
    outer.message =
        "Not enough time to schedule next retry before activity ScheduleToClose timeout, giving up retrying".into();
    outer.cause = failure.map(Box::new);
    Some(outer)
}

/// The timer that sends the activity's current attempt (`attempt`, `stamp`) to matching.
pub(crate) fn retry_timer(act: &ActivityInfo) -> TimerTask {
    TimerTask {
        r#type: TimerTaskType::ActivityRetry as i32,
        event_id: act.scheduled_event_id,
        attempt: act.attempt,
        stamp: act.stamp,
        ..Default::default()
    }
}

/// The timer of an activity's schedule-to-close deadline (one per activity, whatever attempt).
pub(crate) fn schedule_to_close_timer(scheduled_event_id: i64) -> TimerTask {
    TimerTask {
        r#type: TimerTaskType::ActivityTimeout as i32,
        event_id: scheduled_event_id,
        timeout_type: TimeoutType::ScheduleToClose as i32,
        attempt: 1,
        stamp: 0,
        ..Default::default()
    }
}

pub(crate) fn activity_timer(act: &ActivityInfo, kind: TimeoutType) -> TimerTask {
    TimerTask {
        r#type: TimerTaskType::ActivityTimeout as i32,
        event_id: act.scheduled_event_id,
        timeout_type: kind as i32,
        attempt: act.attempt,
        stamp: act.stamp,
        ..Default::default()
    }
}

/// A retry timer fired: send the next attempt to matching.
pub(crate) fn retry_fired(m: &mut Mutation<'_>, scheduled: i64, stamp: i64) {
    let Some(act) = m.ms.activities.get(&scheduled).cloned() else {
        return;
    };
    if act.stamp != stamp || act.started_time.is_some() || act.paused || !m.is_running() {
        return;
    }
    dispatch_activity_attempt(m, &act);
}
