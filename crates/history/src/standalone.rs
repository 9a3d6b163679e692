//! Standalone activities: activities a client starts (StartActivityExecution) rather than a
//! workflow. Each is a run of its own, keyed by `sundial_common::standalone::activity_key`, whose
//! mutable state holds the one `ActivityInfo` (under `SCHEDULED_ID`) and a
//! `StandaloneActivity` record; it writes no history events. Dispatch, heartbeats, retries and
//! timeouts are the workflow activity's own (`activity.rs`); only the end differs: the run closes
//! with the activity's outcome instead of reporting to a workflow task.

use crate::HistoryEngine;
use crate::activity::Outcome;
use crate::commands::dispatch_activity_attempt;
use crate::mutation::Mutation;
use crate::shard::RunKey;
use sundial_api::sundial::persistence::v1::{ActivityInfo, ExecutionInfo, StandaloneActivity, WorkflowMutableState};
use sundial_api::temporal::activity::v1::{
    ActivityExecutionInfo, ActivityExecutionOutcome, activity_execution_outcome,
};
use sundial_api::temporal::common::v1::{ActivityType, Payload, Payloads};
use sundial_api::temporal::enums::v1::{
    ActivityExecutionStatus, ActivityIdConflictPolicy, ActivityIdReusePolicy, PendingActivityState, RetryState,
    WorkflowExecutionStatus,
};
use sundial_api::temporal::failure::v1::{CanceledFailureInfo, Failure, TerminatedFailureInfo, failure::FailureInfo};
use sundial_api::workflowservice::v1 as ws;
use sundial_common::ServiceError;
use sundial_common::standalone::activity_key;
use sundial_common::time::{deadline_after, nanos_to_timestamp, now_nanos, timestamp_to_nanos};
use sundial_persistence::{CurrentCondition, CurrentExecution, PersistenceError};

/// The key of a standalone activity's one `ActivityInfo` in its run's `activities`.
pub(crate) const SCHEDULED_ID: i64 = 1;

pub(crate) fn is_standalone(m: &Mutation<'_>) -> bool {
    m.info_ref().standalone_activity.is_some()
}

pub(crate) fn not_found(activity_id: &str) -> ServiceError {
    ServiceError::NotFound(format!("activity not found for ID: {activity_id}"))
}

/// Closes the run with the activity's outcome: the standalone counterpart of the events a
/// workflow activity writes when it ends for good.
pub(crate) fn close(
    m: &mut Mutation<'_>,
    act: ActivityInfo,
    outcome: Outcome,
    retry_state: RetryState,
    timeout_failure: Option<Failure>,
    identity: &str,
) {
    let cancel_identity = m
        .info_ref()
        .standalone_activity
        .as_ref()
        .map(|s| s.cancel_identity.clone())
        .unwrap_or_default();
    let (status, value) = match outcome {
        Outcome::Completed(result) => (
            WorkflowExecutionStatus::Completed,
            activity_execution_outcome::Value::Result(result.unwrap_or_default()),
        ),
        Outcome::Failed { failure, .. } => (
            WorkflowExecutionStatus::Failed,
            activity_execution_outcome::Value::Failure(*failure),
        ),
        Outcome::Canceled(details) => (
            WorkflowExecutionStatus::Canceled,
            activity_execution_outcome::Value::Failure(Failure {
                message: "Activity canceled".into(),
                failure_info: Some(FailureInfo::CanceledFailureInfo(CanceledFailureInfo {
                    details,
                    identity: cancel_identity,
                })),
                ..Default::default()
            }),
        ),
        Outcome::TimedOut(_) => (
            WorkflowExecutionStatus::TimedOut,
            activity_execution_outcome::Value::Failure(timeout_failure.unwrap_or_default()),
        ),
    };
    let mut act = act;
    act.last_worker_identity = identity.to_owned();
    act.last_attempt_complete_time = Some(m.now);
    let retry_state = match status {
        WorkflowExecutionStatus::Completed | WorkflowExecutionStatus::Canceled => RetryState::Unspecified,
        _ => retry_state,
    };
    finish(m, act, status, value, retry_state);
}

fn finish(
    m: &mut Mutation<'_>,
    act: ActivityInfo,
    status: WorkflowExecutionStatus,
    value: activity_execution_outcome::Value,
    retry_state: RetryState,
) {
    m.ms.activities.insert(SCHEDULED_ID, act);
    if let Some(s) = m.info().standalone_activity.as_mut() {
        s.outcome = Some(ActivityExecutionOutcome {
            value: Some(value),
            retry_state: retry_state as i32,
        });
    }
    m.close_without_event(status);
}

/// How a start relates to the activity id's current run.
enum Decision {
    New(CurrentCondition),
    Existing { run_id: String },
}

impl HistoryEngine {
    pub(crate) async fn start_activity_execution(
        &self,
        namespace_id: &str,
        req: ws::StartActivityExecutionRequest,
    ) -> Result<ws::StartActivityExecutionResponse, ServiceError> {
        let key = activity_key(&req.activity_id);
        let shard = self.shard(namespace_id, &key)?;
        for _ in 0..3 {
            let current = shard.store.get_current_execution(shard.id, namespace_id, &key).await?;
            let decision = match current {
                None => Decision::New(CurrentCondition::BrandNew),
                Some(c) => decide(&req, c)?,
            };
            let condition = match decision {
                Decision::Existing { run_id } => {
                    return Ok(ws::StartActivityExecutionResponse {
                        run_id,
                        started: false,
                        link: None,
                    });
                }
                Decision::New(condition) => condition,
            };
            let run_id = uuid::Uuid::now_v7().to_string();
            let now = now_nanos();
            let (ms, tasks) = build(namespace_id, &key, &run_id, &req, now, &self.config().dynamic_config);
            let run = RunKey::new(namespace_id, key.clone(), run_id.clone());
            let current = CurrentExecution {
                run_id: run_id.clone(),
                create_request_id: req.request_id.clone(),
                status: WorkflowExecutionStatus::Running as i32,
                start_time: now,
            };
            match shard.create(&run, ms, Vec::new(), tasks, condition, current).await {
                Ok(()) => {
                    return Ok(ws::StartActivityExecutionResponse {
                        run_id,
                        started: true,
                        link: None,
                    });
                }
                Err(PersistenceError::CurrentExecutionExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "concurrent starts of the same activity id; retry".into(),
        ))
    }

    /// The run a request names (the current run when `run_id` is empty).
    async fn activity_run(&self, namespace_id: &str, activity_id: &str, run_id: &str) -> Result<RunKey, ServiceError> {
        let key = activity_key(activity_id);
        self.resolve_run(namespace_id, &key, run_id)
            .await
            .map_err(|_| not_found(activity_id))
    }

    async fn activity_snapshot(&self, run: &RunKey, activity_id: &str) -> Result<WorkflowMutableState, ServiceError> {
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        match shard.snapshot(run).await {
            Ok(ms)
                if ms
                    .info
                    .as_ref()
                    .is_some_and(|i| i.standalone_activity.is_some() && !i.deleted) =>
            {
                Ok(ms)
            }
            Ok(_) | Err(ServiceError::NotFound(_)) => Err(not_found(activity_id)),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn describe_activity_execution(
        &self,
        namespace_id: &str,
        req: ws::DescribeActivityExecutionRequest,
    ) -> Result<ws::DescribeActivityExecutionResponse, ServiceError> {
        let run = self.activity_run(namespace_id, &req.activity_id, &req.run_id).await?;
        if !req.long_poll_token.is_empty() {
            let seen = decode_poll_token(&req.long_poll_token, &run.run_id)?;
            self.activity_snapshot(&run, &req.activity_id).await?;
            let (changed, _) = self.wait_for(&run, |p| p.transitions > seen).await?;
            if !changed {
                return Ok(ws::DescribeActivityExecutionResponse::default());
            }
        }
        let ms = self.activity_snapshot(&run, &req.activity_id).await?;
        Ok(describe(&ms, &req, now_nanos()))
    }

    pub(crate) async fn poll_activity_execution(
        &self,
        namespace_id: &str,
        req: ws::PollActivityExecutionRequest,
    ) -> Result<ws::PollActivityExecutionResponse, ServiceError> {
        let run = self.activity_run(namespace_id, &req.activity_id, &req.run_id).await?;
        self.activity_snapshot(&run, &req.activity_id).await?;
        let (closed, _) = self.wait_for(&run, |p| p.closed).await?;
        if !closed {
            return Ok(ws::PollActivityExecutionResponse::default());
        }
        let ms = self.activity_snapshot(&run, &req.activity_id).await?;
        Ok(ws::PollActivityExecutionResponse {
            run_id: run.run_id.clone(),
            outcome: ms.info.and_then(|i| i.standalone_activity).and_then(|s| s.outcome),
        })
    }

    /// Runs `f` on the activity's run; a run that is not a standalone activity is not found.
    async fn on_activity<T>(
        &self,
        namespace_id: &str,
        activity_id: &str,
        run_id: &str,
        f: impl Fn(&mut Mutation<'_>) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let run = self.activity_run(namespace_id, activity_id, run_id).await?;
        let shard = self.shard(namespace_id, &run.workflow_id)?;
        let result = shard
            .update(&run, |m| {
                if !is_standalone(m) || m.info_ref().deleted {
                    return Err(not_found(activity_id));
                }
                f(m)
            })
            .await;
        match result {
            Err(ServiceError::NotFound(_)) => Err(not_found(activity_id)),
            other => other,
        }
    }

    pub(crate) async fn request_cancel_activity_execution(
        &self,
        namespace_id: &str,
        req: ws::RequestCancelActivityExecutionRequest,
    ) -> Result<(), ServiceError> {
        self.on_activity(namespace_id, &req.activity_id, &req.run_id, |m| {
            request_cancel(m, &req.request_id, &req.reason, &req.identity)
        })
        .await
    }

    pub(crate) async fn terminate_activity_execution(
        &self,
        namespace_id: &str,
        req: ws::TerminateActivityExecutionRequest,
    ) -> Result<(), ServiceError> {
        self.on_activity(namespace_id, &req.activity_id, &req.run_id, |m| {
            terminate(m, &req.request_id, &req.reason, &req.identity)
        })
        .await
    }

    /// Terminates a running activity, then marks the run deleted; its visibility task removes
    /// it (as DeleteWorkflowExecution does).
    pub(crate) async fn delete_activity_execution(
        &self,
        namespace_id: &str,
        req: ws::DeleteActivityExecutionRequest,
    ) -> Result<(), ServiceError> {
        self.on_activity(namespace_id, &req.activity_id, &req.run_id, |m| {
            if m.is_running() {
                terminate(m, "", "Delete activity execution", "history-service")?;
            }
            m.info().deleted = true;
            m.visibility();
            Ok(())
        })
        .await
    }
}

fn decide(req: &ws::StartActivityExecutionRequest, c: CurrentExecution) -> Result<Decision, ServiceError> {
    if !req.request_id.is_empty() && c.create_request_id == req.request_id {
        return Ok(Decision::Existing { run_id: c.run_id });
    }
    let already = || ServiceError::ActivityAlreadyStarted {
        start_request_id: c.create_request_id.clone(),
        run_id: c.run_id.clone(),
    };
    if c.status == WorkflowExecutionStatus::Running as i32 {
        return match ActivityIdConflictPolicy::try_from(req.id_conflict_policy) {
            Ok(ActivityIdConflictPolicy::UseExisting) => Ok(Decision::Existing { run_id: c.run_id }),
            _ => Err(already()),
        };
    }
    match ActivityIdReusePolicy::try_from(req.id_reuse_policy) {
        Ok(ActivityIdReusePolicy::RejectDuplicate) => Err(already()),
        Ok(ActivityIdReusePolicy::AllowDuplicateFailedOnly)
            if c.status == WorkflowExecutionStatus::Completed as i32 =>
        {
            Err(already())
        }
        _ => Ok(Decision::New(CurrentCondition::Replace {
            previous_run_id: c.run_id,
        })),
    }
}

/// The new run: its state and the tasks that dispatch the first attempt (after the start
/// delay, if any) and arm the schedule-to-close deadline.
pub(crate) fn build(
    namespace_id: &str,
    key: &str,
    run_id: &str,
    req: &ws::StartActivityExecutionRequest,
    now: i64,
    dc: &sundial_dynconfig::DynamicConfig,
) -> (WorkflowMutableState, Vec<crate::mutation::PendingTask>) {
    let delay = crate::start::positive(req.start_delay.as_ref());
    let dispatch_at = delay.as_ref().map_or(now, |d| deadline_after(now, d));
    let s2c = crate::start::positive(req.schedule_to_close_timeout.as_ref());
    let queue = req.task_queue.as_ref().map(|q| q.name.clone()).unwrap_or_default();
    let activity_type = req.activity_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
    let ts = nanos_to_timestamp;
    let expiration = s2c.map(|d| ts(deadline_after(dispatch_at, &d)));
    let mut ms = WorkflowMutableState {
        info: Some(ExecutionInfo {
            namespace_id: namespace_id.to_owned(),
            namespace: req.namespace.clone(),
            workflow_id: key.to_owned(),
            run_id: run_id.to_owned(),
            first_execution_run_id: run_id.to_owned(),
            workflow_type: activity_type.clone(),
            task_queue: queue.clone(),
            status: WorkflowExecutionStatus::Running as i32,
            start_time: Some(ts(now)),
            execution_time: Some(ts(dispatch_at)),
            next_event_id: 1,
            create_request_id: req.request_id.clone(),
            search_attributes: req.search_attributes.clone(),
            header: req.header.clone(),
            user_metadata: req.user_metadata.clone(),
            last_worker_identity: req.identity.clone(),
            standalone_activity: Some(StandaloneActivity {
                activity_id: req.activity_id.clone(),
                start_delay: delay,
                id_reuse_policy: req.id_reuse_policy,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let info = ActivityInfo {
        scheduled_event_id: SCHEDULED_ID,
        activity_id: req.activity_id.clone(),
        activity_type,
        task_queue: queue,
        scheduled_time: Some(ts(now)),
        current_attempt_scheduled_time: Some(ts(dispatch_at)),
        attempt: 1,
        schedule_to_close_timeout: Some(req.schedule_to_close_timeout.unwrap_or_default()),
        schedule_to_start_timeout: Some(req.schedule_to_start_timeout.unwrap_or_default()),
        start_to_close_timeout: Some(req.start_to_close_timeout.unwrap_or_default()),
        heartbeat_timeout: Some(req.heartbeat_timeout.unwrap_or_default()),
        retry_policy: Some(crate::retry::fill_retry_policy(
            req.retry_policy.clone().unwrap_or_default(),
        )),
        header: req.header.clone(),
        input: req.input.clone(),
        expiration_time: expiration,
        stamp: 1,
        priority: req.priority.clone(),
        ..Default::default()
    };
    let mut m = Mutation::new(&mut ms, now, dc.clone());
    if dispatch_at > now {
        m.timer_at(dispatch_at, crate::activity::retry_timer(&info));
    } else {
        dispatch_activity_attempt(&mut m, &info);
    }
    if let Some(exp) = expiration {
        m.timer_at(
            timestamp_to_nanos(&exp),
            crate::activity::schedule_to_close_timer(SCHEDULED_ID),
        );
    }
    m.visibility();
    let tasks = std::mem::take(&mut m.tasks);
    drop(m);
    ms.activities.insert(SCHEDULED_ID, info);
    (ms, tasks)
}

fn standalone_of(m: &Mutation<'_>) -> StandaloneActivity {
    m.info_ref().standalone_activity.clone().unwrap_or_default()
}

/// A closed activity's status as Temporal's messages name it.
fn terminal_name(status: i32) -> &'static str {
    sundial_persistence::visibility::query::status_name(status).unwrap_or("Running")
}

/// RequestCancelActivityExecution: an activity no worker runs right now is canceled at once;
/// a running attempt learns of it from its next heartbeat.
pub(crate) fn request_cancel(
    m: &mut Mutation<'_>,
    request_id: &str,
    reason: &str,
    identity: &str,
) -> Result<(), ServiceError> {
    let s = standalone_of(m);
    if !request_id.is_empty() && s.cancel_request_id == request_id {
        return Ok(());
    }
    if !m.is_running() {
        return Err(ServiceError::FailedPrecondition(format!(
            "activity is in terminal state {}",
            terminal_name(m.info_ref().status)
        )));
    }
    let Some(mut act) = m.ms.activities.get(&SCHEDULED_ID).cloned() else {
        return Err(not_found(&s.activity_id));
    };
    if act.cancel_requested {
        return Err(ServiceError::FailedPrecondition(format!(
            "cancellation already requested with request ID {}",
            s.cancel_request_id
        )));
    }
    if let Some(s) = m.info().standalone_activity.as_mut() {
        s.cancel_request_id = request_id.to_owned();
        s.cancel_reason = reason.to_owned();
        s.cancel_identity = identity.to_owned();
    }
    act.cancel_requested = true;
    if act.started_time.is_some() {
        m.ms.activities.insert(SCHEDULED_ID, act);
        return Ok(());
    }
    let details = Payloads {
        payloads: vec![json_string(reason)],
    };
    let identity = identity.to_owned();
    close(
        m,
        act,
        Outcome::Canceled(Some(details)),
        RetryState::Unspecified,
        None,
        &identity,
    );
    Ok(())
}

pub(crate) fn terminate(
    m: &mut Mutation<'_>,
    request_id: &str,
    reason: &str,
    identity: &str,
) -> Result<(), ServiceError> {
    let s = standalone_of(m);
    let status = m.info_ref().status;
    if status == WorkflowExecutionStatus::Terminated as i32 {
        if !request_id.is_empty() && s.terminate_request_id == request_id {
            return Ok(());
        }
        return Err(ServiceError::FailedPrecondition(format!(
            "already terminated with request ID {}",
            s.terminate_request_id
        )));
    }
    if !m.is_running() {
        return Err(ServiceError::FailedPrecondition(format!(
            "invalid transition from {}",
            terminal_name(status)
        )));
    }
    let act = m.ms.activities.get(&SCHEDULED_ID).cloned().unwrap_or_default();
    if let Some(s) = m.info().standalone_activity.as_mut() {
        s.terminate_request_id = request_id.to_owned();
    }
    let failure = Failure {
        message: reason.to_owned(),
        failure_info: Some(FailureInfo::TerminatedFailureInfo(TerminatedFailureInfo {
            identity: identity.to_owned(),
        })),
        ..Default::default()
    };
    finish(
        m,
        act,
        WorkflowExecutionStatus::Terminated,
        activity_execution_outcome::Value::Failure(failure),
        RetryState::Unspecified,
    );
    Ok(())
}

fn json_string(s: &str) -> Payload {
    let mut p = Payload {
        data: serde_json::to_vec(s).unwrap_or_default(),
        ..Default::default()
    };
    p.metadata.insert("encoding".into(), b"json/plain".to_vec());
    p
}

/// Describe's long-poll token: the run and the state transition count it saw (standalone
/// activities and Nexus operations).
pub(crate) fn poll_token(run_id: &str, transitions: i64) -> Vec<u8> {
    format!("{run_id}/{transitions}").into_bytes()
}

pub(crate) fn decode_poll_token(token: &[u8], run_id: &str) -> Result<i64, ServiceError> {
    let text = std::str::from_utf8(token).map_err(|_| ServiceError::invalid("invalid long poll token"))?;
    let (run, count) = text
        .rsplit_once('/')
        .ok_or_else(|| ServiceError::invalid("invalid long poll token"))?;
    let count: i64 = count
        .parse()
        .map_err(|_| ServiceError::invalid("invalid long poll token"))?;
    if run != run_id {
        return Err(ServiceError::invalid("long poll token does not match execution"));
    }
    Ok(count)
}

/// DescribeActivityExecution's answer from the run's state.
pub(crate) fn describe(
    ms: &WorkflowMutableState,
    req: &ws::DescribeActivityExecutionRequest,
    now: i64,
) -> ws::DescribeActivityExecutionResponse {
    let info = ms.info.clone().unwrap_or_default();
    let s = info.standalone_activity.clone().unwrap_or_default();
    let act = ms.activities.get(&SCHEDULED_ID).cloned().unwrap_or_default();
    let running = info.status == WorkflowExecutionStatus::Running as i32;
    let run_state = if !running {
        PendingActivityState::Unspecified
    } else if act.paused {
        if act.started_time.is_some() {
            PendingActivityState::PauseRequested
        } else {
            PendingActivityState::Paused
        }
    } else if act.started_time.is_some() {
        if act.cancel_requested {
            PendingActivityState::CancelRequested
        } else {
            PendingActivityState::Started
        }
    } else {
        PendingActivityState::Scheduled
    };
    let (close_time, execution_duration) = match (running, info.close_time, act.scheduled_time) {
        (false, Some(close), Some(start)) => (
            Some(close),
            Some(sundial_common::time::duration_to_pb(std::time::Duration::from_nanos(
                u64::try_from(timestamp_to_nanos(&close).saturating_sub(timestamp_to_nanos(&start))).unwrap_or(0),
            ))),
        ),
        _ => (None, None),
    };
    let next_attempt = act
        .current_attempt_scheduled_time
        .filter(|t| running && act.started_time.is_none() && !act.paused && timestamp_to_nanos(t) > now);
    let activity_info = ActivityExecutionInfo {
        activity_id: s.activity_id.clone(),
        run_id: info.run_id.clone(),
        activity_type: Some(ActivityType {
            name: act.activity_type.clone(),
        }),
        status: if run_state == PendingActivityState::Paused {
            ActivityExecutionStatus::Paused
        } else {
            sundial_common::standalone::activity_status(info.status)
        } as i32,
        run_state: run_state as i32,
        task_queue: act.task_queue.clone(),
        schedule_to_close_timeout: act.schedule_to_close_timeout,
        schedule_to_start_timeout: act.schedule_to_start_timeout,
        start_to_close_timeout: act.start_to_close_timeout,
        heartbeat_timeout: act.heartbeat_timeout,
        retry_policy: act.retry_policy.clone(),
        heartbeat_details: if req.include_heartbeat_details {
            act.heartbeat_details.clone()
        } else {
            None
        },
        last_heartbeat_time: act.last_heartbeat_time,
        last_started_time: s.last_started_time,
        attempt: act.attempt,
        execution_duration,
        schedule_time: act.scheduled_time,
        expiration_time: act.expiration_time,
        close_time,
        last_failure: if req.include_last_failure {
            act.last_failure.clone()
        } else {
            None
        },
        last_worker_identity: act.last_worker_identity.clone(),
        last_attempt_complete_time: act.last_attempt_complete_time,
        next_attempt_schedule_time: next_attempt,
        priority: act.priority.clone(),
        state_transition_count: info.state_transition_count,
        state_size_bytes: sundial_api::prost::Message::encoded_len(ms) as i64,
        search_attributes: Some(info.search_attributes.clone().unwrap_or_default()),
        header: info.header.clone(),
        user_metadata: info.user_metadata.clone(),
        canceled_reason: s.cancel_reason.clone(),
        total_heartbeat_count: i64::from(s.total_heartbeat_count),
        start_delay: s.start_delay,
        execution_time: info.execution_time,
        ..Default::default()
    };
    ws::DescribeActivityExecutionResponse {
        run_id: info.run_id.clone(),
        info: Some(activity_info),
        input: if req.include_input { act.input.clone() } else { None },
        outcome: if req.include_outcome && !running {
            s.outcome.clone()
        } else {
            None
        },
        long_poll_token: poll_token(&info.run_id, info.state_transition_count),
        callbacks: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_tokens_name_their_run() {
        let t = poll_token("r1", 7);
        assert_eq!(decode_poll_token(&t, "r1").ok(), Some(7));
        assert!(decode_poll_token(&t, "r2").is_err());
        assert!(decode_poll_token(b"junk", "r1").is_err());
        assert!(decode_poll_token(&[0xff, 0xfe], "r1").is_err());
    }

    fn start_request(
        reuse: ActivityIdReusePolicy,
        conflict: ActivityIdConflictPolicy,
    ) -> ws::StartActivityExecutionRequest {
        ws::StartActivityExecutionRequest {
            activity_id: "a".into(),
            request_id: "new".into(),
            id_reuse_policy: reuse as i32,
            id_conflict_policy: conflict as i32,
            ..Default::default()
        }
    }

    fn current(status: WorkflowExecutionStatus) -> CurrentExecution {
        CurrentExecution {
            run_id: "old".into(),
            create_request_id: "first".into(),
            status: status as i32,
            start_time: 0,
        }
    }

    #[test]
    fn id_policies_decide_like_temporal() {
        use ActivityIdConflictPolicy as C;
        use ActivityIdReusePolicy as R;
        use WorkflowExecutionStatus as S;
        let running = decide(&start_request(R::AllowDuplicate, C::Fail), current(S::Running));
        assert!(matches!(running, Err(ServiceError::ActivityAlreadyStarted { ref run_id, .. }) if run_id == "old"));
        let existing = decide(&start_request(R::AllowDuplicate, C::UseExisting), current(S::Running));
        assert!(matches!(existing, Ok(Decision::Existing { ref run_id }) if run_id == "old"));
        let reject = decide(
            &start_request(R::RejectDuplicate, C::UseExisting),
            current(S::Completed),
        );
        assert!(reject.is_err());
        let failed_only = decide(
            &start_request(R::AllowDuplicateFailedOnly, C::Fail),
            current(S::Completed),
        );
        assert!(failed_only.is_err());
        let after_failure = decide(&start_request(R::AllowDuplicateFailedOnly, C::Fail), current(S::Failed));
        assert!(matches!(after_failure, Ok(Decision::New(_))));
        let mut same = start_request(R::RejectDuplicate, C::Fail);
        same.request_id = "first".into();
        assert!(matches!(
            decide(&same, current(S::Completed)),
            Ok(Decision::Existing { .. })
        ));
    }
}
